"""Seeded fuzzing of ``evaluate`` and ``evaluate_frame`` with malformed campaigns (issue 11).

Campaigns from ``tests/strategies.py`` are damaged by setting fields (or whole sub-objects, or unknown
keys) to junk: wrong types, integers beyond 64 bits, booleans, NaN and infinities, lone surrogates,
times at and beyond the calendar's ends, sets, nested containers, pandas' missing markers and numpy
scalars. The laws, for every case:

* ``evaluate`` returns a Decision or raises the library's own error (CampaignError; RulesetNotFound for a
  readable campaign dated before any ruleset), never another exception;
* ``evaluate_frame`` never raises for a bad cell: rows in = rows out, same index, and a row is unreadable
  (``review`` with its error) exactly when the single path refuses it, so an unreadable input is never
  approved;
* a raw identity number (or its first 17 digits) appears in no decision, table, error message or repr;
* a decision is the same under a caller's decimal context (``prec=3``, ``ROUND_CEILING``).

Each entry point sees at least 5,000 generated campaigns (evaluate; evaluate_frame at each stage, counted
in rows), drawn the same way on every run (``derandomize``).
"""

from __future__ import annotations

import decimal
import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from compliance import Blacklist, CampaignError, RulesetNotFound, evaluate
from compliance._flat import FLAT_COLUMNS, unflatten
from compliance.batch import evaluate_frame
from compliance.batch._table import plain_value
from compliance.blacklist import hash_id_number
from compliance.campaign import Campaign
from tests.builders import fuzz_settings
from tests.strategies import LISTED_HASHES, campaigns, flat_rows

RAW_ID = "110101199003074578"
"""A recognisable identity number, put in every identity field that takes one; never to be echoed."""
SECRETS = (RAW_ID, RAW_ID[:17])
KEY = "fuzz platform key, 16+ bytes"
BLACKLIST = Blacklist([*LISTED_HASHES, hash_id_number(RAW_ID, KEY)], key=KEY)
UNLISTED = Blacklist(LISTED_HASHES, key=KEY)
"""A blacklist that does not list RAW_ID, so campaigns can be approved."""
CALLERS_CONTEXT = decimal.Context(prec=3, rounding=decimal.ROUND_CEILING)
SURROGATE = "\udcff"

CAMPAIGNS_PER_EXAMPLE = 25
EVALUATE_EXAMPLES = 204  # 204 * 25 = 5,100 campaigns
ROWS_PER_FRAME = 40
BASE_ROWS = 5  # rows drawn per frame; the others are copies of them, damaged differently
FRAME_EXAMPLES = 128  # 128 * 40 = 5,120 rows per stage

_ZONES = [timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)), UTC, None]
TIMES = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T03:00:00",
    "9999-12-31T23:59:59",
    "2025-02-30",
    "2025-03-01T25:00",
    "2025-03-01 09:00:00.1234567",
    "1900-01-01",
    "not a time",
    *(moment.replace(tzinfo=zone) for moment in (datetime.min, datetime.max) for zone in _ZONES),
    date(1, 1, 1),
    date(9999, 12, 31),
    pd.Timestamp("2262-04-11"),
    pd.Timestamp("1677-09-22", tz="Asia/Shanghai"),
    pd.Timestamp(np.datetime64("20000-01-01", "us")),
    np.datetime64("2025-03-01T09:00", "ns"),
]
NUMBERS = [
    *(10**30, 2**63, 2**63 - 1, 2**53 + 1, -1, -(2**70), 0, 7),
    *(math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324, 0.001, 49999.995, 2.5),
    *(Decimal(v) for v in ("NaN", "-NaN", "sNaN", "Infinity", "-0", "1E+30", "0.001", "299999.99", "1E-30", "-0.01")),
    *(np.int64(7), np.uint64(2**64 - 1), np.float64("nan"), np.float32(1.5), np.int8(-3), np.float64("inf")),
]
TEXTS = [
    *("", " ", "9" * 30, "1e5", "NaN", "inf", "-0.01", "0.001", "true", "TRUE", "yes", "parent", "patient", "\x00"),
    *(SURROGATE, "x" + SURROGATE, RAW_ID[:17] + SURROGATE, "\ud800\udc00", "肺癌" + SURROGATE, "肺癌"),
    *("a" * 63 + SURROGATE, "A" * 64, "g" * 64, "0" * 64 + " ", "x" * 10_000),
]
ID_JUNK = st.sampled_from(
    [
        *(RAW_ID, f" {RAW_ID.lower()} ", RAW_ID[:17] + SURROGATE, RAW_ID + "\x00", RAW_ID * 2, "", " "),
        *(int(RAW_ID), Decimal(RAW_ID), [RAW_ID], (RAW_ID,), {"number": RAW_ID}, RAW_ID.encode()),
    ]
)
"""What an identity field may hold; the raw number is never to be echoed, whatever else is wrong."""
SCALARS = [None, True, False, np.True_, np.False_, b"\xff", b"1", bytearray(b"2"), object(), Ellipsis, *NUMBERS]
SCALARS += [*TEXTS, *TIMES]
JUNK_POOL = [
    *SCALARS,
    *([value] for value in SCALARS[::3]),
    *((value, "x") for value in SCALARS[1::3]),
    *({"amount": value} for value in SCALARS[2::3]),
    {"a", "b", "c"},
    frozenset({"x1", 1}),
    {"x1"},
    [["nested", [SURROGATE]]],
    {"payee": "patient", "amount": {"deeper": [math.nan]}},
    {SURROGATE: 1},
    {1: "a"},
    range(3),
]
"""Any value a caller, a broken export or an adversary might put in a field (drawn by position)."""
JUNK = st.sampled_from(JUNK_POOL)
FRAME_JUNK = st.one_of(
    JUNK,
    st.sampled_from([pd.NA, pd.NaT, np.nan, np.datetime64("NaT"), pd.Timedelta(1), np.array([1, 2]), np.array([])]),
)
"""JUNK and what only a frame cell holds: pandas' missing markers, numpy arrays, timedeltas."""

