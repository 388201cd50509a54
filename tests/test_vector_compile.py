"""The column compiler (``compliance.rules._columns``) gives rule-engine's own result on every row.

The rule files are type-checked, so a shipped or platform rule never compares a nullable value by order;
the compiler still mirrors rule-engine there (an ordered comparison with a null raises: that row is not
evaluable). These expressions are compiled without a typed context, over a hand-built table with nulls,
and each row's (truth, error) is compared with ``rule_engine.Rule.evaluate`` on that row's values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import rule_engine
from hypothesis import given
from hypothesis import strategies as st

from compliance.campaign import epoch_micros
from compliance.rules._columns import Vec, compile_vector, truthy

CUT = "d'2024-09-05T00:00:00+08:00'"
EXPRESSIONS = [
    "x >= 3",
    "3 <= x",
    "x > 2.505",  # finer than the column's fen
    "2.505 > x",
    "x < -1",
    "x == 3",
    "3 == x",
    "x != null",
    "x >= null",
    "null <= x",
    "(x ?? 0) > 1",
    f"t > {CUT}",
    f"{CUT} >= t",
    f"t == {CUT}",
    f"x > 1 and t < {CUT}",
    "x > 1 or x < 0",
    "not x >= 3",
    f"x >= 3 ? t > {CUT} : x < 1",
]
START = datetime(2024, 9, 4, 16, 0, tzinfo=UTC)

money = st.none() | st.decimals(min_value=-5, max_value=10, places=2)
times = st.none() | st.integers(-2, 2).map(lambda s: START + timedelta(seconds=s))


class Table:
    def __init__(self, xs: list[Decimal | None], ts: list[datetime | None]) -> None:
        self.n = len(xs)
        self.x = Vec(
            "num",
            np.array([0 if v is None else int(v.scaleb(2)) for v in xs], np.int64),
            np.array([v is None for v in xs]),
            scale=2,
        )
        self.t = Vec(
            "time",
            np.array([0 if v is None else epoch_micros(v) for v in ts], np.int64),
            np.array([v is None for v in ts]),
        )

    def get(self, path: str) -> Vec:
        vec: Vec = getattr(self, path)
        return vec


def reference(rule: rule_engine.Rule, x: Any, t: Any) -> tuple[bool, bool]:
    """(truth, error) by rule-engine for one row."""
    try:
        return bool(rule.evaluate({"x": x, "t": t})), False
    except rule_engine.errors.EvaluationError:
        return False, True


@given(rows=st.lists(st.tuples(money, times), min_size=1, max_size=30))
def test_each_row_is_rule_engines_result(rows: list[tuple[Any, Any]]) -> None:
    xs, ts = [x for x, _ in rows], [t for _, t in rows]
    table = Table(xs, ts)
    for text in EXPRESSIONS:
        rule = rule_engine.Rule(text)
        truth, err = truthy(compile_vector(rule.statement.expression, None, "publish")(table), table.n)
        errors = np.zeros(table.n, bool) if err is None else err
        for i, (x, t) in enumerate(rows):
            want_truth, want_error = reference(rule, x, t)
            assert bool(errors[i]) == want_error, (text, x, t)
            if not want_error:
                assert bool(truth[i]) == want_truth, (text, x, t)
