"""What a mapping file *is*: the ``compliance-mapping/1`` schema, the flat columns it may name and
their types (:data:`COLUMN_TYPES`), the converters it may name for messy text, and the checks the schema
alone cannot make (every name a flat column or type, nothing mapped twice). Reference:
``docs/exports.md``; applying a checked file is :mod:`compliance.batch._mapping`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from compliance._flat import FLAT_COLUMNS
from compliance._vocabulary import Frozen
from compliance._yaml import QUOTE_CHARS, YamlDocument, quote
from compliance.batch._table import COLUMN_KINDS
from compliance.campaign import DECIMAL_CONTEXT
from compliance.errors import RuleProblem

__all__ = ["COLUMN_TYPES", "MAPPING_FORMAT"]


MAPPING_FORMAT = "compliance-mapping/1"


# -- the schema's columns, by type ------------------------------------------------------------------


_TYPE_NAMES = {
    "bool": "boolean",
    "count": "integer",
    "money": "money",
    "time": "datetime",
    "str": "text",
    "hash": "text",
    "literal": "choice",
    "tuple": "list",
}
COLUMN_TYPES: dict[str, str] = {column: _TYPE_NAMES[kind] for column, (kind, _allowed) in COLUMN_KINDS.items()}
"""Every flat column's type as a mapping file names it: boolean, integer, money, datetime, text, choice
(one of fixed codes, e.g. ``payout.payee``) or list."""

_TYPES = ("boolean", "integer", "money", "datetime", "text", "choice", "list")
_HASHED = {column.removesuffix("_hash"): column for column in FLAT_COLUMNS if column.endswith("id_number_hash")}
"""Raw identity-number paths of the nested Campaign JSON, and the flat hash column each is keyed into."""
_GROUPS = frozenset(column.split(".")[0] for column in FLAT_COLUMNS if "." in column)


def _suggestion(name: str, candidates: Any) -> str:
    if len(name) > 2 * QUOTE_CHARS:  # difflib is quadratic in the name's length; no column name is this long
        return ""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- converters for messy text ----------------------------------------------------------------------

_NUMBER = re.compile(
    r"^(?P<sign>[+-]?)\s*[$¥￥€£]?\s*(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"\s*(?P<unit>bn|[kKmMbB万亿])?\s*(?:元|USD|CNY|RMB)?$"
)
_UNITS = {"k": 3, "K": 3, "m": 6, "M": 6, "b": 9, "B": 9, "bn": 9, "万": 4, "亿": 8}


def _number_text(text: str, *, units: bool) -> str | None:
    """``text`` as plain decimal digits, exactly (no float), or None when it is not such a number."""
    match = _NUMBER.match(text)
    if match is None or (match["unit"] and not units):
        return None
    digits = match["digits"].replace(",", "")
    if match["unit"]:
        value = Decimal(digits).scaleb(_UNITS[match["unit"]], context=DECIMAL_CONTEXT)  # never the caller's context
        whole = value == value.to_integral_value(context=DECIMAL_CONTEXT)
        digits = str(int(value)) if whole else format(value.normalize(context=DECIMAL_CONTEXT), "f")
    return ("-" if match["sign"] == "-" else "") + digits


def _parse_datetime(text: str, pattern: str) -> str | None:
    try:
        return datetime.strptime(text, pattern).isoformat()
    except ValueError:
        return None


_NUMERIC = frozenset({"integer", "money"})
_CONVERTERS: dict[str, tuple[Callable[[str], str | None], frozenset[str]]] = {
    "abbreviated_number": (lambda text: _number_text(text, units=True), _NUMERIC),
    "number": (lambda text: _number_text(text, units=False), _NUMERIC),
}
"""Named converters: the function (None when the text is not of its shape), and the column types it serves."""


# -- the mapping file -------------------------------------------------------------------------------


Scalar = str | bool | int | None
_YAML_HINT = "quote it: YAML reads unquoted yes, no, on, off, true, false, null and numbers as non-text"


def _text_keys(value: Any) -> Any:
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"the key {quote(key)} is not text; {_YAML_HINT}")
    return value


class _ColumnSpec(Frozen):
    to: str
    hash_with_key: bool = False


class _DatetimeSpec(Frozen):
    datetime: Annotated[str, Field(min_length=1)]
    """A :func:`datetime.strptime` pattern, e.g. ``"%Y/%m/%d %H:%M"``."""


class _MappingFile(Frozen):
    """A mapping file (``format: compliance-mapping/1``); see ``docs/exports.md``."""

    format: str
    name: Annotated[str, Field(min_length=1)]
    description: str | None = None
    columns: dict[str, str | _ColumnSpec] = {}
    ignore: list[str] = []
    unmapped: Literal["error", "ignore"] = "error"
    constants: dict[str, Scalar | datetime | date] = {}
    missing: list[str] = []
    values: dict[str, dict[str, Scalar]] = {}
    parse: dict[str, str | _DatetimeSpec] = {}
    separators: dict[str, Annotated[str, Field(min_length=1)]] = {}

    @field_validator("columns", "constants", "values", "parse", "separators", mode="before")
    @classmethod
    def _keys_are_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for inner in value.values():
                _text_keys(inner)
        return _text_keys(value)

    @field_validator("format")
    @classmethod
    def _is_this_format(cls, value: str) -> str:
        if value != MAPPING_FORMAT:
            raise ValueError(f"expected {MAPPING_FORMAT!r}; this library reads that format only")
        return value

    @field_validator("ignore", "missing", mode="before")
    @classmethod
    def _items_are_text(cls, value: Any) -> Any:
        if isinstance(value, list):
            for item in value:
                if not isinstance(item, str):
                    raise ValueError(f"the item {quote(item)} is not text; {_YAML_HINT}")
        return value


def _check(spec: _MappingFile, doc: YamlDocument) -> list[RuleProblem]:
    """What the schema cannot check: every name a flat column or type, nothing mapped twice."""
    problems: list[RuleProblem] = []

    def problem(loc: tuple[str | int, ...], code: str, message: str) -> None:
        where = ".".join(str(part) for part in loc)
        where = where if len(where) <= QUOTE_CHARS else where[: QUOTE_CHARS - 1] + "…"
        problems.append(RuleProblem(str(doc.path), doc.line_of(loc), None, code, f"{where}: {message}"))

    sources: dict[str, str] = {}
    for source, entry in spec.columns.items():
        target, hashed = (entry, False) if isinstance(entry, str) else (entry.to, entry.hash_with_key)
        if hashed and target not in _HASHED.values():
            problem(("columns", source), "column", f"hash_with_key maps to one of {sorted(_HASHED.values())}")
        elif target not in COLUMN_TYPES:
            hint = _suggestion(target, FLAT_COLUMNS)
            problem(("columns", source), "column", f"{quote(target)} is not a flat column{hint}")
        elif target in sources:
            problem(("columns", source), "conflict", f"{quote(target)} is already mapped from {quote(sources[target])}")
        sources.setdefault(target, source)
    for index, name in enumerate(spec.ignore):
        if name in spec.columns:
            problem(("ignore", index), "conflict", f"{quote(name)} is both mapped and ignored")
    for target in spec.constants:
        if target not in COLUMN_TYPES:
            problem(("constants", target), "column", f"not a flat column{_suggestion(target, FLAT_COLUMNS)}")
        elif target in sources:
            problem(("constants", target), "conflict", f"{quote(target)} is also mapped from {quote(sources[target])}")
    for section in ("values", "parse", "separators"):
        for key in getattr(spec, section):
            if key not in COLUMN_TYPES and key not in _TYPES:
                hint = _suggestion(key, (*FLAT_COLUMNS, *_TYPES))
                problem((section, key), "column", f"neither a flat column nor a type ({', '.join(_TYPES)}){hint}")
    for key, converter in spec.parse.items():
        if isinstance(converter, str) and converter not in _CONVERTERS:
            known = ", ".join([*_CONVERTERS, "{datetime: <strptime pattern>}"])
            problem(("parse", key), "converter", f"unknown converter {quote(converter)} (known: {known})")
            continue
        name = "datetime" if isinstance(converter, _DatetimeSpec) else converter
        serves = frozenset({"datetime"}) if isinstance(converter, _DatetimeSpec) else _CONVERTERS[converter][1]
        kind = COLUMN_TYPES.get(key, key)
        if kind in _TYPES and kind not in serves:
            problem(("parse", key), "converter", f"{name} converts {' and '.join(sorted(serves))} columns, not {kind}")
    for key in spec.separators:
        kind = COLUMN_TYPES.get(key, key)
        if kind in _TYPES and kind != "list":
            problem(("separators", key), "converter", f"a separator splits list columns, not {kind}")
    return problems
