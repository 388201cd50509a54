"""A DataFrame of flat campaign rows, validated into typed columns, whole columns at a time.

Validating each row with pydantic costs about 25 µs; a million-row export would spend half a minute
there. So each column is checked and converted at once, for the shapes exports really have (numbers,
booleans, ISO times, text), into exact typed arrays: money as integer fen, counts as integers, times as
integer microseconds UTC. A value the column check cannot vouch for (a negative amount, a third decimal
place, a string where a number belongs, a payout without a payee) is not guessed at: its whole row is
validated by the :class:`~compliance.Campaign` schema itself, so a row is accepted, and read, exactly
as :func:`compliance.evaluate` would read it, and a row the schema rejects carries the schema's own
error. Missing cells (``None``, ``NaN``, ``pd.NA``, ``NaT``, a Decimal NaN) mean *not given*.
"""

from __future__ import annotations

import decimal
import difflib
import itertools
import re
from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from compliance._flat import FLAT_COLUMNS, leaf_types, unflatten
from compliance.blacklist import HEX64
from compliance.campaign import DECIMAL_CONTEXT, UTC_OFFSET, Campaign, epoch_micros, from_epoch_micros, is_unicode
from compliance.errors import CampaignError

__all__ = ["Column", "Encoded", "Table", "TableColumns", "build_table"]

_MONEY_TEXT = re.compile(r"^\d{1,13}(?:\.\d{1,2})?$")
_COUNT_TEXT = re.compile(r"^\d{1,15}$")
_TIME_TEXT = rf"^\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}}(?:\.\d{{1,6}})?)?{UTC_OFFSET}?)?$"
_BOOL_TEXT = {"true": True, "false": False, "True": True, "False": False, "TRUE": True, "FALSE": False}
_MONEY_LIMIT = 10**13  # amounts below ¥10 trillion are checked per column; larger ones by the schema
_RAW_ID_COLUMNS = ("initiator.id_number", "patient.id_number", "payout.payee_id_number")
_REQUIRED = ("campaign_id", "platform", "created_at", "target_amount")
_PAYOUT_REQUIRED = ("payout.amount", "payout.payee", "payout.requested_at")
_PAYOUT = tuple(c for c in FLAT_COLUMNS if c.startswith("payout."))
_FIRST_MICROS = epoch_micros(datetime(1, 1, 2, tzinfo=UTC))
_LAST_MICROS = epoch_micros(datetime(9999, 12, 30, tzinfo=UTC))
"""Times checked per column lie within these (UTC); times nearer the calendar's ends are read by the schema,
which refuses one that Asia/Shanghai or UTC cannot write."""


def _kind(path: str, annotation: Any) -> tuple[str, tuple[str, ...] | None]:
    """The storage kind of a flat column, and its allowed values for a Literal."""
    if path.endswith("_hash"):
        return "hash", None
    if annotation is Decimal:
        return "money", None
    if annotation is int:
        return "count", None
    if annotation is bool:
        return "bool", None
    if annotation is datetime:
        return "time", None
    if getattr(annotation, "__origin__", None) is tuple:
        return "tuple", None
    if getattr(annotation, "__origin__", None) is Literal:
        return "literal", tuple(get_args(annotation))
    return "str", None


COLUMN_KINDS: dict[str, tuple[str, tuple[str, ...] | None]] = {path: _kind(path, t) for path, t in leaf_types()}
"""Every flat column's storage kind: money (int64 fen), count (int64), time (int64 µs UTC), bool, and
str, literal, hash, tuple (object arrays)."""


