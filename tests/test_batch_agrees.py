"""The batch path gives, row by row, exactly the decisions :func:`compliance.evaluate` gives.

Generated campaigns (``tests.strategies.flat_rows``: nulls everywhere optional, money at and around every
threshold, times naive or with offsets around midnight on each ruleset change and before any ruleset)
are put in a DataFrame in several representations of the same values:

- ``flattened``: the Python values :func:`compliance._flat.flatten` gives, in object columns;
- ``python``: the values as generated (Decimal, naive or offset datetimes, tuples), dtypes as pandas infers;
- ``native``: pandas' own dtypes (float64 money, ``Int64``, ``boolean``, ``string``/``category``,
  datetime64 with a zone or naive, NaN/``pd.NA``/``NaT`` for missing);
- ``text``: text as a CSV reader gives it (``"49999.99"``, ``"true"``, ``"2025-03-01 09:00"``; NaN missing),
  in object columns or pandas' ``str`` dtype;
- ``scalars``: numpy and pandas scalars in object columns (``np.int64``, ``np.float64``, ``np.bool_``,
  ``np.str_``, ``pd.Timestamp``, ``pd.NA``, ``NaT``), which rule-engine cannot take directly.

For each stage, each shipped ruleset choice, with and without a blacklist and a risk model, every output
row must equal what ``evaluate()`` gives for that row's campaign; a row ``evaluate()`` refuses (a
CampaignError, or no ruleset in force) must be ``review`` with its error. The reference takes a missing
value as *not given*: the row's key is left out of the campaign, as a platform would send it.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compliance
from compliance import Blacklist, CampaignError, Decision, RulesetNotFound
from compliance._flat import FLAT_COLUMNS, flatten, unflatten
from compliance.batch import OUTPUT_COLUMNS, FallbackWarning, decision_for, evaluate_frame, format_obligations
from compliance.batch._table import COLUMN_KINDS, _convert, text_dtype
from compliance.blacklist import UNCHECKED
from compliance.campaign import SHANGHAI, Campaign
from compliance.rules import Catalog
from compliance.rules import _columns as columns
from compliance.rules._schema import Facts
from tests.strategies import LISTED_HASHES, ROW_HASHES, flat_rows

KEY = "a test platform key, 16+ bytes"
BLACKLIST = Blacklist(LISTED_HASHES, key=KEY)
STAGES = ("publish", "payout")
RULESETS = (None, "convention-1.0", "convention-2.0", "charity-law-2024", "convention-2.0+charity-law-2024")

Row = dict[str, Any]
Outcome = Decision | CampaignError | RulesetNotFound


# -- the reference: evaluate(), one campaign at a time ------------------------------------------------


def given_values(row: Row) -> Row:
    return {column: value for column, value in row.items() if value is not None}


def single(row: Row, **options: Any) -> Outcome:
    """What ``evaluate()`` gives for the row's campaign, or the error it raises."""
    try:
        return compliance.evaluate(unflatten(given_values(row)), **options)
    except (CampaignError, RulesetNotFound) as error:
        return error


def summary(decision: Decision) -> dict[str, Any]:
    """A decision as :func:`evaluate_frame` writes it."""
    risk = decision.risk
    return {
        "outcome": decision.outcome,
        "ruleset": decision.ruleset.id,
        "failed_rules": ";".join(f.rule_id for f in decision.findings if f.status == "fail"),
        "not_evaluable_rules": ";".join(f.rule_id for f in decision.findings if f.status == "not_evaluable"),
        "cited_clauses": ";".join(dict.fromkeys(c.clause_id for f in decision.findings for c in f.citations)),
        "obligations": format_obligations(decision.obligations),
        "risk_score": None if risk is None else risk.score,
        "risk_band": None if risk is None else risk.band,
        "risk_reasons": "" if risk is None else ";".join(r.feature for r in risk.reasons),
        "error": None,
    }


def _plain(value: Any) -> Any:
    if value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value


def mismatches(out: pd.DataFrame, expected: list[Outcome], rows: list[Row], where: str) -> list[str]:
    """Every difference between the frame's rows and the single decisions, described."""
    problems = []
    for i, reference in enumerate(expected):
        got = {name: _plain(out[name].iat[i]) for name in OUTPUT_COLUMNS}
        label = out.index[i]
        if isinstance(reference, Decision):
            want = summary(reference)
            diff = {k: (want[k], got[k]) for k in want if want[k] != got[k]}
            if diff:
                problems.append(f"{where} row {label!r}: (expected, got) {diff}\n  campaign: {given_values(rows[i])}")
            continue
        ok = got["outcome"] == "review" and isinstance(got["error"], str) and got["error"] != ""
        if isinstance(reference, CampaignError):
            ok = ok and all(p.loc in got["error"] for p in reference.problems)
        else:
            ok = ok and "no ruleset is in force" in got["error"]
        if not ok or got["ruleset"] is not None or got["failed_rules"] or got["not_evaluable_rules"]:
            problems.append(
                f"{where} row {label!r}: evaluate raised {reference!r}, the frame gave {got}\n"
                f"  campaign: {given_values(rows[i])}"
            )
    return problems


