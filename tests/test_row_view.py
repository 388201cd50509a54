"""A table row read through the row view (``batch/_rows``) gives, at every path a rule can read, the value
the row's :class:`~compliance.Campaign` gives, of the same type (a Decimal with the same exponent, a time in
the same zone at the same offset): a rule that runs row by row reads the same campaign either way.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance._flat import FLAT_COLUMNS
from compliance.batch._rows import campaign_row, disclosure_answers
from compliance.batch._table import build_table
from compliance.rules._parse import DataType
from compliance.rules._schema import Facts, campaign_types, resolve_symbol
from tests.test_batch_agrees import REPRESENTATIONS, Row, batches, indexes, relayout


def _rule_paths(types: Any, prefix: str = "") -> list[tuple[str, bool]]:
    """Every path of the typed view rules read, and whether it names an object."""
    paths = []
    for name, datatype in types.items():
        inner = DataType.NULLABLE.unwrap(datatype)
        is_object = DataType.is_type(inner, DataType.OBJECT)
        paths.append((prefix + name, is_object))
        if is_object:
            paths += _rule_paths(inner.attributes, f"{prefix}{name}.")
    return paths


RULE_PATHS = _rule_paths(campaign_types())


def _at(thing: Any, path: str) -> Any:
    for part in path.split("."):
        if thing is None:
            return None
        thing = getattr(thing, part)
    return thing


def _same(left: Any, right: Any) -> bool:
    """Equal, of the same type, and indistinguishable to any rule: a Decimal's exponent, a time's zone and its
    offset from UTC (which tells the two occurrences of a repeated hour apart; ``fold`` alone, on a time that
    is not repeated, changes nothing a rule can read)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, Decimal):
        return left.as_tuple() == right.as_tuple()
    if isinstance(left, datetime):
        return (left, left.tzinfo, left.utcoffset()) == (right, right.tzinfo, right.utcoffset())
    if isinstance(left, tuple):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


@settings(max_examples=40, deadline=None)
@given(rows=batches, data=st.data())
def test_the_row_view_reads_what_the_rows_campaign_holds_at_every_path(rows: list[Row], data: Any) -> None:
    name = data.draw(st.sampled_from(sorted(REPRESENTATIONS)), label="representation")
    style = data.draw(st.integers(0, 11), label="style")
    index = data.draw(indexes(len(rows)))
    layout = data.draw(st.sampled_from(["all", "given only"]), label="layout")
    frame = relayout(REPRESENTATIONS[name](rows, index, style), rows, layout, [])
    table = build_table(frame)
    for i in np.flatnonzero(table.ok):
        campaign, row = table.campaign(int(i)), campaign_row(table, int(i))
        for path, is_object in RULE_PATHS:
            expected, found = _at(campaign, path), _at(row, path)
            if is_object:
                assert (expected is None) == (found is None), (name, i, path)
            else:
                assert _same(expected, found), (name, i, path, expected, found)
        for path in FLAT_COLUMNS:  # the keyed hashes too, which rules do not read
            assert _same(_at(campaign, path), _at(row, path)), (name, i, path)
        assert list(disclosure_answers(row).items()) == list(campaign.disclosure.__dict__.items())
        facts = Facts(campaign, "publish", None, {})
        for symbol in campaign_types():  # as rule-engine resolves a symbol
            assert (resolve_symbol(facts, symbol) is None) == (getattr(row, symbol) is None), symbol


@settings(max_examples=20, deadline=None)
@given(rows=batches, data=st.data())
def test_row_objects_are_equal_exactly_when_the_campaigns_objects_are(rows: list[Row], data: Any) -> None:
    frame = REPRESENTATIONS["flattened"](rows, data.draw(indexes(len(rows))), 0)
    table = build_table(frame)
    read = [int(i) for i in np.flatnonzero(table.ok)]
    objects = [path for path, is_object in RULE_PATHS if is_object]
    for i in read:
        for j in read:
            for path in objects:
                left, right = _at(table.campaign(i), path), _at(table.campaign(j), path)
                found_left, found_right = _at(campaign_row(table, i), path), _at(campaign_row(table, j), path)
                assert (left == right) == (found_left == found_right), (i, j, path)
                if found_left is not None and found_left == found_right:
                    assert hash(found_left) == hash(found_right)
    if read:
        row = campaign_row(table, read[0])
        assert row.initiator != row.patient  # different kinds of object, as Initiator and Patient are
        assert row != table.campaign(read[0])  # a view is not a Campaign, as a Campaign is not a dict