class Column:
    """One validated column: ``values`` (typed as its kind stores it) and ``null`` (not given).

    A text column read from a pandas string dtype stays in that form until a rule or the risk model
    reads it: turning a million cells into Python strings costs time and memory that most columns
    (campaign ids, free-text diagnoses) never need. A column of allowed values (a payee, a relation) is
    kept dictionary-encoded: ``codes`` index ``spellings`` (-1: none), found by the same hashing pass
    that checks the values are allowed, so a rule comparing it with a constant compares integers.
    """

    __slots__ = ("_raw", "_values", "codes", "kind", "null", "spellings")

    def __init__(
        self, kind: str, values: Any, null: np.ndarray, *, raw: Any = None, encoded: Encoded | None = None
    ) -> None:
        self.kind = kind
        self.null = null
        self._values: np.ndarray | None = values
        self._raw = raw
        self.codes: np.ndarray | None = None
        self.spellings: dict[str, int] = {}
        if encoded is not None:
            self.codes, self.spellings = encoded.codes, encoded.spellings

    @property
    def values(self) -> np.ndarray:
        if self._values is None:
            if self.codes is not None:
                table = np.array([*self.spellings, None], dtype=object)  # code -1: the last, None
                values = table[self.codes]
            else:
                values = np.array(self._raw.to_numpy(dtype=object, na_value=None), dtype=object, copy=True)
            values[self.null] = None
            self._values, self._raw = values, None
        return self._values

    def set(self, i: int, value: Any) -> None:
        """Store row ``i``'s value (read by the schema)."""
        if self.codes is not None:
            self.codes[i] = self.spellings.setdefault(value, len(self.spellings)) if type(value) is str else -1
            if self._values is None:
                return
        self.values[i] = value

    def isin(self, values: Collection[str]) -> np.ndarray:
        """Whether each row's value is one of ``values`` (False where null)."""
        found: np.ndarray
        if self._values is None and getattr(self._raw.dtype, "storage", None) == "pyarrow":
            text = pa.array(self._raw)  # Arrow's own set lookup: pandas' isin converts its result per cell
            found = pc.is_in(text, value_set=pa.array(list(values), text.type)).to_numpy(zero_copy_only=False)
        else:
            given = self._raw if self._values is None else self._values
            # Cells kept as objects stay objects: pandas would infer Arrow text, which refuses a lone surrogate
            column = pd.Series(given, dtype=None if text_dtype(given.dtype) else object)
            found = column.isin(values).to_numpy(bool, na_value=False)
        listed: np.ndarray = found & ~self.null
        return listed

    def at(self, i: int) -> Any:
        """The value in row ``i`` (without turning the whole column into Python values)."""
        if self._values is not None:
            return self._values[i]
        if self.codes is not None:
            code = int(self.codes[i])
            return None if code < 0 else list(self.spellings)[code]
        return self._raw[i]


@dataclass(frozen=True)
class Encoded:
    """A text column as codes into its distinct text values (-1 where missing or not text)."""

    codes: np.ndarray
    spellings: dict[str, int]


@dataclass(frozen=True)
class Table:
    """Validated campaigns as typed columns; rows with ``error`` set could not be read (their values are null)."""

    labels: pd.Index
    columns: dict[str, Column]
    payout: np.ndarray
    """Whether each row has a payout request."""
    error: np.ndarray
    """The reason a row could not be read (object array; ``None`` for rows that were read)."""

    @property
    def n(self) -> int:
        return len(self.labels)

    @property
    def ok(self) -> np.ndarray:
        result: np.ndarray = pd.isna(self.error)
        return result

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a flat dict of Python values, as :func:`~compliance._flat.flatten` gives."""
        out: dict[str, Any] = {}
        for path, column in self.columns.items():
            out[path] = None if column.null[i] else to_python(column.kind, column.at(i))
        if not self.payout[i]:
            out.update(dict.fromkeys(_PAYOUT))
        return out

    def campaign(self, i: int) -> Campaign:
        """Row ``i`` validated again into a :class:`Campaign` (only for rows that were read): for a risk model
        that scores campaigns one at a time. Rules read a row through ``_rows.campaign_row``, which needs no
        second validation."""
        return Campaign.parse(unflatten(self.row(i)))


class TableColumns:
    """Rows of a :class:`Table` as the risk model's input columns (``InputColumns`` of ``compliance.risk._inputs``).

    Amounts and times divide exact integers (fen, microseconds), so they round exactly as
    ``float(Decimal)`` and ``datetime.timestamp()`` do for a single campaign.
    """

    def __init__(self, table: Table, rows: np.ndarray) -> None:
        self.table = table
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def numbers(self, path: str) -> np.ndarray:
        column = self.table.columns[path]
        scaled = column.values[self.rows] / _SCALE.get(column.kind, 1.0)
        numbers: np.ndarray = np.where(column.null[self.rows], np.nan, scaled)
        return numbers

    seconds = numbers

    def given(self, path: str) -> np.ndarray:
        given: np.ndarray = ~self.table.columns[path].null[self.rows]
        return given

    def lookup(self, path: str, mapping: Mapping[str, float], default: float) -> np.ndarray:
        """Through the column's codes: one lookup per distinct value, not per row."""
        column = self.table.columns[path]
        assert column.codes is not None  # columns of allowed values are always encoded (build_table)
        by_code = np.array([*(mapping.get(value, default) for value in column.spellings), np.nan], dtype=float)
        values: np.ndarray = by_code[column.codes[self.rows]]  # code -1 (the last): not given
        return values

    def lengths(self, path: str) -> np.ndarray:
        return np.fromiter(map(len, self.table.columns[path].values[self.rows]), float, len(self.rows))

    def objects(self, path: str) -> np.ndarray:
        values: np.ndarray = self.table.columns[path].values[self.rows]
        return values

    def payout_requested(self) -> np.ndarray:
        requested: np.ndarray = self.table.payout[self.rows]
        return requested


