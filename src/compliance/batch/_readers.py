"""Reading exports as they really come, into flat campaign frames, a chunk at a time.

Platforms and auditors export campaigns as CSV (UTF-8, UTF-8 with a BOM, or GB18030/GBK), Parquet or
JSON Lines, with their own column names (often Chinese) and spellings (是/否, 有/无). A :class:`ExportMapping`
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
import io
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compliance._yaml import quote
from compliance.batch._mapping import ExportMapping
from compliance.batch._mapping_schema import _GROUPS
from compliance.batch._streams import _UNDECODABLE, _DamagedStream, _detect_encoding, _display, _open_text
from compliance.blacklist import hash_id_number
from compliance.errors import ExportError

__all__ = ["Chunk", "read_export"]


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
_BLOCK = 1 << 20  # characters of text split into lines at a time


def read_export(
    path: str | PathLike[str],
    *,
    mapping: ExportMapping | str | PathLike[str] | None = None,
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
    ``mapping`` is a :class:`ExportMapping`, a mapping file or a shipped mapping's name; without one the columns
    must already be flat. ``id_key`` hashes the raw identity numbers a mapping marks ``hash_with_key``.
    ``keep`` names export columns to carry, as read, in :attr:`Chunk.kept` (a column the mapping hashes
    holds raw identity numbers and cannot be kept).

    Arguments are checked at once; a bad header or unknown columns raise :class:`ExportError` when the
    first chunk is read.
    """
    source = Path(path)
    kind = format or infer_format(source)
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
        mapping = ExportMapping._flat()
    elif not isinstance(mapping, ExportMapping):
        mapping = ExportMapping.load(mapping)
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


def infer_format(path: Path) -> str:
    """The export format a file's name gives (``.gz`` looked through), or an :class:`ExportError` saying to pass it."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes.pop()
    kind = _SUFFIXES.get(suffixes[-1] if suffixes else "")
    if kind is None:
        raise ExportError(f"{path}: cannot tell the format from the name; pass format= (csv, tsv, parquet or jsonl)")
    return kind


_RELEASED = pd.DataFrame()


@dataclass
class _Records:
    """One chunk's raw records: export columns (text or objects, null for empty), their numbers, their read errors."""

    frame: pd.DataFrame
    errors: dict[int, str]
    bytes_read: int | None = None


def _chunks(
    source: Path,
    records: Iterator[_Records],
    mapping: ExportMapping,
    id_key: bytes | str | None,
    keep: tuple[str, ...] = (),
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
