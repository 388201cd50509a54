"""Plain-text rendering of decisions, for terminals, logs and notebooks."""

from __future__ import annotations

import textwrap
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compliance.decision import Citation, Decision, Finding

_WIDTH = 100
_MARK = {"fail": "✗", "not_evaluable": "?"}
_OUTCOME_WORDS = {
    "approve": "APPROVE",
    "approve_with_conditions": "APPROVE WITH CONDITIONS",
    "review": "REVIEW (a person must decide)",
    "reject": "REJECT",
}


def render_decision(decision: Decision) -> str:
    """A readable account of a decision: outcome, findings with their clauses, obligations, provenance."""
    lines = [
        f"Campaign {decision.campaign_id} at {decision.stage}: {_OUTCOME_WORDS[decision.outcome]}",
        f"  event time {decision.event_time.isoformat()}; ruleset {decision.ruleset.id} "
        f"(revision {decision.ruleset.revision}, digest {decision.ruleset.digest[:12]})",
        f"  compliance {decision.library_version}; input {decision.input_digest[:19]}",
    ]
    if decision.ruleset.overrides:
        lines.append(f"  parameters overridden by the platform: {', '.join(decision.ruleset.overrides)}")
    if decision.findings:
        lines += ["", f"Findings ({len(decision.findings)}):"]
        for finding in decision.findings:
            lines += _finding_lines(finding)
    if decision.risk is not None:
        risk = decision.risk
        lines += [
            "",
            f"Risk (a flag for review, not a finding of fraud): score {risk.score:.4f}, band {risk.band} "
            f"[{risk.model}]",
        ]
        for reason in risk.reasons:
            lines += _wrap(f"- {reason.message.en} / {reason.message.zh} (+{reason.contribution:.2f} log-odds)", "  ")
    if decision.obligations:
        lines += ["", "Obligations:"]
        for obligation in decision.obligations:
            lines += _wrap(f"- {obligation.message.en} / {obligation.message.zh} [{obligation.rule_id}]", "  ")
    counts = Counter(decision.rule_results.values())
    summary = ", ".join(
        f"{counts[s]} {s.replace('_', ' ')}" for s in ("pass", "fail", "not_applicable", "not_evaluable")
    )
    lines += ["", f"Rules checked: {len(decision.rule_results)} ({summary})"]
    return "\n".join(lines)


def _finding_lines(finding: Finding) -> list[str]:
    head = f"{_MARK[finding.status]} {finding.rule_id} [{finding.severity}] → {finding.outcome}"
    if finding.status == "not_evaluable":
        head += " (not evaluable)"
    lines = ["", *_wrap(head, "  "), *_wrap(f"{finding.title.en} / {finding.title.zh}", "    ")]
    lines += _wrap(finding.message.en, "    ") + _wrap(finding.message.zh, "    ")
    if finding.reason:
        lines += _wrap(f"why not evaluable: {finding.reason}", "    ")
    if finding.values:
        read = ", ".join(f"{k}={_short(v)}" for k, v in finding.values.items())
        lines += _wrap(f"values read: {read}", "    ")
    for citation in finding.citations:
        lines += _wrap(f"- {_cite(citation)}", "    ", "      ")
    return lines


def _cite(citation: Citation) -> str:
    return f"{citation.presented()} [{citation.grade}; {citation.clause_id}]"


def _short(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _wrap(text: str, indent: str, subsequent: str | None = None) -> list[str]:
    return textwrap.wrap(
        text,
        _WIDTH,
        initial_indent=indent,
        subsequent_indent=subsequent or indent + "  ",
        break_long_words=True,
        break_on_hyphens=False,
    ) or [indent]
