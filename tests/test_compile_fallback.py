"""Conditions the compiler does not translate fall back to rule-engine's own evaluator, never approximated.

Each rule below uses a node ``_compile`` does not support (arithmetic, regular expressions, bitwise
operators, a comprehension over values read from the campaign, or such a node in ``applies_when`` only).
Such a rule still loads, says ``compiled == False``, and gives, campaign by campaign, the status written
in ``EXPECTED`` (worked out by hand), which must also be the status by rule-engine's reference path.
"""

from __future__ import annotations

import decimal
import json
from pathlib import Path
from typing import Any

import pytest

import compliance
from compliance import Campaign, RuleFileError
from compliance.blacklist import UNCHECKED
from compliance.rules import Ruleset, load_ruleset
from compliance.rules import _closures as closures
from compliance.rules._schema import Facts


def evaluate(*args: Any, **kwargs: Any) -> compliance.Decision:
    """These tests check the rules alone; risk scoring has its own tests (tests/test_risk_*.py)."""
    return compliance.evaluate(*args, model=None, **kwargs)


HEADER = """\
ruleset:
  id: fallback
  title: {zh: 回退规则, en: Fallback rules}
  family: fallback
  effective_from: 2021-01-01
  revision: 1
parameters:
  square_cap:
    type: money
    value: 4
    title: {zh: 平方上限, en: Square cap}
    source: {note: test}
rules:
"""


def rule(
    rule_id: str,
    fails_when: str,
    *,
    applies_when: str | None = None,
    requires: str = "[]",
    message_en: str = "Failed.",
) -> str:
    text = (
        f"  - id: {rule_id}\n"
        "    title: {zh: 回退, en: Fallback}\n"
        "    stages: [publish, payout]\n"
        "    severity: low\n"
        f"    requires: {requires}\n"
    )
    if applies_when is not None:
        text += f"    applies_when: {json.dumps(applies_when, ensure_ascii=False)}\n"
    return text + (
        f"    fails_when: {json.dumps(fails_when, ensure_ascii=False)}\n"
        "    effect: {outcome: review}\n"
        "    cites: [convention-2.0/request-cap]\n"
        f"    message: {{zh: 未通过。, en: {json.dumps(message_en)}}}\n"
    )


RULES = {
    "fb.arithmetic": rule(
        "fb.arithmetic",
        "raised_amount * 2 > target_amount",
        message_en="¥{raised_amount} is over half of ¥{target_amount}.",
    ),
    "fb.divide": rule("fb.divide", "target_amount / raised_amount > 2"),
    "fb.regex": rule("fb.regex", 'platform =~ "^水滴"'),
    "fb.regex-dynamic": rule("fb.regex-dynamic", "platform =~ campaign_id"),
    "fb.not-regex": rule("fb.not-regex", 'platform !~ "^水滴"'),
    "fb.bitwise": rule("fb.bitwise", "(raised_amount & 1) == 1"),
    "fb.power-required": rule("fb.power-required", "payout.amount ** 2 > params.square_cap", requires="[payout]"),
    "fb.applies-only": rule(
        "fb.applies-only", "disclosure.house == null", applies_when="raised_amount * 2 > target_amount"
    ),
    "fb.comprehension": rule(
        "fb.comprehension",
        "$any([amount > target_amount for amount in [raised_amount * 2, raised_amount * 3]])",
    ),
    "fb.compiled-control": rule("fb.compiled-control", "raised_amount >= 50"),
}

PAYOUT = {"payee": "patient", "requested_at": "2022-02-01"}
CAMPAIGNS: dict[str, dict[str, Any]] = {
    "nothing-raised": {"campaign_id": "c-a", "platform": "水滴筹", "target_amount": 100, "raised_amount": 0},
    "exactly-half": {
        "campaign_id": "c-b",
        "platform": "水滴筹",
        "target_amount": 100,
        "raised_amount": "50.00",
        "payout": {**PAYOUT, "amount": 2},
    },
    "a-fen-over-half": {
        "campaign_id": "c-c",
        "platform": "水滴筹",
        "target_amount": 100,
        "raised_amount": "50.01",
    },
    "bad-regex-id": {
        "campaign_id": "[",
        "platform": "轻松筹",
        "target_amount": 100,
        "raised_amount": 51,
        "disclosure": {"house": True},
    },
    "self-matching": {
        "campaign_id": "a",
        "platform": "a",
        "target_amount": 100,
        "raised_amount": 25,
        "payout": {**PAYOUT, "amount": 3},
    },
}

