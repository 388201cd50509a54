"""Any input value ends as a decision or the library's own error naming the field, in both paths.

Each test here is a defect found by trying inputs as an adversary would (issue 11): before the fix, each
raised a foreign exception (OverflowError, UnicodeEncodeError, PydanticSerializationError, TypeError,
ValueError) from ``evaluate``, stopped a whole ``evaluate_frame`` call, or read a value differently by
process or by the caller's decimal context.
"""

from __future__ import annotations

import decimal
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from compliance import Blacklist, BlacklistError, CampaignError, evaluate
from compliance._flat import flatten
from compliance.batch import evaluate_frame
from compliance.batch._table import COLUMN_KINDS
from compliance.blacklist import hash_id_number
from compliance.campaign import COUNT_LIMIT, Campaign

RAW_ID = "110101199003074578"
KEY = "a platform key of 16+ chars"
BLACKLIST = Blacklist.from_id_numbers(["110101198001010019"], key=KEY)
BASE: dict[str, Any] = {
    "campaign_id": "c1",
    "platform": "水滴筹",
    "created_at": "2025-03-01 09:00",
    "target_amount": 200000,
    "raised_amount": "10000.00",
}
APPROVED: dict[str, Any] = {  # the golden cases' base (tests/cases/payout-route.yaml): approved at payout
    **BASE,
    "initiator": {"real_name_verified": True, "relation_to_patient": "parent", "truthfulness_acknowledged": True},
    "patient": {"real_name_verified": True},
    "disclosure": {
        "basic_medical_insurance": True,
        "commercial_insurance": False,
        "minimum_subsistence_allowance": False,
        "registered_poor_household": False,
        "government_medical_aid": False,
        "other_platform_fundraising": False,
        "house": True,
        "car": False,
    },
    "documents": {"medical_proof": True, "medical_plan": True, "cost_list": True, "plan_published": True},
    "payout": {"amount": "10000.00", "payee": "patient", "batched": False, "requested_at": "2025-03-20 10:00"},
}


def nested(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base`` (default BASE) with the dotted ``path`` set to ``value``."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in (base or BASE).items()}
    *parents, leaf = path.split(".")
    target = data
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value
    return data


def refused(data: Any, **options: Any) -> CampaignError:
    with pytest.raises(CampaignError) as caught:
        evaluate(data, model=None, **options)
    return caught.value


# -- times that no calendar conversion can write ------------------------------------------------------

EDGE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "0001-01-01T03:00:00"]
"""Asia/Shanghai or UTC before year 1 or after year 9999 (the last: a naive, i.e. Shanghai, time whose UTC
time is in year 0)."""


@pytest.mark.parametrize("text", EDGE_TIMES)
@pytest.mark.parametrize("path", ["created_at", "initiator.account_created_at", "payout.requested_at"])
def test_a_time_beyond_the_calendar_is_a_campaign_error_naming_its_field(path: str, text: str) -> None:
    data = nested(path, text, APPROVED)
    error = refused(data, stage="payout")
    assert [(p.loc, p.code) for p in error.problems] == [(path, "datetime_out_of_range")]


def test_times_at_the_calendars_ends_that_both_zones_can_write_are_read() -> None:
    for text in ("0001-01-01T09:00:00", "9999-12-31T23:00:00", "9999-12-31T15:00:00+00:00"):
        campaign = Campaign.parse(nested("initiator.account_created_at", text))
        assert campaign.initiator.account_created_at is not None


# -- text that is not valid Unicode -----------------------------------------------------------------

SURROGATE = "\udcff"
TEXT_PATHS = [
    "campaign_id",
    "platform",
    "promoter_id",
    "medical.diagnosis",
    "medical.hospital_id",
    "initiator.id_number",
    "patient.id_number",
    "payout.payee_id_number",
]


@pytest.mark.parametrize("path", TEXT_PATHS)
def test_text_with_a_lone_surrogate_is_refused_naming_the_field_never_the_value(path: str) -> None:
    value = RAW_ID[:-1] + SURROGATE
    error = refused(nested(path, value, APPROVED), stage="payout", blacklist=BLACKLIST)
    assert [(p.loc, p.code) for p in error.problems] == [(path, "string_unicode")]
    for shown in (str(error), repr(error), error.one_line(), repr(error.problems)):
        assert RAW_ID[:-1] not in shown
        shown.encode("utf-8")  # printable


