"""Parameters: the named, sourced values a rule reads as ``params.<name>``, and how a written value
becomes a typed one (money, number, boolean, string, list of strings, disclosure items). A platform may
override any of them; the value is checked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from compliance.campaign import DISCLOSURE_ITEMS, MONEY
from compliance.decision import Text


@dataclass(frozen=True, slots=True)
class Parameter:
    """A named, sourced value a rule reads as ``params.<name>``; a platform may override it."""

    name: str
    type: str
    value: Any
    title: Text
    source_clause: str | None
    source_note: str
    overridden: bool = False


def parameter_value(kind: str, raw: Any) -> Any:
    """Convert a parameter's written value to its typed value, or raise ``ValueError`` saying why."""
    if kind == "money":
        try:
            return MONEY.validate_python(raw)
        except ValidationError as error:
            raise ValueError(error.errors(include_input=False)[0]["msg"]) from None
    if kind == "number":
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal)):
            raise ValueError("expected a number")
        try:
            number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw))
        except InvalidOperation:
            raise ValueError("expected a number") from None
        if not number.is_finite():
            raise ValueError("expected a finite number")
        return number
    if kind == "boolean":
        if not isinstance(raw, bool):
            raise ValueError("expected true or false")
        return raw
    if kind == "string":
        if not isinstance(raw, str):
            raise ValueError("expected a string")
        return raw
    if not isinstance(raw, (list, tuple)) or not all(isinstance(v, str) for v in raw):
        raise ValueError("expected a list of strings")
    if kind == "disclosure_items":
        unknown = [v for v in raw if v not in DISCLOSURE_ITEMS]
        if unknown:
            raise ValueError(f"unknown disclosure item(s) {unknown}; known: {list(DISCLOSURE_ITEMS)}")
        if not raw or len(set(raw)) != len(raw):
            raise ValueError("expected a non-empty list of distinct disclosure items")
    return tuple(raw)


_STAND_IN: dict[str, Any] = {
    "money": Decimal(0),
    "number": Decimal(0),
    "boolean": False,
    "string": "",
    "string_list": ("",),
    "disclosure_items": ("house",),
}
"""A value of each parameter type, used only to type-check rules when a parameter's own value is bad."""