_SCALE = {"money": 100.0, "time": 1e6}
"""What a stored integer is divided by to read it in yuan or in seconds."""


def to_python(kind: str, value: Any) -> Any:
    """A stored value as the schema holds it: money a Decimal to the fen, a time in Asia/Shanghai, Python scalars."""
    if kind == "money":
        return Decimal(int(value)).scaleb(-2, context=DECIMAL_CONTEXT)
    if kind == "count":
        return int(value)
    if kind == "bool":
        return bool(value)
    if kind == "time":
        return from_epoch_micros(int(value))
    return value


# -- building ------------------------------------------------------------------------------------------


def check_columns(columns: Any, unknown_columns: str) -> list[str]:
    """The frame's schema columns; a misspelt or raw-identity column is an error (unless told to ignore it)."""
    names = [str(c) for c in columns]
    raw = [c for c in names if c in _RAW_ID_COLUMNS]
    if raw:
        raise ValueError(
            f"columns {raw} hold raw identity numbers; tables carry only keyed hashes "
            "(the '_hash' columns: compliance.hash_id_number, or read_export with id_key=)"
        )
    unknown = [c for c in names if c not in COLUMN_KINDS]
    if unknown and unknown_columns == "error":
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, FLAT_COLUMNS, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(
            f"columns not in the campaign schema: {', '.join(hints)}; "
            "rename them (a mapping file does this for exports) or pass unknown_columns='ignore'"
        )
    return [c for c in names if c in COLUMN_KINDS]


def build_table(
    frame: pd.DataFrame, *, unknown_columns: str = "error", read_errors: Mapping[Any, str] | None = None
) -> Table:
    """Validate a frame of flat campaign rows into a :class:`Table`; unreadable rows get their error.
    ``read_errors`` (by row label) are rows a reader could not read at all: not validated, kept unread."""
    if frame.columns.has_duplicates:
        raise ValueError(f"duplicate columns: {sorted(set(frame.columns[frame.columns.duplicated()]))}")
    present = check_columns(frame.columns, unknown_columns)
    n = len(frame)
    columns: dict[str, Column] = {}
    suspect = np.zeros(n, bool)
    unsure: dict[str, np.ndarray] = {}  # by column: the cells its check could not vouch for
    for path, (kind, allowed) in COLUMN_KINDS.items():
        if path in present:
            values, null, bad = _convert(frame[path], kind, allowed)
            null = np.require(null, requirements="W")
            suspect |= bad
            if bad.any():
                unsure[path] = bad
            if isinstance(values, Encoded):
                columns[path] = Column("str", None, null, encoded=values)
                continue
            if not isinstance(values, np.ndarray):  # text kept in its pandas form (see Column)
                columns[path] = Column("str", None, null, raw=values)
                continue
            values = np.require(values, requirements="W")
        elif kind == "literal":  # absent: still encoded (every code -1), so readers need no other form
            columns[path] = Column("str", None, np.ones(n, bool), encoded=Encoded(np.full(n, -1, np.int64), {}))
            continue
        else:  # absent: not given (a list is then empty, as the schema reads it, never null)
            values, null = _empty(kind, n), np.full(n, kind != "tuple")
        columns[path] = Column("str" if kind == "hash" else kind, values, null)
    for path in _REQUIRED:
        suspect |= columns[path].null
    payout = np.zeros(n, bool)
    for path in _PAYOUT:
        payout |= ~columns[path].null
    for path in _PAYOUT_REQUIRED:
        suspect |= payout & columns[path].null
    batched = columns["payout.batched"]
    batched.values[batched.null] = False  # a payout's ``batched`` defaults to false
    batched.null[:] = ~payout
    raised = columns["raised_amount"]
    raised.null[:] = False  # ``raised_amount`` defaults to 0.00 (its values are 0 where not given)
    error = np.full(n, None, dtype=object)
    if read_errors:
        found = frame.index.get_indexer(pd.Index(list(read_errors)))
        for i, reason in zip(found, read_errors.values(), strict=True):
            if i >= 0:
                _unreadable(columns, payout, error, int(i), reason)
                suspect[i] = False
    given = {path: frame[path].array for path in present}  # once: selecting a column costs more than a cell
    for i in np.flatnonzero(suspect):
        cells = [path for path, bad in unsure.items() if bad[i]]
        _validate_row(given, frame.index, columns, payout, error, int(i), cells)
    return Table(frame.index, columns, payout, error)