def assert_agrees(frame: pd.DataFrame, rows: list[Row], expected: list[Outcome], where: str, **options: Any) -> None:
    out = evaluate_frame(frame, **options)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert len(out) == len(frame) and out.index.equals(frame.index)
    assert "approve" not in set(out["outcome"][out["error"].notna()])
    problems = mismatches(out, expected, rows, f"{where} {options}")
    assert not problems, f"{len(problems)} row(s) disagree; first:\n" + "\n".join(problems[:3])


# -- representations of the same values ----------------------------------------------------------------


def _aware(value: Any) -> Any:
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def _parses(row: Row) -> Campaign | None:
    try:
        return Campaign.parse(unflatten(given_values(row)))
    except CampaignError:
        return None


def flattened_frame(rows: list[Row], index: pd.Index, style: int) -> pd.DataFrame:
    """The values ``flatten()`` gives (rows evaluate() cannot read: as generated), in object columns."""
    values = []
    for row in rows:
        campaign = _parses(row)
        values.append(row if campaign is None else flatten(campaign))
    return pd.DataFrame(values, index=index, columns=list(FLAT_COLUMNS), dtype=object)


def python_frame(rows: list[Row], index: pd.Index, style: int) -> pd.DataFrame:
    """The generated Python values; pandas infers the dtypes (a column of ints and None becomes float64)."""
    return pd.DataFrame(rows, index=index, columns=list(FLAT_COLUMNS))


def native_frame(rows: list[Row], index: pd.Index, style: int) -> pd.DataFrame:
    """pandas' own dtypes. ``style`` picks the zone of the time columns and string or category text."""
    zone = ("UTC", "Asia/Shanghai", None, "America/New_York")[style % 4]
    data: dict[str, Any] = {}
    for path, (kind, allowed) in COLUMN_KINDS.items():
        values = [row[path] for row in rows]
        if kind == "money":
            data[path] = pd.Series([np.nan if v is None else float(v) for v in values], index=index, dtype="float64")
        elif kind == "count":
            data[path] = pd.Series(pd.array(values, dtype="Int64"), index=index)
        elif kind == "bool":
            data[path] = pd.Series(pd.array(values, dtype="boolean"), index=index)
        elif kind == "time":
            stamps = pd.Series(
                pd.to_datetime([pd.NaT if v is None else _aware(v) for v in values], utc=True), index=index
            )
            data[path] = (
                stamps.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
                if zone is None
                else stamps.dt.tz_convert(zone)
            )
        elif kind == "literal" and style % 2:
            data[path] = pd.Series(pd.Categorical(values, categories=allowed), index=index)
        elif kind == "tuple":
            data[path] = pd.Series([np.nan if v is None else list(v) for v in values], index=index, dtype=object)
        else:
            data[path] = pd.Series(pd.array(values, dtype="string"), index=index)
    return pd.DataFrame(data, index=index)


def _time_text(value: Any, i: int) -> str:
    sep = " " if i % 2 else "T"
    if value.tzinfo is None:
        if value.microsecond == 0 and value.second == 0:
            if value.hour == 0 and value.minute == 0 and i % 3 == 0:
                return value.date().isoformat()
            return value.isoformat(sep=sep, timespec="minutes")
        return value.isoformat(sep=sep)
    text: str = value.isoformat(sep=sep)
    return text.removesuffix("+00:00") + "Z" if value.utcoffset().total_seconds() == 0 and i % 2 else text


def _text(kind: str, value: Any, i: int) -> Any:
    if value is None:
        return np.nan
    if kind == "money":  # "50000.00", "50000", "49999.9"
        text = str(value)
        return (text, text.removesuffix(".00"), text.rstrip("0").rstrip("."))[i % 3]
    if kind == "count":
        return str(value)
    if kind == "bool":
        return (("false", "true"), ("False", "True"), ("FALSE", "TRUE"))[i % 3][value]
    if kind == "time":
        return _time_text(value, i)
    return value  # text already; a tuple stays a tuple (CSV has no list syntax the schema reads)


def text_frame(rows: list[Row], index: pd.Index, style: int) -> pd.DataFrame:
    """Text as a CSV reader gives it (empty cells NaN): in object columns, or (odd styles) in pandas' ``str``
    dtype as ``read_export`` and ``pandas.read_csv`` give it (list columns stay objects)."""
    data = {}
    for path, (kind, _allowed) in COLUMN_KINDS.items():
        cells = [_text(kind, row[path], i + style) for i, row in enumerate(rows)]
        text = style % 2 and kind != "tuple"
        data[path] = pd.Series(cells, index=index, dtype="str" if text else object)
    return pd.DataFrame(data, index=index)


_MISSING = (None, np.nan, pd.NA, pd.NaT)


def _scalar(kind: str, value: Any, i: int) -> Any:
    if value is None:
        return _MISSING[i % 4]
    if kind == "money":
        return np.int64(value) if i % 2 and value == value.to_integral_value() else np.float64(value)
    if kind == "count":
        return np.int64(value)
    if kind == "bool":
        return np.bool_(value)
    if kind == "time":
        return pd.Timestamp(value)
    if kind == "tuple":
        return np.asarray(value, dtype=str)
    return np.str_(value) if i % 2 else value


