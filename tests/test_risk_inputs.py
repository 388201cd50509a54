"""The risk model's inputs: one specification, and its two adapters agree on every campaign.

``INPUTS`` says, once, which campaign fields each input reads and how; ``campaign_inputs`` reads it over a
Campaign, ``column_inputs`` over a column getter that the batch path's validated table and a DataFrame both
provide. These tests hold the adapters to the same values for generated campaigns, and hold the feature
records, ``FEATURE_INPUTS`` and ``FEATURE_REVISION`` to what the formulas really read.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance import Campaign, CampaignError
from compliance._flat import FLAT_COLUMNS, flatten, unflatten
from compliance.batch._table import TableColumns, build_table
from compliance.campaign import epoch_micros
from compliance.risk import FEATURE_NAMES, FEATURES, History, Reference, default_model
from compliance.risk._features import FEATURE_INPUTS, FEATURE_REVISION, _compute, _Scalar, request_cap
from compliance.risk._inputs import INPUTS, READS, FrameColumns, Input, campaign_inputs, column_inputs
from compliance.rules import Catalog
from tests.strategies import flat_rows

RELATIVE_TOLERANCE = 1e-13
"""As in ``tests/test_risk_features.py``: the paths may round a division differently by an ulp on some CPUs."""

REFERENCES = {
    "no history": Reference({"leukemia": 150_000.0, "stroke": 80_000.0}),
    "a history": Reference(
        {"leukemia": 150_000.0, "other": 60_000.0},
        History({"d1": 2, "d2": 1}, {"p1\x1fh1": 3, "p2\x1fh2": 1}, frozenset({"a", "b0", "c-1"})),
    ),
}


def _campaign(row: dict[str, Any]) -> Campaign | None:
    try:
        return Campaign.parse(unflatten({k: v for k, v in row.items() if v is not None}))
    except CampaignError:
        return None


def _disagreements(expected: list[dict[str, float]], got: dict[str, np.ndarray]) -> dict[str, list[int]]:
    found = {}
    for key in (spec.key for spec in INPUTS):
        want = np.array([inputs[key] for inputs in expected], dtype=float)
        values = np.asarray(got[key], dtype=float)
        bad = ~(np.isclose(want, values, rtol=RELATIVE_TOLERANCE, atol=0.0) | (np.isnan(want) & np.isnan(values)))
        if bad.any():
            found[key] = np.flatnonzero(bad).tolist()
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(flat_rows(), min_size=1, max_size=12))
def test_the_campaign_adapter_and_the_column_adapter_over_a_table_and_a_frame_give_the_same_inputs(
    rows: list[dict[str, Any]],
) -> None:
    campaigns = [c for c in map(_campaign, rows) if c is not None]
    if not campaigns:
        return
    frame = pd.DataFrame([flatten(c) for c in campaigns], columns=list(FLAT_COLUMNS))
    table = build_table(frame)
    assert table.ok.all()  # every row is a valid campaign
    for name, reference in REFERENCES.items():
        expected = [campaign_inputs(c, reference) for c in campaigns]
        over_table = column_inputs(TableColumns(table, np.arange(len(frame))), reference, compare_rows=False)
        over_frame = column_inputs(FrameColumns(frame), reference, compare_rows=False)
        assert list(over_table) == list(over_frame) == list(expected[0]) == [spec.key for spec in INPUTS]
        assert not _disagreements(expected, over_table), f"{name}, the validated table: {campaigns}"
        assert not _disagreements(expected, over_frame), f"{name}, the DataFrame: {campaigns}"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(flat_rows(), min_size=1, max_size=12))
def test_the_batch_path_scores_each_row_through_the_public_api_as_one_campaign_is_scored(
    rows: list[dict[str, Any]],
) -> None:
    campaigns = [c for c in map(_campaign, rows) if c is not None]
    if not campaigns:
        return
    model = default_model()
    table = build_table(pd.DataFrame([flatten(c) for c in campaigns], columns=list(FLAT_COLUMNS)))
    scored = model.score_columns(TableColumns(table, np.arange(len(campaigns))))
    for i, campaign in enumerate(campaigns):
        risk = model.score_campaign(campaign)
        reasons = [model.feature_names_[j] for j in scored.reasons[i] if j >= 0]
        assert (float(scored.scores[i]), scored.bands[i]) == (risk.score, ("low", "elevated", "high").index(risk.band))
        assert reasons == [r.feature for r in risk.reasons]
        assert [c for c in scored.contributions[i] if c == c] == [r.contribution for r in risk.reasons]


def test_score_columns_needs_a_model_of_campaigns() -> None:
    from compliance.risk import RiskModel

    rng = np.random.default_rng(0)
    model = RiskModel(input="features").fit(rng.normal(size=(60, 3)), rng.integers(0, 2, 60))
    with pytest.raises(TypeError, match="input='campaigns'"):
        model.score_columns(FrameColumns(pd.DataFrame({"target_amount": [1.0]})))


# -- the specification -----------------------------------------------------------------------------------


def test_every_input_is_read_by_a_feature_and_every_feature_reads_known_inputs() -> None:
    keys = [spec.key for spec in INPUTS]
    assert len(set(keys)) == len(keys)
    named = {key for f in FEATURES for key in f.inputs}
    assert named == set(keys)
    assert all(f.inputs for f in FEATURES)


def test_every_field_an_input_reads_is_a_flat_column_and_every_reading_is_known() -> None:
    assert {path for spec in INPUTS for path in spec.fields} <= set(FLAT_COLUMNS)
    assert {spec.reads for spec in INPUTS} <= set(READS)
    assert all(spec.value is not None for spec in INPUTS if spec.reads == "equals")
    with pytest.raises(ValueError, match="unknown reading 'money_ish'"):
        Input("x", "money_ish", ("target_amount",))


def test_feature_inputs_and_feature_names_come_from_the_records() -> None:
    assert tuple(FEATURE_INPUTS) == FEATURE_NAMES == tuple(f.name for f in FEATURES)
    fields = {spec.key: spec.fields for spec in INPUTS}
    for f in FEATURES:
        assert set(FEATURE_INPUTS[f.name]) == {path for key in f.inputs for path in fields[key]}, f.name


def test_the_feature_revision_is_the_highest_revision_of_any_record() -> None:
    # 2 is in the shipped model's feature schema digest: the default model loads only while this holds
    assert FEATURE_REVISION == max(r.since for r in (*FEATURES, *INPUTS)) == 2
    assert {f.name for f in FEATURES if f.since == 2} == {"target_over_category", "shares_per_donation"}


KNOWN_INPUTS = {
    "target": 200_000.0,
    "raised": 100_000.0,
    "estimate": 150_000.0,
    "typical_target": 120_000.0,
    "donations": 100.0,
    "donations_first_24h": 30.0,
    "endorsements": 5.0,
    "endorsements_first_24h": 2.0,
    "shares": 400.0,
    "complaints": 1.0,
    "created_at": 1.7e9,
    "account_at": 1.6e9,
    "prior_rejections": 1.0,
    "prior_campaigns": 2.0,
    "unanswered": 3.0,
    "other_platform_ids": 1.0,
    "declared_no_other_platforms": 1.0,
    "has_payout": 1.0,
    "payout_at": 1.7e9 + 3600.0,
    "payout_amount": 98_000.0,
    "payee_other": 0.0,
    "document_reuse": 1.0,
    "pair_campaigns": 2.0,
    "no_medical_proof": 0.0,
    "edit_traces": 0.0,
}


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def test_each_feature_depends_on_exactly_the_inputs_its_record_names() -> None:
    """An input made unknown changes exactly the features whose record names it: the records (and so
    ``FEATURE_INPUTS``, which scenarios rely on) say what the formulas really read."""
    assert set(KNOWN_INPUTS) == {spec.key for spec in INPUTS}
    base = _compute(KNOWN_INPUTS, _Scalar)
    assert not any(math.isnan(v) for v in base)
    for key in KNOWN_INPUTS:
        changed = _compute({**KNOWN_INPUTS, key: math.nan}, _Scalar)
        moved = {f.name for f, was, now in zip(FEATURES, base, changed, strict=True) if not _same(was, now)}
        assert moved == {f.name for f in FEATURES if key in f.inputs}, key


# -- what the specification settles once -------------------------------------------------------------------


def test_the_cap_is_the_shipped_rulesets_request_cap() -> None:
    cap = Catalog.default().get("convention-2.0").parameters["max_target_amount"].value
    assert request_cap() == float(cap) == 500_000.0
    at = {"campaign_id": "c", "platform": "水滴筹", "created_at": "2025-03-01 09:00", "target_amount": str(cap)}
    under = {**at, "target_amount": str(cap - Decimal("0.01"))}
    index = FEATURE_NAMES.index("target_at_cap")
    assert [_compute(campaign_inputs(Campaign.parse(c), Reference()), _Scalar)[index] for c in (at, under)] == [1, 0]


@pytest.mark.parametrize("written", ["2025-03-01T09:00:00+0800", "2025-03-01 01:00Z", "2025-03-01T06:30:00+05:30"])
def test_a_time_with_an_offset_reads_the_same_in_a_campaign_a_table_and_a_frame(written: str) -> None:
    row = {"campaign_id": "c", "platform": "水滴筹", "created_at": written, "target_amount": "1000"}
    instant = Campaign.parse(row).created_at
    frame = pd.DataFrame({key: [value] for key, value in row.items()})
    table = build_table(frame)
    assert table.columns["created_at"].values.tolist() == [epoch_micros(instant)]
    seconds = instant.timestamp()
    assert TableColumns(table, np.arange(1)).seconds("created_at").tolist() == [seconds]
    assert FrameColumns(frame).seconds("created_at").tolist() == [seconds]