def _validate_row(
    given: Mapping[str, Any],
    labels: pd.Index,
    columns: dict[str, Column],
    payout: np.ndarray,
    error: np.ndarray,
    i: int,
    unsure: list[str],
) -> None:
    """Validate row ``i`` with the schema; store what it read at the ``unsure`` cells (those their column's
    check could not vouch for), or its error (and null values).

    The schema reads the row as a whole, as ``evaluate()`` would: only it can say whether an unsure cell is
    read and how, so it is given that cell as it came. Every other cell its column's check read exactly as
    the schema reads it, so the schema is given the value already read (which it reads to itself, with no
    error) and that value stays where it is."""
    raw: dict[str, Any] = {}
    for path, array in given.items():
        if path in unsure:
            value = plain_value(array[i])
        else:
            column = columns[path]
            value = None if column.null[i] else to_python(column.kind, column.at(i))
        if value is not None:  # a missing cell is not given
            raw[path] = value
    label = labels[i]
    try:
        campaign = Campaign.parse(unflatten(raw), row=_row_name(label))
    except CampaignError as problem:
        _unreadable(columns, payout, error, i, problem.one_line())
        return
    payout[i] = campaign.payout is not None
    for path in unsure:
        value = _read_path(campaign, path)
        column = columns[path]
        column.null[i] = value is None
        if value is None:
            continue
        typed = _from_python(column.kind, value)
        if column.kind == "str" and type(given := column.at(i)) is str and given == typed:
            continue  # text is read as it was given (and a column kept in its string form stays so)
        column.set(i, typed)
    if not payout[i]:
        columns["payout.batched"].null[i] = True


def _read_path(campaign: Campaign, path: str) -> Any:
    value: Any = campaign
    for part in path.split("."):
        value = getattr(value, part, None) if value is not None else None
    return value


def _unreadable(columns: dict[str, Column], payout: np.ndarray, error: np.ndarray, i: int, reason: str) -> None:
    """Row ``i`` could not be read: its reason, and no values (nothing of it is evaluated)."""
    error[i] = reason
    for column in columns.values():
        column.null[i] = True
    payout[i] = False


def _row_name(label: Hashable) -> int | str:
    return label if isinstance(label, (int, str)) else str(label)


