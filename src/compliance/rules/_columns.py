"""The evaluator for columns: each condition compiled once into operations over whole columns.

The batch path (:func:`compliance.evaluate_frame`) evaluates each rule over every row of a table at
once. Each AST node becomes numpy operations on typed columns (money as integer fen, times as integer
microseconds), mirroring rule-engine's semantics row by row, exactly as the closures of ``_closures``
do for one campaign:

- every value carries a ``null`` mask and an ``err`` mask: the rows where rule-engine would have raised
  (an ordered comparison with null or of mismatched types, an attribute of a missing payout, a failed
  lookup). Those rows are *not evaluable* for the rule, and only those rows;
- ``==`` is false between different types and true between two nulls; ``and``/``or`` short-circuit, so
  an error on the right counts only on the rows where the right side is evaluated; ``??`` takes the right
  side only where the left is null;
- numbers are compared exactly: a column of fen against a threshold in yuan is an integer comparison
  with the threshold's exact ceiling or floor, never a float one.

A node this compiler does not translate raises :class:`~compliance.rules._closures.Unsupported`; the
batch path then evaluates that rule row by row with the single-campaign code, never an approximation.
``tests/test_batch_agrees.py`` checks the two paths agree on generated campaigns.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from compliance.campaign import DISCLOSURE_ITEMS, SHANGHAI, epoch_micros, from_epoch_micros
from compliance.errors import FallbackWarning
from compliance.rules import _closures as closures
from compliance.rules._parse import (
    ConditionLimit,
    children,
    is_value_attribute,
    nodes,
    regex_matcher,
    value_attribute,
)
from compliance.rules._schema import Facts
from compliance.rules._semantics import (
    STATUS_CODES,
    Unsupported,
    builtin,
    column_statuses,
    contains,
    equal,
    get_item,
    iterable,
    not_equal,
    ordered_with_nan,
    unrolled,
)

if TYPE_CHECKING:
    from compliance.rules._rule import Rule

__all__ = ["Columns", "Vec", "compile_vector", "form", "mask_union", "status", "truthy"]

_INT64_MAX = 2**63 - 1


class Columns(Protocol):
    """What a vector condition reads: ``get(path)`` gives a :class:`Vec` for a path such as
    ``payout.amount``, ``payout`` (an object: present or null), ``blacklist.initiator`` or ``risk.band``;
    ``facts(i)`` gives row ``i``'s facts, for a rule that runs row by row."""

    n: int

    def get(self, path: str) -> Vec: ...

    def facts(self, i: int) -> Facts: ...


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
Compiled = Const | Evaluator
"""What compiling a node gives: a constant, folded once, or a function of the columns."""


def compile_vector(expression: Any, params: Any, stage: str) -> Evaluator:
    """Compile an expression for one stage; the result maps :class:`Columns` to a node (call
    :func:`truthy` on it). Raises :class:`Unsupported` for nodes not translated.

    The AST is walked once, here: parameters, the stage and every subexpression that reads no column are
    folded into constants, and comprehensions over constants are unrolled, so a call runs only the numpy
    operations left, through a tree of closures (as ``_closures`` does for one campaign)."""
    _check(expression)
    compiled = _ColumnCompiler(params, stage).compile(expression, {})
    if isinstance(compiled, Const):
        return lambda columns: compiled
    return compiled


def _check(expression: Any) -> None:
    """Refuse, at compile time, node types the evaluator does not know (so a rule falls back at once)."""
    known = {*_KERNELS, "ArrayExpression", "SymbolExpression", "TernaryExpression", "ComprehensionExpression"}
    name = type(expression).__name__
    if name not in known and not (isinstance(expression, nodes.LiteralExpressionBase) and expression.is_reduced):
        raise Unsupported(name)
    if name == "ComparisonExpression" and expression.type not in ("eq", "ne"):
        raise Unsupported(expression.type)
    if name == "UnaryExpression" and expression.type != "not":
        raise Unsupported(expression.type)
    for child in children(expression):
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


def mask_union(*masks: np.ndarray | None) -> np.ndarray | None:
    """The rows set in any of ``masks`` (None stands for no row set); None when every mask is None."""
    present = [m for m in masks if m is not None]
    if not present:
        return None
    out = present[0]
    for mask in present[1:]:
        out = out | mask
    return out


