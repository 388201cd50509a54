"""The words decisions, rule files and tables share, each defined once: the stages a campaign is checked
at, the outcomes and their strictness, a rule's statuses and severities, the evidence grades of a clause's
text, the obligation codes, the one frozen base model every data class of the library builds on, and the
one check of a stage argument. It imports nothing of the library, so every module may import it.

>>> check_stage("payout")
'payout'
"""

from __future__ import annotations

from typing import Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict

__all__ = [
    "OUTCOME_ORDER",
    "STAGES",
    "Frozen",
    "Grade",
    "ObligationCode",
    "Outcome",
    "RuleStatus",
    "Severity",
    "Stage",
    "check_stage",
]

Stage = Literal["publish", "payout"]
"""``publish``: pre-review before a campaign goes live; ``payout``: a withdrawal request."""
STAGES: tuple[Stage, ...] = get_args(Stage)

Outcome = Literal["approve", "approve_with_conditions", "review", "reject"]
OUTCOME_ORDER: dict[str, int] = {"approve": 0, "approve_with_conditions": 1, "review": 2, "reject": 3}
"""Strictness of each outcome; a decision takes the strictest that applies."""

RuleStatus = Literal["pass", "fail", "not_applicable", "not_evaluable"]
Severity = Literal["info", "low", "medium", "high", "critical"]
Grade = Literal["verbatim", "verbatim-fragment", "reported", "seed"]
"""How sure we are of a clause's text: read verbatim (whole or a fragment), reported by others, or a seed."""
ObligationCode = Literal["payout_route", "urge_disclosure"]


def check_stage(stage: Any) -> Stage:
    """``stage`` itself when it is a stage, else a ``ValueError`` that says which stages there are."""
    if stage not in STAGES:
        raise ValueError(f"stage must be 'publish' or 'payout', not {stage!r}")
    return stage  # type: ignore[no-any-return]


_set = object.__setattr__


class Frozen(BaseModel):
    """The base of every data model of the library: immutable, and refusing fields it does not declare."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def _trusted(cls, **values: Any) -> Self:
        """Build from values this library made and typed itself, skipping validation.

        ``evaluate()`` builds a decision for every call; validating values it has just computed
        would double its cost. The result is identical to ``model_validate`` of the same values, which
        ``tests/test_decision.py`` checks through a JSON round trip.
        """
        layout = cls.__dict__.get("_layout")
        if layout is None:  # field names in order, and defaults filled in when not given (as validation would)
            fields = cls.model_fields
            layout = (tuple(fields), {n: f.default for n, f in fields.items() if not f.is_required()})
            type.__setattr__(cls, "_layout", layout)
        names, defaults = layout
        if len(values) < len(names):  # in field order: the serializer follows __dict__'s order
            values = {name: values[name] if name in values else defaults[name] for name in names}
        return cls._trusted_fields(values)

    @classmethod
    def _trusted_fields(cls, values: dict[str, Any]) -> Self:
        """:meth:`_trusted` for ``values`` that already hold every field, in the order the model declares them
        (the caller's promise: ``tests/test_decision.py`` checks the decision built so)."""
        model = cls.__new__(cls)
        _set(model, "__dict__", values)
        _set(model, "__pydantic_fields_set__", set(values))
        _set(model, "__pydantic_extra__", None)
        _set(model, "__pydantic_private__", None)
        return model
