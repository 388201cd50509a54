"""A validated table holds, for every row, exactly the values :func:`compliance.evaluate` reads from it.

Cells the column checks vouch for are converted a column at a time; a row with a cell they cannot vouch for
(a numpy scalar, a ``pd.Timestamp`` in an object column, ``"yes"`` for a boolean) is read by the schema, and
what it read is stored at those cells. Either way, each row's stored values, at every column, must be the
values of the Campaign the schema reads from the row's cells, of the same type (a Decimal with the same
exponent, a time in the same zone at the same offset), and a row the schema refuses is marked unread.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance import Campaign, CampaignError
from compliance._flat import FLAT_COLUMNS, flatten, unflatten
from compliance.batch._table import build_table
from tests.test_batch_agrees import REPRESENTATIONS, Row, batches, given_values, indexes, relayout
from tests.test_row_view import _same


def _campaign(row: Row) -> Campaign | None:
    try:
        return Campaign.parse(unflatten(given_values(row)))
    except CampaignError:
        return None


@settings(max_examples=40, deadline=None)
@given(rows=batches, data=st.data())
def test_every_row_holds_the_values_of_the_campaign_the_schema_reads(rows: list[Row], data: Any) -> None:
    name = data.draw(st.sampled_from(sorted(REPRESENTATIONS)), label="representation")
    style = data.draw(st.integers(0, 11), label="style")
    layout = data.draw(st.sampled_from(["all", "given only"]), label="layout")
    frame = relayout(REPRESENTATIONS[name](rows, pd.RangeIndex(len(rows)), style), rows, layout, [])
    table = build_table(frame)
    for i, row in enumerate(rows):
        expected = _campaign(row)
        assert (expected is None) == (table.error[i] is not None), (name, i, table.error[i])
        if expected is None:
            continue
        held, wanted = table.row(i), flatten(expected)
        for path in FLAT_COLUMNS:
            assert _same(held[path], wanted[path]), (name, style, i, path, held[path], wanted[path])
        assert bool(table.payout[i]) == (expected.payout is not None)


@settings(max_examples=25, deadline=None)
@given(rows=batches, data=st.data())
def test_a_row_the_schema_reads_keeps_the_cells_the_columns_read(rows: list[Row], data: Any) -> None:
    """Booleans as ``"yes"``/``"no"`` (which only the schema reads) make every row the schema's to read."""
    index = data.draw(indexes(len(rows), unique=True))
    frame = REPRESENTATIONS["flattened"](rows, index, 0)
    words = frame["disclosure.house"].map({True: "yes", False: "no"})
    frame["disclosure.house"] = words.astype(object).where(words.notna(), None)
    table = build_table(frame)
    for i, row in enumerate(rows):
        expected = _campaign(row)
        assert (expected is None) == (table.error[i] is not None), (i, table.error[i])
        if expected is not None:
            held, wanted = table.row(i), flatten(expected)
            assert all(_same(held[path], wanted[path]) for path in FLAT_COLUMNS), i


@settings(max_examples=40, deadline=None)
@given(rows=batches, data=st.data())
def test_a_row_the_schema_refuses_carries_the_schemas_own_error(rows: list[Row], data: Any) -> None:
    name = data.draw(st.sampled_from(sorted(REPRESENTATIONS)), label="representation")
    frame = REPRESENTATIONS[name](rows, pd.RangeIndex(len(rows)), data.draw(st.integers(0, 11), label="style"))
    table = build_table(frame)
    for i, row in enumerate(rows):
        try:
            Campaign.parse(unflatten(given_values(row)), row=i)
        except CampaignError as problem:
            assert table.error[i] == problem.one_line(), (name, i)
        else:
            assert table.error[i] is None, (name, i)