@pytest.mark.parametrize("path", ["other_platform_campaign_ids", "medical.document_hashes"])
def test_a_lone_surrogate_in_a_list_of_texts_is_refused(path: str) -> None:
    error = refused(nested(path, ["ok", "x" + SURROGATE]))
    assert [(p.loc, p.code) for p in error.problems] == [(f"{path}.1", "string_unicode")]


def test_an_unknown_key_with_a_lone_surrogate_gives_an_error_that_prints() -> None:
    error = refused({**BASE, "x" + SURROGATE: 1})
    assert [(p.loc, p.code) for p in error.problems] == [("(campaign)", "string_unicode")]  # pydantic's own
    str(error).encode("utf-8")


def test_the_blacklist_refuses_a_number_that_is_not_unicode_without_echoing_it() -> None:
    number = RAW_ID[:-1] + SURROGATE
    for call in (lambda: BLACKLIST.contains(id_number=number), lambda: hash_id_number(number, KEY)):
        with pytest.raises(BlacklistError) as caught:
            call()
        assert RAW_ID[:-1] not in str(caught.value) + repr(caught.value)
        assert caught.value.__context__ is None or RAW_ID[:-1] not in repr(caught.value.__context__)


# -- sets, booleans and counts --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["other_platform_campaign_ids", "medical.document_hashes"])
@pytest.mark.parametrize("kind", [set, frozenset])
def test_a_set_for_a_list_is_refused_as_its_order_differs_by_process(path: str, kind: type) -> None:
    error = refused(nested(path, kind({"a", "b", "c"})))
    assert [(p.loc, p.code) for p in error.problems] == [(path, "tuple_type")]
    as_list = evaluate(nested(path, ["a", "b"]), model=None)
    as_tuple = evaluate(nested(path, ("a", "b")), model=None)
    assert as_list.input_digest == as_tuple.input_digest


COUNT = "activity.donation_count"


COUNTS = [path for path, (kind, _allowed) in COLUMN_KINDS.items() if kind == "count"]


@pytest.mark.parametrize("path", COUNTS)
@pytest.mark.parametrize("value", [True, False, np.True_])
def test_a_boolean_is_not_a_count(path: str, value: Any) -> None:
    error = refused(nested(path, value))
    assert [(p.loc, p.code) for p in error.problems] == [(path, "int_type")]


def test_a_boolean_count_is_reported_beside_every_other_problem() -> None:
    data = nested(COUNT, True)
    data["activity"]["share_count"] = -1
    data["target_amount"] = True
    error = refused(data)
    problems = {(p.loc, p.code) for p in error.problems}
    assert problems == {
        (COUNT, "int_type"),
        ("activity.share_count", "greater_than_equal"),
        ("target_amount", "decimal_type"),
    }
    assert refused(json.dumps(data)).problems == error.problems  # JSON text: the same


@pytest.mark.parametrize("value", [COUNT_LIMIT + 1, 10**30, "9" * 30])
def test_a_count_beyond_64_bits_is_refused(value: Any) -> None:
    error = refused(nested(COUNT, value))
    assert [(p.loc, p.code) for p in error.problems] == [(COUNT, "less_than_equal")]


def test_the_largest_count_is_read_in_both_paths() -> None:
    data = nested(COUNT, COUNT_LIMIT)
    single = evaluate(data, model=None)
    row = flatten(Campaign.parse(data))
    out = evaluate_frame(pd.DataFrame([row], dtype=object), model=None)
    assert out["error"].isna().all()
    assert out["outcome"].iloc[0] == single.outcome


# -- one bad cell is its row's error, never the frame's ---------------------------------------------------

