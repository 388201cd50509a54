"""What a compiled rule *is*: its identity, stages, effect and citations, its status for one campaign
(applies_when, then requires, then fails_when), the values it reads and its failure message filled from
them. Rules are built by :mod:`compliance.rules._loading`; nothing here reads a file.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import rule_engine
from pydantic import BaseModel

from compliance.decision import Citation, Obligation, Text
from compliance.rules._compile import CompiledCondition
from compliance.rules._schema import EXTRA_SYMBOLS, Facts

Getter = Callable[[Facts], Any]


def _json_value(value: Any) -> Any:
    """A value as it appears in findings and digests: exact, JSON-safe, never a raw identifier."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (int, float)):
        return str(Decimal(repr(value)))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """One compiled rule: what it checks, when, with what effect, citing which clauses."""

    id: str
    ruleset_id: str
    title: Text
    stages: frozenset[str]
    severity: str
    outcome: str
    requires: tuple[str, ...]
    applies_when: str | None
    fails_when: str
    citations: tuple[Citation, ...]
    message: Text
    obligations_on_fail: tuple[Obligation, ...]
    obligations_when_applicable: tuple[Obligation, ...]
    location: str
    required: tuple[Getter, ...] = field(repr=False)
    applies: CompiledCondition | None = field(repr=False)
    fails: CompiledCondition = field(repr=False)
    reference_applies: rule_engine.Rule | None = field(repr=False)
    reference_fails: rule_engine.Rule = field(repr=False)
    value_getters: tuple[tuple[str, Getter], ...] = field(repr=False)
    params: Any = field(repr=False)
    """The ruleset's parameters, as the conditions read them (the batch compiler folds them too)."""
    message_parts: tuple[tuple[str, ...], tuple[str, ...]] = field(repr=False)
    """The zh and en messages split at their placeholders: literal, path, literal, path, …, literal."""
    status: Callable[[Facts], str] = field(repr=False)
    """``status(facts)``: pass, fail, not_applicable or not_evaluable, by the compiled conditions.

    Order: ``applies_when`` (false: not_applicable), then ``requires`` (a missing value: not_evaluable),
    then ``fails_when`` (true: fail, false: pass). Any error: not_evaluable. Built once per rule by
    :func:`_status_function`, specialised to the parts the rule has (it runs for every campaign)."""

    @property
    def compiled(self) -> bool:
        """Whether both conditions run as compiled closures (else rule-engine evaluates them)."""
        return self.fails.compiled and (self.applies is None or self.applies.compiled)

    def unevaluable_reason(self, facts: Facts, explain: Mapping[str, str] | None = None) -> str:
        """Why :meth:`status` gave not_evaluable: the first missing value, or the error raised.

        A missing value reads ``"<path> is missing"``, or its sentence in ``explain`` (see MISSING_REASONS).
        """
        try:
            if self.applies is not None:
                self.applies.evaluate(facts)
        except Exception as error:
            return f"applies_when could not be evaluated ({type(error).__name__}: {error})"
        for path, getter in zip(self.requires, self.required, strict=True):
            if _missing(getter, facts):
                return f"{path} is missing" if explain is None else explain.get(path, f"{path} is not known")
        try:
            self.fails.evaluate(facts)
        except Exception as error:
            return f"fails_when could not be evaluated ({type(error).__name__}: {error})"
        return "the rule could not be evaluated"

    def reference_status(self, facts: Facts) -> str:
        """The status by rule-engine's own evaluator: the reference semantics for the compiled path."""
        try:
            if self.reference_applies is not None and not self.reference_applies.matches(facts):
                return "not_applicable"
            if any(_missing(getter, facts) for getter in self.required):
                return "not_evaluable"
            return "fail" if self.reference_fails.matches(facts) else "pass"
        except Exception:
            return "not_evaluable"

    def values(self, facts: Facts) -> dict[str, Any]:
        """The values this rule reads, by path, JSON-safe (parameters were converted once, at load)."""
        out = {}
        for path, getter in self.value_getters:
            try:
                value = getter(facts)
            except Exception:
                value = None
            if value is not _OBJECT:  # a required object's own fields are listed where they are read
                out[path] = value
        return out

    def render_message(self, values: Mapping[str, Any]) -> Text:
        """The failure message with its placeholders filled from ``values`` (amounts as 312,000.00)."""
        zh, en = self.message_parts
        return Text._trusted(zh=_fill(zh, values), en=_fill(en, values))


def _status_function(
    applies: CompiledCondition | None, required: tuple[Getter, ...], fails: CompiledCondition
) -> Callable[[Facts], str]:
    check = fails.evaluate
    if applies is None and not required:

        def status(facts: Facts) -> str:
            try:
                return "fail" if check(facts) else "pass"
            except Exception:  # any failure to evaluate means the rule cannot vouch: fail closed
                return "not_evaluable"

        return status
    applies_now = None if applies is None else applies.evaluate

    def full_status(facts: Facts) -> str:
        try:
            if applies_now is not None and not applies_now(facts):
                return "not_applicable"
            for get in required:
                if get(facts) is None:
                    return "not_evaluable"
            return "fail" if check(facts) else "pass"
        except Exception:  # a missing parent (AttributeError) or a failed condition: fail closed
            return "not_evaluable"

    return full_status


MISSING_REASONS: Mapping[str, str] = {
    "blacklist.initiator": "the initiator could not be checked against the blacklist "
    "(no blacklist was supplied, or the campaign has no identity number or hash for them)",
    "blacklist.patient": "the patient could not be checked against the blacklist "
    "(no blacklist was supplied, or the campaign has no identity number or hash for them)",
    "blacklist.payee": "the payee could not be checked against the blacklist "
    "(no blacklist was supplied, or the payout has no identity number or hash for the payee)",
    "payout": "the campaign has no payout request to check",
}
"""Why a required value can be missing, in words a reviewer can act on."""


def _missing(getter: Getter, facts: Facts) -> bool:
    try:
        return getter(facts) is None
    except AttributeError:
        return True


_AMOUNT = re.compile(r"^(\d+)\.(\d\d)$")


def _fill(parts: tuple[str, ...], values: Mapping[str, Any]) -> str:
    pieces = list(parts)
    for index in range(1, len(pieces), 2):
        pieces[index] = _display(values.get(pieces[index]))
    return "".join(pieces)


def _display(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        amount = _AMOUNT.match(value)  # money reaches messages as its exact text, e.g. "312000.00"
        return f"{int(amount[1]):,}.{amount[2]}" if amount else value
    return str(value)


_PLAIN = (type(None), bool, str, int, float, Decimal, date, tuple, list, Mapping)
"""Values a finding lists as they are; anything else is a nested object whose fields are listed where read."""
_OBJECT = object()
"""What a value getter returns for a whole nested object (e.g. a required ``payout``): not listed."""


def _json_getter(path: str, params: Any) -> Getter:
    """A getter of the JSON-safe value at ``path``; a parameter's is computed once, here."""
    if path.startswith("params."):
        constant = _json_value(operator.attrgetter(path.removeprefix("params."))(params))
        return lambda _facts: constant
    get = _path_getter(path)

    def json_value(facts: Facts) -> Any:
        value = get(facts)
        return _json_value(value) if isinstance(value, _PLAIN) else _OBJECT

    return json_value


def _path_getter(path: str) -> Getter:
    if path.partition(".")[0] in EXTRA_SYMBOLS:
        return operator.attrgetter(path)
    return operator.attrgetter("campaign." + path)