def scalars_frame(rows: list[Row], index: pd.Index, style: int) -> pd.DataFrame:
    """numpy and pandas scalars (and their missing markers) in object columns."""
    data = {}
    for k, (path, (kind, _allowed)) in enumerate(COLUMN_KINDS.items()):
        cells = [_scalar(kind, row[path], i + k + style) for i, row in enumerate(rows)]
        data[path] = pd.Series(cells, index=index, dtype=object)
    return pd.DataFrame(data, index=index)


Builder = Callable[[list[Row], pd.Index, int], pd.DataFrame]
REPRESENTATIONS: dict[str, Builder] = {
    "flattened": flattened_frame,
    "python": python_frame,
    "native": native_frame,
    "text": text_frame,
    "scalars": scalars_frame,
}


@st.composite
def indexes(draw: Any, n: int, *, unique: bool = False) -> pd.Index:
    """The default index, text labels, shuffled integers, and (unless ``unique``) repeated labels or a
    MultiIndex."""
    kinds = ["range", "text", "shuffled"] + ([] if unique else ["repeated", "multi"])
    kind = draw(st.sampled_from(kinds), label="index")
    if kind == "range":
        return pd.RangeIndex(n)
    if kind == "text":
        return pd.Index([f"c{i}" for i in range(n)])
    if kind == "repeated":
        return pd.Index([f"c{i // 2}" for i in range(n)])
    if kind == "multi":
        return pd.MultiIndex.from_arrays([[i % 2 for i in range(n)], [f"k{i}" for i in range(n)]])
    return pd.Index(draw(st.permutations(range(100, 100 + n))))


def relayout(frame: pd.DataFrame, rows: list[Row], layout: str, order: list[int]) -> pd.DataFrame:
    """The same table with its columns in another order, or without the columns no row gives."""
    if layout == "shuffled":
        return frame[[frame.columns[k] for k in order]]
    if layout == "given only":
        return frame[[c for c in frame.columns if any(row[c] is not None for row in rows)]]
    return frame


batches = st.lists(st.one_of(flat_rows(), flat_rows(clean=True)), min_size=1, max_size=24)


# -- 1. every ruleset choice, stage, blacklist and model -----------------------------------------------


@pytest.mark.parametrize("ruleset", RULESETS)
@pytest.mark.parametrize("stage", STAGES)
@settings(max_examples=8)
@given(rows=batches, data=st.data())
def test_every_row_is_the_single_decision(stage: str, ruleset: str | None, rows: list[Row], data: Any) -> None:
    name = data.draw(st.sampled_from(sorted(REPRESENTATIONS)), label="representation")
    style = data.draw(st.integers(0, 11), label="style")
    index = data.draw(indexes(len(rows)))
    frame = REPRESENTATIONS[name](rows, index, style)
    for blacklist in (None, BLACKLIST):
        for model in (None, "default"):
            options = {"stage": stage, "ruleset": ruleset, "blacklist": blacklist, "model": model}
            expected = [single(row, **options) for row in rows]
            assert_agrees(frame, rows, expected, name, **options)


@settings(max_examples=15)
@given(rows=batches, data=st.data())
def test_every_representation_reads_the_same_campaigns(rows: list[Row], data: Any) -> None:
    style = data.draw(st.integers(0, 11), label="style")
    index = data.draw(indexes(len(rows)))
    stage = data.draw(st.sampled_from(STAGES), label="stage")
    layout = data.draw(st.sampled_from(["all", "shuffled", "given only"]), label="layout")
    order = data.draw(st.permutations(range(len(FLAT_COLUMNS))), label="order")
    options = {"stage": stage, "ruleset": None, "blacklist": BLACKLIST, "model": "default"}
    expected = [single(row, **options) for row in rows]
    for name, build in REPRESENTATIONS.items():
        frame = relayout(build(rows, index, style), rows, layout, order)
        assert_agrees(frame, rows, expected, f"{name} ({layout} columns)", **options)


@settings(max_examples=10)
@given(rows=batches, data=st.data())
def test_decision_for_rebuilds_the_single_decision(rows: list[Row], data: Any) -> None:
    name = data.draw(st.sampled_from(sorted(REPRESENTATIONS)), label="representation")
    index = data.draw(indexes(len(rows), unique=True))
    frame = REPRESENTATIONS[name](rows, index, data.draw(st.integers(0, 11), label="style"))
    options = {"stage": data.draw(st.sampled_from(STAGES)), "blacklist": BLACKLIST, "model": None}
    for label, row in zip(index, rows, strict=True):
        expected = single(row, **options)
        if isinstance(expected, Decision):
            assert decision_for(frame, label, **options) == expected, (name, label, given_values(row))


# -- 2. values that cannot be read ------------------------------------------------------------------------

