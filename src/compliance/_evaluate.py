"""``evaluate()``: one campaign, one stage, one explained decision."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from compliance._version import __version__
from compliance._vocabulary import OUTCOME_ORDER, Stage, check_stage
from compliance.blacklist import UNCHECKED, Blacklist
from compliance.campaign import Campaign
from compliance.decision import Decision, Finding, Obligation, Text
from compliance.rules._catalog import Catalog
from compliance.rules._closures import statuses as rule_statuses
from compliance.rules._rule import MISSING_REASONS, Rule
from compliance.rules._ruleset import Ruleset
from compliance.rules._schema import Facts, RiskView

__all__ = ["evaluate"]

_OUTCOMES = tuple(sorted(OUTCOME_ORDER, key=OUTCOME_ORDER.__getitem__))
_REVIEW = OUTCOME_ORDER["review"]
_CONDITIONS = OUTCOME_ORDER["approve_with_conditions"]


def evaluate(
    campaign: Campaign | dict[str, Any] | str | bytes,
    *,
    stage: Stage = "publish",
    ruleset: Ruleset | Catalog | str | None = None,
    blacklist: Blacklist | None = None,
    model: Any = "default",
) -> Decision:
    """Check one campaign at one stage and explain the result.

    ``campaign`` is a :class:`~compliance.Campaign`, a plain nested dict, or JSON text (a request body
    as it arrived: validated directly, which is the fastest way in).

    ``stage`` is ``"publish"`` (pre-review before going live) or ``"payout"`` (a withdrawal request).
    With no ``ruleset``, the rulesets in force on the event's date are used (publish: ``created_at``;
    payout: ``payout.requested_at``); a :class:`~compliance.rules.Catalog` is consulted the same way,
    and a :class:`~compliance.rules.Ruleset` or a ruleset id is used as given. Without a ``blacklist``,
    the blacklist rules are not evaluable, so the campaign cannot be approved.

    ``model`` scores the campaign for review: ``"default"`` is the model shipped with the library
    (trained on synthetic data: retrain it on your own history before real use), a
    :class:`~compliance.risk.RiskModel` is used as given, ``None`` skips risk scoring. The score is
    recorded in ``Decision.risk``; rules read it (a high band sends the campaign to review, never to
    reject).

    Raises :class:`~compliance.CampaignError` when the input is not a readable campaign.

    >>> d = evaluate({"campaign_id": "c1", "platform": "水滴筹", "created_at": "2025-03-01",
    ...               "target_amount": 100000})
    >>> d.outcome
    'review'
    """
    check_stage(stage)
    parsed = Campaign.parse(campaign)
    payout = parsed.payout
    event_time = payout.requested_at if stage == "payout" and payout is not None else parsed.created_at
    chosen = choose_ruleset(ruleset, event_time)
    risk = None if model is None else risk_model(model).score_campaign(parsed)
    facts = Facts(
        parsed,
        stage,
        UNCHECKED if blacklist is None else blacklist.match(parsed),
        parsed.disclosure.__dict__,
        None if risk is None else RiskView(Decimal(repr(risk.score)), risk.band),
    )
    rules = chosen.rules_for(stage)
    statuses = rule_statuses(chosen, stage, facts)
    explanation = explain(rules, statuses, facts)
    return build_decision(
        parsed, explanation, stage=stage, event_time=event_time, ruleset=chosen, digest=input_digest(parsed), risk=risk
    )


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a campaign gets its outcome: each rule checked and its status, the outcome they give, the
    obligations, and a finding for each rule that failed or could not be evaluated."""

    rules: Sequence[Rule]
    statuses: Sequence[str]
    outcome: str
    obligations: Sequence[Obligation]
    findings: Sequence[Finding]


def explain(rules: Sequence[Rule], statuses: Sequence[str], facts: Facts) -> Explanation:
    """The outcome, the obligations and a finding for each rule that failed or could not be evaluated."""
    outcome, obligations, flagged = conclude(rules, statuses)
    findings = [
        _finding(rule, facts, "fail", None)
        if status == "fail"
        else _finding(rule, facts, "not_evaluable", rule.unevaluable_reason(facts, MISSING_REASONS))
        for rule, status in flagged
    ]
    return Explanation(rules, statuses, outcome, obligations, findings)


