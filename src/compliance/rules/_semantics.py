"""What evaluating a rule means, whichever evaluator runs it: one home for the semantics.

Three evaluators run a rule's conditions: for one campaign (:mod:`~compliance.rules._closures`), over the
columns of a table (:mod:`~compliance.rules._columns`), and rule-engine's own (:mod:`~compliance.rules._reference`,
the reference the other two are tested against). They share what is written here:

- **the status order**, written once in :func:`decide`: ``applies_when`` false → not_applicable; else a
  required value missing → not_evaluable; else ``fails_when`` true → fail, false → pass; an error in any
  step that is reached → not_evaluable (fail closed). :func:`status_function` runs it for one campaign,
  :func:`reason` says why a campaign was not evaluable, :func:`column_statuses` runs it for every row;
- **the value semantics** rule-engine gives its operators, as functions of plain values: equality between
  different types is false (:func:`equal`), ordering them raises (:func:`ordered`), membership, item
  lookup, iteration, regular expressions and value attributes (``created_at.year``), as rule-engine
  resolves them. The column evaluator applies the same functions to constants and to whatever it runs
  row by row;
- the two exceptions evaluators raise: :class:`Unsupported` (a construct an evaluator does not translate:
  another runs it, never an approximation) and :class:`EvaluationFailed` (where rule-engine would raise).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np

from compliance.rules._parse import DataType, nodes

__all__ = [
    "FAIL",
    "NOT_APPLICABLE",
    "NOT_EVALUABLE",
    "NOT_RUN",
    "PASS",
    "STATUS_CODES",
    "STATUS_NAMES",
    "EvaluationFailed",
    "Step",
    "Unsupported",
    "column_statuses",
    "contains",
    "decide",
    "equal",
    "get_item",
    "is_integral",
    "is_value_attribute",
    "iterable",
    "not_equal",
    "ordered",
    "ordered_with_nan",
    "reason",
    "regex_matcher",
    "status_function",
    "value_attribute",
]

Facts = TypeVar("Facts")
Getter = Callable[[Any], Any]


class Unsupported(Exception):
    """A node the compiler does not translate; the rule falls back to rule-engine."""


class EvaluationFailed(Exception):
    """Raised by compiled code where rule-engine would raise an evaluation error."""


# -- statuses -----------------------------------------------------------------------------------------

NOT_RUN, PASS, FAIL, NOT_APPLICABLE, NOT_EVALUABLE = range(5)
"""Status codes, as column evaluation writes them (``NOT_RUN``: a row the rule was not asked about)."""
STATUS_CODES = {"pass": PASS, "fail": FAIL, "not_applicable": NOT_APPLICABLE, "not_evaluable": NOT_EVALUABLE}
STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a rule's evaluation: ``part`` (which part of the rule), its value ``check`` (a condition's
    value, or for ``requires`` whether the value is missing), and the status it decides when the check is
    ``decides_when``. The first step that decides, decides."""

    part: str
    check: Any
    decides_when: bool
    status: str


def decide(applies: Any | None, missing: Sequence[tuple[str, Any]], fails: Any) -> Iterator[Step]:
    """The status order, the one place it is written: the steps of a rule's evaluation, first to last.
    ``applies`` and ``fails`` are the conditions' checks (None: no applies_when), ``missing`` each required
    path with its check; whatever an evaluator's checks are (closures, rule-engine, column masks). After the
    last step, a rule that nothing decided passes."""
    if applies is not None:
        yield Step("applies_when", applies, False, "not_applicable")
    for path, check in missing:
        yield Step(path, check, True, "not_evaluable")
    yield Step("fails_when", fails, True, "fail")


def status_function(applies: Getter | None, required: Sequence[Getter], fails: Getter) -> Callable[[Any], str]:
    """The status of one campaign's facts by the order of :func:`decide`, as one function built once per rule
    (it runs for every campaign): each check is called only when reached, a required value is missing where
    it is null or its parent is (``AttributeError``), and anything raised is not_evaluable."""
    steps = tuple(decide(applies, [(str(i), _is_missing(get)) for i, get in enumerate(required)], fails))
    if len(steps) == 1:  # only fails_when: the common case, kept to one call

        def status(facts: Any) -> str:
            try:
                return "fail" if fails(facts) else "pass"
            except Exception:  # any failure to evaluate means the rule cannot vouch: fail closed
                return "not_evaluable"

        return status
    plan = tuple((step.check, step.decides_when, step.status) for step in steps)

    def full_status(facts: Any) -> str:
        try:
            for check, decides_when, decided in plan:
                if bool(check(facts)) is decides_when:
                    return decided
            return "pass"
        except Exception:  # a failed condition: fail closed
            return "not_evaluable"

    return full_status


def _is_missing(get: Getter) -> Getter:
    def missing(facts: Any) -> bool:
        try:
            return get(facts) is None
        except AttributeError:  # a field of a missing object (a payout's amount with no payout)
            return True

    return missing