PAYOUT = {
    "payout.amount": Decimal("100.00"),
    "payout.payee": "patient",
    "payout.requested_at": datetime(2025, 3, 2, 10),
}
# (column, bad value, text that must not appear in the error (None: no distinctive text), needs a payout)
BAD_VALUES: list[tuple[str, Any, str | None, bool]] = [
    ("target_amount", Decimal("-777.77"), "777.77", False),
    ("target_amount", "-777.77", "777.77", False),
    ("raised_amount", -777.77, "777.77", False),
    ("payout.amount", "4.321", "4.321", True),
    ("payout.amount", Decimal("4.321"), "4.321", True),
    ("payout.amount", 4.321, "4.321", True),
    ("payout.amount", float("inf"), None, True),
    ("payout.amount", Decimal("NaN"), None, True),
    ("raised_amount", "NaN", None, False),
    ("target_amount", "Infinity", None, False),
    ("medical.estimated_cost", "12abc", "12abc", False),
    ("activity.amount_first_24h", "1,234.00", "1,234", False),
    ("payout.payee", None, None, True),  # a payout with no payee
    ("payout.payee", "医院", "医院", True),
    ("payout.payee", "Hospital_Account", "Hospital_Account", True),
    ("initiator.id_number_hash", "NOT-A-HASH-4711", "4711", False),
    ("patient.id_number_hash", ROW_HASHES[2].upper(), ROW_HASHES[2][:12].upper(), False),
    ("payout.payee_id_number_hash", ROW_HASHES[3][:-1], ROW_HASHES[3][:12], True),
    ("created_at", "2025-02-30", "02-30", False),
    ("payout.requested_at", "2025-02-30 10:00", "02-30", True),
    ("initiator.account_created_at", "yesterday-ish", "yesterday", False),
    ("activity.donation_count", -31, "-31", False),
    ("activity.donation_count", "3.5", "3.5", False),
    ("activity.share_count", 2.5, "2.5", False),
    ("disclosure.house", "maybe-so", "maybe", False),
    ("initiator.relation_to_patient", "neighbour", "neighbour", False),
]


def _inject(frame: pd.DataFrame, position: int, column: str, value: Any) -> None:
    """Put ``value`` in one cell, keeping the column's dtype where it can hold the value (float, text)."""
    dtype = frame[column].dtype
    keeps = (isinstance(value, float) and dtype == np.float64) or (isinstance(value, str) and text_dtype(dtype))
    if not keeps:
        frame[column] = frame[column].astype(object)
    frame.iat[position, frame.columns.get_loc(column)] = value


@settings(max_examples=25)
@given(rows=batches, data=st.data())
def test_bad_values_make_only_their_row_review_with_the_field_named(rows: list[Row], data: Any) -> None:
    name = data.draw(st.sampled_from(sorted(REPRESENTATIONS)), label="representation")
    index = data.draw(indexes(len(rows)))
    positions = data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=4, unique=True))
    bad = {p: data.draw(st.sampled_from(BAD_VALUES), label=f"bad value in row {p}") for p in positions}
    rows = [dict(row) for row in rows]
    for position, (_column, _value, _secret, payout) in bad.items():
        row = rows[position]
        row["target_amount"] = row["target_amount"] or Decimal("1000.00")
        if payout or any(row[c] is not None for c in FLAT_COLUMNS if c.startswith("payout.")):
            row.update({c: row[c] or v for c, v in PAYOUT.items()})
    frame = REPRESENTATIONS[name](rows, index, data.draw(st.integers(0, 3), label="style"))
    for position, (column, value, _secret, _payout) in bad.items():
        _inject(frame, position, column, value)
        rows[position] = {**rows[position], column: value}
    options = {"stage": data.draw(st.sampled_from(STAGES)), "blacklist": BLACKLIST, "model": "default"}
    expected = [single(row, **options) for row in rows]
    out = evaluate_frame(frame, **options)
    assert len(out) == len(frame) and out.index.equals(frame.index)
    for position, (column, value, secret, _payout) in bad.items():
        reference, error = expected[position], out["error"].iat[position]
        assert isinstance(reference, CampaignError), (column, value, reference)
        assert out["outcome"].iat[position] == "review", (column, value)
        assert isinstance(error, str) and column in error, (column, value, error)
        assert secret is None or secret not in error, (column, value, error)
    good = [p for p in range(len(rows)) if p not in bad]
    problems = mismatches(out.iloc[good], [expected[p] for p in good], [rows[p] for p in good], name)
    assert not problems, "\n".join(problems[:3])


# -- 3. numpy and pandas scalars in object columns ---------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    fens=st.lists(
        st.one_of(st.integers(0, 10**15 - 1), st.integers(0, 10**4), st.sampled_from([10**15 - 1, 5_000_000, 29, 57])),
        min_size=1,
        max_size=40,
    ),
    style=st.integers(0, 5),
)
def test_money_text_is_read_to_the_exact_fen_at_every_magnitude(fens: list[int], style: int) -> None:
    """Up to 13 whole digits and 2 decimals, in any of the spellings a CSV holds, is exact to the fen."""
    spellings = [
        f"{fen // 100}.{fen % 100:02d}"
        if (i + style) % 3 == 0
        else f"{fen // 100}.{fen % 100:02d}".rstrip("0").rstrip(".")
        if (i + style) % 3 == 1
        else f"{fen // 100}"
        if fen % 100 == 0
        else f"{fen // 100}.{fen % 100:02d}"
        for i, fen in enumerate(fens)
    ]
    series = pd.Series(spellings, dtype="str" if style % 2 else object, name="raised_amount")
    values, null, suspect = _convert(series, "money", None)
    assert not null.any() and not suspect.any()
    assert values.tolist() == fens


