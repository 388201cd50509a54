"""What a clause file and a rule file *are*: their schemas, and safe YAML reading with line numbers.

Everything here is data; nothing is compiled or evaluated. See ``docs/rule-files.md`` for the reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compliance import _yaml
from compliance.decision import Source, Text
from compliance.errors import RuleProblem, without_id_numbers

Grade = Literal["verbatim", "verbatim-fragment", "reported", "seed"]
Stage = Literal["publish", "payout"]
Outcome = Literal["approve", "approve_with_conditions", "review", "reject"]
Severity = Literal["info", "low", "medium", "high", "critical"]
ParameterType = Literal["money", "number", "boolean", "string", "string_list", "disclosure_items"]
ObligationCode = Literal["payout_route", "urge_disclosure"]

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")]
ClauseId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*/[a-z0-9][a-z0-9.\-]*$")]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- clause files ---------------------------------------------------------------------------------


class ClauseSpec(_Data):
    id: ClauseId
    article: str | None = None
    topic: str
    text: str
    gloss: str
    grade: Grade
    source: Source


class DocumentSpec(_Data):
    id: Id
    title: Text
    issuers: list[str]
    adopted: date
    in_force: date
    full_text_available: bool
    note: str | None = None


class ClauseFile(_Data):
    document: DocumentSpec
    clauses: list[ClauseSpec]


# -- ruleset and rule files -----------------------------------------------------------------------


class ParameterSource(_Data):
    clause: ClauseId | None = None
    note: str


class ParameterSpec(_Data):
    type: ParameterType
    value: Any
    title: Text
    source: ParameterSource


class RulesetMeta(_Data):
    id: Id
    title: Text
    family: Id
    effective_from: date
    revision: Annotated[int, Field(ge=1)]
    description: str | None = None


class ObligationSpec(_Data):
    code: ObligationCode
    items: Annotated[list[str], Field(min_length=1)]
    when: Literal["fail", "applicable"] = "fail"


class EffectSpec(_Data):
    outcome: Literal["approve_with_conditions", "review", "reject"]
    obligations: list[ObligationSpec] = []


class RuleSpec(_Data):
    id: Id
    title: Text
    stages: Annotated[list[Stage], Field(min_length=1)]
    severity: Severity
    requires: list[str] = []
    applies_when: str | None = None
    fails_when: str
    effect: EffectSpec
    cites: Annotated[list[ClauseId], Field(min_length=1)]
    message: Text


class RulesetFile(_Data):
    """``ruleset.yaml``; a single-file ruleset (e.g. a platform's own) may carry its rules too."""

    ruleset: RulesetMeta
    parameters: dict[Name, ParameterSpec] = {}
    rules: list[RuleSpec] = []


class RuleFile(_Data):
    rules: list[RuleSpec]


# -- reading YAML safely, keeping line numbers ----------------------------------------------------


M = TypeVar("M", bound=BaseModel)


class YamlDocument:
    """A YAML file read with the safe loader, plus its node tree for locating problems by line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.node = _yaml.compose_text(_yaml.read_text(path))  # composed once; the data is built from it
        self.data: Any = _yaml.construct(self.node)

    def line_of(self, loc: tuple[int | str, ...]) -> int | None:
        """The 1-based line of the value at ``loc`` (or of its nearest existing parent)."""
        node = self.node
        line = None if node is None else node.start_mark.line + 1
        for key in loc:
            child = _child(node, key)
            if child is None:
                break
            node, line = child, child.start_mark.line + 1
        return line


def _child(node: yaml.Node | None, key: int | str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return cast(yaml.Node, value_node)
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        return cast(yaml.Node, node.value[key])
    return None


def read_yaml(path: Path, problems: list[RuleProblem]) -> YamlDocument | None:
    """Read ``path`` with the safe loader; a syntax error becomes a problem with its line."""
    try:
        return YamlDocument(path)
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else None
        if isinstance(error, _yaml.YamlLimitError):
            problems.append(RuleProblem(str(path), line, None, "yaml-limit", str(error.problem)))
        else:
            problems.append(RuleProblem(str(path), line, None, "yaml", f"not valid YAML: {shorten(error.problem)}"))
    except _yaml.FileTooLarge as error:
        problems.append(RuleProblem(str(path), None, None, "yaml-limit", str(error)))
    except UnicodeDecodeError as error:
        problems.append(RuleProblem(str(path), None, None, "yaml", f"not UTF-8 text (byte {error.start:,})"))
    except (OSError, ValueError, OverflowError, yaml.YAMLError) as error:
        problems.append(RuleProblem(str(path), None, None, "yaml", f"cannot read the file: {shorten(error)}"))
    return None


def shorten(text: object, limit: int = 200) -> str:
    """A message from a parser, cut so a long value it quotes cannot swamp the error."""
    words = without_id_numbers(str(text))  # a parser quotes what it read, which may be an identity number
    return words if len(words) <= limit else words[: limit - 1] + "…"


def validate(model: type[M], doc: YamlDocument, problems: list[RuleProblem]) -> M | None:
    """Check ``doc`` against ``model``; each schema error becomes a problem with file, line and rule id."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as error:
        for record in error.errors(include_url=False):
            loc = record["loc"]
            rule_id = _rule_id_at(doc.data, loc)
            where = shorten(".".join(str(part) for part in loc) or "(file)", _yaml.QUOTE_CHARS)
            problems.append(
                RuleProblem(str(doc.path), doc.line_of(loc), rule_id, "schema", f"{where}: {record['msg']}")
            )
    return None


def _rule_id_at(data: Any, loc: tuple[int | str, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        try:
            rule_id = data["rules"][loc[1]].get("id")
        except (AttributeError, IndexError, KeyError, TypeError):
            return None
        return rule_id if isinstance(rule_id, str) else None
    return None


def yaml_files(folder: Path) -> Iterator[Path]:
    """The ``*.yaml`` files of a folder, in name order (so loading is deterministic)."""
    yield from sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"})
