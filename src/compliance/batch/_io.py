"""Reading exports as they really come, into flat campaign frames, a chunk at a time.

Platforms and auditors export campaigns as CSV (UTF-8, UTF-8 with a BOM, or GB18030/GBK), Parquet or
JSON Lines, with their own column names (often Chinese) and spellings (是/否, 有/无). A :class:`Mapping`
(a YAML file; reference in ``docs/exports.md``) turns those into the schema's flat columns
(:data:`compliance._flat.FLAT_COLUMNS`), and :func:`read_export` streams a file through it with bounded
memory.

Reading translates; it never validates. A value the mapping cannot translate is passed on as it is,
for the evaluation to report against its row. A record that cannot be read at all (a CSV record with the
wrong number of fields, a JSON line that is not an object, undecodable bytes) keeps its row, every value
null, with its reason in :attr:`Chunk.read_errors`. Messages name files, records and columns, never a
cell's value: it may be an identity number.

::

    for chunk in read_export("export.csv", mapping="export-mapping.yaml", id_key=key):
        chunk.frame          # flat columns; index: record number in the file
        chunk.read_errors    # {17: "record 17: expected 14 fields, found 15"}
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import difflib
import functools
import gzip
import io
import itertools
import json
import re
import typing
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from os import PathLike
from pathlib import Path
from typing import IO, Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from compliance._flat import FLAT_COLUMNS
from compliance._yaml import QUOTE_CHARS, YamlDocument, quote, read_yaml, validate
from compliance.batch._table import KINDS
from compliance.blacklist import hash_id_number
from compliance.campaign import DECIMAL_CONTEXT
from compliance.errors import ExportError, MappingError, RuleProblem

__all__ = [
    "COLUMN_TYPES",
    "MAPPING_FORMAT",
    "Chunk",
    "Mapping",
    "read_export",
    "shipped_mappings",
]

MAPPING_FORMAT = "compliance-mapping/1"
_SHIPPED = Path(__file__).parent / "mappings"


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
COLUMN_TYPES: dict[str, str] = {column: _TYPE_NAMES[kind] for column, (kind, _allowed) in KINDS.items()}
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


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Scalar = str | bool | int | None
_YAML_HINT = "quote it: YAML reads unquoted yes, no, on, off, true, false, null and numbers as non-text"


def _text_keys(value: Any) -> Any:
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"the key {quote(key)} is not text; {_YAML_HINT}")
    return value


class _ColumnSpec(_Data):
    to: str
    hash_with_key: bool = False


class _DatetimeSpec(_Data):
    datetime: Annotated[str, Field(min_length=1)]
    """A :func:`datetime.strptime` pattern, e.g. ``"%Y/%m/%d %H:%M"``."""


class _MappingFile(_Data):
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


# -- applying a mapping -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    """How one export column becomes one flat column."""

    source: str
    target: str
    values: dict[str, Any]
    missing: frozenset[str]
    converter: Callable[[str], str | None] | None
    separator: str | None
    hashed: bool

    @property
    def plain(self) -> bool:
        return not (self.values or self.missing or self.converter or self.separator or self.hashed)

    def text(self, cell: str) -> Any:
        key = cell.strip()
        if not key or key in self.missing:
            return None
        if key in self.values:
            return self.values[key]
        if self.separator is not None:
            return tuple(item.strip() for item in cell.split(self.separator) if item.strip())
        if self.converter is not None:
            converted = self.converter(key)
            return cell if converted is None else converted
        return cell

    def hashed_text(self, cell: str, key: bytes | str) -> str | None:
        text = cell.strip()
        return None if not text or text in self.missing else hash_id_number(text, key)

    def convert(self, series: pd.Series, id_key: bytes | str | None) -> pd.Series:
        if self.plain:
            return series
        if self.hashed:
            if id_key is None:
                raise ExportError(
                    f"column {self.source!r} holds raw identity numbers (mapped to {self.target} with "
                    "hash_with_key): pass id_key, the platform's blacklist key, to hash them as they are read, "
                    "or ignore the column"
                )
            cell: Callable[[str], Any] = functools.partial(self.hashed_text, key=id_key)
        else:
            cell = self.text
        if pd.api.types.infer_dtype(series, skipna=True) == "string":
            codes, uniques = pd.factorize(series)  # each distinct spelling translated once
            translated = np.empty(len(uniques) + 1, dtype=object)
            translated[:-1] = [cell(u) for u in uniques]
            return pd.Series(translated[codes], index=series.index, dtype=object)
        # typed or mixed values (Parquet, JSON): text cells are translated, and whole numbers hashed
        cells = [
            cell(v) if isinstance(v, str) else cell(str(v)) if self.hashed and isinstance(v, int) else v
            for v in series.astype(object)
        ]
        return pd.Series(cells, index=series.index, dtype=object)


def _constant(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime)) else value


class Mapping:
    """How one export's columns and spellings become flat campaign columns.

    Load one from YAML with :meth:`load` (a path, or the name of a shipped mapping such as
    ``"gofundme-meninato2018"``); :meth:`apply` translates a raw frame. Every problem in the file is
    reported at once, with file and line (:class:`MappingError`).
    """

    def __init__(
        self,
        name: str,
        rules: list[_Rule],
        *,
        ignore: frozenset[str] = frozenset(),
        unmapped: str = "error",
        constants: dict[str, Any] | None = None,
        source: str = "",
    ) -> None:
        self.name = name
        self.source = source
        self._rules: dict[str, _Rule] = {rule.source: rule for rule in rules}
        self._ignore = ignore
        self._unmapped = unmapped
        self._constants = dict(constants or {})

    def __repr__(self) -> str:
        return f"Mapping({self.name!r}, source={self.source!r})"

    @property
    def columns(self) -> dict[str, str]:
        """Export column → flat column."""
        return {source: rule.target for source, rule in self._rules.items()}

    @property
    def constants(self) -> dict[str, Any]:
        return dict(self._constants)

    @classmethod
    def load(cls, path_or_name: str | PathLike[str]) -> Mapping:
        """Read and check a mapping file, or a shipped mapping by name (see :func:`shipped_mappings`)."""
        path = _find_mapping(path_or_name)
        problems: list[RuleProblem] = []
        doc = read_yaml(path, problems)
        spec = validate(_MappingFile, doc, problems) if doc is not None else None
        if spec is not None and doc is not None:
            problems += _check(spec, doc)
        if problems or spec is None:
            raise MappingError(problems)
        return cls._from_spec(spec, source=str(path))

    @classmethod
    def _from_spec(cls, spec: _MappingFile, *, source: str = "") -> Mapping:
        rules = []
        missing = frozenset(m.strip() for m in spec.missing)
        for export_column, entry in spec.columns.items():
            target, hashed = (entry, False) if isinstance(entry, str) else (entry.to, entry.hash_with_key)
            kind = COLUMN_TYPES[target]
            values = {k.strip(): v for k, v in {**spec.values.get(kind, {}), **spec.values.get(target, {})}.items()}
            parse = spec.parse.get(target, spec.parse.get(kind))
            converter: Callable[[str], str | None] | None
            if isinstance(parse, _DatetimeSpec):
                converter = functools.partial(_parse_datetime, pattern=parse.datetime)
            else:
                converter = None if parse is None else _CONVERTERS[parse][0]
            separator = spec.separators.get(target, spec.separators.get(kind)) if kind == "list" else None
            rules.append(_Rule(export_column, target, values, missing, converter, separator, hashed))
        constants = {target: _constant(value) for target, value in spec.constants.items()}
        ignore = frozenset(spec.ignore)
        return cls(spec.name, rules, ignore=ignore, unmapped=spec.unmapped, constants=constants, source=source)

    @classmethod
    def _flat(cls) -> Mapping:
        """The mapping used without one: columns already carry flat names (nested JSON is flattened first);
        raw identity numbers at their Campaign JSON paths are hashed into their hash columns."""
        # list columns in text formats are ";"-separated, as evaluate_frame writes lists
        rules = [
            _Rule(c, c, {}, frozenset(), None, ";" if COLUMN_TYPES[c] == "list" else None, False) for c in FLAT_COLUMNS
        ]
        rules += [_Rule(raw, hashed, {}, frozenset(), None, None, True) for raw, hashed in _HASHED.items()]
        return cls("flat columns", rules, source="(no mapping)")

    def apply(self, raw: pd.DataFrame, *, id_key: bytes | str | None = None) -> pd.DataFrame:
        """``raw``'s columns as flat columns (schema order), values translated but not validated.

        Raises :class:`ExportError` for columns the mapping neither maps nor ignores (unless it says
        ``unmapped: ignore``), and for raw identity numbers when no ``id_key`` is given.
        """
        self._check_columns(raw)
        found: dict[str, list[tuple[bool, pd.Series]]] = {}
        for source in raw.columns:
            rule = self._rules.get(source)
            if rule is None:
                continue
            column = raw[source]
            if rule.hashed and column.isna().all():  # nothing to hash, so no key is needed
                converted = pd.Series(None, index=raw.index, dtype=object)
            else:
                converted = rule.convert(column, id_key)
            found.setdefault(rule.target, []).append((rule.hashed, converted))
        out: dict[str, pd.Series] = {}
        for target, sources in found.items():  # two sources only in the flat mapping: a hash given, else the raw
            first, *rest = [series for _hashed, series in sorted(sources, key=lambda pair: pair[0])]
            out[target] = first.where(first.notna(), rest[0]) if rest else first
        for target, value in self._constants.items():
            out[target] = pd.Series([value] * len(raw), index=raw.index, dtype=object)
        return pd.DataFrame({c: out[c] for c in FLAT_COLUMNS if c in out}, index=raw.index)

    def _check_columns(self, raw: pd.DataFrame) -> None:
        duplicated = sorted({str(c) for c in raw.columns[raw.columns.duplicated()]})
        if duplicated:
            raise ExportError(f"columns appear more than once: {', '.join(map(repr, duplicated))}")
        unknown = [c for c in raw.columns if c not in self._rules and c not in self._ignore]
        if not unknown or self._unmapped == "ignore":
            return
        known = [*self._rules, *self._ignore]
        names = ", ".join(f"{quote(c)}{_suggestion(c, known)}" for c in unknown)
        if self.source == "(no mapping)":
            raise ExportError(f"not flat schema columns: {names}; read the export with a mapping (see docs/exports.md)")
        raise ExportError(
            f"columns that mapping {self.name!r} ({self.source}) neither maps nor ignores: {names}; "
            "map them under columns, list them under ignore, or set unmapped: ignore"
        )


def shipped_mappings() -> list[str]:
    """Names of the mappings shipped with the library, for :meth:`Mapping.load`."""
    return sorted(p.stem for p in _SHIPPED.glob("*.yaml"))


def _find_mapping(path_or_name: str | PathLike[str]) -> Path:
    path = Path(path_or_name)
    if path.is_file():
        return path
    name = str(path_or_name)
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) and (_SHIPPED / f"{name}.yaml").is_file():
        return _SHIPPED / f"{name}.yaml"
    message = f"no such mapping file, and no shipped mapping of that name (shipped: {', '.join(shipped_mappings())})"
    raise MappingError([RuleProblem(name, None, None, "not-found", message)])


# -- reading files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """Consecutive records of an export, as flat columns.

    ``frame``'s index is each record's number in the file (CSV: data records from 1, the header and
    blank lines not counted; JSON Lines: the line number; Parquet: the row number from 1).
    ``read_errors`` gives, by record number, why a record could not be read at all; such a record
    still has its row in ``frame``, with every value null.
    ``kept``: the export's own columns asked for with ``keep``, as read (None when none were asked for).
    ``bytes_read``: how far into the file (compressed bytes for ``.gz``) reading has got, for a progress
    bar (None for Parquet, where rows are known instead).
    """

    frame: pd.DataFrame
    read_errors: dict[int, str]
    kept: pd.DataFrame | None = None
    bytes_read: int | None = None


_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_PROBE = 1 << 16
_BLOCK = 1 << 20  # characters of text split into lines at a time
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_NON_ASCII = bytes(range(0x80, 0x100))


def read_export(
    path: str | PathLike[str],
    *,
    mapping: Mapping | str | PathLike[str] | None = None,
    format: str | None = None,
    encoding: str | None = None,
    chunk_rows: int = 100_000,
    id_key: bytes | str | None = None,
    keep: Sequence[str] = (),
) -> Iterator[Chunk]:
    """Read an export in chunks of at most ``chunk_rows`` records, as flat campaign columns.

    ``format`` is ``"csv"``, ``"tsv"`` (CSV with tabs), ``"parquet"`` or ``"jsonl"``; by default it comes
    from the suffix (``.csv``, ``.tsv``, ``.parquet``, ``.jsonl``/``.ndjson``, each text format also
    gzipped as ``.gz``). ``encoding`` by default is detected: UTF-8 (with or without a BOM) if the first
    block with non-ASCII bytes decodes as UTF-8, else GB18030 (which contains GBK and GB2312).
    ``mapping`` is a :class:`Mapping`, a mapping file or a shipped mapping's name; without one the columns
    must already be flat. ``id_key`` hashes the raw identity numbers a mapping marks ``hash_with_key``.
    ``keep`` names export columns to carry, as read, in :attr:`Chunk.kept` (a column the mapping hashes
    holds raw identity numbers and cannot be kept).

    Arguments are checked at once; a bad header or unknown columns raise :class:`ExportError` when the
    first chunk is read.
    """
    source = Path(path)
    kind = format or _infer_format(source)
    if kind not in ("csv", "tsv", "parquet", "jsonl"):
        raise ExportError(f"{source}: unknown format {kind!r} (csv, tsv, parquet or jsonl)")
    if not source.is_file():
        raise ExportError(f"{source}: no such file")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ExportError(f"unknown encoding {encoding!r}") from None
    if id_key is not None:
        hash_id_number("0", id_key)  # a key too short for the blacklist fails here, not mid-file
    if mapping is None:
        mapping = Mapping._flat()
    elif not isinstance(mapping, Mapping):
        mapping = Mapping.load(mapping)
    if kind == "parquet":
        records: Iterator[_Records] = _parquet_records(source, chunk_rows)
    elif kind == "jsonl":
        records = _jsonl_records(source, encoding or _detect_encoding(source), chunk_rows)
    else:
        delimiter = "\t" if kind == "tsv" else ","
        records = _csv_records(source, encoding or _detect_encoding(source), delimiter, chunk_rows)
    for name in keep:
        rule = mapping._rules.get(name)
        if rule is not None and rule.hashed:
            raise ExportError(f"{source}: column {name!r} holds raw identity numbers; it cannot be kept")
    return _chunks(source, records, mapping, id_key, tuple(keep))


def _infer_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes.pop()
    kind = _SUFFIXES.get(suffixes[-1] if suffixes else "")
    if kind is None:
        raise ExportError(f"{path}: cannot tell the format from the name; pass format= (csv, tsv, parquet or jsonl)")
    return kind


def _open_bytes(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return typing.cast(IO[bytes], _GzipReader(_Inflating(path)))
    return open(path, "rb")


class _DamagedStream(ExportError):
    """A compressed file that cannot be read on; :func:`_chunks` adds how many records were read."""


class _GzipReader(io.BufferedReader):
    """A gzipped file's data, buffered; ``fileobj`` is the compressed file beneath (as ``GzipFile`` has it)."""

    @property
    def fileobj(self) -> IO[bytes]:
        return typing.cast(_Inflating, self.raw).fileobj


