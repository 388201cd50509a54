"""Every exception `compliance` raises, in one place.

An exception means the rules, the model or the input could not be used at all. A campaign that breaks
a rule is not an exception: it is a :class:`~compliance.Decision` whose outcome says so.

::

    ComplianceError
    ├── CampaignError        the input is not a readable campaign (each problem: field, code, reason)
    ├── RuleFileError        a rule or clause file failed its load-time checks (each problem: file, line,
    │                        rule id, code, what to fix); every problem in the files is reported at once
    ├── RulesetNotFound      no ruleset of that id, or none in force on the event's date
    ├── BlacklistError       a blacklist could not be built (bad hash, missing key)
    ├── ExportError          an export file could not be read at all (format, header, columns, a damaged
    │                        stream); records it could not read are that record's error, not this
    ├── MappingError         a mapping file failed its load-time checks (each problem: file, line, what)
    └── ModelFileError       a risk-model file is not one this library can use safely (damaged, too
                             large, wrong format, other feature schema or scikit-learn version, altered,
                             untrusted types, a model that could not score; unsigned where a signature is
                             required, or signed with another key)

And one warning, not an error: ``FallbackWarning`` (a rule's condition runs row by row in a table).

Two more are raised by the YAML reader (:mod:`compliance._yaml`), outside the root because they are the
standard errors their callers already catch; every file the library loads turns them into a problem of a
``RuleFileError`` or ``MappingError``, with the file and line::

    ValueError
    └── FileTooLarge         a YAML file over the size limit, refused before it is read
    yaml.MarkedYAMLError
    └── YamlLimitError       a YAML file with an alias or nested too deep; carries the line as a syntax error does

Messages never contain a raw identity number: fields that hold one are reported by name only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

__all__ = [
    "BlacklistError",
    "CampaignError",
    "ComplianceError",
    "ExportError",
    "FallbackWarning",
    "FieldProblem",
    "FileTooLarge",
    "MappingError",
    "ModelFileError",
    "RuleFileError",
    "RuleProblem",
    "RulesetNotFound",
    "YamlLimitError",
]


ID_NUMBER_RUN = re.compile(r"\d{15,}[Xx]?")
"""A run of digits as long as an identity number (15, or 17 and a check digit): never echoed in a message or an
output, wherever it stands in the text."""


def without_id_numbers(text: str) -> str:
    """``text`` with every run of digits as long as an identity number replaced by how many digits it had.

    >>> without_id_numbers("身份证 110101199003074578")
    '身份证 <18 digits>'
    """
    return ID_NUMBER_RUN.sub(lambda digits: f"<{len(digits[0])} digits>", text)


class ComplianceError(Exception):
    """Root of every error raised by `compliance`."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One reason an input could not be read: where (``loc``), a stable ``code``, and a message."""

    loc: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.loc}: {self.message} [{self.code}]"


class CampaignError(ComplianceError, ValueError):
    """The input could not be read as a campaign.

    ``problems`` lists every field at fault; ``row`` is set when the campaign came from a table.
    """

    def __init__(self, problems: list[FieldProblem], *, row: int | str | None = None) -> None:
        self.problems = problems
        self.row = row
        where = f"row {row}: " if row is not None else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{where}campaign is not readable ({len(problems)} {noun}):\n{lines}")

    def one_line(self) -> str:
        """The error on one line, as a table's ``error`` column holds it: ``row 7: payout.amount: …; …``."""
        where = f"row {self.row}: " if self.row is not None else ""
        return where + "; ".join(str(p) for p in self.problems)


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One load-time problem in a rule or clause file."""

    file: str
    line: int | None
    rule_id: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        who = f" rule {self.rule_id}:" if self.rule_id else ""
        return f"{where}:{who} {self.message} [{self.code}]"


LISTED_PROBLEMS = 50
"""The most problems a file error's message lists (``problems`` holds them all), so it stays readable."""


def listed(problems: list[RuleProblem]) -> str:
    """The message lines of a file error: each problem, at most :data:`LISTED_PROBLEMS` of them."""
    lines = "\n".join(f"  - {p}" for p in problems[:LISTED_PROBLEMS])
    more = len(problems) - LISTED_PROBLEMS
    return lines + (f"\n  - … and {more} more (all are in .problems)" if more > 0 else "")


class RuleFileError(ComplianceError):
    """Rule or clause files failed their load-time checks; ``problems`` holds every one found."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        lines = listed(problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"rule files failed to load ({len(problems)} {noun}):\n{lines}")


class RulesetNotFound(ComplianceError, LookupError):
    """No ruleset has that id, or none is in force on the requested date."""


class BlacklistError(ComplianceError, ValueError):
    """A blacklist could not be built or read."""


class ModelFileError(ComplianceError, ValueError):
    """A risk-model file cannot be used: it says why, and nothing in it was executed."""


class ExportError(ComplianceError, ValueError):
    """An export could not be read at all: unknown format or columns, a bad header, a raw identity
    number without a key, a damaged stream. Names files and columns only, never a cell's value."""


class MappingError(ComplianceError, ValueError):
    """A mapping file failed its load-time checks; ``problems`` holds every one found (file, line, what)."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        lines = listed(problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"mapping file failed to load ({len(problems)} {noun}):\n{lines}")


class FallbackWarning(UserWarning):
    """A rule's condition has a form the batch compiler does not translate; it runs row by row instead."""


class FileTooLarge(ValueError):
    """A YAML file over :data:`compliance._yaml.MAX_BYTES`: refused before it is read."""


class YamlLimitError(yaml.MarkedYAMLError):
    """A YAML file breaks one of the reader's limits (an alias, too deep); carries the line like a syntax error."""