class _ColumnCompiler:
    """Compiles a node to a :class:`Const` (when it reads no column) or a function of the columns.

    Each ``_k<Node>`` kernel computes a node from its children's values, constants or column values alike;
    a node whose children are all constants is computed once, here, else its kernel runs at each call."""

    def __init__(self, params: Any, stage: str) -> None:
        self.params = params
        self.stage = stage
        self.unrolled = 0

    def compile(self, node: Any, env: dict[str, Any]) -> Compiled:
        name = type(node).__name__
        if name == "SymbolExpression":
            return self._symbol(node, env)
        if name == "ArrayExpression":
            return self._items([(None, self.compile(m, env)) for m in node.value])
        if name == "ComprehensionExpression":
            return self._comprehension(node, env)
        if name == "TernaryExpression":
            condition = self.compile(node.condition, env)
            if isinstance(condition, Const):  # only the branch taken is compiled, as it alone is evaluated
                return self.compile(node.case_true if condition.value else node.case_false, env)
            operands = [condition, self.compile(node.case_true, env), self.compile(node.case_false, env)]
            return _plan(functools.partial(_kTernary, node), operands)
        known = _KERNELS.get(name)
        if known is None:
            return Const(node.evaluate(None))  # a reduced literal
        kernel, names = known
        operands = [self.compile(getattr(node, child), env) for child in names]
        if name == "FunctionCallExpression":
            if len(node.arguments) != 1:
                raise Unsupported("function call")
            operands.append(self.compile(node.arguments[0], env))
        bound = functools.partial(kernel, node)
        if name in _FOLDABLE and all(isinstance(operand, Const) for operand in operands):
            return _fold(bound, operands)
        return _plan(bound, operands)

    def _symbol(self, node: Any, env: dict[str, Any]) -> Compiled:
        name = node.name
        if node.scope is not None:
            return Const(builtin(name))
        if name in env:
            return Const(env[name])
        if name == "params":
            return Const(self.params, path="params")
        if name == "stage":
            return Const(self.stage)
        if name == "disclosure_answers":
            return lambda columns: Vec("map", None, _never(columns.n), path="disclosure")
        return lambda columns: columns.get(name)

    def _comprehension(self, node: Any, env: dict[str, Any]) -> Compiled:
        source = self.compile(node.iterable, env)
        if not isinstance(source, Const):
            raise Unsupported("comprehension over a value that is not a constant")
        members = []
        values = _constant(lambda: iterable(source.value))
        try:
            self.unrolled = unrolled(self.unrolled, values)
        except ConditionLimit:  # the single-campaign compiler refused it at load already
            raise Unsupported("comprehensions unrolled past the limit") from None
        for value in values:
            scope = {**env, node.variable: value}
            condition = None if node.condition is None else self.compile(node.condition, scope)
            members.append((condition, self.compile(node.result, scope)))
        return self._items(members)

    @staticmethod
    def _items(members: list[tuple[Compiled | None, Compiled]]) -> Compiled:
        """A list unrolled: a constant tuple when every member is constant (with the members whose
        condition holds, for a comprehension), else :class:`Items` built at each call."""
        if all((c is None or isinstance(c, Const)) and isinstance(r, Const) for c, r in members):
            return Const(tuple(r.value for c, r in members if c is None or c.value))  # type: ignore[union-attr]

        def run(columns: Columns) -> Node:
            return Items(tuple((_at(c, columns), _at(r, columns)) for c, r in members))

        return run


def _at(compiled: Compiled | None, columns: Columns) -> Any:
    if compiled is None or isinstance(compiled, Const):
        return compiled
    return _flat(compiled(columns))


def _flat(node: Node | None) -> Node | None:
    if isinstance(node, Items):
        raise Unsupported("nested lists")
    return node


def _constant(compute: Callable[[], Any]) -> Any:
    """A constant computed at compile time. If it raises (a failed lookup in the parameters, say), the
    rule runs row by row, where the error makes exactly the rows that evaluate it not_evaluable."""
    try:
        return compute()
    except Unsupported:
        raise
    except Exception as error:
        raise Unsupported(f"a constant that cannot be evaluated ({type(error).__name__})") from error


def _fold(kernel: Callable[..., Node], children: list[Compiled]) -> Compiled:
    result = _constant(lambda: kernel(None, *children))
    assert isinstance(result, Const)
    return result


