"""The evaluator for one campaign: each condition compiled once into plain Python closures.

rule-engine interprets its AST on every call (about 6 µs a rule here); a decision evaluates some twenty
rules, so conditions are compiled once, when a ruleset loads, into closures that do only the work the
condition needs: parameters are folded to constants, attribute chains become one
:func:`operator.attrgetter`, comprehensions over a constant list are unrolled.

rule-engine stays the reference semantics (:mod:`~compliance.rules._semantics` holds what the closures
mirror: ``==`` between values of different types is false, ordered comparison of mismatched types raises,
``and``/``or`` short-circuit and return booleans, ``??`` takes the right side only for null). Anything
raised while evaluating means the rule is *not evaluable* for that campaign, as it would be under
rule-engine. A node this compiler does not know raises :class:`Unsupported`; the condition is then
evaluated by rule-engine itself (``CompiledCondition.compiled`` is false), never silently approximated.
``tests/test_compile_agrees.py`` and ``tests/test_differential_conditions.py`` check the paths agree.

The compiled form of a rule (:class:`ClosureForm`) is kept on the rule, and each stage's status functions
on the ruleset, built once (:func:`form`, :func:`statuses`).
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from compliance.rules._parse import (
    Condition,
    children,
    is_value_attribute,
    nodes,
    regex_matcher,
    value_attribute,
)
from compliance.rules._schema import EXTRA_SYMBOLS, INTEGER_PATHS, Facts
from compliance.rules._semantics import (
    EvaluationFailed,
    RuleChecks,
    Unsupported,
    builtin,
    contains,
    equal,
    get_item,
    iterable,
    not_equal,
    ordered,
    ordered_with_nan,
    reason,
    status_function,
    statuses_function,
    unrolled,
)

if TYPE_CHECKING:
    from compliance.rules._rule import Rule
    from compliance.rules._ruleset import Ruleset

__all__ = [
    "ClosureForm",
    "CompiledCondition",
    "attach",
    "compile_condition",
    "form",
    "path_getter",
    "status",
    "statuses",
    "unevaluable_reason",
]

Getter = Callable[[Facts], Any]


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


def compile_condition(condition: Condition, params: Any) -> CompiledCondition:
    """Compile ``condition``; fall back to rule-engine's evaluator for unsupported nodes."""
    reads: list[str] = []
    compiler = _ClosureCompiler(params, reads)
    expression = condition.expression
    try:
        node = compiler.compile(expression, {})
    except (Unsupported, EvaluationFailed):  # a constant that raises: rule-engine decides which facts reach it
        reads.clear()
        _ClosureCompiler(params, reads, collect_only=True).collect(expression)
        return CompiledCondition(condition.evaluate, tuple(dict.fromkeys(reads)), compiled=False)
    return CompiledCondition(node.getter(), tuple(dict.fromkeys(reads)), compiled=True)


# -- the evaluator ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClosureForm:
    """A rule compiled for one campaign: its conditions and the getters of its required values."""

    applies: CompiledCondition | None
    fails: CompiledCondition
    required: tuple[Getter, ...]

    @property
    def compiled(self) -> bool:
        """Whether both conditions run as compiled closures (else rule-engine evaluates them)."""
        return self.fails.compiled and (self.applies is None or self.applies.compiled)

    @property
    def checks(self) -> RuleChecks:
        """What the status order runs for this rule: applies_when's check, the required getters, fails_when's."""
        return (None if self.applies is None else self.applies.evaluate, self.required, self.fails.evaluate)


_FORM = "closures"


def form(rule: Rule) -> ClosureForm:
    """The rule's compiled form, kept on the rule (the loader compiles each condition when the rule loads,
    so that a condition past a limit is a problem of its rule file; :func:`attach` keeps that work)."""
    cached = rule.forms.get(_FORM)
    if cached is None:
        applies = None if rule.applies is None else compile_condition(rule.applies, rule.params)
        cached = attach(rule, applies, compile_condition(rule.fails, rule.params))
    return cached


def attach(rule: Rule, applies: CompiledCondition | None, fails: CompiledCondition) -> ClosureForm:
    """Keep ``rule``'s conditions, compiled by :func:`compile_condition`, as its form for one campaign."""
    compiled = rule.forms[_FORM] = ClosureForm(applies, fails, tuple(path_getter(path) for path in rule.requires))
    return compiled


