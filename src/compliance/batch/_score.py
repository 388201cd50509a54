"""Score an export file into a decisions file, chunk by chunk: the main batch job.

Memory stays bounded by the chunk size whatever the file's size: each chunk is read, evaluated and
written before the next is read. The output has one row per input record, in the input's order: the
record number (``row``), the ``campaign_id`` as the export gave it, and the columns of
:data:`~compliance.batch.OUTPUT_COLUMNS`.
"""

from __future__ import annotations

import collections
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compliance.batch._frame import OUTPUT_COLUMNS, SEPARATOR, evaluate_frame

__all__ = ["FORMATS", "Summary", "output_format", "score_file"]

FORMATS = ("csv", "parquet", "jsonl")
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass
class Summary:
    """What a scoring run did: counts a scheduler or an auditor reads first."""

    rows: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    failed_rules: collections.Counter[str] = field(default_factory=collections.Counter)
    not_evaluable_rules: collections.Counter[str] = field(default_factory=collections.Counter)
    error_rows: int = 0
    first_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, decisions: pd.DataFrame) -> None:
        self.rows += len(decisions)
        self.outcomes.update({str(k): int(v) for k, v in decisions["outcome"].value_counts().items()})
        for name in ("failed_rules", "not_evaluable_rules"):
            counts = decisions[name].str.split(SEPARATOR).explode().value_counts()
            getattr(self, name).update({str(k): int(v) for k, v in counts.items() if k})
        errors = decisions["error"].dropna()
        self.error_rows += len(errors)
        self.first_errors.extend(errors.iloc[: max(0, 5 - len(self.first_errors))].tolist())

    def text(self) -> str:
        rate = self.rows / self.seconds if self.seconds else 0.0
        lines = [f"{self.rows:,} rows scored in {self.seconds:.1f} s ({rate:,.0f} rows/s)"]
        for outcome in ("approve", "approve_with_conditions", "review", "reject"):
            count = self.outcomes.get(outcome, 0)
            share = count / self.rows if self.rows else 0.0
            lines.append(f"  {outcome:<24} {count:>10,}  {share:6.1%}")
        if self.failed_rules:
            lines.append("top failed rules:")
            lines += [f"  {rule:<44} {count:>10,}" for rule, count in self.failed_rules.most_common(5)]
        if self.not_evaluable_rules:
            lines.append("top rules that could not be checked:")
            lines += [f"  {rule:<44} {count:>10,}" for rule, count in self.not_evaluable_rules.most_common(5)]
        lines.append(f"rows that could not be read: {self.error_rows:,}")
        lines += [f"  {error}" for error in self.first_errors]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "outcomes": dict(sorted(self.outcomes.items())),
            "failed_rules": dict(self.failed_rules.most_common()),
            "not_evaluable_rules": dict(self.not_evaluable_rules.most_common()),
            "error_rows": self.error_rows,
            "seconds": round(self.seconds, 3),
        }


def output_format(path: Path, given: str | None) -> str:
    """The output format: as given, else by the file's suffix."""
    if given is not None:
        if given not in FORMATS:
            raise ValueError(f"unknown output format {given!r}; known: {', '.join(FORMATS)}")
        return given
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise ValueError(f"{path}: cannot tell the output format from the suffix; give --format")
    return found


def score_file(
    source: Path | str,
    output: Path | str,
    *,
    stage: str = "publish",
    mapping: Any = None,
    input_format: str | None = None,
    encoding: str | None = None,
    output_format_name: str | None = None,
    output_encoding: str = "utf-8",
    ruleset: Any = None,
    blacklist: Any = None,
    model: Any = "default",
    id_key: bytes | str | None = None,
    chunk_rows: int = 100_000,
    progress: bool | None = None,
) -> Summary:
    """Read ``source`` (CSV, Parquet or JSON Lines, through ``mapping``), evaluate every record and write
    the decisions to ``output``; returns the :class:`Summary`. ``progress``: show a progress bar (None:
    only on a terminal)."""
    from tqdm import tqdm

    from compliance.batch._io import read_export

    output = Path(output)
    kind = output_format(output, output_format_name)
    summary = Summary()
    started = time.perf_counter()
    chunks = read_export(
        source, mapping=mapping, format=input_format, encoding=encoding, chunk_rows=chunk_rows, id_key=id_key
    )
    with (
        _Writer(output, kind, output_encoding) as writer,
        tqdm(
            total=_known_rows(source, input_format), unit=" rows", disable=None if progress is None else not progress
        ) as bar,
    ):
        for chunk in chunks:
            decisions = evaluate_frame(
                chunk.frame,
                stage=stage,  # type: ignore[arg-type]
                ruleset=ruleset,
                blacklist=blacklist,
                model=model,
                read_errors=dict(chunk.read_errors),
            )
            writer.write(_output_frame(chunk.frame, decisions))
            summary.add(decisions)
            bar.update(len(decisions))
    summary.seconds = time.perf_counter() - started
    return summary


def _known_rows(source: Path | str, input_format: str | None) -> int | None:
    """The number of records when the file says so cheaply (Parquet); else unknown."""
    from compliance.batch._io import _infer_format

    path = Path(source)
    if (input_format or _infer_format(path)) == "parquet":
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except Exception:  # the reader reports the real problem
            return None
    return None


def _output_frame(frame: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    ids = frame["campaign_id"] if "campaign_id" in frame else pd.Series(None, index=frame.index, dtype=object)
    head = pd.DataFrame(
        {"row": np.asarray(frame.index, dtype=np.int64), "campaign_id": ids.astype("string").to_numpy()},
        index=frame.index,
    )
    return pd.concat([head, decisions], axis=1)


class _Writer:
    """Appends chunks of decisions to one file, in its format, with a fixed schema."""

    def __init__(self, path: Path, kind: str, encoding: str) -> None:
        self.path, self.kind, self.encoding = path, kind, encoding
        self._parquet: Any = None
        self._text: Any = None
        self._first = True

    def __enter__(self) -> _Writer:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.kind in ("csv", "jsonl"):
            self._text = self.path.open("w", encoding=self.encoding, newline="")
        return self

    def write(self, frame: pd.DataFrame) -> None:
        if self.kind == "csv":
            frame.to_csv(self._text, index=False, header=self._first, lineterminator="\n")
        elif self.kind == "jsonl":
            for record in frame.to_dict(orient="records"):
                clean = {k: None if _missing(v) else v for k, v in record.items()}
                self._text.write(json.dumps(clean, ensure_ascii=False, sort_keys=False) + "\n")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, schema=_parquet_schema(), preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            self._parquet.write_table(table)
        self._first = False

    def __exit__(self, *exc: object) -> None:
        if self.kind == "parquet":
            if self._parquet is None:  # no rows at all: still a valid, empty file with the schema
                import pyarrow.parquet as pq

                pq.write_table(_parquet_schema().empty_table(), self.path)
            else:
                self._parquet.close()
        elif self._text is not None:
            if self._first and self.kind == "csv":  # an empty input still gets the header
                self._text.write(",".join(["row", "campaign_id", *OUTPUT_COLUMNS]) + "\n")
            self._text.close()


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _parquet_schema() -> Any:
    import pyarrow as pa

    types = {"string": pa.string(), "float64": pa.float64()}
    fields = [pa.field("row", pa.int64()), pa.field("campaign_id", pa.string())]
    fields += [pa.field(name, types[dtype]) for name, dtype in OUTPUT_COLUMNS.items()]
    return pa.schema(fields)
