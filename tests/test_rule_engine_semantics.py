"""Conditions no shipped rule uses, where the compiled evaluators once disagreed with rule-engine (issue 12).

rule-engine's own evaluator is the reference; ``evaluate()`` (compiled closures) and ``evaluate_frame``
(numpy over columns, or row by row) must give the same status, rule by rule and campaign by campaign. Each
test holds one cause; the expected statuses are rule-engine's, worked out by hand.
"""

from __future__ import annotations

import decimal
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from compliance import Campaign
from compliance.errors import FallbackWarning
from tests.three_paths import disagreements, evaluate_frame_statuses, ruleset_of, statuses

BASE: dict[str, Any] = {
    "campaign_id": "c1",
    "platform": "水滴筹",
    "created_at": "2021-03-01 09:00",  # a Monday
    "target_amount": "100.00",
    "raised_amount": "50.00",
}


def campaign(**fields: Any) -> Campaign:
    return Campaign.parse(BASE | fields)


def expect(folder: Path, cases: dict[str, str], campaigns: list[Campaign], **options: Any) -> None:
    """Each condition's status (the same on every campaign), by all three evaluators."""
    ruleset = ruleset_of(folder, [(condition, "[]") for condition in cases])
    by_campaign = statuses(ruleset, campaigns, **options)
    for i, by_rule in enumerate(by_campaign):
        got = {rule.fails_when: by_rule[rule.id] for rule in ruleset.rules}
        want = {condition: (status, status, status) for condition, status in cases.items()}
        assert got == want, f"campaign {i}"


def test_value_attributes_are_rule_engines_not_pythons(tmp_path: Path) -> None:
    cases = {
        "created_at.year == 2021": "fail",  # Decimal(2021), not the int 2021 (which equals no number)
        "created_at.month == 3 and created_at.day == 1 and created_at.hour == 9": "fail",
        'created_at.weekday == "Monday"': "fail",  # a day's name, not a bound method
        "created_at.date < created_at": "fail",
        "raised_amount.is_nan": "pass",  # false, not a truthy bound method
        "raised_amount.ceiling == 50 and raised_amount.floor == 50": "fail",
        'raised_amount.to_str == "50.00"': "fail",
        "platform.length == 3": "fail",
        "platform.is_empty": "pass",
        "other_platform_campaign_ids.length == 0": "fail",
        "params.name.length == 3": "fail",  # a parameter's: folded at load (it raised AttributeError there)
        'params.payees.length == 2 and "patient" in params.payees.to_set': "fail",
        "medical.diagnosis&.length == null": "fail",
        "disclosure_answers.length == 8": "fail",
        "platform.to_flt < 1": "not_evaluable",  # NaN: an ordered comparison with it is an error
    }
    expect(tmp_path, cases, [campaign(), campaign(created_at="2021-03-01T01:00:00Z")])


def test_non_finite_literals_are_compared_in_every_path(tmp_path: Path) -> None:
    cases = {
        "raised_amount < inf": "fail",
        "raised_amount > -inf": "fail",
        "raised_amount >= inf": "pass",
        "raised_amount == nan": "pass",
        "raised_amount != nan": "fail",
        "raised_amount in [0, inf]": "pass",
        "raised_amount in [50, inf]": "fail",
        "raised_amount >= nan": "not_evaluable",
        "(medical.estimated_cost ?? 0) < inf": "fail",
    }
    ruleset = ruleset_of(tmp_path, [(condition, "[]") for condition in cases])
    rows = [campaign(), campaign(raised_amount="0.00")]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)  # compiled for columns, none row by row
        evaluate_frame_statuses(pd.DataFrame([BASE] * 2), ruleset, "publish")
    assert disagreements(ruleset, rows) == []
    expect(tmp_path, {c: s for c, s in cases.items() if "[0, inf]" not in c}, [rows[0]])


def test_coalesce_of_a_count_and_money_does_not_wrap_around(tmp_path: Path) -> None:
    """A count of 10**17 as fen is 10**19, past int64: the column path must not wrap it to a negative."""
    big = campaign(activity={"donation_count": 10**17})
    expect(tmp_path, {"(activity.donation_count ?? raised_amount) >= 0": "fail"}, [big])
    expect(tmp_path, {"(activity.donation_count ?? raised_amount) > 99999999999999999": "fail"}, [big])


def test_coalesce_keeps_the_errors_of_its_right_side(tmp_path: Path) -> None:
    """Where the left side is null, the right side is evaluated, and its failed lookup is an error."""
    condition = "(disclosure.house ?? disclosure_answers[params.nope]) == true"
    expect(tmp_path, {condition: "not_evaluable"}, [campaign()])
    expect(tmp_path, {condition: "fail"}, [campaign(disclosure={"house": True})])
    expect(tmp_path, {condition: "pass"}, [campaign(disclosure={"house": False})])


def test_literals_longer_than_any_decimal_context_are_exact(tmp_path: Path) -> None:
    cases = {
        "target_amount > 99.9999999999999999999999999999999": "fail",  # 100.00 is above it, by 1e-31
        "target_amount == 100.000000000000000000000000000001": "pass",
        "target_amount < 100.000000000000000000000000000001": "fail",
        "raised_amount < 1000000000000000000000000000000000": "fail",
        "raised_amount > -1000000000000000000000000000000000": "fail",
        "target_amount == 100.0000000000000000000000000000": "fail",
    }
    expect(tmp_path, cases, [campaign()])


