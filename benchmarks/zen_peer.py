"""The peer figure: the same rules run by zen-engine (GoRules' rules engine, written in Rust), in the same process.

Each rule's conditions are translated from rule-engine's checked AST into one ZEN expression that gives the
rule's status, in the order ``compliance`` evaluates it (``applies_when`` → ``requires`` → ``fails_when``);
the ruleset's parameters are written into the expression as literals, as a zen-engine user would write
them. A stage's rules run two ways: one compiled expression giving the list of statuses (the fastest
zen-engine offers), and one decision graph with an expression node (how a JDM decision is usually run).
Benchmark-only: ``pip install zen-engine`` (it is not a dependency of the library).

Only the constructs the shipped rules use are translated; anything else raises ``NotImplementedError``, so
the figure never rests on a rule translated by guesswork. :func:`check` runs on every campaign before
anything is timed: the figure counts only if zen-engine gives each rule the status ``compliance`` gives it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rule_engine import ast

from compliance.rules._schema import Facts

_COMPARISONS = {"eq": "==", "ne": "!=", "ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    raise NotImplementedError(f"no ZEN literal for {type(value).__name__}")


def expression(node: Any, params: Any, variables: Sequence[str] = ()) -> str:
    """A ZEN expression with the meaning of rule-engine's ``node`` (parameters folded to literals)."""
    match node:
        case ast.SymbolExpression(name=name) if name in variables:
            return "#"
        case ast.SymbolExpression(name=name):
            return name
        case ast.GetAttributeExpression(object=ast.SymbolExpression(name="params"), name=name):
            return _literal(getattr(params, name))
        case ast.GetAttributeExpression(object=inner, name=name):  # ZEN reads a member of null as null, like &.
            return f"{expression(inner, params, variables)}.{name}"
        case ast.GetItemExpression(container=container, item=item):
            return f"{expression(container, params, variables)}[{expression(item, params, variables)}]"
        case (
            ast.ComparisonExpression(type=kind, left=left, right=right)
            | ast.ArithmeticComparisonExpression(type=kind, left=left, right=right)
        ):
            operator = _COMPARISONS[kind]
            return f"({expression(left, params, variables)} {operator} {expression(right, params, variables)})"
        case ast.LogicExpression(type=kind, left=left, right=right):
            return f"({expression(left, params, variables)} {kind} {expression(right, params, variables)})"
        case ast.UnaryExpression(type="not", right=right):
            return f"(not {expression(right, params, variables)})"
        case ast.ContainsExpression(container=container, member=member):
            return f"({expression(member, params, variables)} in {expression(container, params, variables)})"
        case ast.ArrayExpression(value=items):
            return "[" + ", ".join(expression(item, params, variables) for item in items) + "]"
        case ast.FunctionCallExpression(
            function=ast.SymbolExpression(name="any"),
            arguments=[
                ast.ComprehensionExpression(result=result, variable=variable, iterable=iterable, condition=None)
            ],
        ):
            inner = expression(result, params, (*variables, variable))
            return f"some({expression(iterable, params, variables)}, {inner})"
        case ast.StringExpression(value=value) | ast.BooleanExpression(value=value) | ast.FloatExpression(value=value):
            return _literal(value)
        case ast.NullExpression():
            return "null"
    raise NotImplementedError(f"{type(node).__name__} is not translated to ZEN")


def status_expression(rule: Any) -> str:
    """One ZEN expression giving the rule's status: not_applicable, not_evaluable, fail or pass."""
    fails = expression(rule.fails.expression, rule.params)
    status = f'({fails} ? "fail" : "pass")'
    if rule.requires:
        present = " and ".join(f"({path} != null)" for path in rule.requires)
        status = f'(({present}) ? {status} : "not_evaluable")'
    if rule.applies is not None:
        applies = expression(rule.applies.expression, rule.params)
        status = f'({applies} ? {status} : "not_applicable")'
    return status


def decision(rules: Sequence[Any]) -> Any:
    """One zen-engine decision graph (input → one expression node with each rule's status → output)."""
    import zen

    position = {"x": 0, "y": 0}
    content = {
        "nodes": [
            {"id": "input", "type": "inputNode", "name": "campaign", "position": position},
            {
                "id": "rules",
                "type": "expressionNode",
                "name": "statuses",
                "position": position,
                "content": {
                    "expressions": [
                        {"id": str(i), "key": _key(rule.id), "value": status_expression(rule)}
                        for i, rule in enumerate(rules)
                    ]
                },
            },
            {"id": "output", "type": "outputNode", "name": "statuses", "position": position},
        ],
        "edges": [
            {"id": "in", "sourceId": "input", "targetId": "rules", "type": "edge"},
            {"id": "out", "sourceId": "rules", "targetId": "output", "type": "edge"},
        ],
    }
    return zen.ZenEngine().create_decision(json.dumps(content, ensure_ascii=False))


def _key(rule_id: str) -> str:
    return rule_id.replace(".", "_").replace("-", "_")


def context(facts: Facts) -> dict[str, Any]:
    """What zen-engine reads: the campaign's fields and the facts beside them, as plain JSON values. Money
    goes as a float, whose shortest text is the amount's exact decimal text (fen, far below 2**53), so
    zen-engine, which reads numbers as decimals, compares it exactly."""
    out = _plain(facts.campaign.model_dump())
    match = facts.blacklist
    out["blacklist"] = {"initiator": match.initiator, "patient": match.patient, "payee": match.payee}
    out["disclosure_answers"] = _plain(dict(facts.disclosure_answers))
    out["risk"] = None if facts.risk is None else {"band": facts.risk.band, "score": float(facts.risk.score)}
    out["stage"] = facts.stage
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def expression_of(rules: Sequence[Any]) -> Any:
    """The stage's rules as one compiled ZEN expression: the list of their statuses, in order (the fastest
    way zen-engine offers to run them: a decision graph adds its own cost per call)."""
    import zen

    return zen.compile_expression("[" + ", ".join(status_expression(rule) for rule in rules) + "]")


def check(compiled: Any, graph: Any, rules: Sequence[Any], facts: Facts, payload: dict[str, Any]) -> None:
    """Raise unless zen-engine, both ways, gives every rule the status ``compliance`` gives it."""
    ours = [rule.status(facts) for rule in rules]
    by_graph = graph.evaluate(payload)["result"]
    for theirs in (compiled.evaluate(payload), [by_graph[_key(rule.id)] for rule in rules]):
        if theirs != ours:
            raise AssertionError(f"zen-engine disagrees on {facts.campaign.campaign_id}: {theirs} != {ours}")