class _Inflating(io.RawIOBase):
    """A gzipped file's data; a cut-short or damaged stream raises :class:`_DamagedStream` (file, bytes read)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file = gzip.open(path, "rb")  # noqa: SIM115 -- closed by close(), with the reader's stream
        self._done = 0

    @property
    def fileobj(self) -> IO[bytes]:
        return typing.cast(IO[bytes], self._file.fileobj)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:  # a block at a time, so a damaged stream is reported close to where it breaks
            count = self._file.readinto(memoryview(buffer)[:_PROBE])
        except EOFError:
            reason = "it ends before the end of its compressed stream: the file is cut short"
        except gzip.BadGzipFile:
            reason = "it is not gzip data from there on, or its checksum does not match"
        except (zlib.error, OSError) as error:
            reason = f"its compressed data is damaged ({type(error).__name__})"
        else:
            self._done += count
            return count
        raise _DamagedStream(f"{self._path}: cannot be read after {self._done:,} bytes of data: {reason}")

    def close(self) -> None:
        self._file.close()
        super().close()


def _detect_encoding(path: Path) -> str:
    """UTF-8 (BOM or not) if the first block holding non-ASCII bytes decodes as UTF-8, else GB18030.

    A few stray bytes do not make a UTF-8 file GB18030 (those records are reported instead): Chinese text
    in GBK fails UTF-8 at nearly every non-ASCII byte, so more than a quarter failing decides it.
    """
    try:
        with _open_bytes(path) as stream:
            block = stream.read(_PROBE)
            if block.startswith(codecs.BOM_UTF8):
                return "utf-8-sig"
            while block and block.isascii():
                block = stream.read(_PROBE)
    except _DamagedStream:  # damaged within its ASCII start: reading stops at the damage and says where
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    text = decoder.decode(block, final=False)  # a character cut at the end of the block is not counted
    failing = len(_UNDECODABLE.findall(text))
    non_ascii = len(block) - len(block.translate(None, _NON_ASCII))
    return "gb18030" if failing > non_ascii // 4 else "utf-8-sig"


def _display(encoding: str) -> str:
    return encoding.removesuffix("-sig")


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    # undecodable bytes become lone surrogates, so the record holding them is reported, not the whole file
    return io.TextIOWrapper(_open_bytes(path), encoding=encoding, errors="surrogateescape", newline="")


_RELEASED = pd.DataFrame()


@dataclass
class _Records:
    """One chunk's raw records: export columns (text or objects, null for empty), their numbers, their read errors."""

    frame: pd.DataFrame
    errors: dict[int, str]
    bytes_read: int | None = None