def test_numpy_and_pandas_scalars_in_object_columns() -> None:
    """One row per kind of scalar; each is read as the Python value it stands for."""
    python = [
        {
            "campaign_id": "s1",
            "platform": "水滴筹",
            "created_at": "2024-09-04 23:59",
            "target_amount": Decimal("300000.00"),
            "raised_amount": Decimal("299999.99"),
            "disclosure.house": True,
            "activity.donation_count": 3,
        },
        {
            "campaign_id": "s2",
            "platform": "水滴筹",
            "created_at": "2024-09-05 00:00",
            "target_amount": Decimal("500000.01"),
            "raised_amount": Decimal("0.00"),
            "disclosure.car": False,
            "payout.amount": Decimal("50000.00"),
            "payout.payee": "close_relative",
            "payout.requested_at": "2024-09-04 16:00:00+00:00",
            "payout.batched": True,
        },
    ]
    cells = {
        "campaign_id": [np.str_("s1"), "s2"],
        "platform": [np.str_("水滴筹"), "水滴筹"],
        "created_at": [pd.Timestamp("2024-09-04 23:59"), pd.Timestamp("2024-09-04 16:00", tz="UTC")],
        "target_amount": [np.int64(300000), np.float64(500000.01)],
        "raised_amount": [np.float64(299999.99), np.int64(0)],
        "disclosure.house": [np.bool_(True), pd.NaT],
        "disclosure.car": [pd.NA, np.bool_(False)],
        "activity.donation_count": [np.int64(3), np.nan],
        "payout.amount": [pd.NA, np.float64(50000.0)],
        "payout.payee": [None, np.str_("close_relative")],
        "payout.requested_at": [pd.NaT, pd.Timestamp("2024-09-05 00:00", tz="Asia/Shanghai")],
        "payout.batched": [pd.NA, np.bool_(True)],
    }
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in cells.items()})
    rows = [{c: row.get(c) for c in FLAT_COLUMNS} for row in python]
    for stage in STAGES:
        for ruleset in RULESETS:
            options = {"stage": stage, "ruleset": ruleset, "blacklist": BLACKLIST, "model": "default"}
            expected = [single(row, **options) for row in rows]
            assert all(isinstance(e, Decision) for e in expected)
            assert_agrees(frame, rows, expected, "scalars", **options)


# -- 4. a platform rule the vector compiler does not translate ---------------------------------------------


PLATFORM_RULES = """\
ruleset:
  id: test-platform-{tag}
  title: {{zh: 测试平台, en: Test platform}}
  family: test-platform-{tag}
  effective_from: 2018-10-19
  revision: 1
parameters:
  margin:
    type: money
    value: 1000
    title: {{zh: 差额, en: Margin}}
    source: {{note: test}}
  pair:
    type: string_list
    value: [a, b]
    title: {{zh: 两项, en: Two items}}
    source: {{note: test}}
  no_such_item:
    type: string
    value: not_a_disclosure_item
    title: {{zh: 不存在的事项, en: An item that does not exist}}
    source: {{note: test}}
rules:
  - id: tp-{tag}.payout.margin
    title: {{zh: 提现后余额, en: Money left after the payout}}
    stages: [payout]
    severity: low
    requires: [payout]
    fails_when: raised_amount - payout.amount > params.margin
    effect: {{outcome: review}}
    cites: [convention-2.0/request-cap]
    message: {{zh: 余额过多。, en: Much is left.}}
  - id: tp-{tag}.other-platform
    title: {{zh: 其他平台项目, en: Campaign on another platform}}
    stages: [publish, payout]
    severity: low
    fails_when: '$any([h == "x1" for h in other_platform_campaign_ids])'
    effect: {{outcome: reject}}
    cites: [convention-2.0/request-cap]
    message: {{zh: 其他平台有项目。, en: Another platform has a campaign.}}
  # a constant that raises (index 5 of a 2-item list): row by row, where `or` decides which rows reach it
  - id: tp-{tag}.constant-error
    title: {{zh: 常量错误, en: Constant error}}
    stages: [publish, payout]
    severity: low
    fails_when: raised_amount < params.margin or params.pair[5] == "x"
    effect: {{outcome: review}}
    cites: [convention-2.0/request-cap]
    message: {{zh: 常量。, en: Constant.}}
  # compiled for columns: an error on the right of and/or counts only where the right side is evaluated
  - id: tp-{tag}.short-circuit-or
    title: {{zh: 或, en: Or}}
    stages: [publish, payout]
    severity: low
    fails_when: raised_amount >= params.margin or disclosure_answers[params.no_such_item] == true
    effect: {{outcome: review}}
    cites: [convention-2.0/request-cap]
    message: {{zh: 或。, en: Or.}}
  - id: tp-{tag}.short-circuit-and
    title: {{zh: 且, en: And}}
    stages: [publish, payout]
    severity: low
    fails_when: raised_amount < params.margin and disclosure_answers[params.no_such_item] == true
    effect: {{outcome: review}}
    cites: [convention-2.0/request-cap]
    message: {{zh: 且。, en: And.}}
  # compiled for columns: $any / $all over a list with a member that raises (the list is built first)
  - id: tp-{tag}.any-with-errors
    title: {{zh: 任一, en: Any}}
    stages: [publish, payout]
    severity: low
    fails_when: '$any([raised_amount >= params.margin, disclosure_answers[params.no_such_item] == true])'
    effect: {{outcome: review}}
    cites: [convention-2.0/request-cap]
    message: {{zh: 任一。, en: Any.}}
  - id: tp-{tag}.all-with-errors
    title: {{zh: 全部, en: All}}
    stages: [publish, payout]
    severity: low
    fails_when: '$all([disclosure_answers[params.no_such_item] == true, raised_amount >= params.margin])'
    effect: {{outcome: review}}
    cites: [convention-2.0/request-cap]
    message: {{zh: 全部。, en: All.}}
"""