BAD_CELLS = [
    (COUNT, 10**30, "less_than_equal"),
    (COUNT, "9" * 30, "less_than_equal"),
    (COUNT, True, "int_type"),
    (COUNT, np.True_, "int_type"),
    ("initiator.relation_to_patient", ["parent"], "literal_error"),
    ("initiator.relation_to_patient", {"a": 1}, "literal_error"),
    ("payout.payee", ["patient"], "literal_error"),
    ("created_at", "9999-12-31T23:59:59-12:00", "datetime_out_of_range"),
    ("created_at", "0001-01-01T00:00:00+14:00", "datetime_out_of_range"),
    ("initiator.account_created_at", "9999-12-31T23:59:59-12:00", "datetime_out_of_range"),
    ("payout.requested_at", pd.Timestamp(np.datetime64("20000-01-01", "us")), "datetime_from_date_parsing"),
    ("campaign_id", "c" + SURROGATE, "string_unicode"),
    ("platform", "p" + SURROGATE, "string_unicode"),
    ("medical.diagnosis", "肺癌" + SURROGATE, "string_unicode"),
    ("promoter_id", SURROGATE, "string_unicode"),
    ("target_amount", "1" + SURROGATE, "decimal_parsing"),
    ("initiator.id_number_hash", "a" * 63 + SURROGATE, "string_unicode"),
    ("other_platform_campaign_ids", ("x", "y" + SURROGATE), "string_unicode"),
    ("other_platform_campaign_ids", {"x", "y"}, "tuple_type"),
    ("medical.document_hashes", frozenset({"d1"}), "tuple_type"),
]


def _rows() -> list[dict[str, Any]]:
    rows = []
    for i in range(4):
        row = flatten(Campaign.parse(nested("campaign_id", f"c{i}", APPROVED)))
        row["initiator.id_number_hash"] = hash_id_number(RAW_ID, KEY)
        rows.append(row)
    return rows


@pytest.mark.parametrize("dtype", [None, object])
@pytest.mark.parametrize(("path", "value", "code"), BAD_CELLS, ids=lambda v: str(v)[:30])
def test_one_bad_cell_is_that_rows_error_and_the_other_rows_are_kept(
    path: str, value: Any, code: str, dtype: Any
) -> None:
    rows = _rows()
    index = pd.Index([10, 11, 12, 13])
    frame = pd.DataFrame(rows, index=index, dtype=dtype)
    cells = [row[path] for row in rows]
    cells[2] = value
    frame[path] = pd.Series(cells, index=index, dtype=object)  # pandas' own text would refuse a surrogate
    out = evaluate_frame(frame, stage="payout", blacklist=BLACKLIST, model=None)
    assert list(out.index) == list(index)
    assert out.at[12, "outcome"] == "review"
    assert out.at[12, "error"].startswith(f"row 12: {path}")
    assert f"[{code}]" in out.at[12, "error"]
    assert RAW_ID not in out.to_csv()
    good = frame.drop(index=12)
    expected = evaluate_frame(good, stage="payout", blacklist=BLACKLIST, model=None)
    pd.testing.assert_frame_equal(out.drop(index=12), expected)


def test_one_bad_cell_does_not_stop_risk_scoring_of_the_others() -> None:
    rows = _rows()
    rows[1][COUNT] = 10**30
    out = evaluate_frame(pd.DataFrame(rows), stage="payout", blacklist=BLACKLIST)
    assert out["error"].notna().tolist() == [False, True, False, False]
    assert out["risk_score"].notna().tolist() == [True, False, True, True]


def test_a_python_string_column_with_a_lone_surrogate_is_that_rows_error() -> None:
    frame = pd.DataFrame(_rows())
    text = ["x" + SURROGATE, "肺癌", None, "y"]
    frame["medical.diagnosis"] = pd.array(text, dtype=pd.StringDtype("python"))
    out = evaluate_frame(frame, stage="payout", blacklist=BLACKLIST, model=None)
    assert out["error"].notna().tolist() == [True, False, False, False]
    assert "[string_unicode]" in out["error"].iloc[0]


# -- the library's own decimal context, whatever the caller's -------------------------------------------

CALLERS_CONTEXT = decimal.Context(prec=3, rounding=decimal.ROUND_CEILING)


def _payout_frame(amount: Decimal) -> pd.DataFrame:
    data = nested("raised_amount", amount, APPROVED)
    data["payout"]["amount"] = amount
    row = flatten(Campaign.parse(data))
    for path in ("initiator.id_number_hash", "patient.id_number_hash", "payout.payee_id_number_hash"):
        row[path] = hash_id_number(RAW_ID[:-1] + str(len(path) % 10), KEY)
    return pd.DataFrame([row], dtype=object)


