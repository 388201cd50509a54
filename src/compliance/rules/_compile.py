"""Compile a rule-engine condition once into plain Python closures.

rule-engine interprets its AST on every call (about 6 µs a rule here); a decision evaluates some twenty
rules, so conditions are compiled once, when a ruleset loads, into closures that do only the work the
condition needs: parameters are folded to constants, attribute chains become one
:func:`operator.attrgetter`, comprehensions over a constant list are unrolled.

rule-engine stays the reference semantics. Each closure mirrors the node it replaces: ``==`` between
values of different types is false, ordered comparison of mismatched types raises, ``and``/``or``
short-circuit and return booleans, ``??`` takes the right side only for null. Anything raised while
evaluating means the rule is *not evaluable* for that campaign, as it would be under rule-engine. A
node this compiler does not know raises :class:`Unsupported`; the rule is then evaluated by
rule-engine itself (``CompiledCondition.compiled`` is false), never silently approximated. The
property test ``tests/test_compile_agrees.py`` checks both paths agree on generated campaigns.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import rule_engine
from rule_engine import ast
from rule_engine.types import DataType

from compliance.rules._parse import ConditionLimit
from compliance.rules._schema import EXTRA_SYMBOLS, INTEGER_PATHS, Facts

Getter = Callable[[Facts], Any]

ALLOWED_BUILTINS = frozenset({"any", "all"})
"""Builtins a condition may call. ``$now``, ``$today`` and ``$random`` would make decisions depend on
when they are made, so they are refused at load time."""


class Unsupported(Exception):
    """A node the compiler does not translate; the rule falls back to rule-engine."""


class EvaluationFailed(Exception):
    """Raised by compiled code where rule-engine would raise an evaluation error."""


@dataclass(frozen=True, slots=True)
class _Node:
    """A compiled node: a constant, or a getter over the facts (``path`` set when it is an attribute path)."""

    const: Any = None
    fn: Getter | None = None
    path: str | None = None

    @property
    def is_const(self) -> bool:
        return self.fn is None

    def getter(self) -> Getter:
        if self.fn is not None:
            return self.fn
        value = self.const
        return lambda _facts: value


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    """A condition ready to run: ``evaluate(facts)`` gives its value, ``reads`` the paths it reads."""

    evaluate: Getter
    reads: tuple[str, ...]
    compiled: bool


def compile_condition(rule: rule_engine.Rule, params: Any) -> CompiledCondition:
    """Compile ``rule``'s condition; fall back to rule-engine's evaluator for unsupported nodes."""
    reads: list[str] = []
    compiler = _ClosureCompiler(params, reads)
    expression = rule.statement.expression
    try:
        node = compiler.compile(expression, {})
    except (Unsupported, EvaluationFailed):  # a constant that raises: rule-engine decides which facts reach it
        reads.clear()
        _ClosureCompiler(params, reads, collect_only=True).collect(expression)
        return CompiledCondition(_reference(rule), tuple(dict.fromkeys(reads)), compiled=False)
    return CompiledCondition(node.getter(), tuple(dict.fromkeys(reads)), compiled=True)


def _reference(rule: rule_engine.Rule) -> Getter:
    evaluate: Getter = rule.evaluate
    return evaluate


def builtins_used(expression: Any) -> set[str]:
    """Names of the ``$`` builtins a condition uses (checked at load time)."""
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, ast.SymbolExpression) and node.scope is not None:
            found.add(node.name)
        for child in _children(node):
            visit(child)

    visit(expression)
    return found


def _children(node: Any) -> list[Any]:
    names = (
        "left",
        "right",
        "object",
        "container",
        "item",
        "member",
        "condition",
        "case_true",
        "case_false",
        "function",
        "result",
        "iterable",
        "expression",
    )
    kids = [getattr(node, name, None) for name in names]
    kids += list(getattr(node, "arguments", ()) or ())
    value = getattr(node, "value", None)
    if isinstance(node, ast.LiteralExpressionBase) and isinstance(value, (list, tuple)):
        kids += [v for v in value if isinstance(v, ast.ExpressionBase)]
    return [k for k in kids if isinstance(k, ast.ExpressionBase)]


MAX_UNROLLED = 20_000
"""The most comprehension members a condition is unrolled into (a parameter list can be long); beyond,
loading the rule fails (:class:`~compliance.rules._parse.ConditionLimit`), as it would run as slowly."""


class _ClosureCompiler:
    def __init__(self, params: Any, reads: list[str], *, collect_only: bool = False) -> None:
        self.params = params
        self.reads = reads
        self.collect_only = collect_only
        self.unrolled = 0

    # -- reads, for findings ---------------------------------------------------------------------

    def collect(self, node: Any, bound: frozenset[str] = frozenset()) -> None:
        """Record the paths a node reads, without compiling (for rules run by rule-engine).

        ``bound`` holds comprehension variables in scope: they are not values of the campaign.
        """
        if isinstance(node, ast.ComprehensionExpression):
            self.collect(node.iterable, bound)
            for part in (node.condition, node.result):
                if part is not None:
                    self.collect(part, bound | {node.variable})
            return
        path = self._path_of(node)
        if path is not None:
            if path.split(".")[0] not in bound:
                self.reads.append(path)
            return
        for child in _children(node):
            self.collect(child, bound)

    def _path_of(self, node: Any) -> str | None:
        if isinstance(node, ast.SymbolExpression) and node.scope is None:
            return str(node.name)
        if isinstance(node, ast.GetAttributeExpression) and not is_value_attribute(node):
            parent = self._path_of(node.object)
            return None if parent is None else f"{parent}.{node.name}"
        return None

    # -- compiling -------------------------------------------------------------------------------

    def compile(self, node: Any, env: Mapping[str, Any]) -> _Node:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            if isinstance(node, ast.LiteralExpressionBase) and node.is_reduced:
                return _Node(const=node.evaluate(None))
            raise Unsupported(type(node).__name__)
        result: _Node = method(node, env)
        return result

    def _ArrayExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        members = [self.compile(m, env) for m in node.value]
        if all(m.is_const for m in members):
            return _Node(const=tuple(m.const for m in members))
        getters = [m.getter() for m in members]
        return _Node(fn=lambda f: tuple(g(f) for g in getters))

    def _SymbolExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        name = node.name
        if node.scope is not None:
            if name not in ALLOWED_BUILTINS:
                raise Unsupported(f"${name}")
            return _Node(const={"any": any, "all": all}[name])
        if name in env:
            return _Node(const=env[name])
        if name == "params":
            return _Node(const=self.params, path="params")
        path = name if name in EXTRA_SYMBOLS else f"campaign.{name}"
        self.reads.append(name)
        if name == "disclosure_answers":  # rule-engine reads a dict as an OrderedDict (its == minds the order)
            answers = operator.attrgetter(path)
            return _Node(fn=lambda f: OrderedDict(answers(f)))
        return _Node(fn=operator.attrgetter(path), path=path)

    def _GetAttributeExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        obj = self.compile(node.object, env)
        name = node.name
        if is_value_attribute(node):
            return _value_attribute_node(node, obj)
        if obj.is_const:
            if obj.path == "params":
                self.reads.append(f"params.{name}")
            return _Node(const=getattr(obj.const, name))
        if obj.path is not None and self.reads and self.reads[-1] == _public(obj.path):
            self.reads[-1] = _public(f"{obj.path}.{name}")
        if obj.path is not None and not node.safe:
            path = f"{obj.path}.{name}"
            if _public(path) in INTEGER_PATHS:  # rule-engine reads ints as Decimal; so must we
                return _Node(fn=_as_decimal(operator.attrgetter(path)), path=path)
            return _Node(fn=operator.attrgetter(path), path=path)
        get_obj = obj.getter()
        if node.safe:
            convert = obj.path is not None and _public(f"{obj.path}.{name}") in INTEGER_PATHS

            def safe_attribute(f: Facts) -> Any:
                value = get_obj(f)
                if value is None:
                    return None
                value = getattr(value, name)
                return Decimal(value) if convert and value is not None else value

            return _Node(fn=safe_attribute)
        return _Node(fn=lambda f: getattr(get_obj(f), name))

    def _GetItemExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        container = self.compile(node.container, env)
        item = self.compile(node.item, env)
        safe = node.safe
        if container.is_const and item.is_const:
            return _Node(const=_get_item(container.const, item.const, safe))
        get_container, get_item = container.getter(), item.getter()
        if _is_symbol(node.container, "disclosure_answers"):  # an item is the same in the dict itself: no copy
            get_container = operator.attrgetter("disclosure_answers")
        return _Node(fn=lambda f: _get_item(get_container(f), get_item(f), safe))

    def _ComparisonExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        op = {"eq": _equal, "ne": _not_equal}.get(node.type)
        if op is None:
            raise Unsupported(node.type)
        return self._binary(node, env, op)

    def _Re2FuzzyComparisonExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        """``=~`` and kin with a literal pattern, matched by the RE2 pattern rule-engine compiled at load."""
        match = regex_matcher(node)
        left = self.compile(node.left, env)
        if left.is_const:
            return _Node(const=match(left.const))
        get = left.getter()
        return _Node(fn=lambda f: match(get(f)))

    def _ArithmeticComparisonExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        op = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt}[node.type]
        left, right = self.compile(node.left, env), self.compile(node.right, env)
        if _never_nan(left) and _never_nan(right):  # the shipped rules: fields and finite constants
            return self._binary(node, env, lambda a, b: _ordered(op, a, b), (left, right))
        return self._binary(node, env, lambda a, b: ordered_with_nan(op, a, b), (left, right))

    def _binary(
        self,
        node: Any,
        env: Mapping[str, Any],
        op: Callable[[Any, Any], Any],
        compiled: tuple[_Node, _Node] | None = None,
    ) -> _Node:
        left, right = compiled or (self.compile(node.left, env), self.compile(node.right, env))
        if left.is_const and right.is_const:
            return _Node(const=op(left.const, right.const))
        if right.is_const:
            get_left, constant = left.getter(), right.const
            return _Node(fn=lambda f: op(get_left(f), constant))
        get_left, get_right = left.getter(), right.getter()
        return _Node(fn=lambda f: op(get_left(f), get_right(f)))

    def _LogicExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        left, right = self.compile(node.left, env), self.compile(node.right, env)
        get_left, get_right = left.getter(), right.getter()
        if node.type == "and":
            return _Node(fn=lambda f: bool(get_left(f) and get_right(f)))
        if node.type == "or":
            return _Node(fn=lambda f: bool(get_left(f) or get_right(f)))
        raise Unsupported(node.type)

    def _UnaryExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        if node.type != "not":
            raise Unsupported(node.type)
        operand = self.compile(node.right, env)
        if operand.is_const:
            return _Node(const=not operand.const)
        get = operand.getter()
        return _Node(fn=lambda f: not get(f))

    def _CoalesceExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        get_left = self.compile(node.left, env).getter()
        get_right = self.compile(node.right, env).getter()

        def coalesce(f: Facts) -> Any:
            value = get_left(f)
            return get_right(f) if value is None else value

        return _Node(fn=coalesce)

    def _ContainsExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        container = self.compile(node.container, env)
        member = self.compile(node.member, env)
        if container.is_const and member.is_const:
            return _Node(const=_contains(container.const, member.const))
        get_container, get_member = container.getter(), member.getter()
        return _Node(fn=lambda f: _contains(get_container(f), get_member(f)))

    def _TernaryExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        condition = self.compile(node.condition, env).getter()
        if_true = self.compile(node.case_true, env).getter()
        if_false = self.compile(node.case_false, env).getter()
        return _Node(fn=lambda f: if_true(f) if condition(f) else if_false(f))

    def _FunctionCallExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        function = self.compile(node.function, env)
        if not function.is_const or function.const not in (any, all) or len(node.arguments) != 1:
            raise Unsupported("function call")
        call = function.const
        argument = self.compile(node.arguments[0], env)
        if argument.is_const:
            return _Node(const=call(_iterable(argument.const)))
        get = argument.getter()
        return _Node(fn=lambda f: call(_iterable(get(f))))

    def _ComprehensionExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        iterable = self.compile(node.iterable, env)
        if not iterable.is_const:
            raise Unsupported("comprehension over a value that is not a constant")
        branches = []
        values = _iterable(iterable.const)
        self.unrolled += len(values) if hasattr(values, "__len__") else 0
        if self.unrolled > MAX_UNROLLED:
            raise ConditionLimit(f"its comprehensions unroll to more than {MAX_UNROLLED:,} members")
        for value in values:
            scope = {**env, node.variable: value}
            condition = None if node.condition is None else self.compile(node.condition, scope)
            branches.append((condition, self.compile(node.result, scope)))
        if all((c is None or c.is_const) and r.is_const for c, r in branches):
            return _Node(const=tuple(r.const for c, r in branches if c is None or c.const))
        compiled = [(None if c is None else c.getter(), r.getter()) for c, r in branches]
        return _Node(fn=lambda f: tuple(r(f) for c, r in compiled if c is None or c(f)))


def is_value_attribute(node: Any) -> bool:
    """Whether ``node`` reads one of rule-engine's value attributes (``created_at.year``, ``platform.length``,
    ``raised_amount.is_nan``) rather than a field of an object of the schema (``payout.amount``)."""
    return isinstance(node, ast.GetAttributeExpression) and node._object_type is None


def value_attribute(node: Any) -> Callable[[Any], Any]:
    """The value attribute ``node`` names, of one value, as rule-engine resolves it (its own attribute resolver,
    then its conversion of the result: ``created_at.year`` is ``Decimal(2021)``, ``.weekday`` a day's name).
    Null gives null through ``&.`` and raises otherwise. An object whose type is not known at load time
    (rule-engine then tries other lookups) is :class:`Unsupported`."""
    if DataType.NULLABLE.unwrap(node.object.result_type) == DataType.UNDEFINED:
        raise Unsupported("a value attribute of a value of unknown type")
    context, name, safe, convert = node.context, node.name, node.safe, node._new_value

    def read(value: Any) -> Any:
        if value is None:
            if safe:
                return None
            raise EvaluationFailed("attribute access on a null value")
        return convert(context.resolve_attribute(None, value, name), verify_type=False)

    return read


def _value_attribute_node(node: Any, obj: _Node) -> _Node:
    read = value_attribute(node)
    if obj.is_const:
        try:
            return _Node(const=read(obj.const))
        except EvaluationFailed:
            raise
        except Exception as error:  # rule-engine raises it for every campaign: its evaluator decides
            raise EvaluationFailed(str(error)) from error
    get = obj.getter()
    return _Node(fn=lambda f: read(get(f)))


def _is_symbol(node: Any, name: str) -> bool:
    return isinstance(node, ast.SymbolExpression) and node.scope is None and node.name == name


def _never_nan(node: _Node) -> bool:
    """Whether a compiled operand is known never to be NaN: a campaign field read by path (the schema has no
    NaN) or a constant without one. Anything else (a value attribute such as ``platform.to_flt``, a ternary)
    may be, so its ordered comparisons check (see :func:`ordered_with_nan`)."""
    if node.is_const:
        return not _has_nan(node.const)
    return node.path is not None and node.path != "params"


def _has_nan(value: Any) -> bool:
    if isinstance(value, Decimal):
        return value.is_nan()
    return isinstance(value, tuple) and any(_has_nan(v) for v in value)


def regex_matcher(node: Any) -> Callable[[Any], bool]:
    """The truth of a regular-expression comparison for one left-hand value, as rule-engine gives it: null
    does not match (``=~`` false, ``!~`` true), anything but text raises. The pattern must be a literal
    (its RE2 pattern was compiled when the rule loaded), else :class:`Unsupported`."""
    pattern = getattr(node, "_right", None)
    if not isinstance(node.right, ast.StringExpression) or pattern is None:
        raise Unsupported("a regular expression that is not a literal")
    kind = str(node.type).lower()
    find = pattern.match if kind.endswith("fzm") else pattern.search
    negated = kind.startswith("ne")

    def match(value: Any) -> bool:
        if value is None:
            return negated
        if not isinstance(value, str):
            raise EvaluationFailed("data type mismatch")
        return (find(value) is None) is negated

    return match


def _as_decimal(get: Getter) -> Getter:
    def read(f: Facts) -> Any:
        value = get(f)
        return None if value is None else Decimal(value)

    return read


def _public(path: str) -> str:
    """The name a path has in a rule (``campaign.payout.amount`` → ``payout.amount``)."""
    return path.removeprefix("campaign.")


def _equal(left: Any, right: Any) -> bool:
    return type(left) is type(right) and left == right


def _not_equal(left: Any, right: Any) -> bool:
    return type(left) is not type(right) or left != right


def _ordered(op: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    if left is None and right is None:
        return op in (operator.ge, operator.le)
    if isinstance(left, tuple) and isinstance(right, tuple):
        for a, b in zip(left, right, strict=False):
            if _ordered(operator.ne, a, b):
                return _ordered(op, a, b)
        if len(left) != len(right):
            return op(len(left), len(right))
        return op in (operator.ge, operator.le)
    if type(left) is not type(right):
        raise EvaluationFailed("data type mismatch")
    return op(left, right)


def ordered_with_nan(op: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    """:func:`_ordered` where a number may be NaN: rule-engine compares in its own decimal context, which
    traps the invalid operation an ordered comparison with NaN is, whatever the calling thread's context does."""
    if isinstance(left, tuple) and isinstance(right, tuple):
        for a, b in zip(left, right, strict=False):
            if _ordered(operator.ne, a, b):
                return ordered_with_nan(op, a, b)
        return _ordered(op, left, right)
    if type(left) is Decimal and type(right) is Decimal and (left.is_nan() or right.is_nan()):
        raise EvaluationFailed("an ordered comparison with NaN")
    return _ordered(op, left, right)


def _contains(container: Any, member: Any) -> bool:
    if isinstance(container, (str, bytes)) and type(member) is not type(container):
        raise EvaluationFailed("data type mismatch")
    return bool(member in container)


def _get_item(container: Any, item: Any, safe: bool) -> Any:
    if container is None:
        if safe:
            return None
        raise EvaluationFailed("container is null")
    if isinstance(container, (bytes, str, tuple)):
        if isinstance(item, bool) or (not isinstance(item, (int,)) and not _is_integral(item)):
            raise EvaluationFailed("data type mismatch (not an integer number)")
        item = int(item)
    try:
        return container[item]
    except (IndexError, KeyError):
        if safe:
            return None
        raise EvaluationFailed("lookup failed") from None


def _is_integral(value: Any) -> bool:
    try:
        return bool(value == int(value))
    except (TypeError, ValueError, OverflowError):
        return False


_ITERABLE_TYPES = (tuple, list, set, frozenset, dict, str, bytes)


def _iterable(value: Any) -> Any:
    if isinstance(value, _ITERABLE_TYPES):  # the common case, without rule-engine's type inference
        return value
    if not DataType.from_value(value).is_iterable:
        raise EvaluationFailed("data type mismatch (requires an iterable)")
    return value


__all__ = [
    "ALLOWED_BUILTINS",
    "CompiledCondition",
    "EvaluationFailed",
    "Unsupported",
    "builtins_used",
    "compile_condition",
    "is_value_attribute",
    "ordered_with_nan",
    "regex_matcher",
    "value_attribute",
]