def _plan(kernel: Callable[..., Node], children: list[Compiled]) -> Evaluator:
    """The closure that evaluates a node's children (constants as they are) and then its kernel. It runs once
    per rule and chunk, not per row, so one general form serves every arity."""
    return lambda columns: kernel(columns, *(c if isinstance(c, Const) else c(columns) for c in children))


# -- kernels: a node's value from its children's -----------------------------------------------------------


def _kGetAttribute(node: Any, columns: Columns, obj: Node) -> Node:
    if is_value_attribute(node):  # ``.year``, ``.length``: of a constant only (a column's runs row by row)
        if isinstance(obj, Const):
            read = value_attribute(node)
            return Const(_constant(lambda: read(obj.value)))
        raise Unsupported(f"the value attribute .{node.name}")
    if isinstance(obj, Const):
        if obj.value is None:
            if node.safe:
                return Const(None)
            raise Unsupported("attribute of a null constant")
        return Const(getattr(obj.value, node.name))
    if not isinstance(obj, Vec) or obj.kind != "obj":
        raise Unsupported("attribute of a value that is not an object")
    child = columns.get(f"{obj.path}.{node.name}")
    if not obj.null.any():
        return _with_err(child, obj.err)
    err = obj.err if node.safe else mask_union(obj.err, obj.null)
    return dataclasses.replace(child, null=child.null | obj.null, err=mask_union(child.err, err))


def _kGetItem(node: Any, columns: Columns, container: Node, item: Node) -> Node:
    if isinstance(container, Const) and isinstance(item, Const):
        return Const(get_item(container.value, item.value, node.safe))
    if isinstance(container, Vec) and container.kind == "map" and isinstance(item, Const):
        key = item.value
        if isinstance(key, str) and key in DISCLOSURE_ITEMS:
            return columns.get(f"disclosure.{key}")
        if node.safe:
            return Const(None)
        n = columns.n
        return Vec("null", None, np.ones(n, bool), np.ones(n, bool))
    raise Unsupported("item lookup")


def _kFunctionCall(node: Any, columns: Columns, function: Node, argument: Node) -> Node:
    if not isinstance(function, Const) or function.value not in (any, all):
        raise Unsupported("function call")
    if isinstance(argument, Const):
        return Const(function.value(iterable(argument.value)))
    if not isinstance(argument, Items):
        raise Unsupported("any/all over a column")
    n = columns.n
    wanted_any = function.value is any
    result = np.zeros(n, bool) if wanted_any else np.ones(n, bool)
    err: np.ndarray | None = None
    for condition, member in argument.members:
        truth, member_err = truthy(member, n)
        if condition is None:  # every row includes the member
            err = mask_union(err, member_err)
            if wanted_any:
                result |= truth
            else:
                result &= truth
            continue
        included, cond_err = truthy(condition, n)
        err = mask_union(err, cond_err, None if member_err is None else included & member_err)
        if wanted_any:
            result |= included & truth
        else:
            result &= ~included | truth
    return Vec("bool", result, _never(n), err)


def _kComparison(node: Any, columns: Columns, left: Node, right: Node) -> Node:
    _no_lists(left, right, "comparison of lists")
    if isinstance(left, Const) and isinstance(right, Const):
        return Const((equal if node.type == "eq" else not_equal)(left.value, right.value))
    n = columns.n
    same, err = _equal_vec(left, right, n)  # type: ignore[arg-type]
    values = same if node.type == "eq" else ~same
    return Vec("bool", values, _never(n), err)


def _kArithmeticComparison(node: Any, columns: Columns, left: Node, right: Node) -> Node:
    _no_lists(left, right, "comparison of lists")
    op = node.type
    if isinstance(left, Const) and isinstance(right, Const):
        return Const(ordered_with_nan(getattr(operator, op), left.value, right.value))
    return _ordered_vec(op, left, right, columns.n)  # type: ignore[arg-type]


def _kLogic(node: Any, columns: Columns, left: Node, right: Node) -> Node:
    n = columns.n
    truth_l, err_l = truthy(left, n)
    truth_r, err_r = truthy(right, n)
    if node.type == "and":  # the right side's errors count only where it is evaluated
        err = mask_union(err_l, None if err_r is None else truth_l & err_r)
        return Vec("bool", truth_l & truth_r, _never(n), err)
    if node.type == "or":
        err = mask_union(err_l, None if err_r is None else ~truth_l & err_r)
        return Vec("bool", truth_l | truth_r, _never(n), err)
    raise Unsupported(node.type)


