"""A condition's text into rule-engine's AST, within stated limits, with regular expressions run by RE2.

rule-engine builds, reduces and evaluates its AST recursively, so a condition nested a few hundred levels
deep (``not not not …``, a long ``and`` chain, nested ternaries) ends in ``RecursionError``. Its ``=~``,
``=~~``, ``!~`` and ``!~~`` use Python's backtracking :mod:`re`, where ``'(a+)+$'`` against a
41-character text runs for seconds; the text is a fundraiser's, so that is a way to stall a platform.

This module is the door to rule-engine (with :mod:`~compliance.rules._schema`, which types its context):
:func:`parse_condition` gives a :class:`Condition`, rule-engine's errors become a :class:`ConditionError`
with a code, and the AST node classes the compilers walk are re-exported as :data:`nodes` (with
:data:`DataType`), so no other module imports rule-engine. :func:`parse` parses with rule-engine's grammar, but

- measures the tree the grammar built (iteratively) before any of it is constructed, and refuses more
  than :data:`MAX_DEPTH` levels (:class:`ConditionLimit`); a condition longer than
  :data:`MAX_CONDITION_CHARS` is refused before it is parsed;
- builds regular-expression comparisons as :class:`Re2FuzzyComparisonExpression`, whose patterns are
  compiled by RE2 (``google-re2``), which matches in time linear in the text. A pattern RE2 cannot
  compile (backreferences, lookaround) is refused when the rule loads. rule-engine's own evaluator (the
  reference and the fallback path) and both of our compilers all match with the same RE2 pattern.

>>> rule = parse("medical.diagnosis =~ '(a+)+$'")
>>> rule.matches({"medical": {"diagnosis": "a" * 41 + "!"}})
False
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import re2
import rule_engine
from rule_engine import DataType, ast
from rule_engine.parser import _DeferredAstNode

from compliance._yaml import quote, shorten
from compliance.rules._semantics import EvaluationFailed, Unsupported

__all__ = [
    "ALLOWED_BUILTINS",
    "MAX_CONDITION_CHARS",
    "MAX_DEPTH",
    "MAX_UNROLLED",
    "MAX_WORK",
    "Condition",
    "ConditionError",
    "ConditionLimit",
    "DataType",
    "Re2FuzzyComparisonExpression",
    "builtins_used",
    "children",
    "compile_regex",
    "is_value_attribute",
    "nodes",
    "parse",
    "parse_condition",
    "regex_matcher",
    "value_attribute",
]

nodes = ast
"""rule-engine's AST node classes, which the compilers walk (rule-engine is pinned below 6 in pyproject)."""

MAX_DEPTH = 32
"""The deepest a condition's tree may go: each operator, call, comprehension, attribute and value is a
level, brackets are not (the shipped rules go 9 deep, counting the statement). rule-engine and our
compilers recurse a few frames a level, far inside Python's limit of 1,000."""
MAX_CONDITION_CHARS = 4_000
"""The longest condition text read (the shipped ones are under 250 characters)."""

MAX_WORK = 20_000
"""The most nodes a condition may stand for once its comprehensions over literal lists are counted out
(``[x > 1 for x in [1, 2, 3]]`` is 3 times its body): three nested comprehensions over 200-item lists
fit in 4,000 characters and are 8 million evaluations a campaign. The shipped rules stand for under 100."""

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would write each refused pattern to stderr


class ConditionLimit(Exception):
    """A condition is longer or deeper than this module's limits; the message says which and by how much."""


def compile_regex(pattern: str) -> Any:
    """``pattern`` compiled by RE2, or :class:`rule_engine.errors.RegexSyntaxError` saying why not."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        reason = error.args[0].decode("utf-8", "replace") if error.args and isinstance(error.args[0], bytes) else ""
        raise rule_engine.errors.RegexSyntaxError(
            f"RE2 cannot run this regular expression: {reason or 'invalid'} (RE2 matches in linear time, so it "
            "has no backreferences or lookaround)",
            error=error,
            value=pattern,
        ) from None


class Re2FuzzyComparisonExpression(ast.FuzzyComparisonExpression):  # type: ignore[misc]
    """rule-engine's ``=~``/``=~~``/``!~``/``!~~``, its pattern compiled (and so matched) by RE2."""

    def _compile_regex(self, regex: str) -> Any:
        return compile_regex(regex)