def _chunks(
    source: Path, records: Iterator[_Records], mapping: Mapping, id_key: bytes | str | None, keep: tuple[str, ...] = ()
) -> Iterator[Chunk]:
    last, first = 0, True  # the last record read, for a file that cannot be read on
    while True:
        try:
            raw = next(records)
        except StopIteration:
            return
        except _DamagedStream as error:
            read = f"records 1 to {last} were read" if last else "no record was read"
            raise ExportError(f"{error}; {read}") from None
        if len(raw.frame.index):
            last = int(raw.frame.index[-1])
        kept, first = _kept(source, raw.frame, keep, first=first) if keep else None, False
        extra = [name for name in keep if name in raw.frame.columns and name not in mapping._rules]
        try:  # a column kept but not mapped is accounted for: the mapping need not ignore it too
            frame = mapping.apply(raw.frame.drop(columns=extra) if extra else raw.frame, id_key=id_key)
        except ExportError as error:
            raise ExportError(f"{source}: {error}") from None
        errors, raw.frame = raw.errors, _RELEASED  # raw values, identity numbers among them, are let go now
        if errors:
            frame.loc[list(errors)] = None
        yield Chunk(frame, errors, kept, raw.bytes_read)


def _kept(source: Path, raw: pd.DataFrame, keep: tuple[str, ...], *, first: bool) -> pd.DataFrame:
    """The kept columns of a chunk; in the first chunk each must be there (in the header, for JSON Lines in
    the first chunk's lines); a later JSON Lines chunk without one has it null."""
    absent = [name for name in keep if name not in raw.columns]
    if first and absent:
        raise ExportError(f"{source}: no column {', '.join(map(repr, absent))} to keep")
    return raw.reindex(columns=list(keep))


