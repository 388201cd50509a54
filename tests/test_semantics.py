"""The status order, written once in ``compliance.rules._semantics``, means the same for one campaign and for
a column of them, and says why a rule could not be evaluated."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from compliance.rules._semantics import (
    FAIL,
    NOT_RUN,
    STATUS_CODES,
    EvaluationFailed,
    column_statuses,
    reason,
    status_function,
)

RAISES = "raises"
CHECKS = (True, False, RAISES)


def _check(value: Any) -> Any:
    def check(_facts: Any) -> Any:
        if value == RAISES:
            raise EvaluationFailed("data type mismatch")
        return value

    return check


def _expected(applies: Any, missing: bool, fails: Any) -> str:
    """The order as the rule-file reference states it, case by case."""
    if applies == RAISES:
        return "not_evaluable"
    if applies is False:
        return "not_applicable"
    if missing:
        return "not_evaluable"
    if fails == RAISES:
        return "not_evaluable"
    return "fail" if fails else "pass"


CASES = list(itertools.product((None, *CHECKS), (False, True), CHECKS))


@pytest.mark.parametrize(("applies", "missing", "fails"), CASES)
def test_one_campaign_follows_the_order(applies: Any, missing: bool, fails: Any) -> None:
    required = [lambda _facts: None if missing else "present"]
    status = status_function(None if applies is None else _check(applies), required, _check(fails))
    assert status(object()) == _expected(True if applies is None else applies, missing, fails)


def test_a_missing_parent_is_a_missing_value() -> None:
    def parent_missing(_facts: Any) -> Any:
        raise AttributeError("'NoneType' object has no attribute 'amount'")

    assert status_function(None, [parent_missing], _check(False))(object()) == "not_evaluable"


def test_every_row_of_a_column_gets_the_status_one_campaign_gets() -> None:
    rows = [case for case in CASES if case[0] is not None]
    truth = {part: np.array([row[k] is True for row in rows]) for k, part in ((0, "applies"), (2, "fails"))}
    error = {part: np.array([row[k] == RAISES for row in rows]) for k, part in ((0, "applies"), (2, "fails"))}
    missing = np.array([row[1] for row in rows])
    under = np.ones(len(rows), bool)
    under[-1] = False
    codes = column_statuses(
        (truth["applies"], error["applies"]), [("payout", missing)], (truth["fails"], error["fails"]), under
    )
    expected = [STATUS_CODES[_expected(*row)] for row in rows[:-1]] + [NOT_RUN]
    assert codes.tolist() == expected
    without_applies = column_statuses(None, [], (truth["fails"], None), np.ones(len(rows), bool))
    assert (without_applies == FAIL).tolist() == truth["fails"].tolist()


def test_the_reason_names_the_step_that_decided() -> None:
    present = [("payout", lambda _facts: "present")]
    absent = [("payout", lambda _facts: None)]
    explain = {"payout": "the campaign has no payout request to check"}
    assert reason(_check(RAISES), present, _check(True), object()).startswith("applies_when could not be evaluated")
    assert reason(_check(True), absent, _check(True), object(), explain) == explain["payout"]
    assert reason(None, absent, _check(True), object()) == "payout is missing"
    assert reason(None, present, _check(RAISES), object()).startswith("fails_when could not be evaluated")
    # applies_when false decides before any required value is looked at
    assert reason(_check(False), absent, _check(RAISES), object()) == "the rule could not be evaluated"


def test_the_generated_status_function_holds_no_text_from_a_rule_file() -> None:
    """Every shipped rule's checks reach the generated function through its namespace: its source is made of
    the generator's own names and the four status words, whatever the rules say."""
    import re

    from compliance.rules import Catalog
    from compliance.rules._closures import statuses
    from compliance.rules._schema import Facts

    allowed = {"def", "statuses", "facts", "out", "try", "if", "elif", "else", "except", "Exception", "return"}
    allowed |= {"not", "is", "None", "append", "while", "True", "break", "status"}
    allowed |= {"pass", "fail", "not_applicable", "not_evaluable"}
    for ruleset in Catalog.default():
        for stage in ("publish", "payout"):
            if not ruleset.rules_for(stage):
                continue
            campaign = compliance_campaign()
            statuses(ruleset, stage, Facts(campaign, stage, None, campaign.disclosure.__dict__))
            source = ruleset.forms[("closures", stage)].source
            words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", source))
            assert {w for w in words if not re.fullmatch(r"check_\d+_\d+", w)} <= allowed


def compliance_campaign() -> Any:
    from compliance import Campaign

    return Campaign.parse({"campaign_id": "c1", "platform": "水滴筹", "created_at": "2025-03-01", "target_amount": 1})


def test_a_rule_with_thousands_of_required_values_loads_and_runs(tmp_path: Path) -> None:
    """The generated function has no chain whose depth grows with a rule's steps (a compiler's recursion)."""
    from compliance.rules import load_ruleset
    from compliance.rules._closures import statuses
    from compliance.rules._schema import Facts
    from tests.builders import rule_yaml

    header = "ruleset:\n  id: many\n  title: {zh: 测试, en: Test}\n  family: many\n"
    header += "  effective_from: 2021-01-01\n  revision: 1\nrules:\n"
    requires = "[" + ", ".join(["raised_amount"] * 4000) + "]"
    path = tmp_path / "many.yaml"
    path.write_text(header + rule_yaml("many.r", "raised_amount > 1", requires), encoding="utf-8")
    ruleset = load_ruleset(path)
    campaign = compliance_campaign()
    facts = Facts(campaign, "publish", None, campaign.disclosure.__dict__)
    assert statuses(ruleset, "publish", facts) == ["pass"]
    assert "source" in vars(ruleset.forms[("closures", "publish")])  # generated, not the fallback loop
