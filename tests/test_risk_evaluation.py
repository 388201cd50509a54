"""Evaluation of the risk model: metrics with known answers, the shipped model on held-out synthetic data,
and the documented cases (src/compliance/risk/scenarios.yaml) ranked against a synthetic population."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from compliance import Campaign
from compliance.risk import FEATURE_NAMES, RiskModel
from compliance.risk._evaluation import (
    FEATURE_INPUTS,
    HELD_OUT_ROWS,
    HELD_OUT_SEED,
    Scenario,
    _frame,
    evaluate_model,
    evaluate_scores,
    load_scenarios,
    rank_scenarios,
)
from compliance.risk._persist import default_model, default_model_card
from compliance.risk.synthetic import LABEL_COLUMNS, generate, to_campaigns

TOP_SHARE = 0.04
MODEL_CARD = Path(__file__).resolve().parents[1] / "docs" / "model-card.md"
BEYOND_INPUTS = {"zheng-2020", "suzhou-2016"}
"""Cases whose evidence in reality is not among the model's inputs (each scenario's ``why`` says what it was);
changing this set is a decision about a case, to be argued in scenarios.yaml, never a way to pass a test."""

SCENARIOS = load_scenarios()
EXPECTED_IDS = {
    "mo-2018",
    "zheng-2020",
    "luoding-2020",
    "shouning-2019",
    "xiaochang-2024",
    "heze-2022",
    "brokers-2022",
    "wu-heche-2019",
    "suzhou-2016",
    "chengdu-2023",
    "wang-fengya-2018",
}


@pytest.fixture(scope="module")
def held_out() -> pd.DataFrame:
    return generate(HELD_OUT_ROWS, seed=HELD_OUT_SEED)


@pytest.fixture(scope="module")
def metrics(held_out: pd.DataFrame) -> dict:
    return evaluate_model(default_model(), held_out.drop(columns=list(LABEL_COLUMNS)), held_out["label.malicious"])


@pytest.fixture(scope="module")
def ranking(held_out: pd.DataFrame) -> dict[str, dict]:
    return {r["id"]: r for r in rank_scenarios(default_model(), held_out, SCENARIOS, top_share=TOP_SHARE)}


# -- metrics with known answers ---------------------------------------------------------------------------


def test_a_perfect_ranking_has_auc_one_and_exact_precision_at_each_budget() -> None:
    scores = np.linspace(0.01, 0.99, 100)
    labels = np.arange(100) >= 90  # the ten highest scores are the ten positives
    result = evaluate_scores(scores, labels, budgets=(0.05, 0.1, 0.2))
    assert result["roc_auc"] == 1.0 and result["pr_auc"] == pytest.approx(1.0)
    assert result["base_rate"] == 0.1 and result["positives"] == 10 and result["rows"] == 100
    assert [(b["reviewed"], b["found"], b["precision"], b["recall"]) for b in result["budgets"]] == [
        (5, 5, 1.0, 0.5),
        (10, 10, 1.0, 1.0),
        (20, 10, 0.5, 1.0),
    ]
    assert result["budgets"][0]["lift"] == pytest.approx(10.0)
    assert result["brier_base_rate"] == pytest.approx(0.09)


def test_a_hand_computed_case() -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    labels = [1, 0, 1, 0, 0, 0]
    result = evaluate_scores(scores, labels, budgets=(1 / 3,), bins=2)
    assert result["roc_auc"] == pytest.approx(7 / 8)  # the positive at 0.7 loses only to the negative at 0.8
    assert result["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert result["brier"] == pytest.approx((0.01 + 0.64 + 0.09 + 0.36 + 0.25 + 0.16) / 6)
    assert result["brier_base_rate"] == pytest.approx((1 / 3) * (2 / 3))
    (budget,) = result["budgets"]
    assert (budget["reviewed"], budget["found"], budget["precision"], budget["recall"]) == (2, 1, 0.5, 0.5)
    assert budget["threshold"] == 0.8
    low, high = result["reliability"]["bins"]
    assert (low["count"], low["positives"], high["count"], high["positives"]) == (3, 0, 3, 2)
    assert low["mean_predicted"] == pytest.approx(0.5) and high["observed"] == pytest.approx(2 / 3)


def test_ties_at_the_budget_are_broken_by_row_order() -> None:
    result = evaluate_scores([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1], budgets=(0.5,))
    assert result["budgets"][0]["found"] == 1  # rows 0 and 1 are reviewed
    assert result["roc_auc"] == 0.5


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, 0.2], [0, 0], "both classes"),
        ([0.1, 1.2], [0, 1], "within"),
        ([0.1, float("nan")], [0, 1], "finite"),
        ([0.1, 0.2], [0, 2], "0/1"),
        ([0.1, 0.2], [0, 1, 1], "labels"),
    ],
)
def test_bad_input_is_refused(scores: list[float], labels: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_scores(scores, labels)


def test_a_budget_must_be_a_share() -> None:
    with pytest.raises(ValueError, match="budget"):
        evaluate_scores([0.1, 0.9], [0, 1], budgets=(4,))


def test_evaluate_model_on_a_toy_model_ranks_perfectly_and_reports_bands() -> None:
    x = np.arange(300, dtype=float)[:, None]
    y = (x[:, 0] >= 270).astype(int)
    model = RiskModel(input="features", elevated_share=0.2, high_share=0.1).fit(x, y)
    result = evaluate_model(model, x, y, budgets=(0.1,))
    assert result["roc_auc"] == 1.0
    assert result["budgets"][0]["precision"] == 1.0 and result["budgets"][0]["recall"] == 1.0
    assert set(result["bands"]) == {"low", "elevated", "high"}
    assert sum(result["bands"].values()) == pytest.approx(1.0)
    assert result["bands"]["high"] == pytest.approx(0.1, abs=0.01)
    assert result["thresholds"] == model.thresholds_


# -- the shipped model on held-out synthetic data -------------------------------------------------------


def test_the_held_out_rows_are_not_the_training_rows() -> None:
    assert default_model_card()["training_seed"] != HELD_OUT_SEED


def test_the_result_is_plain_json_and_has_every_key(metrics: dict) -> None:
    text = json.dumps(metrics, allow_nan=False)
    assert json.loads(text) == metrics
    assert set(metrics) == {
        "rows", "positives", "base_rate", "roc_auc", "pr_auc", "brier", "brier_base_rate", "budgets",
        "reliability", "model", "thresholds", "bands",
    }  # fmt: skip
    assert metrics["rows"] == HELD_OUT_ROWS
    for key in ("base_rate", "roc_auc", "pr_auc", "brier", "brier_base_rate"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert [b["budget"] for b in metrics["budgets"]] == [0.01, 0.04]
    assert [b["reviewed"] for b in metrics["budgets"]] == [2_000, 8_000]
    for b in metrics["budgets"]:
        assert 0.0 <= b["precision"] <= 1.0 and 0.0 <= b["recall"] <= 1.0
    bins = metrics["reliability"]["bins"]
    assert len(bins) == 10 and sum(b["count"] for b in bins) == HELD_OUT_ROWS
    assert sum(b["positives"] for b in bins) == metrics["positives"]
    assert [b["mean_predicted"] for b in bins] == sorted(b["mean_predicted"] for b in bins)
    assert sum(metrics["bands"].values()) == pytest.approx(1.0)


def test_evaluation_is_deterministic(held_out: pd.DataFrame, metrics: dict) -> None:
    again = evaluate_model(default_model(), held_out.drop(columns=list(LABEL_COLUMNS)), held_out["label.malicious"])
    assert json.dumps(again, sort_keys=True) == json.dumps(metrics, sort_keys=True)


def test_roc_auc_on_held_out_data_is_good_but_not_too_good(metrics: dict) -> None:
    assert metrics["roc_auc"] <= 0.97, (
        f"ROC AUC {metrics['roc_auc']:.4f} > 0.97 on held-out synthetic data: the generator leaks the label "
        "into the features (no published fraud model on real data comes near this)"
    )
    assert metrics["roc_auc"] >= 0.75, f"ROC AUC {metrics['roc_auc']:.4f} < 0.75 on held-out synthetic data"


def test_reviewing_the_top_one_percent_finds_at_least_five_times_the_base_rate(metrics: dict) -> None:
    top = metrics["budgets"][0]
    assert top["budget"] == 0.01
    assert top["precision"] >= 5 * metrics["base_rate"], top


def test_the_scores_beat_predicting_the_base_rate(metrics: dict) -> None:
    assert metrics["brier"] < metrics["brier_base_rate"]


def test_the_bands_hold_the_shares_the_thresholds_were_set_for(metrics: dict) -> None:
    model = default_model()
    high, elevated = metrics["bands"]["high"], metrics["bands"]["elevated"]
    assert high == pytest.approx(model.high_share, rel=0.25)
    assert high + elevated == pytest.approx(model.elevated_share, rel=0.25)


# -- the scenarios file -----------------------------------------------------------------------------------


def _raw() -> dict:
    return yaml.safe_load((resources.files("compliance.risk") / "scenarios.yaml").read_text(encoding="utf-8"))


def test_every_scenario_campaign_parses_as_a_campaign() -> None:
    raw = _raw()
    assert len(raw["scenarios"]) == len(SCENARIOS)
    for entry in raw["scenarios"]:
        campaign = Campaign.parse(entry["campaign"])
        assert campaign.campaign_id == f"scenario-{entry['id']}"
        for item in entry.get("context") or ():
            Campaign.parse(item["campaign"])


def test_the_documented_cases_are_all_there_and_the_gang_is_left_out_with_a_reason() -> None:
    assert {s.id for s in SCENARIOS} == EXPECTED_IDS
    text = (resources.files("compliance.risk") / "scenarios.yaml").read_text(encoding="utf-8")
    assert "郭某某" in text and "not written as a scenario" in text
    assert "郭某某" not in " ".join(s.case for s in SCENARIOS)


def test_each_scenario_states_facts_sources_expectation_and_what_is_assumed() -> None:
    for s in SCENARIOS:
        assert s.facts and s.sources and s.outcome and s.expect_note, s.id
        assert s.expect in ("top", "not_top", "beyond_inputs")
        assert bool(s.why) == (s.expect == "beyond_inputs"), s.id
        assert set(s.assumptions) <= s.reported | {"context"}, s.id
        assert not set(s.placeholders) & s.reported, s.id
        assert "created_at" in s.reported or "created_at" in s.placeholders, s.id
    by_id = {s.id: s for s in SCENARIOS}
    assert {s.id for s in SCENARIOS if s.expect == "beyond_inputs"} == BEYOND_INPUTS
    assert by_id["wang-fengya-2018"].expect == "not_top"
    assert by_id["wu-heche-2019"].kind == "disclosure_dispute"
    assert "NO FRAUD WAS FOUND" in by_id["wu-heche-2019"].outcome
    assert by_id["chengdu-2023"].kind == "legitimate_outlier"
    assert by_id["mo-2018"].campaign.raised_amount == by_id["mo-2018"].campaign.payout.amount == 153_136


def test_feature_inputs_name_every_feature_and_only_schema_fields() -> None:
    from compliance._flat import FLAT_COLUMNS

    assert tuple(FEATURE_INPUTS) == FEATURE_NAMES
    assert {f for fields in FEATURE_INPUTS.values() for f in fields} <= set(FLAT_COLUMNS)


def test_a_scenario_file_with_a_placeholder_for_an_unwritten_field_is_refused(tmp_path) -> None:
    raw = _raw()
    raw["scenarios"] = [raw["scenarios"][0]]
    raw["scenarios"][0]["placeholders"]["medical.hospital_id"] = "not written"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="does not write"):
        load_scenarios(path)


def test_scenario_rows_score_as_single_campaigns_do() -> None:
    """The table path (times, money, flags from Python values) agrees with the single-campaign path."""
    model = default_model()
    for s in SCENARIOS:
        if s.context or s.campaign.medical.document_hashes:
            continue  # a table compares its rows with each other; a single campaign has no others
        (risk,) = model.score_frame(_frame([s.campaign]))
        assert risk.score == model.score_campaign(s.campaign).score, s.id


# -- ranking on the reported facts --------------------------------------------------------------------------


def test_with_nothing_reported_a_scenario_ranks_at_the_population_median(held_out: pd.DataFrame) -> None:
    blank = Scenario(
        id="blank", case="nothing reported", kind="fraud", date="2024", expect="not_top", expect_note="-",
        facts=("-",), sources=("-",), outcome="-",
        campaign=Campaign.parse({"campaign_id": "blank", "platform": "x", "created_at": "2024-01-01",
                                 "target_amount": 1}),
        context=(), reported=frozenset({"campaign_id"}), placeholders={}, assumptions={},
    )  # fmt: skip
    (result,) = rank_scenarios(default_model(), held_out.head(20_000), [blank])
    assert result["reported_features"] == []
    assert result["facts_top_share"] == pytest.approx(0.5, abs=0.001)
    assert result["facts_reasons"] == []


def test_with_everything_reported_the_facts_score_is_the_score(held_out: pd.DataFrame) -> None:
    row = held_out[held_out["label.malicious"]].head(1)
    raw = to_campaigns(row)[0]
    raw["payout"] = raw.get("payout")  # written, even if None
    campaign = Campaign.parse(raw)
    everything = Scenario(
        id="full", case="a synthetic campaign", kind="fraud", date="2024", expect="top", expect_note="-",
        facts=("-",), sources=("-",), outcome="-", campaign=campaign, context=(),
        reported=frozenset(FEATURE_INPUTS["disclosure_unanswered"]) | {f for v in FEATURE_INPUTS.values() for f in v},
        placeholders={}, assumptions={},
    )  # fmt: skip
    (result,) = rank_scenarios(default_model(), held_out.head(20_000), [everything])
    assert result["unreported_features"] == []
    assert result["facts_score"] == pytest.approx(result["score"], abs=1e-6)
    assert result["facts_in_top"] in (0.0, 1.0)


def test_the_ranking_is_plain_json_with_percentiles(ranking: dict[str, dict]) -> None:
    assert json.loads(json.dumps(list(ranking.values()), allow_nan=False)) == list(ranking.values())
    for r in ranking.values():
        assert 0.0 <= r["percentile"] <= 100.0 and 0.0 <= r["facts_percentile"] <= 100.0
        assert math.isclose(r["percentile"] / 100 + r["top_share"], 1.0)
        assert sorted(r["reported_features"] + r["unreported_features"]) == sorted(FEATURE_NAMES)
        assert all(reason["feature"] in r["reported_features"] for reason in r["facts_reasons"])
        assert r["band"] in ("low", "elevated", "high")


# Open findings, not hidden: a case whose evidence IS among the model's inputs but which, on its reported facts
# alone, does not rank where expected is listed here with why, as a strict xfail, so the suite says so the day the
# model catches it (then delete its line). None is open now; 菏泽 2022 was, while its "many campaigns" were written
# as 5 others with no figure behind them (design entry 38). The model card's scenario table shows every case.
OPEN_FINDINGS: dict[str, str] = {}


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=f"open finding: {OPEN_FINDINGS[s.id]}"))
        if s.id in OPEN_FINDINGS
        else s
        for s in SCENARIOS
    ],
    ids=[s.id for s in SCENARIOS],
)
def test_each_documented_case_ranks_where_expected_on_its_reported_facts(
    scenario: Scenario, ranking: dict[str, dict]
) -> None:
    """`top`: within the top 4 % of 200,000 fresh synthetic campaigns; `not_top` (王凤雅): not;
    `beyond_inputs`: no rank expected, but the model card's scenario table shows the case with its `why`."""
    r = ranking[scenario.id]
    if scenario.expect == "beyond_inputs":
        assert r["met"] is None and r["why"] == scenario.why
        rows = [line for line in MODEL_CARD.read_text(encoding="utf-8").splitlines() if f"(`{scenario.id}`)" in line]
        assert len(rows) == 1 and rows[0].startswith("|"), f"{scenario.id} is not in the model card's scenario table"
        assert f"| beyond_inputs: {' '.join(scenario.why.split())} |" in rows[0], (
            f"{scenario.id}: the model card's table does not give the beyond_inputs explanation; "
            "regenerate it with `python benchmarks/model_report.py`"
        )
        return
    where = "within" if scenario.expect == "top" else "outside"
    assert r["met"], (
        f"{scenario.id} ({scenario.case}) should rank {where} the top {TOP_SHARE:.0%} on its reported facts: "
        f"facts score {r['facts_score']:.4f}, top {r['facts_top_share']:.2%} of the population "
        f"({r['facts_in_top']:.0%} of campaigns with these facts land in the top {TOP_SHARE:.0%}); reasons "
        f"{[(x['feature'], x['value'], x['contribution']) for x in r['facts_reasons']]}; as encoded: score "
        f"{r['score']:.4f}, top {r['top_share']:.2%}, reasons "
        f"{[(x['feature'], x['value'], x['contribution']) for x in r['reasons']]}"
    )
