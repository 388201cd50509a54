"""Risk features: one definition for tables and single campaigns, each feature's value, unknown is NaN."""

from __future__ import annotations

import builtins
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from compliance import Campaign, CampaignError
from compliance._flat import FLAT_COLUMNS
from compliance.risk import FEATURE_NAMES, FEATURES, History, Reference, features, synthetic
from compliance.risk._features import campaign_features, campaign_inputs, frame_features

TIME_COLUMNS = ("created_at", "initiator.account_created_at", "payout.requested_at")
PROTECTED = {"sex", "gender", "age", "ethnicity", "ethnic", "race", "nation", "nationality", "region", "province"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    # 6,000 rows: the reused-record pool is small enough that document reuse and promoter pairs occur
    return synthetic.generate(6_000, seed=21).drop(columns=list(synthetic.LABEL_COLUMNS))


@pytest.fixture(scope="module")
def sample(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[::15]  # 400 rows spread over the frame


def same(a: Any, b: Any) -> bool:
    """Equal, NaN where NaN."""
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


RELATIVE_TOLERANCE = 1e-13
"""The table path computes with numpy's vectorised ``log1p``/``log2`` and the single-campaign path with the C
library's ``math.log1p``/``math.log2``: each is within about an ulp of the exact value, but with numpy's AVX-512
kernels they are not always the same bits (measured: 2.2e-16 apart). 1e-13 is some 450 ulps: room for that and
nothing a real disagreement (a count off by one, another formula) could hide in."""


def mismatches(a: np.ndarray, b: np.ndarray) -> dict[str, int]:
    bad = ~(np.isclose(a, b, rtol=RELATIVE_TOLERANCE, atol=0.0) | (np.isnan(a) & np.isnan(b)))
    return {name: int(n) for name, n in zip(FEATURE_NAMES, bad.sum(axis=0), strict=True) if n}


# -- one definition: the table path and the single-campaign path agree ------------------------------------


def test_a_campaign_alone_gets_exactly_its_row_of_the_table(frame: pd.DataFrame, sample: pd.DataFrame) -> None:
    reference = Reference.from_frame(frame)  # typical targets and the frame's own history, for both paths
    table = frame_features(sample, reference)
    single = np.array(
        [campaign_features(Campaign.parse(d), reference) for d in synthetic.to_campaigns(sample)], dtype=float
    )
    assert table.shape == (len(sample), len(FEATURE_NAMES))
    assert mismatches(table, single) == {}
    # the comparison is not vacuous: cross-campaign features are known and sometimes non-zero
    reuse, pairs = (
        table[:, FEATURE_NAMES.index("document_reuse")],
        table[:, FEATURE_NAMES.index("promoter_hospital_campaigns")],
    )
    assert np.nanmax(reuse) > 0 and np.nanmax(pairs) > 0
    assert np.isnan(table).any() and not np.isnan(table).all(axis=0).any()


def test_a_table_is_compared_with_its_own_rows_and_the_history_without_counting_twice(
    frame: pd.DataFrame, sample: pd.DataFrame
) -> None:
    elsewhere = History.from_frame(synthetic.generate(3_000, seed=22))
    given = Reference(Reference.from_frame(frame).typical_target, elsewhere)
    table = features(sample, given).to_numpy()
    whole = Reference(given.typical_target, elsewhere.merged(History.from_frame(sample)))
    single = np.array(
        [campaign_features(Campaign.parse(d), whole) for d in synthetic.to_campaigns(sample)], dtype=float
    )
    assert mismatches(table, single) == {}
    # rows already in the history are not counted a second time
    assert same(features(sample, whole).to_numpy(), table)


# -- each feature's value on hand-built campaigns ------------------------------------------------------------

BASE: dict[str, Any] = {
    "campaign_id": "c-1",
    "platform": "水滴筹",
    "created_at": "2025-03-01 09:00",
    "target_amount": "200000",
    "raised_amount": "100000",
}


def feature(name: str, reference: Reference | None = None, **changes: Any) -> float:
    x = campaign_features(Campaign.parse({**BASE, **changes}), reference or Reference())
    return x[FEATURE_NAMES.index(name)]


def nan(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)


def test_a_target_at_the_cap_is_flagged() -> None:
    assert feature("target_at_cap", target_amount="500000") == 1.0
    assert feature("target_at_cap", target_amount="499999.99") == 0.0
    assert feature("log_target", target_amount="500000") == math.log1p(500_000)


def test_target_over_estimate_is_the_log2_ratio() -> None:
    medical = {"estimated_cost": "100000"}
    assert feature("target_over_estimate", target_amount="400000", medical=medical) == 2.0
    assert feature("target_over_estimate", target_amount="50000", medical=medical) == -1.0
    assert feature("no_cost_estimate", medical=medical) == 0.0
    # no estimate: the ratio is unknown, and its absence is the documented signal (the model fills the
    # ratio with its typical legitimate value there, so the flag alone carries it: docs/design.md)
    assert nan(feature("target_over_estimate"))
    assert feature("no_cost_estimate") == 1.0


def test_target_over_category_uses_the_typical_target_of_the_illness() -> None:
    reference = Reference({"leukemia": 100_000.0})
    medical = {"diagnosis_category": "leukemia"}
    assert feature("target_over_category", reference, target_amount="800000", medical=medical) == 3.0
    assert nan(feature("target_over_category", reference, medical={"diagnosis_category": "stroke"}))
    assert nan(feature("target_over_category", reference))


def test_no_endorsement_in_the_first_day() -> None:
    assert feature("no_endorsements_first_day", activity={"endorsements_first_24h": 0}) == 1.0
    assert feature("no_endorsements_first_day", activity={"endorsements_first_24h": 3}) == 0.0
    assert nan(feature("no_endorsements_first_day", activity={"endorsements_first_24h": None}))


def test_activity_ratios() -> None:
    activity = {"donation_count": 200, "donations_first_24h": 150, "share_count": 600, "endorsement_count": 7}
    assert feature("first_day_donation_share", activity=activity) == 0.75
    assert feature("shares_per_donation", activity=activity) == math.log1p(3.0)
    assert feature("log_endorsements", activity=activity) == math.log1p(7)
    assert nan(feature("first_day_donation_share", activity={**activity, "donation_count": None}))
    assert nan(feature("shares_per_donation", activity={**activity, "share_count": None}))


def test_account_age_and_earlier_applications() -> None:
    initiator = {"account_created_at": "2025-02-27 09:00", "prior_rejection_count": 2, "prior_campaign_count": 0}
    assert feature("account_age_days", initiator=initiator) == math.log1p(2.0)
    assert feature("prior_rejections", initiator=initiator) == math.log1p(2)
    assert feature("prior_campaigns", initiator=initiator) == 0.0  # a known zero is zero
    assert nan(feature("account_age_days"))
    assert nan(feature("prior_campaigns"))


def test_unanswered_disclosure_items_are_counted() -> None:
    assert feature("disclosure_unanswered") == 8.0
    assert feature("disclosure_unanswered", disclosure={"house": False, "car": True, "commercial_insurance": None}) == 6


def test_a_payout_two_hours_after_creation() -> None:
    payout = {"amount": "50000", "payee": "patient", "requested_at": "2025-03-01 11:00"}
    assert feature("fast_payout", payout=payout) == 1.0
    assert feature("fast_payout", payout={**payout, "requested_at": "2025-03-03 09:00"}) == 1.0  # 48 h
    assert feature("fast_payout", payout={**payout, "requested_at": "2025-03-03 09:01"}) == 0.0
    assert feature("lump_sum_payout", payout=payout) == 0.0
    assert feature("payout_to_other", payout=payout) == 0.0
    assert feature("payout_to_other", payout={**payout, "payee": "other"}) == 1.0


@pytest.mark.parametrize(("amount", "expected"), [("95000", 1.0), ("100000", 1.0), ("94999.99", 0.0)])
def test_a_payout_of_95_percent_or_more_of_the_money_is_a_lump_sum(amount: str, expected: float) -> None:
    payout = {"amount": amount, "payee": "patient", "requested_at": "2025-03-09 11:00"}
    assert feature("lump_sum_payout", payout=payout) == expected


def test_without_a_payout_nothing_was_withdrawn_so_the_payout_features_are_zero_not_unknown() -> None:
    # a campaign at publish has no payout: that is known, and must not read as "unknown" (docs/design.md)
    for name in ("fast_payout", "lump_sum_payout", "payout_to_other"):
        assert feature(name) == 0.0, name


def test_other_platforms_undisclosed() -> None:
    ids = ["轻松筹:QSC1234567890"]
    assert (
        feature(
            "other_platforms_undisclosed",
            other_platform_campaign_ids=ids,
            disclosure={"other_platform_fundraising": False},
        )
        == 1.0
    )
    assert (
        feature(
            "other_platforms_undisclosed",
            other_platform_campaign_ids=ids,
            disclosure={"other_platform_fundraising": True},
        )
        == 0.0
    )
    assert nan(
        feature(
            "other_platforms_undisclosed",
            other_platform_campaign_ids=ids,
            disclosure={"other_platform_fundraising": None},
        )
    )
    assert feature("other_platforms_undisclosed", disclosure={"other_platform_fundraising": False}) == 0.0
    assert feature("other_platform_campaigns", other_platform_campaign_ids=ids * 2) == math.log1p(2)


def test_medical_proof() -> None:
    assert feature("missing_medical_proof", documents={"medical_proof": False}) == 1.0
    assert feature("missing_medical_proof", documents={"medical_proof": True}) == 0.0
    assert nan(feature("missing_medical_proof"))


SHARED, OWN = "a" * 64, "b" * 64


def test_a_document_shared_with_two_other_campaigns() -> None:
    medical = {"document_hashes": [SHARED, OWN]}
    # the history holds this campaign and two others with the same record: it is not counted against itself
    history = History({SHARED: 3, OWN: 1}, {}, frozenset({"c-1", "c-2", "c-3"}))
    assert feature("document_reuse", Reference(history=history), medical=medical) == math.log1p(2)
    # a history without this campaign: both holders are others
    history = History({SHARED: 2}, {}, frozenset({"c-2", "c-3"}))
    assert feature("document_reuse", Reference(history=history), medical=medical) == math.log1p(2)
    # built from a table holding the campaign and the two others
    table = pd.DataFrame(
        {
            "campaign_id": ["c-1", "c-2", "c-3", "c-4"],
            "medical.document_hashes": [(SHARED, OWN), (SHARED,), (SHARED, "c" * 64), ("d" * 64,)],
        }
    )
    reference = Reference(history=History.from_frame(table))
    assert feature("document_reuse", reference, medical=medical) == math.log1p(2)
    assert feature("document_reuse", reference, medical={"document_hashes": [OWN]}) == 0.0
    assert nan(feature("document_reuse", reference))  # no documents: nothing to compare


def test_promoter_and_hospital_counts_exclude_the_campaign_itself() -> None:
    table = pd.DataFrame(
        {
            "campaign_id": ["c-1", "c-2", "c-3", "c-4"],
            "promoter_id": ["P1", "P1", "P1", "P2"],
            "medical.hospital_id": ["H1", "H1", "H1", "H1"],
        }
    )
    reference = Reference(history=History.from_frame(table))
    medical = {"hospital_id": "H1"}
    assert feature("promoter_hospital_campaigns", reference, promoter_id="P1", medical=medical) == math.log1p(2)
    assert feature("promoter_hospital_campaigns", reference, promoter_id="P2", medical=medical) == 0.0
    assert feature("promoter_hospital_campaigns", reference, medical=medical) == 0.0  # no promoter
    assert nan(feature("promoter_hospital_campaigns", reference, promoter_id="P1"))  # hospital unknown


def test_without_a_history_the_cross_campaign_features_are_unknown() -> None:
    """The model card: features comparing a campaign with others need the platform's history; without it
    they are unknown (NaN), never 0 — for document reuse and for promoter/hospital counts alike."""
    changes = {"promoter_id": "P1", "medical": {"hospital_id": "H1", "document_hashes": [SHARED]}}
    assert nan(feature("document_reuse", Reference(), **changes))
    assert nan(feature("promoter_hospital_campaigns", Reference(), **changes))


def test_a_missing_signal_is_nan_never_zero() -> None:
    x = dict(zip(FEATURE_NAMES, campaign_features(Campaign.parse(BASE), Reference()), strict=True))
    # known without any optional field: the target, and absences that are themselves the documented signal
    known = {
        "log_target",
        "target_at_cap",
        "no_cost_estimate",
        "fast_payout",  # no payout requested: nothing was withdrawn (known), so the payout signals are 0
        "lump_sum_payout",
        "payout_to_other",
        "disclosure_unanswered",
        "other_platform_campaigns",
        "promoter_hospital_campaigns",
    }
    assert {name for name, value in x.items() if not nan(value)} == known
    assert (x["no_cost_estimate"], x["disclosure_unanswered"]) == (1.0, 8.0)
    # and every unknown stays NaN in the table path too (no fill with 0)
    row = pd.DataFrame(
        {
            "campaign_id": ["c-1"],
            "target_amount": [200000.0],
            "raised_amount": [100000.0],
            "created_at": pd.Series(["2025-03-01 09:00"], dtype="datetime64[ns]"),
        }
    )
    table = features(row).iloc[0]
    assert {name for name in FEATURE_NAMES if not nan(float(table[name]))} <= known
    assert all(nan(float(table[name])) for name in set(FEATURE_NAMES) - known)


# -- how a table is read ------------------------------------------------------------------------------------


def typed_and(frame: pd.DataFrame, changed: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    reference = Reference.from_frame(frame)
    return frame_features(frame, reference), frame_features(changed, reference)


def test_true_false_text_reads_the_same_as_booleans(sample: pd.DataFrame) -> None:
    text = sample.copy()
    booleans = [c for c in sample.columns if str(sample[c].dtype) == "boolean"]
    assert "documents.medical_proof" in booleans and "disclosure.other_platform_fundraising" in booleans
    for column in booleans:
        text[column] = pd.Series(
            [None if pd.isna(v) else ("true" if v else "false") for v in sample[column]],
            index=sample.index,
            dtype=object,
        )
    typed, read = typed_and(sample, text)
    assert mismatches(typed, read) == {}


def test_text_times_read_the_same_as_typed_times(sample: pd.DataFrame) -> None:
    text = sample.copy()
    for column in TIME_COLUMNS:
        text[column] = pd.Series(
            [None if pd.isna(v) else v.strftime("%Y-%m-%d %H:%M:%S") for v in sample[column]],
            index=sample.index,
            dtype=object,
        )
    typed, read = typed_and(sample, text)
    assert mismatches(typed, read) == {}


@pytest.mark.parametrize("unit", ["us", "ms", "s"])
def test_times_of_any_resolution_read_the_same(sample: pd.DataFrame, unit: str) -> None:
    # pandas keeps Python datetimes, parquet files and parsed text at microsecond (or coarser) resolution
    coarse = sample.copy()
    for column in TIME_COLUMNS:
        coarse[column] = sample[column].astype(f"datetime64[{unit}, Asia/Shanghai]")
    typed, read = typed_and(sample, coarse)
    assert mismatches(typed, read) == {}


def test_times_with_and_without_an_offset_read_as_a_single_campaign_reads_them() -> None:
    rows = pd.DataFrame(
        {
            "campaign_id": ["c-1", "c-2"],
            "target_amount": [200000.0, 200000.0],
            "created_at": ["2025-03-01 09:00:00", "2025-03-01T01:00:00Z"],  # the same instant, written twice
            # 47 h and 49 h after launch, each written the other way: a misread zone or unit lands on the
            # wrong side of 48 h
            "payout.requested_at": ["2025-03-03 08:00:00", "2025-03-03T10:00:00+08:00"],
            "payout.amount": [10.0, 10.0],
            "payout.payee": ["patient", "patient"],
        }
    )
    assert features(rows)["fast_payout"].tolist() == [1.0, 0.0]


def test_features_of_a_table_keep_its_index_and_name_the_columns(sample: pd.DataFrame) -> None:
    shuffled = sample.iloc[::-1].set_axis([f"row-{i}" for i in range(len(sample))])
    table = features(shuffled)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == list(FEATURE_NAMES)
    assert table.index.equals(shuffled.index)
    assert table.dtypes.eq("float64").all()
    assert same(table.to_numpy(), features(sample).to_numpy()[::-1])


def test_features_of_one_campaign_are_a_dict_of_floats(sample: pd.DataFrame) -> None:
    campaign = synthetic.to_campaigns(sample.head(1))[0]
    reference = Reference.from_frame(sample)
    x = features(campaign, reference)
    assert list(x) == list(FEATURE_NAMES)
    assert all(type(v) is float for v in x.values())
    assert same(list(x.values()), campaign_features(Campaign.parse(campaign), reference))
    assert same(list(features(Campaign.parse(campaign).model_dump_json(), reference).values()), list(x.values()))


# -- no protected attribute ------------------------------------------------------------------------------------


def protected_words(name: str) -> set[str]:
    """Protected words in a name or text; "age" counts unless it is an account's age ("account_age")."""
    tokens = re.split(r"[^a-z]+", name.lower())
    return {t for i, t in enumerate(tokens) if t in PROTECTED and not (t == "age" and i and tokens[i - 1] == "account")}


def test_no_feature_or_input_refers_to_a_protected_attribute() -> None:
    assert protected_words("patient_age") == {"age"} and protected_words("account_age_days") == set()
    inputs = campaign_inputs(Campaign.parse(BASE), Reference())
    for name in (*FEATURE_NAMES, *inputs, *FLAT_COLUMNS):
        assert protected_words(name) == set(), name
    for f in FEATURES:
        text = f"{f.why} {f.reason.en} {f.unknown.en}".replace("age of the initiator's account", "account age")
        assert protected_words(text) == set(), f.name
        assert not re.search(r"性别|年龄|民族|地区|省份", f.reason.zh + f.unknown.zh), f.name


def test_protected_columns_in_a_table_change_nothing(sample: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    extra = sample.assign(
        **{
            "patient.sex": rng.choice(["M", "F"], len(sample)),
            "gender": rng.choice(["male", "female"], len(sample)),
            "patient.age": rng.integers(0, 90, len(sample)),
            "ethnicity": rng.choice(["汉", "回", "藏"], len(sample)),
            "region": rng.choice(["east", "west"], len(sample)),
            "province": rng.choice(["广东", "云南"], len(sample)),
        }
    )
    assert same(features(extra).to_numpy(), features(sample).to_numpy())


def test_a_single_campaign_cannot_carry_a_protected_attribute() -> None:
    with pytest.raises(CampaignError):
        features({**BASE, "patient": {"sex": "M"}})
    with pytest.raises(CampaignError):
        features({**BASE, "region": "广东"})


# -- the one-row path pays no pandas --------------------------------------------------------------------------


def test_campaign_features_neither_imports_nor_builds_pandas_objects(
    sample: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = Campaign.parse(synthetic.to_campaigns(sample.head(1))[0])
    reference = Reference.from_frame(sample)
    expected = campaign_features(campaign, reference)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("pandas was used on the single-campaign path")

    real_import = builtins.__import__

    def guarded_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pandas" or name.startswith("pandas."):
            raise AssertionError(f"the single-campaign path imported {name}")
        return real_import(name, *args, **kwargs)

    for cls in (pd.DataFrame, pd.Series, pd.Index):
        monkeypatch.setattr(cls, "__init__", refuse)
    monkeypatch.setattr(builtins, "__import__", guarded_import)
    x = campaign_features(campaign, reference)
    monkeypatch.undo()
    assert same(x, expected)
    assert all(type(v) is float for v in x)  # plain floats: no numpy scalars either
    # the guards do catch the table path
    monkeypatch.setattr(pd.DataFrame, "__init__", refuse)
    with pytest.raises(AssertionError, match="pandas was used"):
        features(sample.head(3))


def test_display_of_values() -> None:
    by_name = {f.name: f for f in FEATURES}
    assert by_name["complaints"].display(math.log1p(3)) == "3"
    assert by_name["target_over_estimate"].display(2.0) == "4.0"
    assert by_name["first_day_donation_share"].display(0.25) == "25%"
    assert by_name["target_at_cap"].display(1.0) is None
    assert by_name["complaints"].display(float("nan")) is None


# -- cross-campaign counts on tables the history does not match (found by the model-file fuzz suite) ----------


def test_a_table_without_promoters_is_scored_against_a_history_of_pairs() -> None:
    history = History({}, {"P1\x1fH1": 4}, frozenset({"c-9"}))
    table = pd.DataFrame(
        {"campaign_id": ["c-1", "c-2"], "promoter_id": [None, None], "medical.hospital_id": ["H1", None]}
    )
    counts = features(table, Reference(history=history))["promoter_hospital_campaigns"]
    assert counts.tolist() == [0.0, 0.0]  # no promoter: none from the same promoter (as one campaign alone)
    assert feature("promoter_hospital_campaigns", Reference(history=history), medical={"hospital_id": "H1"}) == 0.0


def test_a_campaign_the_history_holds_under_other_documents_reuses_none() -> None:
    history = History({SHARED: 1}, {}, frozenset({"c-1"}))  # c-1 was exported with SHARED; it now shows OWN
    table = pd.DataFrame({"campaign_id": ["c-1"], "medical.document_hashes": [(OWN,)]})
    reference = Reference(history=history)
    single = campaign_features(
        Campaign.parse({**BASE, "campaign_id": "c-1", "medical": {"document_hashes": [OWN]}}), reference
    )
    assert single[FEATURE_NAMES.index("document_reuse")] == 0.0
    assert features(table, reference)["document_reuse"].tolist() == [0.0]  # not log1p(-1) = -inf


def test_a_score_beyond_the_float_range_is_zero_in_both_paths() -> None:
    from compliance.risk import default_model

    linear = default_model().linear_
    index = int(np.argmax(np.abs(linear.weights)))
    row = [math.nan] * len(FEATURE_NAMES)
    # a value that drives the log-odds far below -700, on the side that lowers the score
    row[index] = -1e6 * math.copysign(1.0, -linear.a * linear.weights[index])
    assert linear.score(row) == 0.0
    assert linear.scores(np.array([row])).tolist() == [0.0]  # no overflow warning (an error in this suite)
