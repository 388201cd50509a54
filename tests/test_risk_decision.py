"""Risk on decisions: evaluate() records the score, a high band sends a campaign to a person (never to
reject), a low or elevated band changes nothing, and the risk survives the JSON round trip."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import compliance
from compliance import Blacklist, Decision
from compliance.decision import OUTCOME_ORDER
from compliance.risk import RiskModel, synthetic
from compliance.risk._persist import default_model

EXAMPLES = Path(__file__).parent.parent / "examples"
BLACKLIST = Blacklist.load(EXAMPLES / "blacklist.json", key=(EXAMPLES / "demo-blacklist.key").read_text().strip())
RISK_RULE = "cv2.risk.high-score-review"
ACCUSING = ("fraud", "fraudster", "诈骗", "骗子", "欺诈")


def approvable() -> dict[str, Any]:
    """The publish example with every disclosure item answered "no": approved outright without a model."""
    campaign = json.loads((EXAMPLES / "campaign-publish.json").read_text(encoding="utf-8"))
    campaign["disclosure"] = {k: False for k in campaign["disclosure"]}
    return campaign


@pytest.fixture(scope="module")
def synthetic_rows() -> list[dict[str, Any]]:
    """Synthetic campaigns from 2023 on (Convention 2.0 in force), malicious ones first."""
    frame = synthetic.generate(4_000, seed=61, start=date(2023, 1, 1))
    frame = frame.sort_values("label.malicious", ascending=False, kind="stable")
    return synthetic.to_campaigns(frame.head(250))


@pytest.fixture(scope="module")
def trained() -> dict[str, RiskModel]:
    frame = synthetic.generate(12_000, seed=62)
    X, y = frame.drop(columns=list(synthetic.LABEL_COLUMNS)), frame["label.malicious"].to_numpy(dtype=int)
    return {
        "high": RiskModel(name="all-high", high_threshold=0.0, elevated_threshold=0.0).fit(X, y),
        "elevated": RiskModel(name="all-elevated", high_threshold=2.0, elevated_threshold=0.0).fit(X, y),
        "low": RiskModel(name="all-low", high_threshold=2.0, elevated_threshold=2.0).fit(X, y),
    }


def test_the_default_model_puts_risk_on_the_decision() -> None:
    decision = compliance.evaluate(approvable(), blacklist=BLACKLIST)
    risk = decision.risk
    assert risk is not None
    assert 0.0 <= risk.score <= 1.0
    assert risk.band in ("low", "elevated", "high")
    assert risk.band == default_model().band(risk.score)
    assert risk.model == f"{default_model().name}@{default_model().version_}"
    assert risk.model.startswith("compliance-default-synthetic@")
    assert isinstance(risk.reasons, tuple)
    assert decision.rule_results[RISK_RULE] == ("fail" if risk.band == "high" else "pass")
    assert risk == default_model().score_campaign(approvable())


def test_risk_survives_the_json_round_trip_byte_for_byte(synthetic_rows: list[dict[str, Any]]) -> None:
    decisions = [compliance.evaluate(approvable(), blacklist=BLACKLIST)]
    decisions += [compliance.evaluate(c, stage="payout", blacklist=BLACKLIST) for c in synthetic_rows[:40]]
    assert any(d.risk is not None and d.risk.reasons for d in decisions)
    for decision in decisions:
        text = decision.model_dump_json()
        again = Decision.model_validate_json(text)
        assert again == decision
        assert again.model_dump_json() == text
        assert again.risk == decision.risk
        assert Decision.model_validate(decision.model_dump()).model_dump_json() == text


def test_without_a_model_there_is_no_risk_and_the_risk_rule_does_not_apply() -> None:
    decision = compliance.evaluate(approvable(), blacklist=BLACKLIST, model=None)
    assert decision.risk is None
    assert decision.rule_results[RISK_RULE] == "not_applicable"
    assert (decision.outcome, decision.findings) == ("approve", ())
    assert "Risk (" not in str(decision)


def test_a_high_band_sends_an_approvable_campaign_to_review_not_reject(trained: dict[str, RiskModel]) -> None:
    model = trained["high"]
    assert model.thresholds_ == {"elevated": 0.0, "high": 0.0}
    decision = compliance.evaluate(approvable(), blacklist=BLACKLIST, model=model)
    assert decision.risk is not None and decision.risk.band == "high"
    assert decision.risk.model == model.model_name
    assert decision.outcome == "review"
    assert decision.rule_results[RISK_RULE] == "fail"
    (finding,) = [f for f in decision.findings if f.rule_id == RISK_RULE]
    assert (finding.status, finding.outcome) == ("fail", "review")
    assert "not a finding of fraud" in finding.message.en and "不是对欺诈的认定" in finding.message.zh
    assert [f.rule_id for f in decision.findings] == [RISK_RULE]  # nothing else was found


@pytest.mark.parametrize("stage", ["publish", "payout"])
def test_a_high_band_raises_any_outcome_to_review_at_most(
    trained: dict[str, RiskModel], synthetic_rows: list[dict[str, Any]], stage: str
) -> None:
    outcomes = set()
    for campaign in synthetic_rows[:150]:
        without = compliance.evaluate(campaign, stage=stage, blacklist=BLACKLIST, model=None)
        high = compliance.evaluate(campaign, stage=stage, blacklist=BLACKLIST, model=trained["high"])
        expected = max(OUTCOME_ORDER[without.outcome], OUTCOME_ORDER["review"])
        assert OUTCOME_ORDER[high.outcome] == expected, campaign["campaign_id"]
        assert [f for f in high.findings if f.rule_id != RISK_RULE] == list(without.findings)
        assert high.obligations == without.obligations
        outcomes.add(without.outcome)
    assert len(outcomes) >= 2  # the campaigns reach different outcomes, so the property is exercised


@pytest.mark.parametrize("band", ["low", "elevated"])
def test_a_low_or_elevated_band_never_changes_the_outcome(
    trained: dict[str, RiskModel], synthetic_rows: list[dict[str, Any]], band: str
) -> None:
    model = trained[band]
    campaigns = [approvable(), *synthetic_rows[:150]]
    outcomes = set()
    for stage in ("publish", "payout"):
        for campaign in campaigns:
            without = compliance.evaluate(campaign, stage=stage, blacklist=BLACKLIST, model=None)
            scored = compliance.evaluate(campaign, stage=stage, blacklist=BLACKLIST, model=model)
            assert scored.risk is not None and scored.risk.band == band
            assert (scored.outcome, scored.findings, scored.obligations) == (
                without.outcome,
                without.findings,
                without.obligations,
            )
            assert scored.rule_results == {**without.rule_results, RISK_RULE: "pass"}
            outcomes.add(without.outcome)
    assert {"approve", "review"} <= outcomes


def test_the_default_models_low_band_changes_nothing(synthetic_rows: list[dict[str, Any]]) -> None:
    low = 0
    for campaign in synthetic_rows:
        scored = compliance.evaluate(campaign, blacklist=BLACKLIST)
        if scored.risk is not None and scored.risk.band != "high":
            low += 1
            without = compliance.evaluate(campaign, blacklist=BLACKLIST, model=None)
            assert (scored.outcome, scored.findings, scored.obligations) == (
                without.outcome,
                without.findings,
                without.obligations,
            )
    assert low > 100


def test_the_text_form_shows_the_risk_and_its_reasons(
    trained: dict[str, RiskModel], synthetic_rows: list[dict[str, Any]]
) -> None:
    decision = next(
        d
        for d in (compliance.evaluate(c, blacklist=BLACKLIST, model=trained["high"]) for c in synthetic_rows)
        if d.risk is not None and len(d.risk.reasons) >= 2
    )
    text = str(decision)
    flat = " ".join(text.split())
    assert "Risk (a flag for review, not a finding of fraud)" in text
    assert f"score {decision.risk.score:.4f}, band high [{decision.risk.model}]" in flat
    for reason in decision.risk.reasons:
        assert " ".join(reason.message.en.split()) in flat
        assert reason.message.zh in flat
    assert "REVIEW" in text.splitlines()[0]


def test_no_decision_accuses_anyone_of_fraud(
    trained: dict[str, RiskModel], synthetic_rows: list[dict[str, Any]]
) -> None:
    for campaign in synthetic_rows[:60]:
        decision = compliance.evaluate(campaign, blacklist=BLACKLIST, model=trained["high"])
        # the printed risk section, and every finding's message (quoted clauses may name crimes: not ours)
        texts = [str(decision).split("\nRisk (", 1)[1].split("\n\n", 1)[0]]
        texts += [t for f in decision.findings for t in (f.message.en, f.message.zh)]
        texts += [t for r in decision.risk.reasons for t in (r.message.en, r.message.zh)]
        for text in texts:
            text = " ".join(text.split()).replace("not a finding of fraud", "").replace("不是对欺诈的认定", "")
            assert not any(word in text.lower() for word in ACCUSING), text


def test_a_high_risk_finding_records_readable_values_the_same_on_every_call(
    trained: dict[str, RiskModel],
) -> None:
    first = compliance.evaluate(approvable(), blacklist=BLACKLIST, model=trained["high"])
    again = compliance.evaluate(approvable(), blacklist=BLACKLIST, model=trained["high"])
    (finding,) = [f for f in first.findings if f.rule_id == RISK_RULE]
    assert finding.values["risk.band"] == "high"
    for value in finding.values.values():  # what the rule read, as a reviewer can read it: no object repr
        assert " object at 0x" not in json.dumps(value)
    assert first.model_dump_json() == again.model_dump_json()


def test_an_unknown_model_name_is_refused() -> None:
    with pytest.raises(ValueError, match="model must be 'default', a RiskModel or None"):
        compliance.evaluate(approvable(), model="other")
    with pytest.raises(TypeError, match="model must be"):
        compliance.evaluate(approvable(), model=object())


def test_the_default_model_scores_the_same_campaign_identically(synthetic_rows: list[dict[str, Any]]) -> None:
    for campaign in [approvable(), *synthetic_rows[:20]]:
        first = compliance.evaluate(campaign, blacklist=BLACKLIST)
        again = compliance.evaluate(json.dumps(campaign, default=str), blacklist=BLACKLIST)
        assert first.risk == again.risk
        assert first.risk.model_dump_json() == compliance.evaluate(campaign, blacklist=BLACKLIST).risk.model_dump_json()
    scores = [compliance.evaluate(approvable(), model="default").risk.score for _ in range(5)]
    assert len(set(scores)) == 1 and not np.isnan(scores[0])
