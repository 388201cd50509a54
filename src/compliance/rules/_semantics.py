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

__all__ = [
    "FAIL",
    "NOT_APPLICABLE",
    "NOT_EVALUABLE",
    "NOT_RUN",
    "PASS",
    "STATUS_CODES",
    "STATUS_NAMES",
    "EvaluationFailed",
    "RuleChecks",
    "Step",
    "Unsupported",
    "builtin",
    "column_statuses",
    "contains",
    "decide",
    "equal",
    "get_item",
    "is_integral",
    "iterable",
    "not_equal",
    "ordered",
    "ordered_with_nan",
    "reason",
    "status_function",
    "statuses_function",
    "unrolled",
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
    """One step of a rule's evaluation: ``part`` (``applies_when``, ``fails_when``, or a required path), its
    ``check``, and the status it decides when the check is ``decides_when``. The first step that decides,
    decides. For a condition the check gives the condition's value; for a required path it gives the value
    itself, missing where it is null (one campaign: a getter; a column of rows: the mask of missing rows)."""

    part: str
    check: Any
    decides_when: bool
    status: str
    required: bool = False
    """Whether the step checks a required value (its check gives the value, missing where null)."""


def decide(applies: Any | None, required: Sequence[tuple[str, Any]], fails: Any) -> Iterator[Step]:
    """The status order, the one place it is written: the steps of a rule's evaluation, first to last.
    ``applies`` and ``fails`` are the conditions' checks (None: no applies_when), ``required`` each required
    path with its check; whatever an evaluator's checks are (closures, rule-engine, column masks). After the
    last step, a rule that nothing decided passes; a step that raises decides not_evaluable."""
    if applies is not None:
        yield Step("applies_when", applies, False, "not_applicable")
    for path, check in required:
        yield Step(path, check, True, "not_evaluable", required=True)
    yield Step("fails_when", fails, True, "fail")


RuleChecks = tuple[Getter | None, Sequence[Getter], Getter]
"""One rule's checks for one campaign: ``applies_when``'s (or None), its required values' getters, ``fails_when``'s."""


def status_function(applies: Getter | None, required: Sequence[Getter], fails: Getter) -> Callable[[Any], str]:
    """The status of one campaign's facts by the order of :func:`decide`, as one function built once per rule.
    Each check is called only when reached; a required value is missing where its getter gives None or
    raises ``AttributeError`` (a field of a missing payout); anything raised is not_evaluable."""
    function: Callable[[Any], str] = _generated([(applies, required, fails)], single=True)
    return function


def statuses_function(rules: Sequence[RuleChecks]) -> Callable[[Any], list[str]]:
    """Every rule's status for one campaign's facts, in order, by one function (built once per ruleset and
    stage): the steps of :func:`decide` for each rule, one after the other, with no call per rule."""
    function: Callable[[Any], list[str]] = _generated(rules, single=False)
    return function


def _generated(rules: Sequence[RuleChecks], *, single: bool) -> Any:
    """A function written from :func:`decide`'s steps. Its source holds only names this function makes
    (``check_<rule>_<step>``) and the four status words; every check reaches it through the namespace, never
    as text, so nothing a rule file says becomes code. Each rule is a flat run of ``if``s inside its own
    ``try`` (no ``elif`` chain, whose depth the compiler would pay for a rule with many required values)."""
    namespace: dict[str, Any] = {}
    lines = ["def statuses(facts):"] + ([] if single else ["    out = []"])
    for r, (applies, required, fails) in enumerate(rules):
        lines += ["    while True:", "        try:"]
        for k, step in enumerate(decide(applies, [(str(i), get) for i, get in enumerate(required)], fails)):
            name = f"check_{r}_{k}"
            namespace[name] = step.check
            if step.required:
                test = f"{name}(facts) is None"  # AttributeError (a missing parent) is caught below
            else:
                test = f"{name}(facts)" if step.decides_when else f"not {name}(facts)"
            lines += [
                f"            if {test}:",
                f"                status = {_word(step.status)}",
                "                break",
            ]
        lines += ["            status = 'pass'", "            break", "        except Exception:"]
        lines += ["            status = 'not_evaluable'", "            break"]  # fail closed
        lines.append("    return status" if single else "    out.append(status)")
    if not single:
        lines.append("    return out")
    source = "\n".join(lines)
    exec(compile(source, "<compliance.rules._semantics: statuses>", "exec"), namespace)
    function = namespace["statuses"]
    function.source = source  # for tests and for whoever audits what runs
    return function


def _word(status: str) -> str:
    if status not in STATUS_CODES:  # the only text the generated source carries
        raise ValueError(f"not a status: {status!r}")
    return repr(status)


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
    for step in decide(applies, [(path, _is_missing(get)) for path, get in required], fails):
        try:
            decided = bool(step.check(facts)) is step.decides_when
        except Exception as error:
            return f"{step.part} could not be evaluated ({type(error).__name__}: {error})"
        if decided and step.required:
            path = step.part
            return f"{path} is missing" if explain is None else explain.get(path, f"{path} is not known")
        if decided:
            break
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
    from compliance.rules._parse import DataType  # rule-engine's type inference, for the rare other values

    if not DataType.from_value(value).is_iterable:
        raise EvaluationFailed("data type mismatch (requires an iterable)")
    return value


def builtin(name: str) -> Callable[[Any], bool]:
    """The function a ``$`` builtin names (``$any``, ``$all``); any other is :class:`Unsupported` (the loader
    refuses it: ``$now`` would make a decision depend on when it is made)."""
    from compliance.rules._parse import ALLOWED_BUILTINS

    if name not in ALLOWED_BUILTINS:
        raise Unsupported(f"${name}")
    function: Callable[[Any], bool] = {"any": any, "all": all}[name]
    return function


def unrolled(total: int, values: Any) -> int:
    """How many comprehension members a condition unrolls into once ``values`` are added to ``total``;
    past :data:`~compliance.rules._parse.MAX_UNROLLED`, :class:`~compliance.rules._parse.ConditionLimit`."""
    from compliance.rules._parse import MAX_UNROLLED, ConditionLimit

    total += len(values) if hasattr(values, "__len__") else 0
    if total > MAX_UNROLLED:
        raise ConditionLimit(f"its comprehensions unroll to more than {MAX_UNROLLED:,} members")
    return total