def _read_to(records: _Records, text: io.TextIOWrapper) -> _Records:
    """``records``, marked with how far into the file (its compressed bytes, for ``.gz``) reading has got."""
    raw: Any = text.buffer
    raw = getattr(raw, "fileobj", None) or raw  # a GzipFile: the compressed file beneath it
    with contextlib.suppress(OSError, ValueError):  # not seekable: no progress in bytes
        records.bytes_read = int(raw.tell())
    return records


def _index(numbers: list[int]) -> pd.Index:
    return pd.Index(np.asarray(numbers, dtype=np.int64), name="record")


def _csv_records(path: Path, encoding: str, delimiter: str, chunk_rows: int) -> Iterator[_Records]:
    with _open_text(path, encoding) as text:
        lines = _Lines(text)
        reader = csv.reader(itertools.chain.from_iterable(lines), delimiter=delimiter)
        header = _header(path, reader, lines)
        width = len(header)
        rows: list[list[str] | None] = []
        numbers: list[int] = []
        errors: dict[int, str] = {}
        record, yielded = 0, False
        while True:
            try:
                fields: list[str] | None = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                fields, reason = None, f"not readable as CSV ({error})"
            else:
                if not fields:  # a blank line is not a record
                    continue
                reason = f"expected {width} fields, found {len(fields)}" if len(fields) != width else ""
            record += 1
            if lines.undecodable and lines.undecodable_through(reader.line_num):  # in this record's lines
                reason = f"bytes that are not valid {_display(encoding)}"
            if reason:
                errors[record], fields = f"record {record}: {reason}", None
            rows.append(fields)
            numbers.append(record)
            if len(rows) == chunk_rows:
                yield _read_to(_text_records(header, rows, numbers, errors), text)
                numbers, errors, yielded = [], {}, True
        if rows or not yielded:
            yield _read_to(_text_records(header, rows, numbers, errors), text)