def plain_value(value: Any) -> Any:
    """A cell as the schema should see it: pandas' missing markers become None, numpy scalars Python ones."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(plain_value(v) for v in value) if not isinstance(value, str) else value
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, Decimal) and value.is_nan():  # quiet or signalling: missing, as for the columns
        return None
    if isinstance(value, np.datetime64):  # .item() of one in nanoseconds is an int, not a time
        value = pd.Timestamp(value)
        if value is pd.NaT:
            return None
    if isinstance(value, pd.Timestamp):
        try:
            return value.to_pydatetime(warn=False)
        except (ValueError, OverflowError):  # beyond Python's calendar: as text, which the schema refuses
            return value.isoformat()
    if isinstance(value, np.generic):
        item = value.item()
        return None if isinstance(item, float) and item != item else item
    return value


def _from_python(kind: str, value: Any) -> Any:
    if kind == "money":
        return int(value.scaleb(2, context=DECIMAL_CONTEXT))
    if kind == "time":
        return epoch_micros(value)
    return value


def _empty(kind: str, n: int) -> np.ndarray:
    if kind in ("money", "count", "time"):
        return np.zeros(n, np.int64)
    if kind == "bool":
        return np.zeros(n, bool)
    if kind == "tuple":
        out = np.empty(n, dtype=object)
        out[:] = [()] * n
        return out
    return np.full(n, None, dtype=object)


# -- one column at a time --------------------------------------------------------------------------------


def _convert(
    series: pd.Series, kind: str, allowed: tuple[str, ...] | None
) -> tuple[np.ndarray | Encoded | Any, np.ndarray, np.ndarray]:
    """(values, null, suspect) for one column; suspect rows are left for the schema to read. Values are an
    array, :class:`Encoded` for allowed values, or text kept in its pandas form."""
    n = len(series)
    series, null = _missing(series)
    if kind == "tuple":
        return _tuples(series)
    if kind == "hash":  # kept as given (no Python string per cell): only looked up in the blacklist
        kept: Any = series.array
        return kept, null, _hash_suspects(series, null)
    if kind == "literal":
        assert allowed is not None  # every literal column has its allowed values (COLUMN_KINDS)
        return _literal(series, null, allowed)
    if kind == "money":
        values, bad = _money(series, null)
    elif kind == "count":
        values, bad = _count(series, null)
    elif kind == "bool":
        values, bad = _bool(series, null)
    elif kind == "time":
        values, bad = _time(series, null)
    else:
        text, bad = _text(series, null)
        if text is None:  # a pandas string dtype: kept as given until something reads it
            kept = series.array
            return kept, null, bad & ~null
        values = text
    if values.dtype != object:
        values = np.where(null | bad, np.zeros(1, values.dtype), values)
    else:
        values[null | bad] = None
    assert len(values) == n
    return values, null, bad & ~null


def _missing(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The column and where it is missing. A Decimal NaN is missing, as pandas reads one; a signalling NaN
    too, though pandas' own check raises on it, so the column is first rebuilt with None in its place."""
    try:
        return series, series.isna().to_numpy(bool)
    except decimal.InvalidOperation:
        cells = [None if isinstance(v, Decimal) and v.is_nan() else v for v in series.to_numpy(dtype=object)]
        quiet = pd.Series(cells, index=series.index, dtype=object, name=series.name)
        return quiet, quiet.isna().to_numpy(bool)


def _hash_suspects(series: pd.Series, null: np.ndarray) -> np.ndarray:
    """Rows whose value is not 64 lowercase hex digits (a keyed hash as Blacklist.hash_id_number gives)."""
    if text_dtype(series.dtype):  # 64 characters, all hex: a length and a strip, both in C for Arrow text
        length = series.str.len().eq(64).to_numpy(bool, na_value=False)
        ok: np.ndarray = length & series.str.lstrip("0123456789abcdef").eq("").to_numpy(bool, na_value=False)
    else:
        is_str = np.fromiter((type(v) is str for v in series.to_numpy(dtype=object)), bool, len(series))
        text = _as_text(series.astype(object).where(is_str, ""))
        ok = text.str.fullmatch(HEX64.pattern).fillna(False).to_numpy(bool)
    suspect: np.ndarray = ~ok & ~null
    return suspect


