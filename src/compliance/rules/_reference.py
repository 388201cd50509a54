"""The reference evaluator: rule-engine's own, by the same status order as the others.

Each condition is evaluated by rule-engine's ``Rule.matches`` (:meth:`~compliance.rules._parse.Condition.matches`),
in the order :func:`~compliance.rules._semantics.decide` writes, with the same getters of the required values
as the single-campaign evaluator. It is what the compiled evaluators are tested against
(``tests/test_compile_agrees.py``, ``tests/test_differential_conditions.py``) and the baseline of
``benchmarks/run.py``; decisions never use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from compliance.rules._closures import form
from compliance.rules._schema import Facts
from compliance.rules._semantics import status_function

if TYPE_CHECKING:
    from compliance.rules._rule import Rule

__all__ = ["status"]

_FORM = "reference"


def status(rule: Rule, facts: Facts) -> str:
    """The rule's status for one campaign's facts by rule-engine's evaluator."""
    function = rule.forms.get(_FORM)
    if function is None:
        applies = None if rule.applies is None else rule.applies.matches
        function = rule.forms[_FORM] = status_function(applies, form(rule).required, rule.fails.matches)
    return function(facts)
