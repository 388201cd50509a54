"""Reasons behind a risk score: faithful (removing the top reason lowers the score), the same on the
single-campaign and batch paths, sorted, positive, and never an accusation of fraud."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from compliance import Campaign
from compliance.decision import Risk
from compliance.risk import FEATURE_NAMES, FEATURES, RiskModel, synthetic
from compliance.risk._features import campaign_features

ACCUSING = ("fraud", "fraudster", "诈骗", "骗子", "欺诈")


@pytest.fixture(scope="module")
def supervised() -> RiskModel:
    frame = synthetic.generate(60_000, seed=41)
    labels = frame["label.malicious"].to_numpy(dtype=int)
    return RiskModel().fit(frame.drop(columns=list(synthetic.LABEL_COLUMNS)), labels)


@pytest.fixture(scope="module")
def unsupervised() -> RiskModel:
    frame = synthetic.generate(20_000, seed=43).drop(columns=list(synthetic.LABEL_COLUMNS))
    return RiskModel(mode="unsupervised", n_estimators=50).fit(frame)


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    """2,000 campaigns of a 60,000-row frame of another seed: every malicious one, and the rest at random."""
    frame = synthetic.generate(60_000, seed=42)
    malicious = np.flatnonzero(frame["label.malicious"].to_numpy())
    others = np.setdiff1d(np.arange(len(frame)), malicious)
    rest = np.random.default_rng(0).choice(others, 2_000 - len(malicious), replace=False)
    rows = np.sort(np.concatenate([malicious, rest]))
    assert len(malicious) >= 60
    return frame.iloc[rows].drop(columns=list(synthetic.LABEL_COLUMNS))


@pytest.fixture(scope="module")
def campaigns(sample: pd.DataFrame) -> list[Campaign]:
    return [Campaign.parse(d) for d in synthetic.to_campaigns(sample)]


class Spy:
    """Records what the single-campaign path computed (score and contributions before any rounding)."""

    def __init__(self, model: RiskModel) -> None:
        self.model, self.real = model, model._risk
        self.calls: list[tuple[float, list[float], list[float]]] = []

    def __call__(self, score: float, x: list[float], contributions: list[float], top: int) -> Risk:
        self.calls.append((score, list(x), list(contributions)))
        return self.real(score, x, contributions, top)


@pytest.fixture(scope="module")
def single(supervised: RiskModel, campaigns: list[Campaign]) -> dict[str, Any]:
    """Every sample campaign scored one at a time by the supervised model, with what the path computed."""
    spy = Spy(supervised)
    supervised._risk = spy  # an instance attribute, removed below
    try:
        risks = [supervised.score_campaign(c) for c in campaigns]
    finally:
        del supervised._risk
    scores = np.array([s for s, _, _ in spy.calls])
    x = np.array([row for _, row, _ in spy.calls], dtype=float)
    contributions = np.array([c for _, _, c in spy.calls], dtype=float)
    return {"risks": risks, "scores": scores, "x": x, "contributions": contributions}


def test_the_spied_features_are_the_campaigns_features(
    supervised: RiskModel, campaigns: list[Campaign], single: dict[str, Any]
) -> None:
    raw = np.array([campaign_features(c, supervised.reference_) for c in campaigns[:200]], dtype=float)
    # the model's inputs: the campaign's features, with a feature that does not apply (the cost ratio when there
    # is no estimate) set to its typical legitimate value (compliance.risk._model.NOT_APPLICABLE_WHEN)
    expected = supervised._apply_fills(raw)
    assert np.array_equal(single["x"][:200], expected, equal_nan=True)
    assert not np.array_equal(raw, expected, equal_nan=True)  # the fill did apply to some of these campaigns
    assert [r.score for r in single["risks"]] == [round(s, 6) for s in single["scores"]]


def test_removing_the_top_reason_lowers_the_score(supervised: RiskModel, single: dict[str, Any]) -> None:
    x, risks = single["x"], single["risks"]
    with_reasons = [i for i, r in enumerate(risks) if r.reasons]
    assert len(with_reasons) > 1_000  # the check covers most of the sample
    before = supervised._scores(x[with_reasons])
    np.testing.assert_allclose(before, single["scores"][with_reasons], rtol=1e-12, atol=1e-15)
    changed = x[with_reasons].copy()
    for row, i in enumerate(with_reasons):
        top = FEATURE_NAMES.index(risks[i].reasons[0].feature)
        changed[row, top] = supervised.baseline_[top]
    after = supervised._scores(changed)
    lowered = after < before
    assert lowered.all(), [risks[with_reasons[k]].reasons[0].feature for k in np.flatnonzero(~lowered)[:10]]
    # and by exactly the reason's contribution in log-odds
    logit = lambda p: np.log(p) - np.log1p(-p)  # noqa: E731
    shown = np.array([risks[i].reasons[0].contribution for i in with_reasons])
    np.testing.assert_allclose(logit(before) - logit(after), shown, rtol=0, atol=5e-5 + 1e-7)


def test_single_and_batch_contributions_agree(supervised: RiskModel, single: dict[str, Any]) -> None:
    batch = supervised.contributions(single["x"])
    assert batch.shape == single["x"].shape
    np.testing.assert_allclose(single["contributions"], batch, rtol=0, atol=1e-9)
    np.testing.assert_allclose(single["scores"], supervised._scores(single["x"]), rtol=0, atol=1e-12)


def test_reasons_are_the_top_positive_contributions_in_order(supervised: RiskModel, single: dict[str, Any]) -> None:
    for risk, x, contributions in zip(single["risks"], single["x"], single["contributions"], strict=True):
        assert len(risk.reasons) <= 3
        shown = [r.contribution for r in risk.reasons]
        assert all(c > 0 for c in shown)
        assert shown == sorted(shown, reverse=True)
        positive = sorted((c for c in contributions if c > 1e-9), reverse=True)
        assert len(risk.reasons) == min(3, len(positive))
        assert shown == [round(c, 4) for c in positive[: len(shown)]]
        for reason in risk.reasons:
            j = FEATURE_NAMES.index(reason.feature)
            assert abs(reason.contribution - contributions[j]) <= 5e-5 + 1e-12
            assert reason.value == FEATURES[j].display(x[j])


@pytest.mark.parametrize("top", [1, 5])
def test_top_bounds_the_number_of_reasons(supervised: RiskModel, campaigns: list[Campaign], top: int) -> None:
    counts = [len(supervised.score_campaign(c, top=top).reasons) for c in campaigns[:300]]
    assert max(counts) == top and min(counts) >= 0


def test_reason_messages_never_accuse(single: dict[str, Any]) -> None:
    messages = [m for r in single["risks"] for reason in r.reasons for m in (reason.message.zh, reason.message.en)]
    assert len(messages) > 2_000
    for feature in FEATURES:
        messages += [feature.reason.zh, feature.reason.en, feature.unknown.zh, feature.unknown.en, feature.why]
    for message in messages:
        assert not any(word in message.lower() for word in ACCUSING), message


def test_the_risk_rules_mention_fraud_only_to_say_the_score_is_not_a_finding_of_it() -> None:
    from compliance.rules import Catalog

    rules = [r for rs in Catalog.default() for r in rs.rules_for("publish") if r.id.endswith("risk.high-score-review")]
    assert {r.id for r in rules} >= {"cv1.risk.high-score-review", "cv2.risk.high-score-review"}
    for rule in rules:
        en, zh = rule.message.en, rule.message.zh
        assert "not a finding of fraud" in en and "不是对欺诈的认定" in zh
        assert re.sub(r"not a finding of fraud", "", en).lower().count("fraud") == 0
        assert zh.replace("不是对欺诈的认定", "").count("欺诈") == 0
        assert not any(word in zh for word in ("诈骗", "骗子"))


def test_an_unknown_features_reason_says_it_is_not_known(single: dict[str, Any]) -> None:
    found = 0
    for risk, x in zip(single["risks"], single["x"], strict=True):
        for reason in risk.reasons:
            j = FEATURE_NAMES.index(reason.feature)
            if math.isnan(x[j]):
                found += 1
                assert reason.message == FEATURES[j].unknown
                assert reason.value is None
            else:
                assert reason.message != FEATURES[j].unknown
    assert found > 0  # the sample holds reasons that are an unknown value


def test_an_unknown_value_gives_the_unknown_text_through_score_campaign(supervised: RiskModel) -> None:
    # find a feature whose being unknown raises the score, and make a campaign where it is the only reason
    base = {"campaign_id": "u-1", "platform": "水滴筹", "created_at": "2025-03-01 09:00", "target_amount": "1000"}
    risk = supervised.score_campaign(base, top=len(FEATURES))
    x = campaign_features(Campaign.parse(base), supervised.reference_)
    unknown = [r for r in risk.reasons if math.isnan(x[FEATURE_NAMES.index(r.feature)])]
    assert unknown, "no unknown feature raises this model's score"
    for reason in unknown:
        feature = FEATURES[FEATURE_NAMES.index(reason.feature)]
        assert (reason.message.zh, reason.message.en) == (feature.unknown.zh, feature.unknown.en)
        assert feature.unknown.en.endswith("is not known") and feature.unknown.zh.endswith("未知")


# -- unsupervised mode ------------------------------------------------------------------------------------------


def test_unsupervised_reasons_are_faithful(unsupervised: RiskModel, sample: pd.DataFrame) -> None:
    table = sample.iloc[:400]
    x = unsupervised._features(table)
    risks = unsupervised.score_frame(table)
    scores = unsupervised._scores(x)
    assert [r.score for r in risks] == [round(float(s), 6) for s in scores]
    with_reasons = [i for i, r in enumerate(risks) if r.reasons]
    assert len(with_reasons) > 100
    changed = x[with_reasons].copy()
    for row, i in enumerate(with_reasons):
        reasons = risks[i].reasons
        shown = [r.contribution for r in reasons]
        assert all(c > 0 for c in shown) and shown == sorted(shown, reverse=True) and len(shown) <= 3
        top = FEATURE_NAMES.index(reasons[0].feature)
        changed[row, top] = unsupervised.baseline_[top]
    after = unsupervised._scores(changed)
    assert (after < scores[with_reasons]).all()


def test_unsupervised_single_and_batch_paths_agree(unsupervised: RiskModel, campaigns: list[Campaign]) -> None:
    spy = Spy(unsupervised)
    unsupervised._risk = spy
    try:
        for campaign in campaigns[:8]:  # each single-campaign reason re-scores the forest once per feature
            unsupervised.score_campaign(campaign)
    finally:
        del unsupervised._risk
    x = np.array([row for _, row, _ in spy.calls], dtype=float)
    np.testing.assert_allclose([c for _, _, c in spy.calls], unsupervised.contributions(x), rtol=0, atol=1e-9)
    np.testing.assert_allclose([s for s, _, _ in spy.calls], unsupervised._scores(x), rtol=0, atol=1e-12)
