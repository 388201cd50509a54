"""Decisions: JSON round trip byte for byte, honest citations, readable text, precedence, provenance."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import compliance
from compliance import Blacklist, Decision
from compliance.decision import OUTCOME_ORDER, Citation


def evaluate(*args: Any, **kwargs: Any) -> compliance.Decision:
    """These tests check the rules alone; risk scoring has its own tests (tests/test_risk_*.py)."""
    return compliance.evaluate(*args, model=None, **kwargs)


EXAMPLES = Path(__file__).parent.parent / "examples"
KEY = (EXAMPLES / "demo-blacklist.key").read_text().strip()
BLACKLIST = Blacklist.load(EXAMPLES / "blacklist.json", key=KEY)


def example(name: str = "campaign-payout.json") -> dict:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def test_a_decision_built_by_evaluate_equals_its_validated_json_round_trip() -> None:
    decision = evaluate(example(), stage="payout", blacklist=BLACKLIST)
    text = decision.model_dump_json()
    again = Decision.model_validate_json(text)
    assert again == decision
    assert again.model_dump_json() == text
    assert Decision.model_validate(decision.model_dump()) == decision


def test_a_decision_built_by_evaluate_holds_every_field_in_the_declared_order() -> None:
    """``build_decision`` hands its fields over already complete and ordered (the serializer follows that
    order, so a field out of place would change the decision's JSON); with and without a risk score."""
    for model in (None, "default"):
        decision = compliance.evaluate(example(), stage="payout", blacklist=BLACKLIST, model=model)
        assert list(vars(decision)) == list(Decision.model_fields)
        assert decision.model_fields_set == set(Decision.model_fields)


def test_the_example_payout_is_rejected_for_its_route_with_the_obligation_stated() -> None:
    decision = evaluate(example(), stage="payout", blacklist=BLACKLIST)
    assert decision.outcome == "reject"
    assert [f.rule_id for f in decision.findings] == ["cv2.payout.route"]
    assert decision.payout_routes == ("hospital_account", "batched_with_plan")
    assert decision.ruleset.id == "convention-2.0+charity-law-2024"
    assert decision.event_time.isoformat() == "2025-04-02T14:00:00+08:00"
    finding = decision.findings[0]
    assert finding.values["raised_amount"] == "312000.00"
    assert finding.values["payout.payee"] == "close_relative"
    assert "¥312,000.00" in finding.message.en


def test_only_verbatim_text_is_presented_as_what_the_clause_says() -> None:
    catalog = compliance.rules.Catalog.default()
    for citation in catalog.corpus.values():
        presented = citation.presented()
        if citation.grade in ("verbatim", "verbatim-fragment"):
            assert "the clause says" in presented
        else:
            assert "the clause says" not in presented
            assert f"reported by {citation.source.outlet}" in presented


def test_seed_clauses_are_attributed_to_the_seed_article() -> None:
    seed = [c for c in compliance.rules.Catalog.default().corpus.values() if c.grade == "seed"]
    assert {c.clause_id for c in seed} == {"convention-2.0/disclosure-items", "convention-2.0/payout-thresholds"}
    assert all("reported by 手機鳳凰網, 2020-12-27" in c.presented() for c in seed)


def test_no_convention_clause_claims_an_article_number() -> None:
    for citation in compliance.rules.Catalog.default().corpus.values():
        if citation.document_id.startswith(("convention", "initiative")):
            assert citation.article is None, citation.clause_id


def test_the_text_form_shows_outcome_findings_citations_obligations_and_provenance() -> None:
    decision = evaluate(example(), stage="payout", blacklist=BLACKLIST)
    text = str(decision)
    assert text.startswith("Campaign example-2025-0001 at payout: REJECT")
    for fragment in (
        "cv2.payout.route",
        "reported by 手機鳳凰網, 2020-12-27",
        "[seed; convention-2.0/payout-thresholds]",
        "Pay out only",
        decision.ruleset.digest[:12],
        "Rules checked: 8",
    ):
        assert fragment in text


def test_a_notebook_shows_a_decision_as_its_readable_account() -> None:
    class Printer:  # IPython's pretty-printer protocol: text(), break_() and group()
        def __init__(self) -> None:
            self.out = ""

        def text(self, part: str) -> None:
            self.out += part

        def break_(self) -> None:
            self.out += "\n"

        def group(self) -> contextlib.AbstractContextManager[None]:
            return contextlib.nullcontext()

    decision = evaluate(example(), stage="payout", blacklist=BLACKLIST)
    shown = Printer()
    decision._repr_pretty_(shown, cycle=False)
    assert shown.out == str(decision)
    assert shown.out.startswith("Campaign example-2025-0001 at payout: REJECT") and "\n" in shown.out
    assert repr(decision).startswith("Decision(campaign_id='example-2025-0001'")  # repr stays the field dump
    assert shown.out != repr(decision)
    cyclic = Printer()
    decision._repr_pretty_(cyclic, cycle=True)
    assert cyclic.out == "Decision(...)"


def test_an_unevaluable_rule_says_it_could_not_check_and_does_not_accuse() -> None:
    decision = evaluate(example(), stage="payout")  # no blacklist supplied
    finding = next(f for f in decision.findings if f.rule_id == "cv2.blacklist.initiator")
    assert finding.status == "not_evaluable" and finding.outcome == "review"
    assert "matches" not in finding.message.en and "Could not check" in finding.message.en
    assert "no blacklist was supplied" in finding.reason
    assert OUTCOME_ORDER[decision.outcome] >= OUTCOME_ORDER["review"]


def test_the_outcome_is_the_strictest_effect() -> None:
    campaign = example("campaign-publish.json")
    assert evaluate(campaign, blacklist=BLACKLIST).outcome == "approve_with_conditions"
    campaign["target_amount"] = "600000"
    assert evaluate(campaign, blacklist=BLACKLIST).outcome == "review"
    campaign["disclosure"]["house"] = None
    assert evaluate(campaign, blacklist=BLACKLIST).outcome == "reject"


def test_a_fully_compliant_campaign_is_approved_with_no_findings() -> None:
    campaign = example("campaign-publish.json")
    campaign["disclosure"] = {k: False for k in campaign["disclosure"]}
    decision = evaluate(campaign, blacklist=BLACKLIST)
    assert (decision.outcome, decision.findings, decision.obligations) == ("approve", (), ())
    # every rule passes; the risk rule does not apply when no model scored the campaign
    assert {k: v for k, v in decision.rule_results.items() if v != "pass"} == {
        "cv2.risk.high-score-review": "not_applicable"
    }


def test_every_rule_of_the_stage_has_a_result() -> None:
    decision = evaluate(example(), stage="payout", blacklist=BLACKLIST)
    ruleset = compliance.rules.Catalog.default().get(decision.ruleset.id)
    assert list(decision.rule_results) == [r.id for r in ruleset.rules_for("payout")]


def test_the_input_digest_ignores_identity_numbers_but_not_anything_else() -> None:
    a, b = example(), example()
    b["initiator"]["id_number"] = "999999999999999999"
    assert evaluate(a).input_digest == evaluate(b).input_digest
    b["raised_amount"] = "312000.01"
    assert evaluate(a).input_digest != evaluate(b).input_digest


def test_citations_carry_document_clause_text_grade_and_source() -> None:
    decision = evaluate(example(), stage="payout", blacklist=BLACKLIST)
    citation = decision.findings[0].citations[0]
    assert isinstance(citation, Citation)
    assert (citation.document_id, citation.clause_id, citation.grade) == (
        "convention-2.0",
        "convention-2.0/payout-thresholds",
        "seed",
    )
    assert "30萬元" in citation.text and citation.source.outlet == "手機鳳凰網"