def reason(
    applies: Getter | None, required: Sequence[tuple[str, Getter]], fails: Getter, facts: Any, explain: Any = None
) -> str:
    """Why the order of :func:`decide` gave not_evaluable for ``facts``: the error a condition raised, or the
    first missing value (``"<path> is missing"``, or its sentence in ``explain``)."""
    steps = decide(applies, [(path, _is_missing(get)) for path, get in required], fails)
    for step in steps:
        try:
            value = bool(step.check(facts))
        except Exception as error:
            return f"{step.part} could not be evaluated ({type(error).__name__}: {error})"
        if step.part in ("applies_when", "fails_when"):
            if value is step.decides_when:
                break
        elif value:
            path = step.part
            return f"{path} is missing" if explain is None else explain.get(path, f"{path} is not known")
    return "the rule could not be evaluated"


def column_statuses(
    applies: tuple[np.ndarray, np.ndarray | None] | None,
    missing: Sequence[tuple[str, np.ndarray]],
    fails: tuple[np.ndarray, np.ndarray | None],
    under: np.ndarray,
) -> np.ndarray:
    """Every row's status code by the order of :func:`decide`: each check is a (truth, error) pair of row
    masks (error: the rows where rule-engine would have raised), and a row takes the status of the first
    step that decides it, an error deciding not_evaluable; rows not ``under`` the rule are NOT_RUN."""
    conditions: list[np.ndarray] = [~under]
    choices: list[int] = [NOT_RUN]
    for step in decide(applies, missing, fails):
        if isinstance(step.check, tuple):
            truth, error = step.check
            if error is not None:
                conditions.append(error)
                choices.append(NOT_EVALUABLE)
        else:
            truth = step.check
        conditions.append(truth if step.decides_when else ~truth)
        choices.append(STATUS_CODES[step.status])
    return np.select(conditions, choices, PASS).astype(np.int8)


# -- values -------------------------------------------------------------------------------------------


def equal(left: Any, right: Any) -> bool:
    return type(left) is type(right) and left == right


def not_equal(left: Any, right: Any) -> bool:
    return type(left) is not type(right) or left != right


def ordered(op: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    if left is None and right is None:
        return op in (operator.ge, operator.le)
    if isinstance(left, tuple) and isinstance(right, tuple):
        for a, b in zip(left, right, strict=False):
            if ordered(operator.ne, a, b):
                return ordered(op, a, b)
        if len(left) != len(right):
            return op(len(left), len(right))
        return op in (operator.ge, operator.le)
    if type(left) is not type(right):
        raise EvaluationFailed("data type mismatch")
    return op(left, right)


def ordered_with_nan(op: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    """:func:`ordered` where a number may be NaN: rule-engine compares in its own decimal context, which
    traps the invalid operation an ordered comparison with NaN is, whatever the calling thread's context does."""
    if isinstance(left, tuple) and isinstance(right, tuple):
        for a, b in zip(left, right, strict=False):
            if ordered(operator.ne, a, b):
                return ordered_with_nan(op, a, b)
        return ordered(op, left, right)
    if type(left) is Decimal and type(right) is Decimal and (left.is_nan() or right.is_nan()):
        raise EvaluationFailed("an ordered comparison with NaN")
    return ordered(op, left, right)


def contains(container: Any, member: Any) -> bool:
    if isinstance(container, (str, bytes)) and type(member) is not type(container):
        raise EvaluationFailed("data type mismatch")
    return bool(member in container)


def get_item(container: Any, item: Any, safe: bool) -> Any:
    if container is None:
        if safe:
            return None
        raise EvaluationFailed("container is null")
    if isinstance(container, (bytes, str, tuple)):
        if isinstance(item, bool) or (not isinstance(item, (int,)) and not is_integral(item)):
            raise EvaluationFailed("data type mismatch (not an integer number)")
        item = int(item)
    try:
        return container[item]
    except (IndexError, KeyError):
        if safe:
            return None
        raise EvaluationFailed("lookup failed") from None


def is_integral(value: Any) -> bool:
    try:
        return bool(value == int(value))
    except (TypeError, ValueError, OverflowError):
        return False


_ITERABLE_TYPES = (tuple, list, set, frozenset, dict, str, bytes)


def iterable(value: Any) -> Any:
    if isinstance(value, _ITERABLE_TYPES):  # the common case, without rule-engine's type inference
        return value
    if not DataType.from_value(value).is_iterable:
        raise EvaluationFailed("data type mismatch (requires an iterable)")
    return value


def is_value_attribute(node: Any) -> bool:
    """Whether ``node`` reads one of rule-engine's value attributes (``created_at.year``, ``platform.length``,
    ``raised_amount.is_nan``) rather than a field of an object of the schema (``payout.amount``)."""
    return isinstance(node, nodes.GetAttributeExpression) and node._object_type is None


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
    if not isinstance(node.right, nodes.StringExpression) or pattern is None:
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