P, F, NA, NE = "pass", "fail", "not_applicable", "not_evaluable"
# fmt: off
EXPECTED = {  # rule: statuses for the campaigns above, in order
    "fb.arithmetic":       (P, P, F, F, P),
    "fb.divide":           (NE, P, P, P, F),    # division by zero when nothing is raised
    "fb.regex":            (F, F, F, P, P),
    "fb.regex-dynamic":    (P, P, P, NE, F),    # "[" is not a valid regular expression
    "fb.not-regex":        (P, P, P, F, F),
    "fb.bitwise":          (P, P, NE, F, F),    # 50.01 is not an integer
    "fb.power-required":   (NE, P, NE, NE, F),  # no payout: not evaluable; 2² = 4 is not over 4
    "fb.applies-only":     (NA, NA, F, P, NA),
    "fb.comprehension":    (P, F, F, F, P),
    "fb.compiled-control": (P, F, F, F, P),
}
# fmt: on


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory: pytest.TempPathFactory) -> Ruleset:
    path = tmp_path_factory.mktemp("fallback") / "fallback.yaml"
    path.write_text(HEADER + "".join(RULES.values()), encoding="utf-8")
    return load_ruleset(path)


def parse(name: str) -> Campaign:
    return Campaign.parse({"created_at": "2022-01-01 09:00", **CAMPAIGNS[name]})


def facts(name: str, stage: str = "publish") -> Facts:
    campaign = parse(name)
    return Facts(campaign, stage, UNCHECKED, campaign.disclosure.__dict__)


def test_unsupported_nodes_load_and_fall_back(ruleset: Ruleset) -> None:
    compiled = {rule.id: rule.compiled for rule in ruleset.rules}
    # a literal regular expression compiles (RE2, issue 11); one read from the campaign falls back
    compiled_ids = {"fb.compiled-control", "fb.regex", "fb.not-regex"}
    assert compiled == {rule_id: rule_id in compiled_ids for rule_id in RULES}


def test_fallback_in_applies_when_only(ruleset: Ruleset) -> None:
    (rule,) = [r for r in ruleset.rules if r.id == "fb.applies-only"]
    compiled = closures.form(rule)
    assert compiled.fails.compiled is True
    assert compiled.applies is not None and compiled.applies.compiled is False
    assert rule.compiled is False


@pytest.mark.parametrize("stage", ["publish", "payout"])
@pytest.mark.parametrize("rule_id", sorted(EXPECTED))
def test_status_is_the_expected_one_and_rule_engines(ruleset: Ruleset, rule_id: str, stage: str) -> None:
    (rule,) = [r for r in ruleset.rules if r.id == rule_id]
    for name, expected in zip(CAMPAIGNS, EXPECTED[rule_id], strict=True):
        f = facts(name, stage)
        assert (rule.status(f), rule.reference_status(f)) == (expected, expected), name


def test_errors_raised_by_the_fallback_are_explained(ruleset: Ruleset) -> None:
    rules = {r.id: r for r in ruleset.rules}
    divide = rules["fb.divide"].unevaluable_reason(facts("nothing-raised"))
    assert divide.startswith("fails_when could not be evaluated (")
    assert "division by zero" in divide
    regex = rules["fb.regex-dynamic"].unevaluable_reason(facts("bad-regex-id"))
    assert regex.startswith("fails_when could not be evaluated (")
    assert "regular expression" in regex
    assert rules["fb.power-required"].unevaluable_reason(facts("nothing-raised")) == "payout is missing"


def test_fallback_rules_evaluate_end_to_end(ruleset: Ruleset) -> None:
    for index, name in enumerate(CAMPAIGNS):
        campaign = parse(name)
        decision = evaluate(campaign, ruleset=ruleset)
        assert decision.rule_results == {rule_id: statuses[index] for rule_id, statuses in EXPECTED.items()}, name
        failed = {f.rule_id for f in decision.findings}
        assert failed == {rule_id for rule_id, s in EXPECTED.items() if s[index] in (F, NE)}
        if any(s[index] in (F, NE) for s in EXPECTED.values()):
            assert decision.outcome == "review"

    decision = evaluate(parse("a-fen-over-half"), ruleset=ruleset)
    finding = next(f for f in decision.findings if f.rule_id == "fb.arithmetic")
    assert finding.status == "fail"
    assert finding.values == {"raised_amount": "50.01", "target_amount": "100.00"}
    assert finding.message.en == "¥50.01 is over half of ¥100.00."

    decision = evaluate(parse("nothing-raised"), ruleset=ruleset)
    finding = next(f for f in decision.findings if f.rule_id == "fb.divide")
    assert finding.status == "not_evaluable"
    assert finding.reason is not None and "division by zero" in finding.reason