@pytest.mark.parametrize("amount", [Decimal("299999.99"), Decimal("49999.99"), Decimal("1234567.89")])
def test_a_callers_decimal_context_does_not_change_what_a_table_decides(amount: Decimal) -> None:
    frame = _payout_frame(amount)
    expected = evaluate_frame(frame, stage="payout", blacklist=BLACKLIST)
    with decimal.localcontext(CALLERS_CONTEXT):
        got = evaluate_frame(frame, stage="payout", blacklist=BLACKLIST)
    pd.testing.assert_frame_equal(got, expected)
    if amount == Decimal("299999.99"):
        assert got["outcome"].iloc[0] == "approve"


def test_a_table_row_reads_back_money_exactly_under_a_callers_context() -> None:
    from compliance.batch._table import build_table

    frame = _payout_frame(Decimal("299999.99"))
    with decimal.localcontext(CALLERS_CONTEXT):
        table = build_table(frame)
        row = table.row(0)
    assert row["payout.amount"] == Decimal("299999.99")
    assert str(row["raised_amount"]) == "299999.99"


@pytest.mark.parametrize("cap", ["499999.99", "123456.78"])
def test_a_callers_decimal_context_does_not_move_a_parameter_the_column_compiler_folds(cap: str) -> None:
    from compliance.rules import Catalog

    catalog = Catalog.default().with_parameters({"max_target_amount": cap})
    rows = []
    for target in (Decimal(cap), Decimal(cap) + Decimal("0.01")):
        data = nested("target_amount", target, APPROVED)
        rows.append(flatten(Campaign.parse(data)))
    frame = pd.DataFrame(rows, dtype=object)
    expected = evaluate_frame(frame, stage="publish", ruleset=catalog, model=None)
    with decimal.localcontext(CALLERS_CONTEXT):
        got = evaluate_frame(frame, stage="publish", ruleset=catalog, model=None)
    pd.testing.assert_frame_equal(got, expected)
    failed = expected["failed_rules"].fillna("").tolist()
    assert ["cv2.cap.target" in f for f in failed] == [False, True]  # at the cap passes, a fen over fails


def test_a_callers_decimal_context_does_not_change_an_abbreviated_number_in_an_export() -> None:
    from compliance.batch._mapping_schema import _number_text

    with decimal.localcontext(CALLERS_CONTEXT):
        assert _number_text("1.2345678k", units=True) == "1234.5678"
        assert _number_text("12.5万", units=True) == "125000"


def test_a_naive_time_in_year_9999_is_read_in_both_paths() -> None:
    data = nested("initiator.account_created_at", datetime(9999, 12, 31, 23))
    single = evaluate(data, model=None)
    frame = pd.DataFrame([flatten(Campaign.parse(data))])
    out = evaluate_frame(frame, model=None)
    assert out["error"].isna().all()
    assert out["outcome"].iloc[0] == single.outcome


# -- cells pandas itself stumbles on --------------------------------------------------------------------


def test_a_signalling_nan_cell_is_missing_like_any_decimal_nan_in_both_table_paths() -> None:
    from compliance.batch import decision_for

    rows = _rows()
    frame = pd.DataFrame(rows, dtype=object)
    for label, value in ((1, Decimal("sNaN")), (2, Decimal("NaN")), (3, None)):
        frame.at[label, "medical.estimated_cost"] = value
    out = evaluate_frame(frame, stage="payout", blacklist=BLACKLIST, model=None)  # pandas' isna raised here
    assert out["error"].isna().all()
    assert out["outcome"].nunique() == 1  # not given, whichever way the cell says so
    single = decision_for(frame, 1, stage="payout", blacklist=BLACKLIST, model=None)
    assert single.outcome == out.at[1, "outcome"]


@pytest.mark.parametrize("path", ["initiator.id_number_hash", "campaign_id"])
@pytest.mark.parametrize("dtype", ["Int64", "boolean", "Float64"])
def test_a_text_column_of_pandas_nullable_numbers_is_each_rows_error(path: str, dtype: str) -> None:
    frame = pd.DataFrame(_rows())
    frame[path] = pd.array([1, None, 0, 1], dtype=dtype)
    out = evaluate_frame(frame, stage="payout", blacklist=BLACKLIST, model=None)
    assert out["error"].notna().tolist() == [True, path == "campaign_id", True, True]
    assert all(path in error for error in out["error"].dropna())