def _kUnary(node: Any, columns: Columns, operand: Node) -> Node:
    if isinstance(operand, Const):
        return Const(not operand.value)
    n = columns.n
    truth, err = truthy(operand, n)
    return Vec("bool", ~truth, _never(n), err)


def _kCoalesce(node: Any, columns: Columns, left: Node, right: Node) -> Node:
    if isinstance(left, Const):
        return right if left.value is None else left
    _no_lists(left, right, "coalesce of lists")
    n = columns.n
    right_vec = _as_vec(right, n, like=left)  # type: ignore[arg-type]
    assert isinstance(left, Vec)
    if right_vec.kind != left.kind and right_vec.kind != "null":
        raise Unsupported("coalesce of different types")
    if right_vec.kind == "null":  # null where the left is, and an error there where the right side raises
        return left if right_vec.err is None else _with_err(left, left.null & right_vec.err)
    scale = max(left.scale, right_vec.scale)
    values = np.where(left.null, _rescale(right_vec, scale), _rescale(left, scale))
    err = mask_union(left.err, None if right_vec.err is None else (left.null & right_vec.err))
    return Vec(left.kind, values, left.null & right_vec.null, err, scale)


def _kTernary(node: Any, columns: Columns, condition: Node, yes: Node, no: Node) -> Node:
    _no_lists(yes, no, "ternary of lists")
    n = columns.n
    truth, err = truthy(condition, n)
    a, b = _as_vec(yes, n, like=no), _as_vec(no, n, like=yes)  # type: ignore[arg-type]
    if a.kind != b.kind or a.kind in ("obj", "map"):
        raise Unsupported("ternary of different types")
    scale = max(a.scale, b.scale)
    values = np.where(truth, _rescale(a, scale), _rescale(b, scale))
    null = np.where(truth, a.null, b.null)
    errors = mask_union(err, None if a.err is None else truth & a.err, None if b.err is None else ~truth & b.err)
    return Vec(a.kind, values, null, errors, scale)


def _kContains(node: Any, columns: Columns, container: Node, member: Node) -> Node:
    if isinstance(container, Const) and isinstance(member, Const):
        return Const(contains(container.value, member.value))
    if isinstance(container, Const) and isinstance(member, Vec) and isinstance(container.value, tuple):
        n = columns.n
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


def _kRegex(node: Any, columns: Columns | None, left: Node) -> Node:
    """A regular-expression comparison (RE2, linear time): each distinct text of a dictionary-encoded
    column is matched once; null rows give rule-engine's answer (``=~`` false, ``!~`` true)."""
    match = regex_matcher(node)
    if isinstance(left, Const):
        return Const(match(left.value))
    assert columns is not None
    if not isinstance(left, Vec) or left.kind != "str":
        raise Unsupported("a regular expression on a value that is not text")
    n = columns.n
    if left.codes is not None and left.spellings is not None:
        truth = np.zeros(max(left.spellings.values(), default=-1) + 2, bool)  # the last: code -1, no spelling
        for spelling, code in left.spellings.items():
            truth[code] = match(spelling)
        values = truth[left.codes]
    else:
        values = np.fromiter((match(v) if isinstance(v, str) else False for v in left.values), bool, n)
    values = np.where(left.null, match(None), values)
    return Vec("bool", values, _never(n), left.err)


def _no_lists(left: Node, right: Node, what: str) -> None:
    if isinstance(left, Items) or isinstance(right, Items):
        raise Unsupported(what)


