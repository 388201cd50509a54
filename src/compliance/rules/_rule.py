"""What a rule *is*: its identity, stages, effect and citations, its conditions as written and checked, the
values it reads and its failure message filled from them. Rules are built by :mod:`compliance.rules._loading`;
nothing here reads a file, and nothing here evaluates: the evaluators (:mod:`~compliance.rules._closures` for
one campaign, :mod:`~compliance.rules._columns` for a table, :mod:`~compliance.rules._reference`, rule-engine's)
keep their compiled forms in :attr:`Rule.forms`, and :mod:`~compliance.rules._semantics` says what evaluating
means. :meth:`Rule.status` and :meth:`Rule.reference_status` are shortcuts to two of them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from compliance.decision import Citation, Obligation, Text
from compliance.rules import _closures, _reference
from compliance.rules._parse import Condition
from compliance.rules._schema import Facts

Getter = Callable[[Facts], Any]

PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
"""A message placeholder: ``{payout.amount}`` is replaced by the value the rule read at that path."""


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
    """One rule: what it checks, when, with what effect, citing which clauses.

    Its status for a campaign follows one order (:func:`compliance.rules._semantics.decide`): ``applies_when``
    (false: not_applicable), then ``requires`` (a missing value: not_evaluable), then ``fails_when`` (true:
    fail, false: pass); any error: not_evaluable."""

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
    applies: Condition | None = field(repr=False)
    """``applies_when``, checked against the schema (None when the rule always applies)."""
    fails: Condition = field(repr=False)
    """``fails_when``, checked against the schema with the required values known not to be null."""
    params: Any = field(repr=False)
    """The ruleset's parameters, as the conditions read them (the compilers fold them in)."""
    reads: tuple[str, ...] = field(repr=False)
    """The paths the rule reads, in order: its required values, then those of its conditions."""
    forms: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Each evaluator's compiled form of this rule, by the evaluator's key, built once when first needed."""

    def status(self, facts: Facts) -> str:
        """pass, fail, not_applicable or not_evaluable for one campaign's facts (compiled closures)."""
        return _closures.status(self, facts)

    def reference_status(self, facts: Facts) -> str:
        """The status by rule-engine's own evaluator: the reference semantics for the compiled paths."""
        return _reference.status(self, facts)

    @property
    def compiled(self) -> bool:
        """Whether both conditions run as compiled closures (else rule-engine evaluates them)."""
        return _closures.form(self).compiled

    def unevaluable_reason(self, facts: Facts, explain: Mapping[str, str] | None = None) -> str:
        """Why :meth:`status` gave not_evaluable: the first missing value, or the error raised.

        A missing value reads ``"<path> is missing"``, or its sentence in ``explain`` (see MISSING_REASONS).
        """
        return _closures.unevaluable_reason(self, facts, explain)

    def values(self, facts: Facts) -> dict[str, Any]:
        """The values this rule reads, by path, JSON-safe (parameters are converted once)."""
        getters = self.forms.get("values")
        if getters is None:
            getters = self.forms["values"] = tuple((path, _json_getter(path, self.params)) for path in self.reads)
        out = {}
        for path, getter in getters:
            try:
                value = getter(facts)
            except Exception:
                value = None
            if value is not _OBJECT:  # a required object's own fields are listed where they are read
                out[path] = value
        return out

    def render_message(self, values: Mapping[str, Any]) -> Text:
        """The failure message with its placeholders filled from ``values`` (amounts as 312,000.00)."""
        parts = self.forms.get("message")
        if parts is None:
            parts = self.forms["message"] = (
                tuple(PLACEHOLDER.split(self.message.zh)),
                tuple(PLACEHOLDER.split(self.message.en)),
            )
        zh, en = parts
        return Text._trusted(zh=_fill(zh, values), en=_fill(en, values))


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
    get = _closures.path_getter(path)

    def json_value(facts: Facts) -> Any:
        value = get(facts)
        return _json_value(value) if isinstance(value, _PLAIN) else _OBJECT

    return json_value
