"""The typed view that rule conditions read, derived from the Campaign schema.

This module and ``_parse`` are the only ones that import ``rule_engine`` (the door: everything else gets
rule-engine's types and AST through them). A condition is checked by rule-engine against these types, so a
misspelt field, a comparison of money with text, or an ordered comparison on a value that may be null fails
when the rule file is loaded, not when a campaign arrives.

Symbols a condition can use:

- every Campaign field, nested objects by attribute (``payout.amount``, ``disclosure.house``), except
  identity numbers and their hashes, which rules never see;
- ``params``: the ruleset's named parameters (``params.payout_restriction_amount``);
- ``disclosure_answers``: the disclosure items as a mapping from item name to answer (``null`` = not
  answered), so a parameter can list which items make disclosure complete;
- ``blacklist``: ``initiator``, ``patient``, ``payee`` each ``true`` (listed), ``false`` (checked, not
  listed) or ``null`` (could not be checked);
- ``risk``: ``score`` (0–1) and ``band`` (``low``, ``elevated``, ``high``) from the risk model, or ``null``
  when no model was used;
- ``stage``: ``"publish"`` or ``"payout"``.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal, get_args, get_origin

import rule_engine
from pydantic import BaseModel, SecretStr
from rule_engine import DataType

from compliance._flat import leaf_types
from compliance.campaign import DECIMAL_CONTEXT, SHANGHAI, Campaign

EXTRA_SYMBOLS = ("blacklist", "disclosure_answers", "risk", "stage")
"""Symbols the facts object provides beside the Campaign fields; ``params`` is bound per ruleset."""
_HIDDEN_FIELDS = frozenset({"id_number", "id_number_hash", "payee_id_number", "payee_id_number_hash"})

_RISK_TYPE = DataType.NULLABLE(DataType.OBJECT("RiskView", {"score": DataType.FLOAT, "band": DataType.STRING}))
_BLACKLIST_TYPE = DataType.OBJECT(
    "BlacklistMatch",
    {role: DataType.NULLABLE(DataType.BOOLEAN) for role in ("initiator", "patient", "payee")},
)


class Facts:
    """What a condition reads: one campaign at one stage, with parameters and blacklist matches."""

    __slots__ = ("blacklist", "campaign", "disclosure_answers", "risk", "stage")

    def __init__(
        self, campaign: Campaign, stage: str, blacklist: Any, disclosure_answers: dict[str, Any], risk: Any = None
    ) -> None:
        self.campaign = campaign
        self.stage = stage
        self.blacklist = blacklist
        self.disclosure_answers = disclosure_answers
        self.risk = risk


class RiskView:
    """What rules read of a risk score: ``score`` as an exact Decimal (as rule-engine reads numbers) and ``band``."""

    __slots__ = ("band", "score")

    def __init__(self, score: Decimal, band: str) -> None:
        self.score = score
        self.band = band


def resolve_symbol(facts: Facts, name: str, *, params: Any = None) -> Any:
    """rule-engine's resolver for top-level symbols; ``params`` is the rule's own ruleset parameters."""
    if name == "params":
        return params
    if name in EXTRA_SYMBOLS:
        return getattr(facts, name)
    try:
        return getattr(facts.campaign, name)
    except AttributeError:
        raise rule_engine.SymbolResolutionError(name) from None


def _unwrap_annotated(annotation: Any) -> Any:
    while get_origin(annotation) is typing.Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def datatype_of(annotation: Any) -> Any:
    """The rule-engine type of a pydantic field annotation."""
    annotation = _unwrap_annotated(annotation)
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        inner = datatype_of(members[0]) if len(members) == 1 else DataType.UNDEFINED
        return DataType.NULLABLE(inner) if len(members) < len(get_args(annotation)) else inner
    if origin is tuple:
        return DataType.ARRAY(datatype_of(get_args(annotation)[0]))
    if origin is Literal or annotation is str:
        return DataType.STRING
    if annotation is bool:
        return DataType.BOOLEAN
    if annotation in (Decimal, int, float):
        return DataType.FLOAT
    if annotation is datetime:
        return DataType.DATETIME
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _object_type(annotation)
    raise TypeError(f"no rule-engine type for {annotation!r}")


def _object_type(model: type[BaseModel]) -> Any:
    attributes = {
        name: datatype_of(field.annotation)
        for name, field in model.model_fields.items()
        if name not in _HIDDEN_FIELDS and _unwrap_annotated(field.annotation) is not SecretStr
    }
    return DataType.OBJECT(model.__name__, attributes)


INTEGER_PATHS = frozenset(path for path, kind in leaf_types() if kind is int)
"""Paths whose values are Python ints: rule-engine reads them as ``Decimal``, so compiled code must too."""


@cache
def campaign_types() -> Mapping[str, Any]:
    """The types of the top-level Campaign symbols."""
    return types.MappingProxyType(dict(_object_type(Campaign).attributes))


def parameters_type(values: Mapping[str, Any]) -> Any:
    """An OBJECT type whose attributes are the ruleset's parameters, typed by their values."""
    return DataType.OBJECT("Parameters", {name: DataType.from_value(v) for name, v in values.items()})


def symbol_types(params_type: Any, required: Iterable[str] = ()) -> dict[str, Any]:
    """Every symbol's type for one rule; paths in ``required`` are known not to be null."""
    symbols = dict(campaign_types())
    symbols.update(
        params=params_type,
        blacklist=_BLACKLIST_TYPE,
        disclosure_answers=DataType.MAPPING(DataType.STRING, DataType.NULLABLE(DataType.BOOLEAN)),
        risk=_RISK_TYPE,
        stage=DataType.STRING,
    )
    for path in required:
        head, *rest = path.split(".")
        symbols[head] = _narrow(symbols[head], rest, path)
    return symbols


def _narrow(datatype: Any, rest: list[str], path: str) -> Any:
    """``datatype`` with the value at ``rest`` known to be present (NULLABLE peeled off)."""
    datatype = DataType.NULLABLE.unwrap(datatype)
    if not rest:
        return datatype
    if not DataType.is_type(datatype, DataType.OBJECT) or rest[0] not in datatype.attributes:
        raise KeyError(path)
    attributes = dict(datatype.attributes)
    attributes[rest[0]] = _narrow(attributes[rest[0]], rest[1:], path)
    return DataType.OBJECT(datatype.name, attributes)


def known_path(path: str) -> bool:
    """Whether ``path`` names a value a rule can require."""
    try:
        symbol_types(DataType.OBJECT("Parameters", {}), [path])
    except KeyError:
        return False
    return True


def make_context(params_type: Any, required: Iterable[str] = (), params: Any = None) -> rule_engine.Context:
    """A rule-engine context typed for one rule, resolving ``params`` to that rule's parameters."""
    return rule_engine.Context(
        type_resolver=symbol_types(params_type, required),
        resolver=functools.partial(resolve_symbol, params=params),
        default_timezone=SHANGHAI,
        decimal_context=DECIMAL_CONTEXT,
        mapping_attribute_lookup=False,
    )