_KERNELS: dict[str, tuple[Callable[..., Node], tuple[str, ...]]] = {  # a node's kernel and its children
    "GetAttributeExpression": (_kGetAttribute, ("object",)),
    "GetItemExpression": (_kGetItem, ("container", "item")),
    "FunctionCallExpression": (_kFunctionCall, ("function",)),  # and its one argument
    "ComparisonExpression": (_kComparison, ("left", "right")),
    "ArithmeticComparisonExpression": (_kArithmeticComparison, ("left", "right")),
    "LogicExpression": (_kLogic, ("left", "right")),
    "UnaryExpression": (_kUnary, ("right",)),
    "CoalesceExpression": (_kCoalesce, ("left", "right")),
    "ContainsExpression": (_kContains, ("container", "member")),
    "Re2FuzzyComparisonExpression": (_kRegex, ("left",)),
}
_FOLDABLE = frozenset(_KERNELS) - {"LogicExpression"}
"""Nodes whose kernel gives a constant from constant children (``and``/``or`` give a column of truths)."""


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
    return dataclasses.replace(node, err=mask_union(node.err, err))


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
        if not value.is_finite():
            raise Unsupported("a number that is not finite, in a column")
        scale = max(0, -int(value.as_tuple().exponent))
        if isinstance(like, Vec) and like.kind == "num":
            scale = max(scale, like.scale)
        if value.adjusted() + scale >= 19:
            raise Unsupported("a number too large for a column")
        return Vec("num", np.full(n, int(_scaled(value, scale)), np.int64), _never(n), scale=scale)
    if kind == "time":
        if not _is_shanghai_time(value):  # compared with campaign times, it would be by instant, not wall clock
            raise Unsupported("a time constant that is not an Asia/Shanghai time, in a column")
        return Vec("time", np.full(n, epoch_micros(value), np.int64), _never(n))
    if kind == "bool":
        return Vec("bool", np.full(n, value), _never(n))
    out = np.empty(n, dtype=object)
    out[:] = value
    return Vec("str", out, _never(n))


def _rescale(node: Vec, scale: int) -> Any:
    """A number column's values at a finer ``scale``; :class:`Unsupported` where one would not fit in int64
    (a count of 10**17 as fen), so the rule runs row by row rather than wrap around."""
    if node.kind == "num" and node.scale != scale:
        factor = 10 ** (scale - node.scale)
        values = node.values
        limit = _INT64_MAX // factor
        if len(values) and (int(values.max()) > limit or int(values.min()) < -limit):
            raise Unsupported("numbers too large for a column at a finer scale")
        return values * factor
    return node.values


def _scaled(value: Decimal, scale: int) -> Decimal:
    """``value * 10**scale``, exactly: a change of exponent, in no decimal context (a literal may have more
    digits than any context's precision)."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    return Decimal((sign, digits, exponent + scale))


def _compare_const(node: Vec, value: Decimal, op: str) -> np.ndarray:
    """``node op value`` for a number column and an exact constant, in integers (no rounding). A NaN is
    equal to nothing (its ordered comparisons are errors: see :func:`_ordered_const`); an infinity, or a
    constant beyond int64 at the column's scale, is above or below every value."""
    values = node.values
    beyond = not value.is_finite() or value.adjusted() + node.scale >= 19  # no int64 at this scale reaches it
    if value.is_nan() or (beyond and op == "eq"):
        return np.zeros(len(values), bool)
    if beyond:
        above = not value.is_signed()  # the constant is above every value
        return np.full(len(values), op in ("le", "lt") if above else op in ("ge", "gt"))
    scaled = _scaled(value, node.scale)
    low, high = math.floor(scaled), math.ceil(scaled)
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
        return _compare_nums(right, left, _FLIPPED[op])
    k = 10 ** (right.scale - left.scale)  # left * k  op  right
    a, b = left.values, right.values
    floor, ceil = b // k, -((-b) // k)
    if op == "eq":
        return (b % k == 0) & (a == floor)  # type: ignore[no-any-return]
    return {"ge": a >= ceil, "gt": a > floor, "le": a <= floor, "lt": a < ceil}[op]  # type: ignore[no-any-return]


def _same_kind_equal(left: Vec, right: Vec, n: int) -> np.ndarray:
    if left.kind == "num":
        return _compare_nums(left, right, "eq")
    if left.kind == "time":  # two Asia/Shanghai times: by wall clock, as Python compares within one zone
        return _wall(left) == _wall(right)  # type: ignore[no-any-return]
    if left.kind == "bool":
        return left.values == right.values  # type: ignore[no-any-return]
    if left.kind == "str":
        return np.fromiter((a == b for a, b in zip(left.values, right.values, strict=True)), bool, n)
    raise Unsupported(f"equality of {left.kind} values")


