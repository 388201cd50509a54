"""A campaign as one flat row: dotted column names for every leaf of the Campaign schema.

Tables (exports, feature frames, synthetic data) hold campaigns as rows with columns such as
``disclosure.house`` or ``activity.donation_count``; :func:`flatten` and :func:`unflatten` convert
between that row and the nested form the schema validates. Raw identity numbers have no column:
tables carry only their keyed hashes.
"""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr

from compliance.campaign import Campaign

__all__ = ["FLAT_COLUMNS", "flatten", "leaf_types", "unflatten"]


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is typing.Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def leaf_types(model: type[BaseModel] = Campaign, prefix: str = "") -> list[tuple[str, Any]]:
    """Every leaf of the schema as (dotted path, its type with Annotated and ``| None`` removed), in schema
    order; raw identity numbers (secrets) are left out."""
    out = []
    for name, field in model.model_fields.items():
        annotation = _unwrap(field.annotation)
        inner = annotation
        if get_origin(annotation) in (typing.Union, types.UnionType):  # ``X | None``: its X
            inner = _unwrap(next(a for a in get_args(annotation) if a is not type(None)))
        if inner is SecretStr:
            continue
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            out += leaf_types(inner, f"{prefix}{name}.")
        else:
            out.append((prefix + name, inner))
    return out


FLAT_COLUMNS: tuple[str, ...] = tuple(path for path, _type in leaf_types())
"""Every flat column, in schema order (``payout.*`` columns are empty when there is no payout)."""

_PAYOUT = tuple(c for c in FLAT_COLUMNS if c.startswith("payout."))


def flatten(campaign: Campaign) -> dict[str, Any]:
    """The campaign's values by flat column (Python values: Decimal, datetime, bool, str, tuple, None)."""
    row: dict[str, Any] = {}
    for column in FLAT_COLUMNS:
        value: Any = campaign
        for part in column.split("."):
            value = getattr(value, part, None) if value is not None else None
        row[column] = value
    return row


def unflatten(row: dict[str, Any]) -> dict[str, Any]:
    """A nested dict from a flat row, ready for :meth:`Campaign.parse`; no payout when its columns are empty."""
    nested: dict[str, Any] = {}
    has_payout = any(row.get(c) is not None for c in _PAYOUT)
    for column, value in row.items():
        if column.startswith("payout.") and not has_payout:
            continue
        *parents, leaf = column.split(".")
        target = nested
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return nested