def test_the_callers_decimal_context_changes_nothing(tmp_path: Path) -> None:
    """rule-engine evaluates in its own decimal context; so must the compiled paths, whatever the caller's is
    (here: 5 digits, and NaN comparisons not trapped)."""
    cases = {"target_amount > 99.9999999999999999999999999999999": "fail", "raised_amount >= nan": "not_evaluable"}
    cases |= {"platform.to_flt > 1": "not_evaluable", "target_amount > 123456.7": "pass"}
    ruleset = ruleset_of(tmp_path, [(condition, "[]") for condition in cases])
    with decimal.localcontext(prec=5, traps=[]):
        expect_ruleset = statuses(ruleset, [campaign()])
    got = {rule.fails_when: expect_ruleset[0][rule.id] for rule in ruleset.rules}
    assert got == {condition: (status,) * 3 for condition, status in cases.items()}


def test_mappings_are_equal_as_rule_engine_compares_them(tmp_path: Path) -> None:
    """rule-engine reads ``disclosure_answers`` as an OrderedDict: equal to a mapping literal with the same
    items in the same order, not in another order."""
    items = ("basic_medical_insurance", "commercial_insurance", "minimum_subsistence_allowance")
    items += ("registered_poor_household", "government_medical_aid", "other_platform_fundraising", "house", "car")
    answers = dict.fromkeys(items, True)
    in_order = "{" + ", ".join(f'"{item}": true' for item in items) + "}"
    reversed_order = "{" + ", ".join(f'"{item}": true' for item in reversed(items)) + "}"
    cases = {
        f"disclosure_answers == {in_order}": "fail",
        f"disclosure_answers == {reversed_order}": "pass",
        f"disclosure_answers != {reversed_order}": "fail",
        f"disclosure_answers in [{in_order}]": "fail",
        '"house" in disclosure_answers': "fail",
        "$all([disclosure_answers[item] == true for item in params.items])": "fail",
    }
    expect(tmp_path, cases, [campaign(disclosure=answers)])


@pytest.mark.parametrize(
    ("created", "requested"),
    [
        # 1986-09-14 01:00-02:00 happened twice in Asia/Shanghai (daylight saving ended): +09:00, then +08:00
        ("1986-09-14T01:30:00+09:00", "1986-09-14T01:10:00+08:00"),
        ("1991-09-15T01:30:00+09:00", "1991-09-15T01:10:00+08:00"),
    ],
)
def test_times_in_a_repeated_hour_compare_by_wall_clock(tmp_path: Path, created: str, requested: str) -> None:
    """Two Asia/Shanghai times compare by wall clock (as Python compares within one zone): the request at the
    second 01:10 is 40 minutes after the campaign's first 01:30, but its wall clock is earlier."""
    day = created[:10]
    cases = {
        "payout.requested_at > created_at": "pass",
        "payout.requested_at < created_at": "fail",
        "payout.requested_at == created_at": "pass",
        f'payout.requested_at < d"{day} 01:20:00"': "fail",  # a time in the zone: by wall clock
        f'payout.requested_at > d"{day}T01:20:00+09:00"': "fail",  # another zone: by instant
        f'payout.requested_at == d"{day}T01:10:00+08:00"': "pass",  # the same instant, but not unambiguous
        f'created_at >= d"{day} 01:30:00"': "fail",
        f'(payout&.requested_at ?? created_at) < d"{day} 01:20:00"': "fail",
    }
    paid = campaign(created_at=created, payout={"amount": "1.00", "payee": "patient", "requested_at": requested})
    ruleset = ruleset_of(tmp_path, [(condition, "[payout]") for condition in cases])
    got = {rule.fails_when: statuses(ruleset, [paid], "payout")[0][rule.id] for rule in ruleset.rules}
    assert got == {condition: (status,) * 3 for condition, status in cases.items()}


def test_a_table_without_the_list_columns_runs_rules_row_by_row(tmp_path: Path) -> None:
    """A rule the column compiler does not translate reads each row as a campaign: the list columns the table
    lacks are empty lists (as not given), not an unreadable row."""
    cases = {"created_at.year == 2021": "fail", "raised_amount * 2 >= target_amount": "fail"}
    cases |= {"other_platform_campaign_ids == []": "fail", "medical.document_hashes.length == 0": "fail"}
    ruleset = ruleset_of(tmp_path, [(condition, "[]") for condition in cases])
    given = pd.DataFrame([BASE, BASE | {"raised_amount": "49.99"}])
    got = statuses(ruleset, [campaign(), campaign(raised_amount="49.99")], frame=given)
    texts = {rule.id: rule.fails_when for rule in ruleset.rules}
    assert {texts[k]: v for k, v in got[0].items()} == {c: (s,) * 3 for c, s in cases.items()}
    assert got[1][ruleset.rules[1].id] == ("pass",) * 3


def test_the_largest_count_is_compared_exactly_in_a_table(tmp_path: Path) -> None:
    """``evaluate()`` accepts a count up to 2**63 - 1; at a finer scale (beside 0.5) it is past int64."""
    cases = {
        "(activity.donation_count ?? 0.5) >= 1": "fail",
        '(platform == "水滴筹" ? activity.donation_count ?? 0 : 0.5) > 9223372036854775806': "fail",
        "(activity.share_count ?? 0.5) == 0.5": "fail",
    }
    largest = campaign(activity={"donation_count": 2**63 - 1})
    expect(tmp_path, cases, [largest])