def _phase_one(text: str, context: rule_engine.Context) -> Any:
    """The grammar's tree of deferred nodes, by rule-engine's own parser (its phase 1; nothing is built).

    rule-engine's ``Parser.parse`` does this and then builds at once; the tree is wanted in between. A
    parser of our own would cost half a second of table building in every process, so the shared one is
    used, under its own lock, as its ``parse`` uses it (rule-engine is pinned below 6 in pyproject)."""
    parser = rule_engine.Rule.parser
    with parser._ParserBase__mutex:
        parser.context = context
        try:
            return parser._parser.parse(text, lexer=parser._lexer)
        finally:
            parser.context = None


def _depth(root: Any) -> int:
    """How deep the grammar's tree of deferred nodes goes, counted without recursion; on the way, each
    regular-expression comparison is set to be built as :class:`Re2FuzzyComparisonExpression`."""
    deepest = 0
    stack = [(root, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, _DeferredAstNode):
            if node.cls is ast.FuzzyComparisonExpression:
                node.cls = Re2FuzzyComparisonExpression
            level += 1
            deepest = max(deepest, level)
            stack.extend((child, level) for child in (*node.args, *node.kwargs.values()))
        elif isinstance(node, (list, tuple, collections.deque)):  # members of arrays, mappings, calls
            stack.extend((child, level) for child in node)
    return deepest


class _Rule(rule_engine.Rule):  # type: ignore[misc]
    """A rule parsed through :func:`parse` (``__init__`` is rule-engine's, less its parse)."""

    def __init__(self, text: str, context: rule_engine.Context, statement: Any) -> None:
        self.text = text
        self.context = context
        self.statement = statement

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["text"], state["context"], _build(state["text"], state["context"]))  # type: ignore[misc]


def parse(text: str, context: rule_engine.Context | None = None) -> rule_engine.Rule:
    """``text`` as a rule-engine rule, within this module's limits (:class:`ConditionLimit`); regular
    expressions in it are compiled by RE2 (:class:`rule_engine.errors.RegexSyntaxError` if they cannot be)."""
    context = context or rule_engine.Context()
    return _Rule(text, context, _build(text, context))


def _build(text: str, context: rule_engine.Context) -> Any:
    if len(text) > MAX_CONDITION_CHARS:
        raise ConditionLimit(f"the condition is {len(text):,} characters; at most {MAX_CONDITION_CHARS:,} are read")
    deferred = _phase_one(text, context)
    depth = _depth(deferred)
    if depth > MAX_DEPTH:
        raise ConditionLimit(f"the condition nests {depth} levels deep; at most {MAX_DEPTH} are allowed")
    work = _work(deferred)
    if work > MAX_WORK:
        raise ConditionLimit(
            f"the condition's comprehensions over lists make it {work:,} evaluations; at most {MAX_WORK:,} are allowed"
        )
    return deferred.build()


def _work(node: Any) -> int:
    """How many nodes a deferred tree stands for, a comprehension over a literal list counted once per item
    (recursive: called only once the depth is known to be within :data:`MAX_DEPTH`)."""
    if isinstance(node, (list, tuple, collections.deque)):
        return sum(_work(child) for child in node)
    if not isinstance(node, _DeferredAstNode):
        return 0
    if node.cls is ast.ComprehensionExpression:
        _context, result, _variable, iterable = node.args
        items = (
            iterable.args[1] if isinstance(iterable, _DeferredAstNode) and iterable.cls is ast.ArrayExpression else ()
        )
        body = _work(result) + _work(node.kwargs.get("condition"))
        return 1 + _work(iterable) + max(len(items), 1) * body
    return 1 + _work(node.args) + _work(list(node.kwargs.values()))


