"""The synthetic campaign generator: calibration to published figures, schema, determinism, no label leakage."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from compliance import Campaign
from compliance._flat import FLAT_COLUMNS
from compliance.campaign import DISCLOSURE_ITEMS
from compliance.risk.synthetic import LABEL_COLUMNS, PUBLISHED, TYPOLOGIES, generate, to_campaigns

N = 200_000
HEX64 = re.compile(r"^[0-9a-f]{64}$")
MONEY = ("target_amount", "raised_amount", "payout.amount", "medical.estimated_cost", "activity.amount_first_24h")
TIMES = ("created_at", "initiator.account_created_at", "payout.requested_at")
TUPLES = ("medical.document_hashes", "other_platform_campaign_ids")
COUNTS = tuple(c for c in FLAT_COLUMNS if c.endswith(("_count", "_first_24h")) and c not in MONEY)
BOOLEANS = (
    "initiator.real_name_verified",
    "initiator.truthfulness_acknowledged",
    "patient.real_name_verified",
    "payout.batched",
    *(c for c in FLAT_COLUMNS if c.startswith(("disclosure.", "documents."))),
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate(N, seed=2024)


@pytest.fixture(scope="module")
def malicious(frame: pd.DataFrame) -> np.ndarray:
    return frame["label.malicious"].to_numpy()


# -- helpers: the signals a model reads, in simple numeric encodings ------------------------------------


def _num(frame: pd.DataFrame, column: str) -> np.ndarray:
    series = frame[column]
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        out = series.astype("int64").to_numpy(dtype=float) / 1e9
        out[series.isna().to_numpy()] = np.nan
        return out
    return series.astype("float64").to_numpy(na_value=np.nan)


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    """Derived signals: ratios, shares, ages, and counts across the frame (reuse, concentration)."""
    f: dict[str, np.ndarray] = {}
    target, raised, cost = (
        _num(frame, "target_amount"),
        _num(frame, "raised_amount"),
        _num(frame, "medical.estimated_cost"),
    )
    typical = frame.groupby("medical.diagnosis_category")["target_amount"].transform("median")
    donations = _num(frame, "activity.donation_count")
    first_day_endorsements = _num(frame, "activity.endorsements_first_24h")
    n_other = frame["other_platform_campaign_ids"].map(len).to_numpy(dtype=float)
    declared = frame["disclosure.other_platform_fundraising"]
    hashes = frame["medical.document_hashes"].explode().dropna()
    reuse = hashes.map(hashes.value_counts()).groupby(level=0).max() - 1
    pair = frame["promoter_id"].astype(object) + "|" + frame["medical.hospital_id"].astype(object)
    hospital = frame["medical.hospital_id"]
    payee = frame["payout.payee"]
    relation = frame["initiator.relation_to_patient"]
    f["log_target"] = np.log(target)
    f["log_raised"] = np.log(raised)
    f["target_at_cap"] = (target >= 500_000).astype(float)
    f["log_target_over_cost"] = np.log(target / cost)
    f["log_target_over_category"] = np.log(target / typical.to_numpy(dtype=float, na_value=np.nan))
    f["log_donations"] = np.log1p(donations)
    f["first_day_share"] = _num(frame, "activity.donations_first_24h") / donations
    f["first_day_amount_share"] = _num(frame, "activity.amount_first_24h") / raised
    f["log_shares_per_donation"] = np.log((_num(frame, "activity.share_count") + 1) / (donations + 1))
    f["no_endorsements_first_day"] = np.where(np.isnan(first_day_endorsements), np.nan, first_day_endorsements == 0)
    f["log_endorsements"] = np.log1p(_num(frame, "activity.endorsement_count"))
    f["log_complaints"] = np.log1p(_num(frame, "activity.complaint_count"))
    age_hours = (_num(frame, "created_at") - _num(frame, "initiator.account_created_at")) / 3600
    f["log_account_age_hours"] = np.log1p(age_hours)
    f["prior_campaigns"] = _num(frame, "initiator.prior_campaign_count")
    f["prior_rejections"] = _num(frame, "initiator.prior_rejection_count")
    f["unanswered"] = sum(frame[f"disclosure.{i}"].isna().to_numpy(dtype=float) for i in DISCLOSURE_ITEMS)
    f["other_platform_ids"] = n_other
    f["concealed_other_platforms"] = ((n_other > 0) & declared.eq(False).fillna(False).to_numpy(dtype=bool)) * 1.0
    f["document_reuse"] = reuse.reindex(frame.index).fillna(0).to_numpy(dtype=float)
    f["n_documents"] = frame["medical.document_hashes"].map(len).to_numpy(dtype=float)
    f["pair_campaigns"] = pair.map(pair.value_counts()).fillna(0).to_numpy(dtype=float)
    f["log_hospital_campaigns"] = np.log1p(hospital.map(hospital.value_counts()).to_numpy(dtype=float, na_value=np.nan))
    f["log_hours_to_payout"] = np.log1p((_num(frame, "payout.requested_at") - _num(frame, "created_at")) / 3600)
    f["payout_share"] = _num(frame, "payout.amount") / raised
    f["payee_other"] = np.where(payee.isna(), np.nan, payee.eq("other").to_numpy(dtype=float, na_value=0))
    f["has_payout"] = payee.notna().to_numpy(dtype=float)
    f["has_promoter"] = frame["promoter_id"].notna().to_numpy(dtype=float)
    f["relation_distant"] = np.where(
        relation.isna(), np.nan, relation.isin(["other", "other_relative"]).to_numpy(dtype=float)
    )
    return pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in f.items()}, index=frame.index)


def _auc(y: np.ndarray, values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    filled = np.where(np.isnan(values), np.nanmedian(values) if not np.isnan(values).all() else 0.0, values)
    auc = roc_auc_score(y, filled)
    return max(auc, 1 - auc)


@pytest.fixture(scope="module")
def features(frame: pd.DataFrame) -> pd.DataFrame:
    return _features(frame)


# -- published figures -------------------------------------------------------------------------------


def test_every_published_figure_names_its_source_and_grade() -> None:
    assert len(PUBLISHED) >= 20
    for name, figure in PUBLISHED.items():
        assert figure.source and figure.grade in {"read", "derived", "file", "2nd-hand", "seed"}, name
    assert PUBLISHED["malicious_2019"].value == 1_961 and PUBLISHED["flagged_2019"].value == 34_942
    assert PUBLISHED["flagged_share"].value == pytest.approx(34_942 / 800_000)


def test_raised_amounts_match_the_bnu_2022_figures(frame: pd.DataFrame) -> None:
    raised = frame["raised_amount"]
    assert abs(raised.between(10_000, 50_000).mean() - PUBLISHED["share_raised_10k_50k"].value) <= 0.05
    assert abs((raised > 100_000).mean() - PUBLISHED["share_raised_over_100k"].value) <= 0.01
    mean = PUBLISHED["mean_raised_yuan"].value
    assert 19_000 < mean < 19_500
    assert abs(raised.mean() / mean - 1) <= 0.15
    assert raised.median() < 0.7 * raised.mean()  # heavy-tailed
    assert (raised > 0).all()


def test_about_a_tenth_reach_their_target_and_targets_sit_below_the_cap(frame: pd.DataFrame) -> None:
    raised, target = frame["raised_amount"], frame["target_amount"]
    assert abs((raised >= target).mean() - PUBLISHED["share_reaching_target"].value) <= 0.03
    assert target.between(50_000, 500_000).mean() >= 0.75
    assert 0.01 <= (target >= PUBLISHED["target_cap_yuan"].value).mean() <= 0.10
    assert (target > 500_000).mean() <= 0.02
    assert (target > 0).all()


def test_malicious_and_flagged_rates_match_shuidichou_2019(frame: pd.DataFrame, malicious: np.ndarray) -> None:
    assert abs(malicious.mean() - PUBLISHED["malicious_share"].value) <= 0.0005
    flagged = frame["label.flagged"].to_numpy()
    assert abs(flagged.mean() - PUBLISHED["flagged_share"].value) <= 0.006
    assert flagged[malicious].all()


def test_typologies_follow_the_52_publicised_cases(frame: pd.DataFrame, malicious: np.ndarray) -> None:
    typology = frame["label.typology"]
    assert typology[~malicious].isna().all() and all(v is None for v in typology[~malicious].head(100))
    shares = typology[malicious].value_counts(normalize=True)
    assert set(shares.index) == set(TYPOLOGIES)
    total = sum(PUBLISHED[f"typology_{t}"].value for t in TYPOLOGIES)
    assert total == 52
    for name in TYPOLOGIES:
        assert abs(shares[name] - PUBLISHED[f"typology_{name}"].value / total) <= 0.08, name


def test_payouts_are_requested_within_a_month_to_the_patient_family_or_hospital(frame: pd.DataFrame) -> None:
    has = frame["payout.requested_at"].notna()
    assert 0.75 <= has.mean() <= 0.95
    days = (frame["payout.requested_at"] - frame["created_at"]).dt.total_seconds()[has] / 86_400
    assert (days > 0).all()
    assert days.between(1, 30).mean() >= 0.8
    payees = frame["payout.payee"][has].value_counts(normalize=True)
    assert payees[["patient", "close_relative", "hospital_account"]].sum() >= 0.98
    assert (frame["payout.amount"][has] <= frame["raised_amount"][has]).all()
    payout_columns = [c for c in FLAT_COLUMNS if c.startswith("payout.")]
    assert frame.loc[~has, payout_columns].isna().all().all()
    assert frame.loc[has, ["payout.amount", "payout.payee", "payout.batched"]].notna().all().all()


def test_compliance_fields_are_mostly_filled_in(frame: pd.DataFrame) -> None:
    assert frame["initiator.real_name_verified"].eq(True).mean() >= 0.9
    assert frame["documents.medical_proof"].eq(True).mean() >= 0.9
    disclosure = frame[[f"disclosure.{i}" for i in DISCLOSURE_ITEMS]]
    assert disclosure.notna().to_numpy().mean() >= 0.9
    assert 0.05 <= disclosure.isna().any(axis=1).mean() <= 0.25


def test_activity_counts_are_consistent(frame: pd.DataFrame) -> None:
    def at_most(a: str, b: str) -> None:
        both = frame[a].notna() & frame[b].notna()
        assert (frame[a][both].astype(float) <= frame[b][both].astype(float)).all(), (a, b)

    at_most("activity.donations_first_24h", "activity.donation_count")
    at_most("activity.endorsements_first_24h", "activity.endorsement_count")
    at_most("activity.amount_first_24h", "raised_amount")
    known = frame["initiator.account_created_at"].notna()
    assert (frame["initiator.account_created_at"][known] < frame["created_at"][known]).all()
    for column in MONEY:
        values = frame[column].dropna()
        assert (values >= 0).all() and np.allclose(values, values.round(2), rtol=0, atol=1e-6), column


# -- schema, dtypes, determinism -----------------------------------------------------------------------


def test_every_flat_column_is_present_with_the_documented_dtype(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == [*FLAT_COLUMNS, *LABEL_COLUMNS]
    for column in MONEY:
        assert frame[column].dtype == np.float64, column
    for column in TIMES:
        assert str(frame[column].dtype) == "datetime64[ns, Asia/Shanghai]", column
    for column in BOOLEANS:
        assert frame[column].dtype == "boolean", column
    assert len(COUNTS) == 8
    for column in COUNTS:
        assert frame[column].dtype == "Int64", column
    typed = {*MONEY, *TIMES, *BOOLEANS, *COUNTS, *TUPLES}
    for column in set(FLAT_COLUMNS) - typed:
        assert pd.api.types.is_string_dtype(frame[column].dtype), column
    for column in TUPLES:
        assert frame[column].map(lambda v: isinstance(v, tuple) and all(isinstance(x, str) for x in v)).all()
    assert frame["label.malicious"].dtype == bool and frame["label.flagged"].dtype == bool
    assert frame["campaign_id"].is_unique
    head = frame.head(20_000)
    for column in ("initiator.id_number_hash", "patient.id_number_hash", "payout.payee_id_number_hash"):
        assert head[column].dropna().str.fullmatch(HEX64.pattern).all(), column
    assert all(HEX64.match(h) for h in head["medical.document_hashes"].explode().dropna())
    created = frame["created_at"]
    assert created.min() >= pd.Timestamp("2021-01-01", tz="Asia/Shanghai")
    assert created.max() < pd.Timestamp("2026-01-01", tz="Asia/Shanghai")


def test_no_protected_attributes() -> None:
    for column in (*FLAT_COLUMNS, *LABEL_COLUMNS, *generate(10).columns):
        assert not re.search(r"sex|gender|age|ethnic|region|province|birth|nationality", column), column


def test_the_same_seed_gives_the_same_frame_and_another_seed_a_different_one() -> None:
    a, b = generate(5_000, seed=7), generate(5_000, seed=7)
    pd.testing.assert_frame_equal(a, b)
    c = generate(5_000, seed=8)
    assert not a["raised_amount"].equals(c["raised_amount"])
    assert not a["medical.document_hashes"].equals(c["medical.document_hashes"])


def test_dates_sizes_and_arguments() -> None:
    window = generate(2_000, seed=1, start=date(2023, 5, 1), end=date(2023, 5, 31))
    assert window["created_at"].min() >= pd.Timestamp("2023-05-01", tz="Asia/Shanghai")
    assert window["created_at"].max() < pd.Timestamp("2023-06-01", tz="Asia/Shanghai")
    empty = generate(0)
    assert list(empty.columns) == [*FLAT_COLUMNS, *LABEL_COLUMNS] and len(empty) == 0
    assert to_campaigns(empty) == []
    with pytest.raises(ValueError):
        generate(-1)
    with pytest.raises(ValueError):
        generate(10, start=date(2024, 1, 2), end=date(2024, 1, 1))


def test_to_campaigns_parses_with_the_schema(frame: pd.DataFrame, malicious: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    rows = np.union1d(np.flatnonzero(malicious), rng.choice(len(frame), 2_000, replace=False))[:2_000]
    sample = frame.iloc[rows]
    assert sample["label.malicious"].sum() >= 300
    dicts = to_campaigns(sample)
    assert len(dicts) == len(sample)
    campaigns = [Campaign.parse(d) for d in dicts]
    for campaign, (_, row) in zip(campaigns, sample.iterrows(), strict=True):
        assert campaign.campaign_id == row["campaign_id"]
        assert float(campaign.raised_amount) == row["raised_amount"]
        assert campaign.created_at == row["created_at"].to_pydatetime()
        assert (campaign.payout is None) == pd.isna(row["payout.requested_at"])
        assert campaign.medical.document_hashes == row["medical.document_hashes"]
        assert campaign.other_platform_campaign_ids == row["other_platform_campaign_ids"]
        expected_unanswered = {i for i in DISCLOSURE_ITEMS if pd.isna(row[f"disclosure.{i}"])}
        assert {i for i in DISCLOSURE_ITEMS if getattr(campaign.disclosure, i) is None} == expected_unanswered
    first = dicts[0]
    assert isinstance(first["target_amount"], str) and re.fullmatch(r"\d+\.\d\d", first["target_amount"])
    assert "label" not in first
    assert all(
        v is None or isinstance(v, (str, int, bool, tuple)) or hasattr(v, "tzinfo")
        for d in dicts[:50]
        for group in d.values()
        for v in (group.values() if isinstance(group, dict) else [group])
    )


# -- signals: realistic direction, overlap, no leak ----------------------------------------------------


def test_malicious_campaigns_differ_in_the_documented_directions(
    features: pd.DataFrame, malicious: np.ndarray, frame: pd.DataFrame
) -> None:
    def mean(column: str, rows: np.ndarray) -> float:
        return float(np.nanmean(features[column].to_numpy()[rows]))

    legit = ~frame["label.flagged"].to_numpy()
    higher = [
        "log_target_over_cost",
        "log_target_over_category",
        "no_endorsements_first_day",
        "first_day_share",
        "prior_campaigns",
        "prior_rejections",
        "unanswered",
        "concealed_other_platforms",
        "document_reuse",
        "pair_campaigns",
        "payee_other",
        "log_complaints",
        "payout_share",
    ]
    for column in higher:
        assert mean(column, malicious) > mean(column, legit), column
    for column in ("log_account_age_hours", "log_hours_to_payout", "log_endorsements"):
        assert mean(column, malicious) < mean(column, legit), column
    # missing cost estimate is a signal (成都, 苏州); other missingness is not
    assert (
        frame["medical.estimated_cost"][malicious].isna().mean() > frame["medical.estimated_cost"][legit].isna().mean()
    )


def test_hot_promoter_hospital_pairs_are_mostly_legitimate_but_favour_faked_others_illness(
    features: pd.DataFrame, frame: pd.DataFrame, malicious: np.ndarray
) -> None:
    pairs = features["pair_campaigns"].to_numpy()
    hot = pairs >= 10 * np.median(pairs[pairs > 0])
    assert 0.005 <= hot.mean() <= 0.03
    assert (~malicious[hot]).mean() > 0.9
    others = (frame["label.typology"] == "faked_others_illness").to_numpy()
    assert hot[others].mean() > 5 * hot[~malicious].mean()


def test_reused_medical_records_are_mostly_but_not_only_on_malicious_campaigns(
    features: pd.DataFrame, malicious: np.ndarray
) -> None:
    reused = features["document_reuse"].to_numpy() > 0
    assert reused[malicious].mean() > 10 * reused[~malicious].mean()
    assert reused[~malicious].sum() > 100  # legitimate reuse happens (a family fundraising again)


def test_missingness_is_not_a_giveaway(frame: pd.DataFrame, malicious: np.ndarray) -> None:
    # absence that *is* a documented signal: no cost estimate, unanswered disclosure, stopped before payout,
    # no promoter
    signals = ("medical.estimated_cost", "promoter_id")
    for column in FLAT_COLUMNS:
        if column.startswith(("disclosure.", "payout.")) or column in signals or column in TUPLES:
            continue
        missing = frame[column].isna().to_numpy()
        assert abs(missing[malicious].mean() - missing[~malicious].mean()) < 0.08, column
    activity = frame["activity.donation_count"].isna()
    assert 0.10 <= activity.mean() <= 0.30


def test_no_single_signal_gives_the_label_away(
    frame: pd.DataFrame, features: pd.DataFrame, malicious: np.ndarray
) -> None:
    # every malicious row and 50,000 others (for speed; the AUC estimate barely moves)
    rows = _with_all_positives(malicious, 50_000)
    y, sample, derived = malicious[rows], frame.iloc[rows], features.iloc[rows]
    aucs = {}
    for column in FLAT_COLUMNS:
        series = sample[column]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            aucs[column] = _auc(y, series.astype("float64").to_numpy(na_value=np.nan))
        elif isinstance(series.dtype, pd.DatetimeTZDtype):
            aucs[column] = _auc(y, _num(sample, column))
    assert len(aucs) >= 30
    for column in derived:
        aucs[f"derived:{column}"] = _auc(y, derived[column].to_numpy())
    worst = max(aucs, key=lambda k: aucs[k])
    assert aucs[worst] < 0.85, (worst, aucs[worst])
    assert aucs[worst] > 0.6  # and the signals do carry information


def _with_all_positives(y: np.ndarray, negatives: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.sort(np.concatenate([np.flatnonzero(y), rng.choice(np.flatnonzero(~y), negatives, replace=False)]))


def _logistic(features: pd.DataFrame, y: np.ndarray) -> tuple[object, pd.DataFrame, np.ndarray, float]:
    """Half the rows held out; trained on the other half's positives and 40,000 of its negatives (for speed)."""
    x_train, x_test, y_train, y_test = train_test_split(features, y, test_size=0.5, random_state=0, stratify=y)
    keep = _with_all_positives(y_train, 40_000)
    model = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True), StandardScaler(), LogisticRegression(max_iter=2_000)
    )
    model.fit(x_train.iloc[keep], y_train[keep])
    return model, x_test, y_test, roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])


def test_all_signals_together_are_informative_but_not_perfect(
    frame: pd.DataFrame, features: pd.DataFrame, malicious: np.ndarray
) -> None:
    model, x_test, y_test, auc = _logistic(features, malicious)
    assert 0.75 <= auc <= 0.96, auc
    # look-alikes: flagged-but-legitimate campaigns score above clean ones
    score = model.predict_proba(x_test)[:, 1]
    flagged = frame["label.flagged"].to_numpy()[x_test.index]
    legit = ~y_test
    assert roc_auc_score(flagged[legit], score[legit]) > 0.6
    # and some malicious campaigns look clean: below the median legitimate score
    assert (score[y_test] < np.median(score[legit])).mean() > 0.03