def _equal_vec(left: Vec | Const, right: Vec | Const, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(right, Vec) and isinstance(left, Const):
        left, right = right, left
    assert isinstance(left, Vec)
    err = mask_union(left.err, right.err if isinstance(right, Vec) else None)
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
        return _time_equal_const(left, value) & ~left.null, err
    both_null = left.null & right.null
    if left.kind != right.kind:
        return both_null, err
    present = ~left.null & ~right.null
    return both_null | (present & _same_kind_equal(left, right, n)), err


_FLIPPED = {"ge": "le", "gt": "lt", "le": "ge", "lt": "gt", "eq": "eq"}
_ORDER = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt}


def _ordered_const(op: str, vec: Vec, value: Any, n: int) -> Vec | None:
    """``vec op value`` for a number or time column and a constant of its kind (else None)."""
    kind = _const_kind(value)
    if kind == vec.kind and kind in ("num", "time"):
        if kind == "num" and value.is_nan():  # rule-engine's decimal context traps it on every row
            return Vec("bool", np.zeros(n, bool), _never(n), np.ones(n, bool))
        compared = _compare_const(vec, value, op) if kind == "num" else _time_order_const(vec, value, op)
        # a null row against a value raises in rule-engine (an ordered comparison with null): such rows are
        # errors, and an error's row is never read for its truth
        return Vec("bool", compared, _never(n), vec.err if vec.null is _never(n) else mask_union(vec.err, vec.null))
    return None


def _ordered_vec(op: str, left: Vec | Const, right: Vec | Const, n: int) -> Vec:
    if isinstance(left, Vec) and isinstance(right, Const):  # a column against a constant: the common case
        fast = _ordered_const(op, left, right.value, n)
    elif isinstance(left, Const) and isinstance(right, Vec):
        fast = _ordered_const(_FLIPPED[op], right, left.value, n)
    else:
        fast = None
    if fast is not None:
        return fast
    a, b = _as_vec(left, n, like=right), _as_vec(right, n, like=left)
    err = mask_union(a.err, b.err)
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
        if a.kind == "num":  # two columns: a column against a constant took _ordered_const
            compared = _compare_nums(a, b, op)
        elif a.kind == "time":  # Asia/Shanghai times both (see _as_vec): by wall clock
            x, y = _wall(a), _wall(b)
            compared = {"ge": x >= y, "gt": x > y, "le": x <= y, "lt": x < y}[op]
        elif a.kind == "str":
            fn = getattr(operator, op)
            compared = np.fromiter(
                (bool(fn(x, y)) if p else False for x, y, p in zip(a.values, b.values, present, strict=True)), bool, n
            )
        else:
            raise Unsupported(f"ordering of {a.kind} values")
        result = result | (present & compared)
    return Vec("bool", result, _never(n), mask_union(err, one_null, mismatch))


# -- times: compared as Python compares datetimes -----------------------------------------------------------
#
# A campaign's times are Asia/Shanghai datetimes. Python (so rule-engine) compares two datetimes of the same
# zone by their wall clocks, and datetimes of different zones by their instants, where ``==`` is false for
# a time whose offset depends on ``fold`` (a repeated local hour, PEP 495). Wall clock and instant order
# differ only where Asia/Shanghai's offset was not +08:00 (local mean time before 1901, daylight saving in
# 1919, 1940-1949 and 1986-1991): those few rows are worked out one by one, every other row by adding 8 hours.

_EIGHT_HOURS = 8 * 3600 * 10**6
_NAIVE_EPOCH = datetime(1970, 1, 1)
_STEADY_FROM = datetime(1992, 1, 1, tzinfo=UTC)
"""From here on, Asia/Shanghai is +08:00 without daylight saving in the tz database (checked by
:func:`_steady_from` against the installed one, month by month to 2200)."""


@functools.cache
def _steady_from() -> int:
    """The instant (µs) from which every Asia/Shanghai time is +08:00 and unambiguous; if the installed tz
    database says otherwise, no instant (every time is then worked out one by one)."""
    eight = timedelta(hours=8)
    for year in range(1992, 2201):
        for month in range(1, 13):
            local = datetime(year, month, 1, tzinfo=SHANGHAI)
            if local.utcoffset() != eight or local.replace(fold=1).utcoffset() != eight:
                return 2**63 - 1
    return epoch_micros(_STEADY_FROM)


def _early(vec: Vec) -> np.ndarray:
    """The rows of a time column that lie before :func:`_steady_from`."""
    return np.flatnonzero(~vec.null & (vec.values < _steady_from()))


