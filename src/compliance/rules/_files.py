"""What a clause file and a rule file *are*: their schemas.

Everything here is data; nothing is compiled or evaluated; the files are read by :mod:`compliance._yaml`.
See ``docs/rule-files.md`` for the reference.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field

from compliance._vocabulary import Frozen, Grade, ObligationCode, Severity, Stage
from compliance.decision import Source, Text

ParameterType = Literal["money", "number", "boolean", "string", "string_list", "disclosure_items"]

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")]
ClauseId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*/[a-z0-9][a-z0-9.\-]*$")]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


# -- clause files ---------------------------------------------------------------------------------


class ClauseSpec(Frozen):
    id: ClauseId
    article: str | None = None
    topic: str
    text: str
    gloss: str
    grade: Grade
    source: Source


class DocumentSpec(Frozen):
    id: Id
    title: Text
    issuers: list[str]
    adopted: date
    in_force: date
    full_text_available: bool
    note: str | None = None


class ClauseFile(Frozen):
    document: DocumentSpec
    clauses: list[ClauseSpec]


# -- ruleset and rule files -----------------------------------------------------------------------


class ParameterSource(Frozen):
    clause: ClauseId | None = None
    note: str


class ParameterSpec(Frozen):
    type: ParameterType
    value: Any
    title: Text
    source: ParameterSource


class RulesetMeta(Frozen):
    id: Id
    title: Text
    family: Id
    effective_from: date
    revision: Annotated[int, Field(ge=1)]
    description: str | None = None


class ObligationSpec(Frozen):
    code: ObligationCode
    items: Annotated[list[str], Field(min_length=1)]
    when: Literal["fail", "applicable"] = "fail"


class EffectSpec(Frozen):
    outcome: Literal["approve_with_conditions", "review", "reject"]
    obligations: list[ObligationSpec] = []


class RuleSpec(Frozen):
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


class RulesetFile(Frozen):
    """``ruleset.yaml``; a single-file ruleset (e.g. a platform's own) may carry its rules too."""

    ruleset: RulesetMeta
    parameters: dict[Name, ParameterSpec] = {}
    rules: list[RuleSpec] = []


class RuleFile(Frozen):
    rules: list[RuleSpec]