_OBJECTS = ["initiator", "patient", "disclosure", "documents", "payout", "medical", "activity"]
PATHS = [*FLAT_COLUMNS, *_OBJECTS, "unknown", "initiator.unknown", "initiator.id_number", "patient.id_number"]
PATHS.append("payout.payee_id_number")


def _holds_identity(path: str) -> bool:
    """A field for an identity number or its keyed hash: where a raw number is most likely pasted."""
    return path.endswith(("id_number", "id_number_hash"))


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    target = data
    for part in parents:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[leaf] = value


def _copy(value: Any) -> Any:
    return {k: _copy(v) for k, v in value.items()} if isinstance(value, dict) else value


@st.composite
def damaged_campaigns(draw: Any) -> list[Any]:
    """CAMPAIGNS_PER_EXAMPLE variants of one campaign from ``campaigns()``, each with zero to three fields
    (or sub-objects, or unknown keys) set to junk; now and then a variant is junk itself, or JSON text."""
    import json

    base = draw(campaigns(clean=draw(st.booleans())))
    for person in ("initiator", "patient"):
        base[person]["id_number"] = RAW_ID
    if "payout" in base:
        base["payout"]["payee_id_number"] = RAW_ID
    variants: list[Any] = []
    for _ in range(CAMPAIGNS_PER_EXAMPLE):
        data = _copy(base)
        for _ in range(draw(st.integers(0, 3))):
            path = draw(st.sampled_from(PATHS))
            _set(data, path, draw(ID_JUNK if _holds_identity(path) and draw(st.booleans()) else JUNK))
        shape = draw(st.integers(0, 19))
        if shape == 0:
            variants.append(draw(JUNK))
        elif shape == 1:
            ascii_only = draw(st.booleans())
            try:
                variants.append(json.dumps(data, default=str, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"))
            except (TypeError, ValueError):  # keys json cannot write
                variants.append(data)
        else:
            variants.append(data)
    return variants


def _no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
        text.encode("utf-8")  # every message can be printed and logged


def _evaluate_one(data: Any, stage: Any, blacklist: Blacklist) -> None:
    try:
        decision = evaluate(data, stage=stage, blacklist=blacklist, model=None)
    except CampaignError as error:
        _no_secret(str(error), repr(error), error.one_line(), repr(error.problems))
        assert error.problems and all(p.loc and p.code for p in error.problems)
        return
    except RulesetNotFound as error:
        Campaign.parse(data)  # only a readable campaign gets as far as choosing its rules
        _no_secret(str(error), repr(error))
        return
    _no_secret(decision.model_dump_json(), repr(decision), str(decision))
    with decimal.localcontext(CALLERS_CONTEXT):  # the caller's decimal context changes nothing
        again = evaluate(data, stage=stage, blacklist=blacklist, model=None)
    assert again.model_dump_json() == decision.model_dump_json()


@fuzz_settings(EVALUATE_EXAMPLES)
@given(damaged_campaigns(), st.sampled_from(["publish", "payout"]), st.sampled_from([BLACKLIST, UNLISTED]))
def test_evaluate_gives_a_decision_or_its_own_error_for_any_input(
    batch: list[Any], stage: str, blacklist: Blacklist
) -> None:
    for item in batch:
        _evaluate_one(item, stage, blacklist)


def test_evaluate_scores_damaged_campaigns_with_the_default_model() -> None:
    """The risk model reads what validation let through: a few damaged campaigns with the default model."""
    values = [10**18, 2**63 - 1, 0, "0001-01-01T09:00:00", "9999-12-31T23:00:00", 1e-300]
    for value in values:
        for path in ("activity.donation_count", "initiator.account_created_at", "raised_amount"):
            data = {"campaign_id": "c", "platform": "p", "created_at": "2025-03-01", "target_amount": 1}
            _set(data, path, value)
            try:
                evaluate(data)
            except CampaignError as error:
                _no_secret(str(error))


# -- evaluate_frame -------------------------------------------------------------------------------------


@st.composite
def damaged_frames(draw: Any) -> tuple[pd.DataFrame, list[set[str]]]:
    """A frame of ROWS_PER_FRAME flat rows (copies of BASE_ROWS drawn ones) with junk in some cells (and now
    and then a whole column of it), its columns as pandas infers them, all objects, or pandas' nullable
    dtypes; and, per row, the columns that were damaged."""
    bases = draw(st.lists(flat_rows(clean=draw(st.booleans())), min_size=BASE_ROWS, max_size=BASE_ROWS))
    rows = [dict(bases[i % BASE_ROWS]) for i in range(ROWS_PER_FRAME)]  # drawing rows is what takes time
    damaged: list[set[str]] = [set() for _ in rows]
    for _ in range(draw(st.integers(0, 2 * ROWS_PER_FRAME))):
        i = draw(st.integers(0, ROWS_PER_FRAME - 1))
        column = draw(st.sampled_from(FLAT_COLUMNS))
        rows[i][column] = draw(ID_JUNK if _holds_identity(column) and draw(st.booleans()) else FRAME_JUNK)
        damaged[i].add(column)
    if draw(st.booleans()):
        column = draw(st.sampled_from(FLAT_COLUMNS))
        value = draw(FRAME_JUNK)
        for i, row in enumerate(rows):
            row[column] = value
            damaged[i].add(column)
    index = pd.Index(draw(st.permutations(range(100, 100 + ROWS_PER_FRAME))))
    style = draw(st.sampled_from(["infer", "object", "nullable"]))
    return _frame(rows, index, style), damaged


def _frame(rows: list[dict[str, Any]], index: pd.Index, style: str) -> pd.DataFrame:
    columns = {}
    for name in FLAT_COLUMNS:
        cells = pd.Series([row[name] for row in rows], index=index, dtype=object)
        if style != "object":
            try:  # pandas' own inference (its Arrow text refuses a lone surrogate: such a column stays objects)
                cells = pd.Series(cells.tolist(), index=index)
                if style == "nullable":
                    cells = cells.convert_dtypes()
            except Exception:  # pandas itself cannot hold these cells any other way
                cells = pd.Series([row[name] for row in rows], index=index, dtype=object)
        columns[name] = cells
    return pd.DataFrame(columns, index=index)


def _single_reads(frame: pd.DataFrame, label: Any) -> bool:
    """Whether the single path reads the row (its cells as ``decision_for`` hands them to ``evaluate``)."""
    cells = ((str(c), plain_value(v)) for c, v in frame.loc[label].items())
    try:
        Campaign.parse(unflatten({c: v for c, v in cells if v is not None}))
    except CampaignError:
        return False
    return True


def _check_frame(frame: pd.DataFrame, damaged: list[set[str]], stage: str) -> None:
    out = evaluate_frame(frame, stage=stage, blacklist=BLACKLIST, model=None)  # never raises for a bad cell
    assert out.index.equals(frame.index)
    text = out.to_csv()
    _no_secret(text, repr(out))
    unread = out["error"].notna().to_numpy()
    assert (out["outcome"].to_numpy()[unread] == "review").all()
    for position, label in enumerate(frame.index):
        error = out.at[label, "error"]
        error = None if pd.isna(error) else error
        if error is not None:
            assert error.startswith(f"row {label}: ")
        if not damaged[position] and error is None:
            continue
        reads = _single_reads(frame, label)
        if error is not None and "no ruleset is in force" not in error:  # that one is read, then has no rules
            assert not reads, (label, error)
        if error is None:
            assert reads, (label, out.loc[label].to_dict())  # so an approval is never of an unreadable row


FRAME_SETTINGS = fuzz_settings(FRAME_EXAMPLES)


@FRAME_SETTINGS
@given(damaged_frames())
def test_evaluate_frame_publish_keeps_every_row_whatever_its_cells(case: tuple[pd.DataFrame, list[set[str]]]) -> None:
    _check_frame(*case, "publish")


@FRAME_SETTINGS
@given(damaged_frames())
def test_evaluate_frame_payout_keeps_every_row_whatever_its_cells(case: tuple[pd.DataFrame, list[set[str]]]) -> None:
    _check_frame(*case, "payout")


def test_evaluate_frame_reads_damaged_cells_with_the_default_model_and_a_callers_context() -> None:
    """Risk scoring and the caller's decimal context, once over a damaged frame (the model is slow to load)."""
    rows = []
    for i, value in enumerate([10**30, True, "9" * 30, 2**63 - 1, math.inf, Decimal("sNaN"), None, [1]]):
        rows.append(
            {
                "campaign_id": f"c{i}",
                "platform": "水滴筹",
                "created_at": "2025-03-01 09:00",
                "target_amount": Decimal("299999.99"),
                "activity.donation_count": value,
            }
        )
    frame = pd.DataFrame(rows, dtype=object)
    with decimal.localcontext(decimal.Context(prec=3, rounding=decimal.ROUND_CEILING)):
        out = evaluate_frame(frame, blacklist=BLACKLIST)
    assert out["error"].notna().tolist() == [True, True, True, False, True, False, False, True]  # sNaN: missing
    assert out["risk_score"].notna().tolist() == [False, False, False, True, False, True, True, False]