def test_fallback_values_are_the_campaign_paths_it_reads(ruleset: Ruleset) -> None:
    rules = {r.id: r for r in ruleset.rules}
    f = facts("self-matching")
    assert rules["fb.regex-dynamic"].values(f) == {"platform": "a", "campaign_id": "a"}
    assert rules["fb.power-required"].values(f) == {"payout.amount": "3.00", "params.square_cap": "4.00"}
    assert rules["fb.applies-only"].values(f) == {
        "raised_amount": "25.00",
        "target_amount": "100.00",
        "disclosure.house": None,
    }


def test_fallback_values_do_not_include_comprehension_variables(ruleset: Ruleset) -> None:
    # `amount` is the comprehension's own variable, not a campaign path: a finding must not report
    # "amount: null" as a value the rule read (its values were 100 and 150).
    (rule,) = [r for r in ruleset.rules if r.id == "fb.comprehension"]
    assert rule.values(facts("exactly-half")) == {"raised_amount": "50.00", "target_amount": "100.00"}


def test_fallback_template_placeholders_are_still_checked(tmp_path: Path) -> None:
    path = tmp_path / "fallback.yaml"
    path.write_text(
        HEADER + rule("fb.t", "raised_amount * 2 > target_amount", message_en="{campaign_id}"),
        encoding="utf-8",
    )
    with pytest.raises(RuleFileError) as info:
        load_ruleset(path)
    (problem,) = info.value.problems
    assert (problem.code, problem.rule_id) == ("bad_template", "fb.t")
    assert "raised_amount" in problem.message and "target_amount" in problem.message


def test_fallback_does_not_let_a_nondeterministic_builtin_through(tmp_path: Path) -> None:
    path = tmp_path / "fallback.yaml"
    path.write_text(
        HEADER + rule("fb.now", "raised_amount * 2 > target_amount and created_at < $now"), encoding="utf-8"
    )
    with pytest.raises(RuleFileError) as info:
        load_ruleset(path)
    (problem,) = info.value.problems
    assert (problem.code, problem.rule_id) == ("nondeterministic", "fb.now")


def test_fallback_arithmetic_ignores_the_callers_decimal_context(tmp_path: Path) -> None:
    path = tmp_path / "fallback.yaml"
    path.write_text(HEADER + rule("fb.precise", "raised_amount * 3 > 370370.33"), encoding="utf-8")
    precise = load_ruleset(path)
    assert precise.rules[0].compiled is False
    campaign = Campaign.parse(
        {
            "campaign_id": "c",
            "platform": "a",
            "created_at": "2022-01-01",
            "target_amount": 1,
            "raised_amount": "123456.78",
        }
    )
    assert evaluate(campaign, ruleset=precise).rule_results == {"fb.precise": "fail"}  # 370370.34
    with decimal.localcontext() as context:
        context.prec = 5  # 370370.34 would round to 3.7037E+5, which is not over 370370.33
        context.traps[decimal.Inexact] = True
        assert evaluate(campaign, ruleset=precise).rule_results == {"fb.precise": "fail"}


def test_reading_a_campaign_ignores_the_callers_decimal_context() -> None:
    # The fixed decimal context is meant to make results independent of the calling thread's context;
    # reading the campaign's money must not depend on it either.
    data = {"campaign_id": "c", "platform": "a", "created_at": "2022-01-01", "target_amount": "123456.78"}
    with decimal.localcontext() as context:
        context.prec = 5
        campaign = Campaign.parse(data)
    assert campaign.target_amount == decimal.Decimal("123456.78")


def test_integer_counts_compare_as_rule_engine_reads_them(tmp_path: Path) -> None:
    # rule-engine reads Python ints as Decimal; compiled code must too, or `==` (which is false between
    # different types) would disagree with it.
    path = tmp_path / "counts.yaml"
    path.write_text(
        """\
ruleset: {id: counts, title: {zh: 计数, en: Counts}, family: counts, effective_from: 2018-01-01, revision: 1}
rules:
  - id: counts.exact
    title: {zh: 证实数, en: Endorsements}
    stages: [publish]
    severity: low
    fails_when: activity.endorsement_count == 0 or (activity&.donation_count ?? 1) == 5
    effect: {outcome: review}
    cites: [convention-2.0/real-name-verification]
    message: {zh: 无, en: none}
""",
        encoding="utf-8",
    )
    (rule,) = load_ruleset(path).rules
    assert rule.compiled
    for activity, expected in [
        ({"endorsement_count": 0}, "fail"),
        ({"donation_count": 5}, "fail"),
        ({"endorsement_count": 3, "donation_count": 4}, "pass"),
        ({}, "pass"),
    ]:
        campaign = Campaign.parse(
            {"campaign_id": "c", "platform": "p", "created_at": "2025-01-01", "target_amount": 1, "activity": activity}
        )
        facts = Facts(campaign, "publish", UNCHECKED, campaign.disclosure.__dict__)
        assert rule.status(facts) == rule.reference_status(facts) == expected, activity