def platform_catalog(folder: Path) -> tuple[Catalog, list[str]]:
    """The shipped catalog with a platform ruleset whose rules in ``fallback`` must fall back (fresh rule ids: the
    warning is given once per rule and process)."""
    tag = uuid.uuid4().hex[:8]
    path = folder / f"platform-{tag}"
    path.mkdir()
    (path / "ruleset.yaml").write_text(PLATFORM_RULES.format(tag=tag), encoding="utf-8")
    catalog = Catalog.default().with_rules(path)
    return catalog, [f"tp-{tag}.payout.margin", f"tp-{tag}.other-platform", f"tp-{tag}.constant-error"]


def test_a_rule_the_compiler_does_not_translate_warns_once_and_still_agrees(tmp_path: Path) -> None:
    catalog, fallback = platform_catalog(tmp_path)
    cases = [  # raised, other platforms' campaigns, payout amount
        ("1500.00", ("x1",), "500.00"),  # 1000.00 left: not over the margin
        ("1500.01", (), "500.00"),
        ("0.00", ("x2", "x1"), "500.00"),
        ("1500.10", (), "500.05"),  # as text also "1500.1": 1000.05 left
        ("5000.00", (), None),  # no payout: the margin cannot be checked
    ]
    rows = [dict.fromkeys(FLAT_COLUMNS) for _ in cases]
    for i, (row, (raised, ids, paid)) in enumerate(zip(rows, cases, strict=True)):
        row["campaign_id"], row["platform"], row["created_at"] = f"f{i}", "轻松筹", datetime(2025, 1, 1, 9)
        row["target_amount"], row["raised_amount"] = Decimal("100000.00"), Decimal(raised)
        row["other_platform_campaign_ids"], row["medical.document_hashes"] = ids, ()
        if paid is not None:
            row["payout.amount"], row["payout.payee"], row["payout.batched"] = Decimal(paid), "patient", False
            row["payout.requested_at"] = datetime(2025, 1, 2, 9)
    options = {"stage": "payout", "ruleset": catalog, "blacklist": BLACKLIST, "model": "default"}
    expected = [single(row, **options) for row in rows]
    assert [e.rule_results[fallback[0]] for e in expected] == ["pass", "fail", "pass", "fail", "not_evaluable"]
    assert [e.rule_results[fallback[1]] for e in expected] == ["fail", "pass", "fail", "pass", "pass"]
    assert [e.rule_results[fallback[2]] for e in expected] == ["not_evaluable"] * 2 + ["fail"] + ["not_evaluable"] * 2
    with pytest.warns(FallbackWarning) as record:
        out = evaluate_frame(python_frame(rows, pd.RangeIndex(len(rows)), 0), **options)
    messages = [str(w.message) for w in record if issubclass(w.category, FallbackWarning)]
    assert len(messages) == len(record) == len(fallback), messages
    for rule_id in fallback:
        assert sum(rule_id in m for m in messages) == 1, (rule_id, messages)
    problems = mismatches(out, expected, rows, "fallback")
    for name, build in REPRESENTATIONS.items():
        for style in range(3):
            with warnings.catch_warnings(record=True) as later:
                warnings.simplefilter("always")
                out = evaluate_frame(build(rows, pd.RangeIndex(len(rows)), style), **options)
            assert all(issubclass(w.category, FallbackWarning) for w in later), later
            problems += mismatches(out, expected, rows, f"fallback {name} style {style}")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def fallback_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Catalog, list[str]]:
    return platform_catalog(tmp_path_factory.mktemp("platform"))


@settings(max_examples=10)
@given(rows=batches, data=st.data())
def test_fallback_rules_agree_on_generated_campaigns(
    fallback_catalog: tuple[Catalog, list[str]], rows: list[Row], data: Any
) -> None:
    catalog, fallback = fallback_catalog
    name = data.draw(st.sampled_from(sorted(REPRESENTATIONS)), label="representation")
    frame = REPRESENTATIONS[name](rows, data.draw(indexes(len(rows))), 0)
    for stage in STAGES:
        options = {"stage": stage, "ruleset": catalog, "blacklist": BLACKLIST, "model": None}
        expected = [single(row, **options) for row in rows]
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            out = evaluate_frame(frame, **options)
        for warning in record:  # the first run warns, once per rule; nothing else may be warned
            assert issubclass(warning.category, FallbackWarning), warning
            assert sum(rule_id in str(warning.message) for rule_id in fallback) == 1
        problems = mismatches(out, expected, rows, f"{name} {stage}")
        assert not problems, "\n".join(problems[:3])


