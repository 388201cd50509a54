"""Decisions: immutable, explained results that survive a JSON round trip byte for byte.

A :class:`Decision` says what may happen to a campaign (``outcome``), what the platform must do
(``obligations``), why (``findings``, each citing the clauses it enforces with their provenance), and
exactly what made it (ruleset id, revision and digest, library version, digest of the input).

Outcome precedence, strictest first: ``reject`` > ``review`` > ``approve_with_conditions`` > ``approve``.
A decision takes the strictest outcome among its failed rules' effects; a rule that could not be
evaluated counts as ``review``; any obligation makes it at least ``approve_with_conditions``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, get_args

from pydantic import Field, JsonValue

from compliance._vocabulary import OUTCOME_ORDER, Frozen, Grade, ObligationCode, Outcome, RuleStatus, Stage

__all__ = [
    "CONTRIBUTION_PLACES",
    "OUTCOME_ORDER",
    "RISK_BANDS",
    "SCORE_PLACES",
    "Citation",
    "Decision",
    "Finding",
    "Obligation",
    "Risk",
    "RiskBand",
    "RiskReason",
    "RuleStatus",
    "RulesetRef",
    "Source",
    "Text",
]


class Text(Frozen):
    """A text in Chinese and English."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Source(Frozen):
    """Where a clause text was read: outlet, date, address, and how the text was handled."""

    outlet: str
    date: date | None
    address: str | None = None
    note: str | None = None


class Citation(Frozen):
    """A clause a finding enforces, with the evidence grade of its text."""

    document_id: str
    document_title: Text
    clause_id: str
    article: str | None
    topic: str
    text: str
    gloss: str
    grade: Grade
    source: Source

    def presented(self) -> str:
        """The clause as it may honestly be printed: only verbatim text is "the clause says"."""
        where = self.document_title.zh + (f" {self.article}" if self.article else "")
        if self.grade in ("verbatim", "verbatim-fragment"):
            return f"{where} — the clause says: 「{self.text}」"
        when = self.source.date.isoformat() if self.source.date else "undated"
        return f"{where} — reported by {self.source.outlet}, {when}: 「{self.text}」"


class Finding(Frozen):
    """A rule that failed, or could not be evaluated, for this campaign."""

    rule_id: str
    status: Literal["fail", "not_evaluable"]
    severity: str
    outcome: Outcome
    title: Text
    message: Text
    reason: str | None = None
    """Why the rule could not be evaluated (``not_evaluable`` only)."""
    values: dict[str, JsonValue]
    """The values the rule read, by path; identity numbers are never among them."""
    citations: tuple[Citation, ...]


class Obligation(Frozen):
    """Something the platform must do: pay only by certain routes, urge certain disclosures."""

    code: ObligationCode
    items: tuple[str, ...]
    rule_id: str
    message: Text


class RiskReason(Frozen):
    """One reason behind a risk score: a feature, the campaign's value, and how much it raised the score."""

    feature: str
    value: str | None
    """The campaign's value as a reviewer reads it (``"3"`` hours, ``"4.0"`` times); ``None`` for a yes/no signal."""
    contribution: float
    """How much the feature raised the score's log-odds, against its typical value among legitimate campaigns,
    rounded to 4 decimal places (``CONTRIBUTION_PLACES``) for the same reason as :attr:`Risk.score`."""
    message: Text


SCORE_PLACES = 6
"""Decimal places a risk score is carried at (see :attr:`Risk.score`)."""
CONTRIBUTION_PLACES = 4
"""Decimal places a risk reason's contribution is carried at."""

RiskBand = Literal["low", "elevated", "high"]
RISK_BANDS: tuple[str, ...] = get_args(RiskBand)
"""The risk bands in order of concern; a band's position is its code where bands are stored as integers."""


class Risk(Frozen):
    """A risk score to help people choose what to review. It is a flag, never a finding of fraud."""

    score: float
    """Calibrated probability that review will find the campaign malicious (on the model's training data),
    rounded to 6 decimal places (``SCORE_PLACES``) before it is banded, in every path.

    Floating point differs between CPUs in the last bits (numpy's AVX-512 kernels, the BLAS); carried at a
    stated precision far above that noise, the score, its band and the decision's JSON are the same bytes on
    every machine, unless the unrounded score lies within about 1e-15 of a rounding step (a chance of the
    order of 1e-9 per decision; ``tests/test_determinism.py`` checks thousands with and without AVX-512)."""
    band: RiskBand
    reasons: tuple[RiskReason, ...]
    model: str
    """The model's name and version; its card says what it was trained on."""


class RulesetRef(Frozen):
    """Exactly which rules made a decision."""

    id: str
    revision: str
    digest: str
    """SHA-256 of the rules, parameters and clauses as loaded, overrides included."""
    overrides: tuple[str, ...] = ()
    """Parameters a platform overrode, by name."""


class Decision(Frozen):
    """The explained result of evaluating one campaign at one stage."""

    campaign_id: str
    stage: Stage
    outcome: Outcome
    event_time: datetime
    """The time that chose the ruleset: ``created_at`` at publish, ``payout.requested_at`` at payout."""
    findings: tuple[Finding, ...]
    obligations: tuple[Obligation, ...]
    rule_results: dict[str, RuleStatus]
    """Every rule of the ruleset and what it gave: pass, fail, not_applicable or not_evaluable."""
    ruleset: RulesetRef
    library_version: str
    input_digest: str
    """SHA-256 of the validated campaign's canonical JSON (identity numbers excluded)."""
    risk: Risk | None = None
    """The risk model's score, band and reasons; ``None`` when no model was used."""

    @property
    def payout_routes(self) -> tuple[str, ...] | None:
        """The routes a payout may take, or ``None`` when no rule restricts them."""
        routes: tuple[str, ...] | None = None
        for obligation in self.obligations:
            if obligation.code == "payout_route":
                allowed = obligation.items if routes is None else tuple(r for r in routes if r in obligation.items)
                routes = allowed
        return routes

    def __str__(self) -> str:
        from compliance._report import render_decision

        return render_decision(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython and Jupyter show a decision left as a cell's value as its readable account (``str()``),
        not as the one-line field dump of ``repr()``. Lines are separate breaks, as IPython's own pretty
        printer writes multi-line text, so the account stays indented inside a list or a dict."""
        if cycle:
            printer.text("Decision(...)")
            return
        with printer.group():
            for index, line in enumerate(str(self).splitlines()):
                if index:
                    printer.break_()
                printer.text(line)