class _Lines:
    """A text file's lines, split a block at a time (each item a list of lines, as ``io`` splits them), with
    the numbers of lines that hold undecodable bytes."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self._text = text
        self.undecodable: collections.deque[int] = collections.deque()
        self._count = 0

    def __iter__(self) -> Iterator[list[str]]:
        carry = ""
        while block := self._text.read(_BLOCK):
            block = carry + block
            cut = block.rfind("\n") + 1 or block.rfind("\r", 0, len(block) - 1) + 1  # whole lines only
            carry = block[cut:]
            yield self._split(block[:cut])
        if carry:
            yield self._split(carry)

    def _split(self, text: str) -> list[str]:
        lines = io.StringIO(text, newline="").readlines()
        if _UNDECODABLE.search(text):
            self.undecodable.extend(self._count + i for i, line in enumerate(lines, 1) if _UNDECODABLE.search(line))
        self._count += len(lines)
        return lines

    def undecodable_through(self, line: int) -> bool:
        """Whether any line up to ``line`` not asked about before holds undecodable bytes."""
        found = False
        while self.undecodable and self.undecodable[0] <= line:
            self.undecodable.popleft()
            found = True
        return found


def _header(path: Path, reader: Any, lines: _Lines) -> list[str]:
    for fields in reader:
        if lines.undecodable_through(reader.line_num):
            raise ExportError(f"{path}: the header is not valid text in the file's encoding; pass encoding=")
        if fields:
            fields[0] = fields[0].removeprefix("\ufeff")  # a BOM read under an explicit "utf-8"
            return [name.strip() for name in fields]
    raise ExportError(f"{path}: the file is empty (no header)")


def _text_records(
    header: list[str], rows: list[list[str] | None], numbers: list[int], errors: dict[int, str]
) -> _Records:
    """Rows as a frame of text cells (null where empty or unreadable); ``rows`` is emptied, so the raw
    cells live only in the frame."""
    cells = np.full((len(rows), len(header)), None, dtype=object)
    readable = [i for i, row in enumerate(rows) if row is not None]
    if readable:
        cells[readable] = [rows[i] for i in readable]
        cells[cells == ""] = None  # an empty cell is null
    rows.clear()
    # pandas' Arrow-backed string dtype: the column checks then run in C
    text = pd.StringDtype("pyarrow")
    frame = pd.DataFrame({j: pd.array(cells[:, j], dtype=text) for j in range(len(header))}, index=_index(numbers))
    frame.columns = pd.Index(header, dtype=object)
    return _Records(frame, errors)


def _jsonl_records(path: Path, encoding: str, chunk_rows: int) -> Iterator[_Records]:
    with _open_text(path, encoding) as text:
        rows: list[dict[str, Any]] = []
        numbers: list[int] = []
        errors: dict[int, str] = {}
        yielded = False
        for number, line in enumerate(text, 1):
            if not line.strip():
                continue
            row, reason = _json_record(line, encoding)
            if reason:
                errors[number] = f"record {number}: {reason}"
            rows.append(row)
            numbers.append(number)
            if len(rows) == chunk_rows:
                yield _read_to(_object_records(rows, numbers, errors), text)
                numbers, errors, yielded = [], {}, True
        if rows or not yielded:
            yield _read_to(_object_records(rows, numbers, errors), text)


def _json_record(line: str, encoding: str) -> tuple[dict[str, Any], str]:
    if _UNDECODABLE.search(line):
        return {}, f"bytes that are not valid {_display(encoding)}"
    try:
        value = json.loads(line, parse_float=Decimal)  # amounts stay exact
    except ValueError as error:
        return {}, f"not valid JSON ({getattr(error, 'msg', 'unreadable')}, column {getattr(error, 'colno', '?')})"
    except RecursionError:
        return {}, f"nested more than {MAX_JSON_DEPTH} levels deep"
    if not isinstance(value, dict):
        return {}, f"not a JSON object (a JSON {type(value).__name__})"
    flat: dict[str, Any] = {}
    try:
        twice = _flatten(value, "", flat)
    except _TooDeep:
        return {}, f"nested more than {MAX_JSON_DEPTH} levels deep"
    if twice:
        return {}, f"column {quote(twice)} is given twice"
    return flat, ""


MAX_JSON_DEPTH = 32
"""The deepest nesting of objects and lists a JSON Lines record may have (a campaign nests 3 deep); a
deeper record is that record's read error."""