# -- 5. conditions the shipped rules do not use, compiled for columns --------------------------------------

VECTOR_RULES = [  # (condition, requires): each must be compiled for columns (checked) and agree with evaluate()
    ('created_at >= d"2024-09-05 00:00:00+08:00"', []),  # a time against a constant
    ('d"2024-09-05 00:00:00+08:00" > payout.requested_at', ["payout"]),  # the constant on the left
    ("params.margin < raised_amount", []),
    ("raised_amount > 49999.995", []),  # a constant finer than the fen
    ("target_amount == 500000", []),
    ("activity.donation_count >= params.cut", ["activity.donation_count"]),
    ("(activity.donation_count ?? 0) > params.cut", []),
    ("payout.amount > raised_amount", ["payout"]),
    ("payout.requested_at > created_at", ["payout"]),
    ('"patient" == payout&.payee', []),
    ("not (payout&.payee in params.payees)", []),
    ('raised_amount >= target_amount ? payout&.payee == "hospital_account" : disclosure.house == true', []),
    ("$all([disclosure_answers[item] != false for item in params.items])", []),
    ('$any([disclosure_answers[item] == null for item in params.items if item != "car"])', []),
]

VECTOR_RULESET = """\
ruleset:
  id: test-vector-{tag}
  title: {{zh: 测试, en: Test}}
  family: test-vector-{tag}
  effective_from: 2018-10-19
  revision: 1
parameters:
  margin: {{type: money, value: 1000, title: {{zh: 差额, en: Margin}}, source: {{note: test}}}}
  cut: {{type: number, value: 2, title: {{zh: 界限, en: Cut}}, source: {{note: test}}}}
  payees:
    {{type: string_list, value: [patient, hospital_account], title: {{zh: 收款人, en: Payees}}, source: {{note: test}}}}
  items: {{type: disclosure_items, value: [house, car], title: {{zh: 事项, en: Items}}, source: {{note: test}}}}
rules:
"""


@pytest.fixture(scope="module")
def vector_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Catalog, list[str]]:
    tag = uuid.uuid4().hex[:8]
    path = tmp_path_factory.mktemp("vector") / f"vector-{tag}"
    path.mkdir()
    text = VECTOR_RULESET.format(tag=tag)
    ids = []
    for i, (condition, requires) in enumerate(VECTOR_RULES):
        ids.append(f"tv-{tag}.r{i}")
        text += (
            f"  - id: tv-{tag}.r{i}\n    title: {{zh: 规则, en: Rule}}\n    stages: [publish, payout]\n"
            f"    severity: low\n    requires: {json.dumps(requires)}\n    fails_when: {json.dumps(condition)}\n"
            "    effect: {outcome: review}\n"
            "    cites: [convention-2.0/request-cap]\n    message: {zh: 规则。, en: Rule.}\n"
        )
    (path / "ruleset.yaml").write_text(text, encoding="utf-8")
    return Catalog.default().with_rules(path), ids


def test_every_test_condition_is_compiled_for_columns(vector_catalog: tuple[Catalog, list[str]]) -> None:
    catalog, ids = vector_catalog
    (ruleset,) = [r for r in catalog if r.id.startswith("test-vector-")]
    for stage in STAGES:
        untranslated = {r.id: c for r in ruleset.rules if isinstance(c := columns.form(r, stage), str)}
        assert untranslated == {}, untranslated
    assert [r.id for r in ruleset.rules] == ids


@settings(max_examples=25)
@given(rows=batches, data=st.data())
def test_conditions_beyond_the_shipped_rules_agree(
    vector_catalog: tuple[Catalog, list[str]], rows: list[Row], data: Any
) -> None:
    catalog, _ = vector_catalog
    (ruleset,) = [r for r in catalog if r.id.startswith("test-vector-")]
    name = data.draw(st.sampled_from(sorted(REPRESENTATIONS)), label="representation")
    frame = REPRESENTATIONS[name](rows, data.draw(indexes(len(rows))), data.draw(st.integers(0, 11), label="style"))
    for stage in STAGES:
        options = {"stage": stage, "ruleset": catalog, "blacklist": BLACKLIST, "model": None}
        expected = [single(row, **options) for row in rows]
        with warnings.catch_warnings():
            warnings.simplefilter("error", FallbackWarning)  # every condition here runs as columns
            out = evaluate_frame(frame, **options)
        problems = mismatches(out, expected, rows, f"{name} {stage}")
        assert not problems, "\n".join(problems[:3])
        for row, reference in zip(rows, expected, strict=True):  # and the reference is rule-engine's own
            if not isinstance(reference, Decision):
                continue
            campaign = Campaign.parse(unflatten(given_values(row)))
            facts = Facts(
                campaign,
                stage,
                UNCHECKED,
                campaign.disclosure.__dict__,
            )
            for rule in ruleset.rules:
                if rule.id in reference.rule_results:
                    assert reference.rule_results[rule.id] == rule.reference_status(facts), rule.id


