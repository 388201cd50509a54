"""Compile a rule-engine condition once into operations over whole columns.

The batch path (:func:`compliance.evaluate_frame`) evaluates each rule over every row of a table at
once. Each AST node becomes numpy operations on typed columns (money as integer fen, times as integer
microseconds), mirroring rule-engine's semantics row by row, exactly as the closures of ``_compile``
do for one campaign:

- every value carries a ``null`` mask and an ``err`` mask: the rows where rule-engine would have raised
  (an ordered comparison with null or of mismatched types, an attribute of a missing payout, a failed
  lookup). Those rows are *not evaluable* for the rule, and only those rows;
- ``==`` is false between different types and true between two nulls; ``and``/``or`` short-circuit, so
  an error on the right counts only on the rows where the right side is evaluated; ``??`` takes the right
  side only where the left is null;
- numbers are compared exactly: a column of fen against a threshold in yuan is an integer comparison
  with the threshold's exact ceiling or floor, never a float one.

A node this compiler does not translate raises :class:`~compliance.rules._compile.Unsupported`; the
batch path then evaluates that rule row by row with the single-campaign code, never an approximation.
``tests/test_batch_agrees.py`` checks the two paths agree on generated campaigns.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import numpy as np
from rule_engine import ast

from compliance.campaign import DISCLOSURE_ITEMS, epoch_micros
from compliance.rules._compile import (
    ALLOWED_BUILTINS,
    Unsupported,
    _children,
    _contains,
    _equal,
    _get_item,
    _iterable,
    _not_equal,
    _ordered,
)

__all__ = ["Columns", "Vec", "compile_vector", "truthy"]

_INT64_MAX = 2**63 - 1


class Columns(Protocol):
    """What a vector condition reads: ``get(path)`` gives a :class:`Vec` for a path such as
    ``payout.amount``, ``payout`` (an object: present or null), ``blacklist.initiator`` or ``risk.band``."""

    n: int

    def get(self, path: str) -> Vec: ...


@dataclass(frozen=True, slots=True)
class Vec:
    """A value per row. ``kind``: bool, num (int64 scaled by 10**-scale), str, time (µs UTC), tuple, obj
    (a nested object: ``path`` names it), map (``disclosure_answers``). ``null`` and ``err`` are masks.
    Only a value read unchanged from a column keeps its ``codes``; any operation builds a Vec without."""

    kind: str
    values: Any
    null: np.ndarray
    err: np.ndarray | None = None
    scale: int = 0
    path: str | None = None
    codes: np.ndarray | None = None
    """For text read from a dictionary-encoded column: each row's index into ``spellings`` (-1: none)."""
    spellings: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Const:
    value: Any
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Items:
    """A comprehension or array literal: (condition or None, result) for each element, unrolled."""

    members: tuple[tuple[Const | Vec | None, Const | Vec], ...]


Node = Const | Vec | Items
Evaluator = Callable[[Columns], Node]


def compile_vector(expression: Any, params: Any, stage: str) -> Evaluator:
    """Compile an expression for one stage; the result maps :class:`Columns` to a node (call
    :func:`truthy` on it). Raises :class:`Unsupported` for nodes not translated."""
    _check(expression)
    return lambda columns: _Eval(columns, params, stage).run(expression, {})


def _check(expression: Any) -> None:
    """Refuse, at compile time, node types the evaluator does not know (so a rule falls back at once)."""
    known = {
        "ArrayExpression",
        "SymbolExpression",
        "GetAttributeExpression",
        "GetItemExpression",
        "ComparisonExpression",
        "ArithmeticComparisonExpression",
        "LogicExpression",
        "UnaryExpression",
        "CoalesceExpression",
        "ContainsExpression",
        "TernaryExpression",
        "FunctionCallExpression",
        "ComprehensionExpression",
    }
    name = type(expression).__name__
    if name not in known and not (isinstance(expression, ast.LiteralExpressionBase) and expression.is_reduced):
        raise Unsupported(name)
    if name == "ComparisonExpression" and expression.type not in ("eq", "ne"):
        raise Unsupported(expression.type)
    if name == "UnaryExpression" and expression.type != "not":
        raise Unsupported(expression.type)
    for child in _children(expression):
        _check(child)