class _TooDeep(Exception):
    pass


def _flatten(value: dict[str, Any], prefix: str, out: dict[str, Any], depth: int = 1) -> str | None:
    """Nested objects as dotted columns; lists as tuples. Returns a column given twice, if any.

    Raises :class:`_TooDeep` beyond :data:`MAX_JSON_DEPTH` levels of objects and lists."""
    if depth > MAX_JSON_DEPTH:
        raise _TooDeep
    for key, item in value.items():
        name = prefix + str(key)
        if isinstance(item, dict):
            twice = _flatten(item, name + ".", out, depth + 1)
            if twice:
                return twice
            continue
        if item is None and name in _GROUPS:  # "payout": null, no payout
            continue
        if name in out:
            return name
        if isinstance(item, list):
            _check_depth(item, depth + 1)
            item = tuple(item)
        out[name] = item
    return None


def _check_depth(items: list[Any], depth: int) -> None:
    """Raise :class:`_TooDeep` when a list nests beyond :data:`MAX_JSON_DEPTH` (iteratively: no recursion)."""
    stack = [(items, depth)]
    while stack:
        values, level = stack.pop()
        if level > MAX_JSON_DEPTH:
            raise _TooDeep
        for value in values:
            if isinstance(value, (list, dict)):
                stack.append((value if isinstance(value, list) else list(value.values()), level + 1))


