"""A row of a validated table, read through a Campaign's attributes, without building a Campaign.

A rule the column evaluator does not translate runs row by row by the single-campaign evaluator, which reads a
campaign by attribute paths (``campaign.payout.amount``), as rule-engine's own evaluator does (an OBJECT's
attributes by ``getattr``). The table's columns already hold each row as the schema reads it (``build_table``
checks each cell, and has the schema read a row it cannot vouch for), so validating the row again into a
:class:`~compliance.Campaign` (a flat dict, nested, validated: most of the time such a rule takes) would only
give back the same values. A row view gives them at the same paths, read from the columns when asked:

>>> row = campaign_row(table, 0)
>>> row.payout.amount, row.created_at.tzinfo.key  # doctest: +SKIP
(Decimal('50000.00'), 'Asia/Shanghai')

money is a Decimal to the fen, a time is in Asia/Shanghai, a count an ``int``, a list a tuple, ``None`` where
not given; ``payout`` is ``None`` without a payout request; a raw identity number is ``None`` (tables hold only
keyed hashes). Two objects of the same kind are equal when their fields are, as the schema's models are.
``tests/test_row_view.py`` holds every path a rule can read to ``Table.campaign``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, cast, get_args, get_origin

from pydantic import BaseModel

from compliance.batch._table import COLUMN_KINDS, Table, to_python
from compliance.campaign import DISCLOSURE_ITEMS, Campaign

__all__ = ["RowObject", "campaign_row", "disclosure_answers"]


class RowObject:
    """One of a table row's objects (the campaign, its initiator, its payout, …), its fields read lazily."""

    __slots__ = ("_i", "_table")
    FIELDS: ClassVar[tuple[str, ...]] = ()
    """The fields, in the order of the schema's model."""

    def __init__(self, table: Table, i: int) -> None:
        self._table = table
        self._i = i

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RowObject):
            return NotImplemented
        return type(self) is type(other) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(row {self._i})"


def _leaf(path: str) -> property:
    def read(self: RowObject) -> Any:
        column = self._table.columns[path]
        i = self._i
        return None if column.null[i] else to_python(column.kind, column.at(i))

    return property(read)


def _nested(kind: type[RowObject], *, optional: bool) -> property:
    def read(self: RowObject) -> Any:
        return kind(self._table, self._i)

    def read_optional(self: RowObject) -> Any:
        return kind(self._table, self._i) if self._table.payout[self._i] else None

    return property(read_optional if optional else read)


def _not_in_tables(_self: RowObject) -> None:
    """A raw identity number: tables carry only its keyed hash."""
    return None


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (None for a leaf), and whether the field may be None."""
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            optional = True
            if len(members) != 1:
                return None, optional
            annotation = members[0]
        else:
            break
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, optional
    return None, optional


def _row_class(model: type[BaseModel], prefix: str = "") -> type[RowObject]:
    namespace: dict[str, Any] = {"__slots__": (), "FIELDS": tuple(model.model_fields)}
    for name, field in model.model_fields.items():
        path = prefix + name
        inner, optional = _model_of(field.annotation)
        getter: Callable[..., Any] | property
        if inner is not None:
            if optional and path != "payout":  # only a payout's presence is kept (Table.payout)
                raise TypeError(f"{path}: an optional object the table cannot say is present")
            getter = _nested(_row_class(inner, f"{path}."), optional=optional)
        elif path in COLUMN_KINDS:
            getter = _leaf(path)
        else:
            getter = property(_not_in_tables)
        namespace[name] = getter
    return cast("type[RowObject]", type(f"{model.__name__}Row", (RowObject,), namespace))


_CAMPAIGN_ROW = _row_class(Campaign)


def campaign_row(table: Table, i: int) -> RowObject:
    """Row ``i`` of ``table`` (a row that was read) with the attributes and values of ``table.campaign(i)``."""
    return _CAMPAIGN_ROW(table, i)


def disclosure_answers(row: RowObject) -> dict[str, Any]:
    """The disclosure items' answers by item, as ``campaign.disclosure.__dict__`` gives them."""
    disclosure = cast("Any", row).disclosure
    return {item: getattr(disclosure, item) for item in DISCLOSURE_ITEMS}