def status(rule: Rule, facts: Facts) -> str:
    """The rule's status for one campaign's facts: pass, fail, not_applicable or not_evaluable (its status
    function is built the first time it is asked for: decisions use :func:`statuses`)."""
    function = rule.forms.get((_FORM, "status"))
    if function is None:
        function = rule.forms[(_FORM, "status")] = status_function(*form(rule).checks)
    return function(facts)


def statuses(ruleset: Ruleset, stage: str, facts: Facts) -> list[str]:
    """The status of each of ``ruleset``'s rules at ``stage``, in order, by one function for the stage built
    once from the rules' forms and kept on the ruleset."""
    key = (_FORM, stage)
    function = ruleset.forms.get(key)
    if function is None:
        function = ruleset.forms[key] = statuses_function([form(rule).checks for rule in ruleset.rules_for(stage)])
    return function(facts)


def unevaluable_reason(rule: Rule, facts: Facts, explain: Mapping[str, str] | None = None) -> str:
    """Why the rule was not evaluable for ``facts``: the first missing value, or the error raised."""
    applies, required, fails = form(rule).checks
    return reason(applies, tuple(zip(rule.requires, required, strict=True)), fails, facts, explain)


def path_getter(path: str) -> Getter:
    """A getter of the value at a rule's ``path`` (``payout.amount``, ``blacklist.initiator``) from the facts."""
    if path.partition(".")[0] in EXTRA_SYMBOLS:
        return operator.attrgetter(path)
    return operator.attrgetter("campaign." + path)


# -- compiling ----------------------------------------------------------------------------------------


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
        if isinstance(node, nodes.ComprehensionExpression):
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
        for child in children(node):
            self.collect(child, bound)

    def _path_of(self, node: Any) -> str | None:
        if isinstance(node, nodes.SymbolExpression) and node.scope is None:
            return str(node.name)
        if isinstance(node, nodes.GetAttributeExpression) and not is_value_attribute(node):
            parent = self._path_of(node.object)
            return None if parent is None else f"{parent}.{node.name}"
        return None

    # -- compiling -------------------------------------------------------------------------------

    def compile(self, node: Any, env: Mapping[str, Any]) -> _Node:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            if isinstance(node, nodes.LiteralExpressionBase) and node.is_reduced:
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
            return _Node(const=builtin(name))
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
            return _Node(const=get_item(container.const, item.const, safe))
        get_container, get_key = container.getter(), item.getter()
        if _is_symbol(node.container, "disclosure_answers"):  # an item is the same in the dict itself: no copy
            get_container = operator.attrgetter("disclosure_answers")
        return _Node(fn=lambda f: get_item(get_container(f), get_key(f), safe))

    def _ComparisonExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        op = {"eq": equal, "ne": not_equal}.get(node.type)
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
            return self._binary(node, env, lambda a, b: ordered(op, a, b), (left, right))
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
            return _Node(const=contains(container.const, member.const))
        get_container, get_member = container.getter(), member.getter()
        return _Node(fn=lambda f: contains(get_container(f), get_member(f)))

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
            return _Node(const=call(iterable(argument.const)))
        get = argument.getter()
        return _Node(fn=lambda f: call(iterable(get(f))))

    def _ComprehensionExpression(self, node: Any, env: Mapping[str, Any]) -> _Node:
        source = self.compile(node.iterable, env)
        if not source.is_const:
            raise Unsupported("comprehension over a value that is not a constant")
        branches = []
        values = iterable(source.const)
        self.unrolled = unrolled(self.unrolled, values)
        for value in values:
            scope = {**env, node.variable: value}
            condition = None if node.condition is None else self.compile(node.condition, scope)
            branches.append((condition, self.compile(node.result, scope)))
        if all((c is None or c.is_const) and r.is_const for c, r in branches):
            return _Node(const=tuple(r.const for c, r in branches if c is None or c.const))
        compiled = [(None if c is None else c.getter(), r.getter()) for c, r in branches]
        return _Node(fn=lambda f: tuple(r(f) for c, r in compiled if c is None or c(f)))


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
    return isinstance(node, nodes.SymbolExpression) and node.scope is None and node.name == name


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


def _as_decimal(get: Getter) -> Getter:
    def read(f: Facts) -> Any:
        value = get(f)
        return None if value is None else Decimal(value)

    return read


def _public(path: str) -> str:
    """The name a path has in a rule (``campaign.payout.amount`` → ``payout.amount``)."""
    return path.removeprefix("campaign.")