def truthy(node: Node, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(truth, err) per row, by Python truthiness as rule-engine's ``and``/``or``/``not`` use it; ``err``
    is None where no row has an error."""
    if isinstance(node, Const):
        return np.full(n, bool(node.value)), None
    if isinstance(node, Items):
        raise Unsupported("truth of a list built per row")
    err = node.err
    kind, values, null = node.kind, node.values, node.null
    if kind == "bool":
        truth = values if null is _never(n) else values & ~null
    elif kind == "num":
        truth = (values != 0) & ~null
    elif kind in ("str", "tuple"):
        truth = np.fromiter((bool(v) for v in values), bool, n) & ~null
    else:  # objects, times and mappings are always true when present
        truth = ~null
    return truth, err


@functools.lru_cache(maxsize=8)
def _never(n: int) -> np.ndarray:
    """The mask of no row, shared (read-only) by every value that cannot be null."""
    mask = np.zeros(n, bool)
    mask.flags.writeable = False
    return mask


def _or(*masks: np.ndarray | None) -> np.ndarray | None:
    present = [m for m in masks if m is not None]
    if not present:
        return None
    out = present[0]
    for mask in present[1:]:
        out = out | mask
    return out


class _Eval:
    def __init__(self, columns: Columns, params: Any, stage: str) -> None:
        self.columns = columns
        self.n = columns.n
        self.params = params
        self.stage = stage

    def run(self, node: Any, env: dict[str, Any]) -> Node:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            return Const(node.evaluate(None))  # a reduced literal
        result: Node = method(node, env)
        return result

    # -- values ------------------------------------------------------------------------------------

    def _SymbolExpression(self, node: Any, env: dict[str, Any]) -> Node:
        name = node.name
        if node.scope is not None:
            if name not in ALLOWED_BUILTINS:
                raise Unsupported(f"${name}")
            return Const({"any": any, "all": all}[name])
        if name in env:
            return Const(env[name])
        if name == "params":
            return Const(self.params, path="params")
        if name == "stage":
            return Const(self.stage)
        if name == "disclosure_answers":
            return Vec("map", None, _never(self.n), path="disclosure")
        return self.columns.get(name)

    def _GetAttributeExpression(self, node: Any, env: dict[str, Any]) -> Node:
        obj = self.run(node.object, env)
        if isinstance(obj, Const):
            if obj.value is None:
                if node.safe:
                    return Const(None)
                raise Unsupported("attribute of a null constant")
            return Const(getattr(obj.value, node.name))
        if not isinstance(obj, Vec) or obj.kind != "obj":
            raise Unsupported("attribute of a value that is not an object")
        child = self.columns.get(f"{obj.path}.{node.name}")
        if not obj.null.any():
            return _with_err(child, obj.err)
        null = child.null | obj.null
        err = obj.err if node.safe else _or(obj.err, obj.null)
        return dataclasses.replace(child, null=null, err=_or(child.err, err))

    def _GetItemExpression(self, node: Any, env: dict[str, Any]) -> Node:
        container, item = self.run(node.container, env), self.run(node.item, env)
        if isinstance(container, Const) and isinstance(item, Const):
            return Const(_get_item(container.value, item.value, node.safe))
        if isinstance(container, Vec) and container.kind == "map" and isinstance(item, Const):
            key = item.value
            if isinstance(key, str) and key in DISCLOSURE_ITEMS:
                return self.columns.get(f"disclosure.{key}")
            if node.safe:
                return Const(None)
            return Vec("null", None, np.ones(self.n, bool), np.ones(self.n, bool))
        raise Unsupported("item lookup")

    def _ArrayExpression(self, node: Any, env: dict[str, Any]) -> Node:
        members = [self.run(m, env) for m in node.value]
        if all(isinstance(m, Const) for m in members):
            return Const(tuple(m.value for m in members))  # type: ignore[union-attr]
        if any(isinstance(m, Items) for m in members):
            raise Unsupported("nested lists")
        return Items(tuple((None, m) for m in members))  # type: ignore[misc]

    def _ComprehensionExpression(self, node: Any, env: dict[str, Any]) -> Node:
        iterable = self.run(node.iterable, env)
        if not isinstance(iterable, Const):
            raise Unsupported("comprehension over a value that is not a constant")
        members = []
        for value in _iterable(iterable.value):
            scope = {**env, node.variable: value}
            condition = None if node.condition is None else self.run(node.condition, scope)
            result = self.run(node.result, scope)
            if isinstance(condition, Items) or isinstance(result, Items):
                raise Unsupported("nested lists")
            members.append((condition, result))
        if all((c is None or isinstance(c, Const)) and isinstance(r, Const) for c, r in members):
            return Const(tuple(r.value for c, r in members if c is None or c.value))  # type: ignore[union-attr]
        return Items(tuple(members))

    def _FunctionCallExpression(self, node: Any, env: dict[str, Any]) -> Node:
        function = self.run(node.function, env)
        if not isinstance(function, Const) or function.value not in (any, all) or len(node.arguments) != 1:
            raise Unsupported("function call")
        argument = self.run(node.arguments[0], env)
        if isinstance(argument, Const):
            return Const(function.value(_iterable(argument.value)))
        if not isinstance(argument, Items):
            raise Unsupported("any/all over a column")
        n = self.n
        wanted_any = function.value is any
        result = np.zeros(n, bool) if wanted_any else np.ones(n, bool)
        err: np.ndarray | None = None
        for condition, member in argument.members:
            truth, member_err = truthy(member, n)
            if condition is None:  # every row includes the member
                err = _or(err, member_err)
                if wanted_any:
                    result |= truth
                else:
                    result &= truth
                continue
            included, cond_err = truthy(condition, n)
            err = _or(err, cond_err, None if member_err is None else included & member_err)
            if wanted_any:
                result |= included & truth
            else:
                result &= ~included | truth
        return Vec("bool", result, _never(n), err)

    # -- operators -----------------------------------------------------------------------------------

    def _ComparisonExpression(self, node: Any, env: dict[str, Any]) -> Node:
        left, right = self._pair(node, env)
        if isinstance(left, Const) and isinstance(right, Const):
            return Const((_equal if node.type == "eq" else _not_equal)(left.value, right.value))
        equal, err = _equal_vec(left, right, self.n)
        values = equal if node.type == "eq" else ~equal
        return Vec("bool", values, _never(self.n), err)

    def _ArithmeticComparisonExpression(self, node: Any, env: dict[str, Any]) -> Node:
        left, right = self._pair(node, env)
        op = node.type
        if isinstance(left, Const) and isinstance(right, Const):
            return Const(_ordered(getattr(operator, op), left.value, right.value))
        return _ordered_vec(op, left, right, self.n)

    def _pair(self, node: Any, env: dict[str, Any]) -> tuple[Vec | Const, Vec | Const]:
        left, right = self.run(node.left, env), self.run(node.right, env)
        if isinstance(left, Items) or isinstance(right, Items):
            raise Unsupported("comparison of lists")
        return left, right

    def _LogicExpression(self, node: Any, env: dict[str, Any]) -> Node:
        left, right = self.run(node.left, env), self.run(node.right, env)
        n = self.n
        truth_l, err_l = truthy(left, n)
        truth_r, err_r = truthy(right, n)
        if node.type == "and":  # the right side's errors count only where it is evaluated
            err = _or(err_l, None if err_r is None else truth_l & err_r)
            return Vec("bool", truth_l & truth_r, _never(n), err)
        if node.type == "or":
            err = _or(err_l, None if err_r is None else ~truth_l & err_r)
            return Vec("bool", truth_l | truth_r, _never(n), err)
        raise Unsupported(node.type)

    def _UnaryExpression(self, node: Any, env: dict[str, Any]) -> Node:
        operand = self.run(node.right, env)
        if isinstance(operand, Const):
            return Const(not operand.value)
        truth, err = truthy(operand, self.n)
        return Vec("bool", ~truth, _never(self.n), err)

    def _CoalesceExpression(self, node: Any, env: dict[str, Any]) -> Node:
        left, right = self.run(node.left, env), self.run(node.right, env)
        if isinstance(left, Const):
            return right if left.value is None else left
        if isinstance(left, Items) or isinstance(right, Items):
            raise Unsupported("coalesce of lists")
        right_vec = _as_vec(right, self.n, like=left)
        if right_vec.kind != left.kind and right_vec.kind != "null":
            raise Unsupported("coalesce of different types")
        if right_vec.kind == "null":
            return left
        scale = max(left.scale, right_vec.scale)
        values = np.where(left.null, _rescale(right_vec, scale), _rescale(left, scale))
        err = _or(left.err, None if right_vec.err is None else (left.null & right_vec.err))
        return Vec(left.kind, values, left.null & right_vec.null, err, scale)

    def _TernaryExpression(self, node: Any, env: dict[str, Any]) -> Node:
        condition = self.run(node.condition, env)
        if isinstance(condition, Const):
            return self.run(node.case_true if condition.value else node.case_false, env)
        yes, no = self.run(node.case_true, env), self.run(node.case_false, env)
        if isinstance(yes, Items) or isinstance(no, Items):
            raise Unsupported("ternary of lists")
        truth, err = truthy(condition, self.n)
        a, b = _as_vec(yes, self.n, like=no), _as_vec(no, self.n, like=yes)
        if a.kind != b.kind or a.kind in ("obj", "map"):
            raise Unsupported("ternary of different types")
        scale = max(a.scale, b.scale)
        values = np.where(truth, _rescale(a, scale), _rescale(b, scale))
        null = np.where(truth, a.null, b.null)
        errors = _or(err, None if a.err is None else truth & a.err, None if b.err is None else ~truth & b.err)
        return Vec(a.kind, values, null, errors, scale)

    def _ContainsExpression(self, node: Any, env: dict[str, Any]) -> Node:
        container, member = self.run(node.container, env), self.run(node.member, env)
        n = self.n
        if isinstance(container, Const) and isinstance(member, Const):
            return Const(_contains(container.value, member.value))
        if isinstance(container, Const) and isinstance(member, Vec) and isinstance(container.value, tuple):
            options = container.value
            if member.kind == "str" and all(isinstance(o, str) or o is None for o in options):
                found = _text_in(member, [o for o in options if isinstance(o, str)])
                if None in options:
                    found |= member.null
                return Vec("bool", found, _never(n), member.err)
            if member.kind == "num" and all(isinstance(o, Decimal) for o in options):
                found = np.zeros(n, bool)
                for option in options:
                    found |= _compare_const(member, option, "eq") & ~member.null
                return Vec("bool", found, _never(n), member.err)
        raise Unsupported("membership test")


# -- comparisons ------------------------------------------------------------------------------------


def _text_in(text: Vec, options: list[str]) -> np.ndarray:
    """Rows whose text is one of ``options`` (False where null): integer comparisons on a dictionary-
    encoded column, else elementwise on the Python strings."""
    found = np.zeros(len(text.null), bool)
    for option in dict.fromkeys(options):
        if text.codes is not None and text.spellings is not None:
            code = text.spellings.get(option)
            if code is not None:
                found |= text.codes == code
        else:
            found |= text.values == option  # null rows hold None
    found &= ~text.null
    return found


def _with_err(node: Vec, err: np.ndarray | None) -> Vec:
    if err is None:
        return node
    return dataclasses.replace(node, err=_or(node.err, err))


def _const_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Decimal):
        return "num"
    if isinstance(value, str):
        return "str"
    if isinstance(value, datetime):
        return "time"
    raise Unsupported(f"a constant of type {type(value).__name__}")


def _as_vec(node: Vec | Const, n: int, like: Any = None) -> Vec:
    if isinstance(node, Vec):
        return node
    value = node.value
    kind = _const_kind(value)
    if kind == "null":
        return Vec("null", None, np.ones(n, bool))
    if kind == "num":
        scale = max(0, -int(value.as_tuple().exponent))
        if isinstance(like, Vec) and like.kind == "num":
            scale = max(scale, like.scale)
        scaled = int(value.scaleb(scale))
        if abs(scaled) > _INT64_MAX:
            raise Unsupported("a number too large for a column")
        return Vec("num", np.full(n, scaled, np.int64), _never(n), scale=scale)
    if kind == "time":
        return Vec("time", np.full(n, epoch_micros(value), np.int64), _never(n))
    if kind == "bool":
        return Vec("bool", np.full(n, value), _never(n))
    out = np.empty(n, dtype=object)
    out[:] = value
    return Vec("str", out, _never(n))


def _rescale(node: Vec, scale: int) -> Any:
    if node.kind == "num" and node.scale != scale:
        return node.values * (10 ** (scale - node.scale))
    return node.values


def _compare_const(node: Vec, value: Decimal, op: str) -> np.ndarray:
    """``node op value`` for a number column and an exact constant, in integers (no rounding)."""
    scaled = value.scaleb(node.scale)
    low, high = math.floor(scaled), math.ceil(scaled)
    values = node.values
    if op == "eq":
        return values == low if low == high and abs(low) <= _INT64_MAX else np.zeros(len(values), bool)
    bound = {"ge": high, "gt": low, "le": low, "lt": high}[op]
    if bound > _INT64_MAX:
        return np.full(len(values), op in ("le", "lt"))
    if bound < -_INT64_MAX:
        return np.full(len(values), op in ("ge", "gt"))
    result: np.ndarray = {"ge": values >= bound, "gt": values > bound, "le": values <= bound, "lt": values < bound}[op]
    return result


def _compare_nums(left: Vec, right: Vec, op: str) -> np.ndarray:
    """Two number columns at different scales, compared exactly (the finer one floored or ceiled)."""
    if left.scale == right.scale:
        a, b = left.values, right.values
        return {"eq": a == b, "ge": a >= b, "gt": a > b, "le": a <= b, "lt": a < b}[op]  # type: ignore[no-any-return]
    if left.scale > right.scale:
        flipped = {"eq": "eq", "ge": "le", "gt": "lt", "le": "ge", "lt": "gt"}[op]
        return _compare_nums(right, left, flipped)
    k = 10 ** (right.scale - left.scale)  # left * k  op  right
    a, b = left.values, right.values
    floor, ceil = b // k, -((-b) // k)
    if op == "eq":
        return (b % k == 0) & (a == floor)  # type: ignore[no-any-return]
    return {"ge": a >= ceil, "gt": a > floor, "le": a <= floor, "lt": a < ceil}[op]  # type: ignore[no-any-return]


def _same_kind_equal(left: Vec, right: Vec, n: int) -> np.ndarray:
    if left.kind == "num":
        return _compare_nums(left, right, "eq")
    if left.kind in ("bool", "time"):
        return left.values == right.values  # type: ignore[no-any-return]
    if left.kind == "str":
        return np.fromiter((a == b for a, b in zip(left.values, right.values, strict=True)), bool, n)
    raise Unsupported(f"equality of {left.kind} values")


def _equal_vec(left: Vec | Const, right: Vec | Const, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(right, Vec) and isinstance(left, Const):
        left, right = right, left
    assert isinstance(left, Vec)
    err = _or(left.err, right.err if isinstance(right, Vec) else None)
    if isinstance(right, Const):
        value = right.value
        kind = _const_kind(value)
        if kind == "null":
            return left.null.copy(), err
        if kind != left.kind:
            return np.zeros(n, bool), err
        if kind == "num":
            return _compare_const(left, value, "eq") & ~left.null, err
        if kind == "str":
            return _text_in(left, [value]), err
        if kind == "bool":
            return (left.values == value) & ~left.null, err
        return (left.values == epoch_micros(value)) & ~left.null, err
    both_null = left.null & right.null
    if left.kind != right.kind:
        return both_null, err
    present = ~left.null & ~right.null
    return both_null | (present & _same_kind_equal(left, right, n)), err


def _ordered_vec(op: str, left: Vec | Const, right: Vec | Const, n: int) -> Vec:
    a, b = _as_vec(left, n, like=right), _as_vec(right, n, like=left)
    err = _or(a.err, b.err)
    both_null = a.null & b.null
    one_null = a.null ^ b.null
    result = both_null & (op in ("ge", "le"))
    if a.kind == "null" or b.kind == "null":
        mismatch = np.zeros(n, bool)
    elif a.kind != b.kind:
        mismatch = ~a.null & ~b.null
    else:
        mismatch = np.zeros(n, bool)
        present = ~a.null & ~b.null
        if a.kind == "num":
            if isinstance(right, Const):
                compared = _compare_const(a, right.value, op)
            elif isinstance(left, Const):
                flipped = {"ge": "le", "gt": "lt", "le": "ge", "lt": "gt"}[op]
                compared = _compare_const(b, left.value, flipped)
            else:
                compared = _compare_nums(a, b, op)
        elif a.kind == "time":
            x, y = a.values, b.values
            compared = {"ge": x >= y, "gt": x > y, "le": x <= y, "lt": x < y}[op]
        elif a.kind == "str":
            fn = getattr(operator, op)
            compared = np.fromiter(
                (bool(fn(x, y)) if p else False for x, y, p in zip(a.values, b.values, present, strict=True)), bool, n
            )
        else:
            raise Unsupported(f"ordering of {a.kind} values")
        result = result | (present & compared)
    return Vec("bool", result, _never(n), _or(err, one_null, mismatch))