# -- a missing value read by the schema -------------------------------------------------------------------

BASE = {"campaign_id": "c1", "platform": "水滴筹", "created_at": "2025-03-01 09:00", "target_amount": "1000.00"}
PAID = {"payout.amount": "10.00", "payout.payee": "patient", "payout.requested_at": "2025-03-05 09:00"}


@pytest.mark.parametrize(
    ("missing", "given"),
    [
        ("raised_amount", BASE),  # not given: 0.00
        ("medical.document_hashes", BASE),  # not given: ()
        ("other_platform_campaign_ids", BASE),
        ("payout.batched", BASE | PAID),  # not given: false
    ],
)
def test_a_missing_cell_is_not_given_whichever_way_its_row_is_read(missing: str, given: Row) -> None:
    """Row 0 is read column by column; row 1 differs only by a cell the column check leaves to the schema
    ("yes" for a boolean, which the schema reads as true), so the schema reads that whole row. Both are the
    campaign without ``missing``, and both must get the decision evaluate() gives for it."""
    frame = pd.DataFrame(
        [given | {missing: np.nan}, given | {missing: np.nan, "disclosure.house": "yes"}], dtype=object
    )
    campaigns = [unflatten(given), unflatten(given | {"disclosure.house": "yes"})]
    options = {"stage": "payout", "blacklist": BLACKLIST, "model": None}
    expected = [summary(compliance.evaluate(c, **options)) for c in campaigns]
    out = evaluate_frame(frame, **options)
    got = [{name: _plain(out[name].iat[i]) for name in OUTPUT_COLUMNS} for i in range(2)]
    assert got == expected
    for label in (0, 1):
        assert decision_for(frame, label, **options) == compliance.evaluate(campaigns[label], **options)


# -- identity hashes and allowed values, in every text dtype ------------------------------------------------

NOT_HASHES = [
    ROW_HASHES[0][:-1],  # 63 hex digits
    ROW_HASHES[0] + "a",  # 65
    ROW_HASHES[0].upper(),
    ROW_HASHES[0][:-1] + "g",
    ROW_HASHES[0][:-1] + "\n",
    ROW_HASHES[0][:-1] + "é",
    "",
]


@pytest.mark.parametrize("dtype", [object, "str", "string"])
def test_only_64_lowercase_hex_digits_are_read_as_a_hash(dtype: Any) -> None:
    """Each malformed hash sends its row to review naming the field (never the value); a good one is
    looked up in the blacklist, whatever the column's text dtype."""
    listed = sorted(LISTED_HASHES)[0]
    hashes = [listed, ROW_HASHES[1], *NOT_HASHES]
    frame = pd.DataFrame([BASE] * len(hashes), dtype=object)
    frame["initiator.id_number_hash"] = pd.Series(hashes, dtype=dtype)
    out = evaluate_frame(frame, stage="publish", blacklist=BLACKLIST, model=None)
    options = {"stage": "publish", "blacklist": BLACKLIST, "model": None}
    expected = [single(BASE | {"initiator.id_number_hash": h}, **options) for h in hashes]
    assert isinstance(expected[0], Decision)
    assert "cv2.blacklist.initiator" in out["failed_rules"].iat[0].split(";")  # the listed hash is found
    for i, reference in enumerate(expected[2:], start=2):
        assert isinstance(reference, CampaignError), hashes[i]
        assert out["outcome"].iat[i] == "review" and "initiator.id_number_hash" in out["error"].iat[i]
        assert not hashes[i] or hashes[i][:12] not in out["error"].iat[i]
    problems = mismatches(out, expected, [BASE | {"initiator.id_number_hash": h} for h in hashes], str(dtype))
    assert not problems, "\n".join(problems[:3])


@pytest.mark.parametrize("dtype", [object, "str", "string", "category"])
def test_allowed_values_are_compared_as_given_in_every_text_dtype(dtype: Any) -> None:
    """Payees (dictionary-encoded columns) in each text dtype, with a spelling that is not allowed, a
    numpy string and a missing payee: every row as evaluate() decides it."""
    payees: list[Any] = ["patient", "hospital_account", "close_relative", "other", "Patient", None, "patient"]
    if dtype is object:
        payees[-1] = np.str_("patient")  # read by the schema, then compared like the others
    rows = [BASE | PAID | {"raised_amount": "400000.00", "payout.payee": p} for p in payees]
    frame = pd.DataFrame(rows, dtype=object)
    frame["payout.payee"] = pd.Series(payees, dtype=dtype)
    out = evaluate_frame(frame, stage="payout", blacklist=BLACKLIST, model=None)
    plain = [row | {"payout.payee": None if p is None else str(p)} for row, p in zip(rows, payees, strict=True)]
    expected = [single(row, stage="payout", blacklist=BLACKLIST, model=None) for row in plain]
    problems = mismatches(out, expected, plain, str(dtype))
    assert not problems, "\n".join(problems[:3])
    assert out["outcome"].iat[4] == "review" and "payout.payee" in out["error"].iat[4]