def _numbers(series: pd.Series, null: np.ndarray) -> tuple[np.ndarray | None, bool]:
    """The column as float64 and whether it came from integers, when it is numeric; else None."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return None, False
    integer = pd.api.types.is_integer_dtype(dtype)
    return series.to_numpy(dtype="float64", na_value=np.nan), integer


def _money(series: pd.Series, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    numbers, _integer = _numbers(series, null)
    if numbers is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            fen = np.rint(numbers * 100.0)
            exact = (fen / 100.0 == numbers) & (numbers >= 0) & (numbers < _MONEY_LIMIT) & ~np.signbit(numbers)
        values = np.where(exact, fen, 0).astype(np.int64)
        return values, ~exact & ~null
    if _is_text(series):
        text = _as_text(series.where(~null, "0"))
        ok = text.str.fullmatch(_MONEY_TEXT.pattern).to_numpy(bool)
        # At most 15 significant digits (13 whole, 2 decimal): the nearest double, times 100, is within
        # 0.2 fen of the exact amount in fen, so rounding it gives the exact number of fen.
        yuan = text.where(ok, "0").astype("float64").to_numpy()
        return np.rint(yuan * 100.0).astype(np.int64), ~ok & ~null
    return _per_cell(series, null, _money_cell, np.int64)


def _money_cell(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite() and not value.is_signed():
        fen = value.scaleb(2, context=DECIMAL_CONTEXT)  # the caller's context may round: never use it
        if fen == fen.to_integral_value(context=DECIMAL_CONTEXT) and value < _MONEY_LIMIT:
            return int(fen)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and 0 <= value < _MONEY_LIMIT:
        return int(value) * 100
    if isinstance(value, str) and _MONEY_TEXT.match(value):
        whole, _, cents = value.partition(".")
        return int(whole) * 100 + int(cents.ljust(2, "0"))
    return _SUSPECT


def _count(series: pd.Series, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    numbers, _integer = _numbers(series, null)
    if numbers is not None:
        with np.errstate(invalid="ignore"):
            exact = (numbers >= 0) & (numbers < 2.0**53) & (np.floor(numbers) == numbers)
        return np.where(exact, numbers, 0).astype(np.int64), ~exact & ~null
    if _is_text(series):
        text = _as_text(series.where(~null, "0"))
        ok = text.str.fullmatch(_COUNT_TEXT.pattern).to_numpy(bool)
        return text.where(ok, "0").astype(np.int64).to_numpy(), ~ok & ~null
    return _per_cell(series, null, _count_cell, np.int64)


def _count_cell(value: Any) -> Any:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and 0 <= value < 2**63:
        return int(value)
    if isinstance(value, str) and _COUNT_TEXT.match(value):
        return int(value)
    return _SUSPECT


def _bool(series: pd.Series, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=bool, na_value=False), np.zeros(len(series), bool)
    if _is_text(series):  # each distinct spelling read once
        codes, spellings = pd.factorize(series)
        read = [_bool_cell(spelling) for spelling in spellings] + [False]  # the last one: null (code -1)
        known = np.array([value is not _SUSPECT for value in read])
        true = np.array([value is True for value in read])
        return true[codes], ~known[codes] & ~null
    return _per_cell(series, null, _bool_cell, bool)


def _bool_cell(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return _BOOL_TEXT.get(value, _SUSPECT)
    return _SUSPECT


def _time(series: pd.Series, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, bad = _time_values(series, null)
    outside = (values < _FIRST_MICROS) | (values > _LAST_MICROS)  # pandas' calendar is wider than Python's
    return values, bad | (outside & ~null)


def _time_values(series: pd.Series, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        stamps = series.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_datetime64_dtype(series.dtype):
        stamps = _shanghai_to_utc(series)
    elif _is_text(series):
        text = _as_text(series.where(~null, "1970-01-01"))
        ok = text.str.fullmatch(_TIME_TEXT).to_numpy(bool)
        aware = ok & text.str.contains(f"{UTC_OFFSET}$", regex=True).to_numpy(bool)
        stamps = pd.Series(pd.NaT, index=series.index, dtype="datetime64[us]")
        if aware.any():
            parsed = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
            stamps[aware] = parsed.dt.tz_localize(None).astype("datetime64[us]")
        naive = ok & ~aware
        if naive.any():
            local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
            stamps[naive] = _shanghai_to_utc(local).astype("datetime64[us]")
        bad = ~ok
        return _micros(stamps, bad | null), (bad | stamps.isna().to_numpy(bool)) & ~null
    else:
        return _per_cell(series, null, lambda _v: _SUSPECT, np.int64)
    values = _micros(stamps, null)
    sub_micro = (stamps.dt.nanosecond != 0).to_numpy(bool)
    return values, (sub_micro | stamps.isna().to_numpy(bool)) & ~null


def _shanghai_to_utc(series: pd.Series) -> pd.Series:
    localized = series.dt.tz_localize("Asia/Shanghai", ambiguous="NaT", nonexistent="NaT")
    result: pd.Series = localized.dt.tz_convert("UTC").dt.tz_localize(None)
    return result


def _micros(stamps: pd.Series, skip: np.ndarray) -> np.ndarray:
    values = stamps.astype("datetime64[us]").to_numpy().view(np.int64).copy()
    values[skip | stamps.isna().to_numpy(bool)] = 0
    return values


def _text(series: pd.Series, null: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """(values, suspect); values None for a pandas string dtype, which the column keeps as it is."""
    string_dtype = text_dtype(series.dtype)
    values: Any = None
    if string_dtype:
        is_str = ~null  # a string dtype holds text or missing values, nothing else
    else:
        values = series.to_numpy(dtype=object, na_value=None).copy()  # type: ignore[call-overload]
        if set(map(type, values)) <= {str, type(None)}:
            is_str = np.fromiter((v is not None for v in values), bool, len(values))
        else:
            is_str = np.fromiter((type(v) is str for v in values), bool, len(values))
    ok = is_str.copy()
    if getattr(series.dtype, "storage", None) != "pyarrow":  # Arrow's text is valid UTF-8 by construction
        cells = values if values is not None else series.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
        ok &= ~_unicode_suspects(cells, is_str)
    if series.name in ("campaign_id", "platform"):
        text = series if string_dtype else _as_text(series.astype(object).where(is_str, ""))
        ok &= text.str.len().fillna(0).to_numpy() > 0
    return values, ~ok & ~null


def _literal(series: pd.Series, null: np.ndarray, allowed: tuple[str, ...]) -> tuple[Encoded, np.ndarray, np.ndarray]:
    """A column of allowed values, dictionary-encoded; a value that is not one of them is suspect."""
    try:
        codes, found = pd.factorize(series)  # one hashing pass: -1 where missing
    except TypeError:  # an unhashable cell (a list): only text is looked up, the rest is suspect
        is_str = np.fromiter((type(v) is str for v in series.to_numpy(dtype=object)), bool, len(series))
        codes, found = pd.factorize(series.astype(object).where(is_str, None))
    spellings: dict[str, int] = {}
    recode = np.full(len(found) + 1, -1, np.int64)  # the last entry: code -1 stays -1
    for code, value in enumerate(found):
        if type(value) is str and value in allowed:
            recode[code] = spellings.setdefault(value, len(spellings))
    codes = recode[codes]
    return Encoded(codes, spellings), null, (codes < 0) & ~null


def _tuples(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(series)
    raw = series.to_numpy(dtype=object)
    if set(map(type, raw)) <= {tuple}:
        texts = list(itertools.chain.from_iterable(raw))
        if set(map(type, texts)) <= {str} and _all_unicode(texts):
            return raw.copy(), np.zeros(n, bool), np.zeros(n, bool)  # the common case: tuples of text already
    values = np.empty(n, dtype=object)
    bad = np.zeros(n, bool)
    for i, value in enumerate(raw):
        if isinstance(value, (tuple, list, np.ndarray)):
            items = tuple(v.item() if isinstance(v, np.str_) else v for v in value)
            if all(type(v) is str and is_unicode(v) for v in items):
                values[i] = items
                continue
        elif value is None or value is pd.NA or (isinstance(value, float) and value != value):
            values[i] = ()
            continue
        values[i] = ()
        bad[i] = True
    return values, np.zeros(n, bool), bad


_SUSPECT = object()


def _per_cell(series: pd.Series, null: np.ndarray, convert: Any, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """A column of mixed Python values, one cell at a time (object columns: no faster way is exact)."""
    n = len(series)
    values = np.zeros(n, dtype)
    bad = np.zeros(n, bool)
    for i, value in enumerate(series.to_numpy(dtype=object)):
        if null[i]:
            continue
        converted = convert(value)
        if converted is _SUSPECT:
            bad[i] = True
        else:
            values[i] = converted
    return values, bad


def _as_text(series: pd.Series) -> pd.Series:
    """``series.astype(str)``; a cell whose text is not valid Unicode (a lone surrogate, which Arrow's text
    refuses) becomes "", which no column check accepts, so the schema reads that row and says why."""
    try:
        return series.astype(str)
    except UnicodeEncodeError:
        texts = [str(value) for value in series.to_numpy(dtype=object)]
        return pd.Series([text if is_unicode(text) else "" for text in texts], index=series.index).astype(str)


def _all_unicode(texts: Any) -> bool:
    """Whether every one of ``texts`` (a sequence of str) is valid Unicode: ASCII is checked without copying,
    other text by encoding it all at once."""
    return all(map(str.isascii, texts)) or is_unicode("".join(texts))


def _unicode_suspects(values: np.ndarray, is_str: np.ndarray) -> np.ndarray:
    """Which text cells are not valid Unicode (a lone surrogate): one join of the column, then, only if that
    fails to encode, each cell."""
    texts = values[is_str]
    if _all_unicode(texts):
        return np.zeros(len(values), bool)
    bad = np.zeros(len(values), bool)
    bad[np.flatnonzero(is_str)] = [not is_unicode(text) for text in texts]
    return bad


def text_dtype(dtype: Any) -> bool:
    """A pandas string dtype proper: text or missing values only (pandas counts ``object`` as one too)."""
    return pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype)


def _is_text(series: pd.Series) -> bool:
    """Text and missing values only, with at least one text value."""
    if text_dtype(series.dtype):
        return True
    return series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "string"