def _wall_micros(value: datetime) -> int:
    """A datetime's wall clock (its fields, zone left aside) as µs from 1970-01-01 00:00."""
    return (value.replace(tzinfo=None) - _NAIVE_EPOCH) // timedelta(microseconds=1)


def _wall(vec: Vec) -> np.ndarray:
    """Each row's Asia/Shanghai wall clock (µs), for comparisons within the zone."""
    wall = vec.values + _EIGHT_HOURS
    for i in _early(vec):
        wall[i] = _wall_micros(from_epoch_micros(int(vec.values[i])))
    return wall  # type: ignore[no-any-return]


def _ambiguous(value: datetime) -> bool:
    return value.utcoffset() != value.replace(fold=1 - value.fold).utcoffset()


def _is_shanghai_time(value: datetime) -> bool:
    """A constant that is an Asia/Shanghai time as a campaign's are (a real local time, ``fold`` as read)."""
    if value.tzinfo is not SHANGHAI:
        return False
    canonical = from_epoch_micros(epoch_micros(value))
    return canonical.replace(tzinfo=None) == value.replace(tzinfo=None) and canonical.fold == value.fold


def _time_order_const(vec: Vec, value: datetime, op: str) -> np.ndarray:
    if value.tzinfo is SHANGHAI:
        return _ORDER[op](_wall(vec), _wall_micros(value))  # type: ignore[no-any-return]
    return _ORDER[op](vec.values, epoch_micros(value))  # type: ignore[no-any-return]


def _time_equal_const(vec: Vec, value: datetime) -> np.ndarray:
    if value.tzinfo is SHANGHAI:
        return _wall(vec) == _wall_micros(value)  # type: ignore[no-any-return]
    if _ambiguous(value):
        return np.zeros(len(vec.values), bool)
    same = vec.values == epoch_micros(value)
    for i in _early(vec):
        if same[i] and _ambiguous(from_epoch_micros(int(vec.values[i]))):
            same[i] = False
    return same  # type: ignore[no-any-return]


# -- the evaluator ------------------------------------------------------------------------------------


def status(rule: Rule, columns: Columns, stage: str, under: np.ndarray) -> np.ndarray:
    """Status codes (:data:`~compliance.rules._semantics.STATUS_CODES`) of one rule for the rows ``under`` it,
    NOT_RUN elsewhere, by the order of :func:`~compliance.rules._semantics.decide`. A rule whose conditions
    this compiler does not translate runs row by row by the single-campaign evaluator (the same results,
    slower), with a :class:`~compliance.errors.FallbackWarning` the first time. The compiled form, or the
    reason there is none, is kept on the rule, per stage."""
    compiled = form(rule, stage)
    if not isinstance(compiled, str):
        try:
            return _by_columns(rule, compiled, columns, under)
        except Unsupported as reason:  # found only on these columns (a value too large for int64, say)
            compiled = rule.forms[("columns", stage)] = str(reason)
    if not rule.forms.get("columns warned"):
        rule.forms["columns warned"] = True
        warnings.warn(
            f"rule {rule.id}: its condition uses {compiled}, which the batch compiler does not translate; "
            "it is evaluated row by row (same results, slower)",
            FallbackWarning,
            stacklevel=3,
        )
    codes = np.zeros(columns.n, np.int8)
    for i in np.flatnonzero(under):
        codes[i] = STATUS_CODES[closures.status(rule, columns.facts(int(i)))]
    return codes


def form(rule: Rule, stage: str) -> tuple[Evaluator | None, Evaluator] | str:
    """The rule's conditions compiled for columns at ``stage`` (kept on the rule), or why they cannot be."""
    key = ("columns", stage)
    compiled = rule.forms.get(key)
    if compiled is None:
        try:
            applies = None if rule.applies is None else compile_vector(rule.applies.expression, rule.params, stage)
            compiled = (applies, compile_vector(rule.fails.expression, rule.params, stage))
        except Unsupported as reason:
            compiled = str(reason)
        rule.forms[key] = compiled
    return compiled


def _by_columns(
    rule: Rule, compiled: tuple[Evaluator | None, Evaluator], columns: Columns, under: np.ndarray
) -> np.ndarray:
    applies, fails = compiled
    n = columns.n
    missing = [(path, columns.get(path).null) for path in rule.requires]  # a field of a missing payout is null too
    return column_statuses(
        None if applies is None else truthy(applies(columns), n), missing, truthy(fails(columns), n), under
    )