def build_decision(
    campaign: Campaign,
    explanation: Explanation,
    *,
    stage: Stage,
    event_time: Any,
    ruleset: Ruleset,
    digest: str,
    risk: Any,
) -> Decision:
    """The Decision from what ``evaluate`` computed, with every rule's result (built without re-validation):
    the ``explanation``, and what it was made of (the stage, the time that chose the ruleset, the ruleset,
    the input's digest, the risk score or None)."""
    ids = tuple(rule.id for rule in explanation.rules)
    return Decision._trusted_fields(
        {  # every field, in the order Decision declares them
            "campaign_id": campaign.campaign_id,
            "stage": stage,
            "outcome": explanation.outcome,
            "event_time": event_time,
            "findings": tuple(explanation.findings),
            "obligations": tuple(explanation.obligations),
            "rule_results": dict(zip(ids, explanation.statuses, strict=True)),
            "ruleset": ruleset.ref,
            "library_version": __version__,
            "input_digest": digest,
            "risk": risk,
        }
    )


def conclude(rules: Sequence[Rule], statuses: Sequence[str]) -> tuple[str, list[Obligation], list[tuple[Rule, str]]]:
    """The outcome, the obligations and the rules to report (failed or not evaluable), from each rule's
    status: a failed rule contributes its outcome, one that could not be evaluated ``review``; a rule
    that applied (passed or failed) its obligations, and any obligation makes the outcome at least
    ``approve_with_conditions``. The one place this policy is written (single and batch decisions)."""
    worst = 0
    obligations: list[Obligation] = []
    flagged: list[tuple[Rule, str]] = []
    for rule, status in zip(rules, statuses, strict=True):
        if status == "pass":
            obligations.extend(rule.obligations_when_applicable)
        elif status == "fail":
            obligations.extend(rule.obligations_when_applicable)
            obligations.extend(rule.obligations_on_fail)
            flagged.append((rule, status))
            worst = max(worst, OUTCOME_ORDER[rule.outcome])
        elif status == "not_evaluable":
            flagged.append((rule, status))
            worst = max(worst, _REVIEW)
    if obligations:
        worst = max(worst, _CONDITIONS)
    return _OUTCOMES[worst], obligations, flagged


def risk_model(model: Any) -> Any:
    """The model to score with: the shipped one for ``"default"``, ``model`` itself otherwise (``None``: none)."""
    if isinstance(model, str):
        if model != "default":
            raise ValueError(f"model must be 'default', a RiskModel or None, not {model!r}")
        from compliance.risk._persist import default_model  # imports scikit-learn: only when scoring

        return default_model()
    if not hasattr(model, "score_campaign"):
        raise TypeError(f"model must be 'default', a RiskModel or None, not {type(model).__name__}")
    return model


def input_digest(campaign: Campaign) -> str:
    """SHA-256 of the campaign's canonical JSON; identity numbers are excluded from the JSON."""
    # The serializer's own bytes are exactly model_dump_json().encode("utf-8"), without the round trip.
    return "sha256:" + hashlib.sha256(campaign.__pydantic_serializer__.to_json(campaign)).hexdigest()


def choose_ruleset(ruleset: Ruleset | Catalog | str | None, event_time: Any) -> Ruleset:
    """The ruleset to check with: ``ruleset`` itself, the one of that id, or the catalog's in force then."""
    if isinstance(ruleset, Ruleset):
        return ruleset
    if isinstance(ruleset, str):
        return Catalog.default().get(ruleset)
    catalog = Catalog.default() if ruleset is None else ruleset
    return catalog.for_date(event_time)


def _finding(rule: Rule, facts: Facts, status: Literal["fail", "not_evaluable"], reason: str | None) -> Finding:
    values = rule.values(facts)
    # A rule that could not be evaluated must not be described by its failure message: "matches a
    # blacklist entry" would say of someone what was never found.
    message = (
        rule.render_message(values)
        if status == "fail"
        else Text._trusted(
            zh=f"无法判断“{rule.title.zh}”，须人工复核。",
            en=f"Could not check “{rule.title.en}”; a person must review it.",
        )
    )
    return Finding._trusted(
        rule_id=rule.id,
        status=status,
        severity=rule.severity,
        outcome=rule.outcome if status == "fail" else "review",
        title=rule.title,
        message=message,
        reason=reason,
        values=values,
        citations=rule.citations,
    )
