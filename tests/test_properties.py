"""Laws the decisions obey, checked on generated campaigns."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import compliance
from compliance.blacklist import Blacklist
from compliance.campaign import DISCLOSURE_ITEMS
from compliance.decision import OUTCOME_ORDER
from tests.strategies import LADDER, LISTED_IDS, campaigns


def evaluate(*args: Any, **kwargs: Any) -> compliance.Decision:
    """These tests check the rules alone; risk scoring has its own tests (tests/test_risk_*.py)."""
    return compliance.evaluate(*args, model=None, **kwargs)


BLACKLIST = Blacklist.from_id_numbers(LISTED_IDS, key="property-test key, not a secret")
STAGES = st.sampled_from(["publish", "payout"])


def strictness(data: dict, stage: str) -> int:
    return OUTCOME_ORDER[evaluate(data, stage=stage, blacklist=BLACKLIST).outcome]


@settings(max_examples=400)
@given(data=st.one_of(campaigns(), campaigns(clean=True)), stage=STAGES)
def test_more_disclosure_never_makes_the_outcome_stricter(data: dict, stage: str) -> None:
    before = strictness(data, stage)
    for item in DISCLOSURE_ITEMS:
        if data["disclosure"][item] is None:
            for answer in (True, False):
                answered = {**data, "disclosure": {**data["disclosure"], item: answer}}
                assert strictness(answered, stage) <= before, f"answering {item}={answer} made the outcome stricter"


@settings(max_examples=300)
@given(data=st.one_of(campaigns(payout=True), campaigns(payout=True, clean=True)))
def test_a_larger_raised_amount_never_relaxes_the_payout_obligation(data: dict) -> None:
    routes_so_far: tuple[str, ...] | None = None
    for amount in LADDER:
        data["raised_amount"] = str(amount)
        routes = evaluate(data, stage="payout", blacklist=BLACKLIST).payout_routes
        if routes_so_far is not None:
            assert routes is not None, f"raising to ¥{amount} lifted the payout restriction"
            assert set(routes) <= set(routes_so_far), f"raising to ¥{amount} allowed more payout routes"
        routes_so_far = routes if routes is not None else routes_so_far


@given(data=campaigns(), stage=STAGES)
def test_a_rule_that_cannot_be_evaluated_never_leads_to_approve(data: dict, stage: str) -> None:
    decision = evaluate(data, stage=stage, blacklist=BLACKLIST)
    if "not_evaluable" in decision.rule_results.values():
        assert OUTCOME_ORDER[decision.outcome] >= OUTCOME_ORDER["review"]
    if decision.outcome == "approve":
        assert set(decision.rule_results.values()) <= {"pass", "not_applicable"}
        assert decision.obligations == ()


@given(data=campaigns(), stage=STAGES)
def test_decisions_are_deterministic_and_survive_json_byte_for_byte(data: dict, stage: str) -> None:
    first = evaluate(data, stage=stage, blacklist=BLACKLIST)
    second = evaluate(dict(data), stage=stage, blacklist=BLACKLIST)
    text = first.model_dump_json()
    assert second.model_dump_json() == text
    again = compliance.Decision.model_validate_json(text)
    assert again == first
    assert again.model_dump_json() == text


@given(data=campaigns(), stage=STAGES)
def test_raw_identity_numbers_never_appear_in_a_decision(data: dict, stage: str) -> None:
    decision = evaluate(data, stage=stage, blacklist=BLACKLIST)
    rendered = decision.model_dump_json() + str(decision) + repr(decision) + repr(compliance.Campaign.parse(data))
    raw = [
        data["initiator"]["id_number"],
        data["patient"]["id_number"],
        (data.get("payout") or {}).get("payee_id_number"),
    ]
    for number in filter(None, raw):
        assert number not in rendered


@given(data=campaigns(), stage=STAGES)
def test_a_campaign_decides_alike_as_json_text_dict_or_campaign(data: dict, stage: str) -> None:
    import json

    from_dict = evaluate(data, stage=stage, blacklist=BLACKLIST).model_dump_json()
    text = json.dumps(data, ensure_ascii=False)
    assert evaluate(text, stage=stage, blacklist=BLACKLIST).model_dump_json() == from_dict
    parsed = compliance.Campaign.parse(text.encode("utf-8"))
    assert evaluate(parsed, stage=stage, blacklist=BLACKLIST).model_dump_json() == from_dict