MAX_UNROLLED = 20_000
"""The most comprehension members a condition is unrolled into (a parameter list can be long); beyond,
loading the rule fails (:class:`~compliance.rules._parse.ConditionLimit`), as it would run as slowly."""


ALLOWED_BUILTINS = frozenset({"any", "all"})
"""Builtins a condition may call. ``$now``, ``$today`` and ``$random`` would make decisions depend on
when they are made, so they are refused at load time."""


def builtins_used(expression: Any) -> set[str]:
    """Names of the ``$`` builtins a condition uses (checked at load time)."""
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, ast.SymbolExpression) and node.scope is not None:
            found.add(node.name)
        for child in children(node):
            visit(child)

    visit(expression)
    return found


def children(node: Any) -> list[Any]:
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


@dataclass(frozen=True, slots=True, eq=False)
class Condition:
    """A condition as written and checked: its text, and rule-engine's parsed, type-checked form (kept behind
    this door). The compilers read :attr:`expression`; rule-engine's own evaluator is :meth:`matches`."""

    text: str
    _parsed: Any = field(repr=False)

    @property
    def expression(self) -> Any:
        """The root of the checked AST (parameters and the schema's types resolved)."""
        return self._parsed.statement.expression

    @property
    def context(self) -> Any:
        """The typed context it was checked against."""
        return self._parsed.context

    def matches(self, facts: Any) -> bool:
        """The condition's truth for ``facts`` by rule-engine's own evaluator (raises what rule-engine raises)."""
        return bool(self._parsed.matches(facts))

    def evaluate(self, facts: Any) -> Any:
        """The condition's value for ``facts`` by rule-engine's own evaluator."""
        return self._parsed.evaluate(facts)


class ConditionError(Exception):
    """A condition that cannot be used: ``code`` (syntax, regex, unknown_field, unknown_parameter, type_error,
    limit, nondeterministic) and a message that says why, for the rule file's problem list."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_condition(text: str, context: Any, key: str) -> Condition:
    """``text`` checked against ``context`` as the ``key`` part of a rule (applies_when or fails_when), within
    this module's limits and with only :data:`ALLOWED_BUILTINS` called; :class:`ConditionError` says why not."""
    try:
        parsed = parse(text, context)
    except ConditionLimit as error:
        raise ConditionError("limit", f"{key}: {error}") from None
    except rule_engine.errors.RuleSyntaxError as error:
        near = f" near {quote(error.token.value)}" if getattr(error, "token", None) else ""
        raise ConditionError("syntax", f"{key} is not valid rule-engine syntax: {error.message}{near}") from None
    except rule_engine.errors.RegexSyntaxError as error:
        raise ConditionError("regex", f"{key}: the pattern {quote(error.value)}: {error.message}") from None
    except rule_engine.errors.SymbolResolutionError as error:
        raise ConditionError(
            "unknown_field", f"{key} uses {quote(error.symbol_name)}, which is not a campaign field" + _suggest(error)
        ) from None
    except rule_engine.errors.ObjectAttributeError as error:
        code = "unknown_parameter" if getattr(error.object, "name", "") == "Parameters" else "unknown_field"
        noun = "parameter" if code == "unknown_parameter" else "field"
        message = f"{key} uses unknown {noun} {quote(error.attribute_name)}" + _suggest(error)
        raise ConditionError(code, message) from None
    except rule_engine.errors.EngineError as error:
        message = f"{key} does not type-check against the campaign schema: {shorten(error.message)}"
        raise ConditionError("type_error", message) from None
    used = builtins_used(parsed.statement.expression) - ALLOWED_BUILTINS
    if used:
        raise ConditionError(
            "nondeterministic",
            f"{key} uses ${', $'.join(sorted(used))}; only "
            f"${', $'.join(sorted(ALLOWED_BUILTINS))} are allowed, so decisions do not depend on when they are made",
        )
    return Condition(text, parsed)


def _suggest(error: Any) -> str:
    suggestion = getattr(error, "suggestion", None)
    return f"; did you mean {suggestion!r}?" if suggestion else ""


# -- what rule-engine's nodes mean, read from its internals (pinned below 6) ---------------------------


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