def _object_records(rows: list[dict[str, Any]], numbers: list[int], errors: dict[int, str]) -> _Records:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = {name: pd.Series([row.get(name) for row in rows], dtype=object) for name in names}
    rows.clear()
    frame = pd.DataFrame(columns, dtype=object)
    frame.index = _index(numbers)
    return _Records(frame, errors)


def _parquet_records(path: Path, chunk_rows: int) -> Iterator[_Records]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException, ValueError) as error:  # ValueError: column names not UTF-8, say
        raise ExportError(f"{path}: not a readable Parquet file ({type(error).__name__})") from None
    start, yielded = 1, False
    with parquet:
        batches = parquet.iter_batches(batch_size=chunk_rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except (OSError, pa.ArrowException, ValueError) as error:  # a damaged page or column chunk
                raise _DamagedStream(
                    f"{path}: cannot be read after row {start - 1:,}: its data is damaged ({type(error).__name__})"
                ) from None
            records = _arrow_records(pa.Table.from_batches([batch]), start)
            start += len(records.frame)
            yielded = True
            del batch  # the raw values live only in the frame
            yield records
        if not yielded:
            yield _Records(_arrow_frame(parquet.schema_arrow.empty_table(), start), {})


def _arrow_records(table: Any, start: int) -> _Records:
    """A batch's rows; a batch whose values pandas cannot hold (say, a time out of its range) keeps its rows,
    each null with its reason."""
    import pyarrow as pa

    try:
        return _Records(_arrow_frame(table, start), {})
    except (pa.ArrowException, ValueError, OverflowError, TypeError) as error:
        numbers = list(range(start, start + table.num_rows))
        names = list(dict.fromkeys(_flat_names(table.schema)))
        frame = pd.DataFrame({name: pd.Series([None] * len(numbers), dtype=object) for name in names})
        frame.index = _index(numbers)
        reason = f"its values cannot be converted ({type(error).__name__})"
        return _Records(frame, {number: f"record {number}: {reason}" for number in numbers})


def _flat_names(schema: Any, prefix: str = "") -> Iterator[str]:
    import pyarrow as pa

    for field in schema:
        if pa.types.is_struct(field.type):
            yield from _flat_names(field.type, prefix + field.name + ".")
        else:
            yield prefix + field.name


def _arrow_frame(table: Any, start: int) -> pd.DataFrame:
    import pyarrow as pa

    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()  # nested objects as dotted columns, like JSON Lines
    columns = {name: _arrow_series(table.column(name)) for name in table.column_names}
    frame = pd.DataFrame(columns)
    frame.index = _index(list(range(start, start + table.num_rows)))
    return frame


def _arrow_series(column: Any) -> pd.Series:
    """One Arrow column as pandas: nullable integers and booleans, floats, times; the rest Python objects."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_integer(kind):
        return pd.Series(column.to_pandas(types_mapper=lambda _: pd.Int64Dtype()))
    if pa.types.is_boolean(kind):
        return pd.Series(column.to_pandas(types_mapper=lambda _: pd.BooleanDtype()))
    if pa.types.is_floating(kind) or pa.types.is_timestamp(kind):
        return pd.Series(column.to_pandas())
    values = column.to_pylist()
    return pd.Series([tuple(v) if isinstance(v, list) else v for v in values], dtype=object)
