"""Score an export file into a decisions file, chunk by chunk: the main batch job.

Memory stays bounded by the chunk size whatever the file's size: each chunk is read, evaluated and
written before the next is read. The output has one row per input record, in the input's order: the
record number (``record``), the ``campaign_id`` as the export gave it, the columns of
:data:`~compliance.batch.OUTPUT_COLUMNS`, then the export's own columns asked for with ``keep``.

The output is written to a temporary file beside it and renamed when every record is written, so a
file refused part-way leaves no output; beside it goes the provenance sidecar
(:func:`provenance_path`): what was read, with what, and what came out.
"""

from __future__ import annotations

import collections
import hashlib
import json
import platform
import re
import time
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compliance._atomic import replaced_when_done
from compliance._evaluate import risk_model
from compliance._version import __version__
from compliance._vocabulary import check_stage
from compliance.batch._frame import OUTPUT_COLUMNS, SEPARATOR, evaluate_frame
from compliance.errors import ID_NUMBER_RUN

__all__ = ["CHUNK_ROWS", "FORMATS", "HEAD_COLUMNS", "Summary", "output_format", "provenance_path", "score_file"]

FORMATS = ("csv", "parquet", "jsonl")
CHUNK_ROWS = 10_000
"""Records read, evaluated and written together: as fast as 100,000 (measured), at half the memory, and the
progress bar moves each chunk."""
HEAD_COLUMNS = ("record", "campaign_id")
"""The decisions file's first columns, before :data:`~compliance.batch.OUTPUT_COLUMNS`."""
PROVENANCE_FORMAT = "compliance-provenance/1"
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_REVIEW_OR_WORSE = frozenset({"review", "reject"})


@dataclass
class Summary:
    """What a scoring run did: counts a scheduler or an auditor reads first.

    ``seconds`` runs from the first record read to the last decision written; ``startup_seconds`` is what
    came before (loading the rules, the model and the mapping, hashing the input)."""

    rows: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    failed_rules: collections.Counter[str] = field(default_factory=collections.Counter)
    not_evaluable_rules: collections.Counter[str] = field(default_factory=collections.Counter)
    error_rows: int = 0
    first_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    startup_seconds: float = 0.0
    rulesets: collections.Counter[str] = field(default_factory=collections.Counter)
    blacklist_given: bool = True
    review_without_blacklist: int = 0
    """Rows that are ``review`` only because the blacklist rules could not be checked (no blacklist given)."""
    blacklist_rules: frozenset[str] = field(default=frozenset(), repr=False)
    rule_outcomes: dict[str, str] = field(default_factory=dict, repr=False)

    def add(self, decisions: pd.DataFrame) -> None:
        self.rows += len(decisions)
        self.outcomes.update({str(k): int(v) for k, v in decisions["outcome"].value_counts().items()})
        self.rulesets.update({str(k): int(v) for k, v in decisions["ruleset"].value_counts().items()})
        for name in ("failed_rules", "not_evaluable_rules"):
            counts = decisions[name].str.split(SEPARATOR).explode().value_counts()
            getattr(self, name).update({str(k): int(v) for k, v in counts.items() if k})
        errors = decisions["error"].dropna()
        self.error_rows += len(errors)
        self.first_errors.extend(errors.iloc[: max(0, 5 - len(self.first_errors))].tolist())
        if not self.blacklist_given:
            self.review_without_blacklist += self._review_for_the_blacklist_alone(decisions)

    def _review_for_the_blacklist_alone(self, decisions: pd.DataFrame) -> int:
        """Review rows whose every reason for review is a blacklist rule that could not be checked: with a
        blacklist (and no match) they would be approved, or approved with conditions."""
        review = decisions.loc[(decisions["outcome"] == "review").to_numpy(), ["failed_rules", "not_evaluable_rules"]]
        count = 0
        for pattern, rows in review.value_counts().items():
            failed, unchecked = typing.cast(tuple[str, str], pattern)
            unchecked_ids = set(filter(None, str(unchecked).split(SEPARATOR)))
            failed_ids = filter(None, str(failed).split(SEPARATOR))
            if (
                unchecked_ids
                and unchecked_ids <= self.blacklist_rules
                and not any(self.rule_outcomes.get(rule, "review") in _REVIEW_OR_WORSE for rule in failed_ids)
            ):
                count += int(rows)
        return count

    @property
    def rate(self) -> float:
        """Rows per second, from the first record read (start-up excluded)."""
        return self.rows / self.seconds if self.seconds else 0.0

    def text(self) -> str:
        lines = [
            f"{self.rows:,} rows scored in {self.seconds:.1f} s ({self.rate:,.0f} rows/s from the first record "
            f"read; start-up before it {self.startup_seconds:.1f} s)"
        ]
        for outcome in ("approve", "approve_with_conditions", "review", "reject"):
            count = self.outcomes.get(outcome, 0)
            share = count / self.rows if self.rows else 0.0
            lines.append(f"  {outcome:<24} {count:>10,}  {share:6.1%}")
        if not self.blacklist_given:
            unchecked = sorted(rule for rule in self.not_evaluable_rules if rule in self.blacklist_rules)
            rules = ", ".join(unchecked) or "none in the rules used"
            lines.append(
                f"no blacklist was given (--blacklist): the blacklist rules ({rules}) could not be checked, and a "
                f"rule that cannot be checked makes a row review; {self.review_without_blacklist:,} rows are "
                "review for that reason alone"
            )
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
            "rulesets": dict(sorted(self.rulesets.items())),
            "failed_rules": dict(self.failed_rules.most_common()),
            "not_evaluable_rules": dict(self.not_evaluable_rules.most_common()),
            "error_rows": self.error_rows,
            "blacklist_given": self.blacklist_given,
            "review_without_blacklist": self.review_without_blacklist,
            "seconds": round(self.seconds, 3),
            "startup_seconds": round(self.startup_seconds, 3),
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


def provenance_path(output: Path | str) -> Path:
    """Where the provenance sidecar of a decisions file goes: ``decisions.csv.provenance.json``."""
    output = Path(output)
    return output.with_name(output.name + ".provenance.json")


def score_file(
    source: Path | str,
    output: Path | str,
    *,
    stage: str,
    mapping: Any = None,
    input_format: str | None = None,
    encoding: str | None = None,
    output_format_name: str | None = None,
    output_encoding: str = "utf-8",
    ruleset: Any = None,
    blacklist: Any = None,
    model: Any = "default",
    id_key: bytes | str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: bool | None = None,
    keep: Sequence[str] = (),
    model_file: Path | str | None = None,
    blacklist_file: Path | str | None = None,
    options: dict[str, Any] | None = None,
) -> Summary:
    """Read ``source`` (CSV, Parquet or JSON Lines, through ``mapping``), evaluate every record at ``stage``
    and write the decisions to ``output``, and the provenance beside it; returns the :class:`Summary`.

    ``keep``: export columns to carry into the output, as text. ``progress``: show a progress bar (None:
    only on a terminal). ``model_file`` and ``blacklist_file``: the files ``model`` and ``blacklist`` were
    loaded from, for their digests in the provenance. ``options``: the command line, recorded as given.
    Raises what the reader raises (:class:`~compliance.batch.ExportError`, ``OSError``) and leaves no
    output then."""
    from compliance.batch._mapping import ExportMapping
    from compliance.batch._readers import read_export

    begun = time.perf_counter()
    source, output = Path(source), Path(output)
    kind = output_format(output, output_format_name)
    check_stage(stage)
    keep = tuple(keep)
    taken = [name for name in keep if name in HEAD_COLUMNS or name in OUTPUT_COLUMNS]
    if taken or len(set(keep)) != len(keep):
        raise ValueError(f"cannot keep {', '.join(map(repr, taken or keep))}: each kept column needs a name of its own")
    if not isinstance(mapping, ExportMapping):
        mapping = ExportMapping._flat() if mapping is None else ExportMapping.load(mapping)
    scorer = None if model is None else risk_model(model)  # loaded before the clock starts
    summary = Summary(blacklist_given=blacklist is not None, **_rule_facts(ruleset))
    chunks = read_export(
        source, mapping=mapping, format=input_format, encoding=encoding, chunk_rows=chunk_rows, id_key=id_key, keep=keep
    )
    names = _export_names(mapping)
    read = _file_facts(source)
    started = time.perf_counter()
    summary.startup_seconds = started - begun
    with (
        replaced_when_done(output) as partial,
        _Writer(partial, kind, output_encoding, keep) as writer,
        _Progress(source, input_format, progress) as bar,
    ):
        for chunk in chunks:
            decisions = evaluate_frame(
                chunk.frame,
                stage=stage,  # type: ignore[arg-type]
                ruleset=ruleset,
                blacklist=blacklist,
                model=scorer,
                read_errors=dict(chunk.read_errors),
            )
            decisions["error"] = _in_export_terms(decisions["error"], names)
            decisions["risk_reasons"] = _readable_reasons(chunk.frame, decisions, scorer)
            writer.write(_output_frame(chunk.frame, decisions, chunk.kept))
            summary.add(decisions)
            bar.advance(chunk.bytes_read, len(decisions))
    summary.seconds = time.perf_counter() - started
    record = _provenance(
        summary,
        output=output,
        output_kind=kind,
        source=source,
        read=read,
        mapping=mapping,
        stage=stage,
        ruleset=ruleset,
        scorer=scorer,
        model_file=model_file,
        blacklist=blacklist,
        blacklist_file=blacklist_file,
        options=options,
    )
    provenance_path(output).write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return summary


# -- the export's own words -------------------------------------------------------------------------


def _export_names(mapping: Any) -> dict[str, str]:
    """Flat column → the export's column, for a mapping that renames (empty for flat columns)."""
    if mapping.source == "(no mapping)":
        return {}
    return {flat: export for export, flat in mapping.columns.items()}


_ROW = re.compile(r"^row (?=[^:]+: )")
_LOCATION = re.compile(r"(?P<lead>^record [^:]+: |; )(?P<loc>[A-Za-z_][\w.]*)(?=: )")


def _in_export_terms(errors: pd.Series, names: dict[str, str]) -> pd.Series:
    """The error column as the export's reader reads it: ``record N`` (the frame's row is the record
    number), and the export's own column names for the flat columns a mapping renamed. Each distinct
    message is rewritten once."""
    present = errors.dropna()
    if present.empty:
        return errors
    codes, uniques = pd.factorize(present)
    rewritten = np.asarray([_export_terms(str(message), names) for message in uniques], dtype=object)
    out = errors.astype(object).copy()
    out[present.index] = rewritten[codes]
    return out.astype(errors.dtype)


def _export_terms(message: str, names: dict[str, str]) -> str:
    message = _ROW.sub("record ", message)
    if not names:
        return message
    return _LOCATION.sub(lambda found: found["lead"] + _column_name(found["loc"], names), message)


def _column_name(location: str, names: dict[str, str]) -> str:
    path = location
    while path:
        if path in names:
            return names[path] + location[len(path) :]
        path = path.rpartition(".")[0]
    return location


def _readable_reasons(frame: pd.DataFrame, decisions: pd.DataFrame, scorer: Any) -> pd.Series:
    """``risk_reasons`` as a reviewer reads them (``message / 消息``, joined with ``; ``), only where the band
    is not ``low``: a low score's reasons are not reasons to look. The reasons are those ``evaluate()``
    gives for the row's campaign."""
    from compliance._flat import unflatten
    from compliance.batch._table import COLUMN_KINDS, plain_value

    texts = pd.Series("", index=decisions.index, dtype=object)
    if scorer is None:
        return texts.astype("string")
    flagged = decisions.index[decisions["risk_band"].isin(["elevated", "high"]).to_numpy(dtype=bool)]
    columns = [column for column in frame.columns if str(column) in COLUMN_KINDS]
    rows = frame.loc[flagged, columns].to_dict(orient="records") if len(flagged) else []
    for label, row in zip(flagged, rows, strict=True):
        values = {str(c): plain_value(v) for c, v in row.items()}
        try:
            risk = scorer.score_campaign(unflatten({c: v for c, v in values.items() if v is not None}))
        except (ValueError, TypeError):  # the frame read it, so this should not happen: keep the codes
            texts[label] = str(decisions.at[label, "risk_reasons"])
            continue
        texts[label] = "; ".join(f"{reason.message.en} / {reason.message.zh}" for reason in risk.reasons)
    return texts.astype("string")


# -- what went in and what came out -----------------------------------------------------------------


def _rule_facts(ruleset: Any) -> dict[str, Any]:
    """Rule outcomes by id, and the ids of the blacklist rules, among the rules that may be used."""
    from compliance.rules._catalog import Catalog
    from compliance.rules._ruleset import Ruleset

    if isinstance(ruleset, Ruleset):
        rulesets = [ruleset]
    else:
        catalog = ruleset if isinstance(ruleset, Catalog) else Catalog.default()
        rulesets = [catalog.get(ruleset)] if isinstance(ruleset, str) else list(catalog)
    rules = [rule for chosen in rulesets for rule in chosen.rules]
    return {
        "rule_outcomes": {rule.id: rule.outcome for rule in rules},
        "blacklist_rules": frozenset(
            rule.id
            for rule in rules
            if any(path.startswith("blacklist") for path in rule.requires) or "blacklist." in rule.fails_when
        ),
    }


def _file_facts(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
            size += len(block)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _provenance(summary: Summary, **run: Any) -> dict[str, Any]:
    """The sidecar: library, input, mapping, rules, model, blacklist, options and counts of one run."""
    output: Path = run["output"]
    source: Path = run["source"]
    mapping = run["mapping"]
    blacklist = run["blacklist"]
    return {
        "format": PROVENANCE_FORMAT,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "library": {"compliance": __version__, "python": platform.python_version()},
        "decisions": {"file": output.name, "format": run["output_kind"], **_file_facts(output)},
        "input": {"file": str(source), **run["read"]},
        "mapping": None
        if mapping.source == "(no mapping)"
        else {"name": mapping.name, "file": mapping.source, "sha256": _file_facts(Path(mapping.source))["sha256"]},
        "stage": run["stage"],
        "rulesets": [_ruleset_record(run["ruleset"], rid, rows) for rid, rows in sorted(summary.rulesets.items())],
        "model": _model_record(run["scorer"], run["model_file"]),
        "blacklist": {"given": False}
        if blacklist is None
        else {
            "given": True,
            "entries": len(blacklist),
            "hashes_sha256": hashlib.sha256("\n".join(sorted(blacklist.hashes)).encode("ascii")).hexdigest(),
            **(
                {}
                if run["blacklist_file"] is None
                else {"file": str(run["blacklist_file"]), "sha256": _file_facts(Path(run["blacklist_file"]))["sha256"]}
            ),
        },
        "options": run["options"] or {},
        "summary": summary.as_dict(),
    }


def _ruleset_record(given: Any, ruleset_id: str, rows: int) -> dict[str, Any]:
    from compliance.rules._catalog import Catalog
    from compliance.rules._ruleset import Ruleset

    if isinstance(given, Ruleset) and given.id == ruleset_id:
        ruleset = given
    else:
        ruleset = (given if isinstance(given, Catalog) else Catalog.default()).get(ruleset_id)
    record: dict[str, Any] = {
        "id": ruleset.id,
        "revision": ruleset.revision,
        "digest": ruleset.digest,
        "overrides": list(ruleset.overrides),
        "rows": rows,
    }
    if len(ruleset.members) > 1:
        record["members"] = [{"id": m.id, "revision": m.revision, "digest": m.digest} for m in ruleset.members]
    return record


def _model_record(scorer: Any, model_file: Path | str | None) -> dict[str, Any] | None:
    if scorer is None:
        return None
    record: dict[str, Any] = {
        "id": getattr(scorer, "model_name", type(scorer).__name__),
        "mode": getattr(scorer, "mode", None),
    }
    if model_file is not None:
        record.update({"file": str(model_file), "sha256": _file_facts(Path(model_file))["sha256"]})
    else:
        from importlib import resources

        from compliance.risk._persist import DEFAULT_MODEL, default_model

        if scorer is default_model():
            with resources.as_file(resources.files("compliance.risk") / DEFAULT_MODEL) as path:
                record.update({"file": "(shipped default model)", "sha256": _file_facts(path)["sha256"]})
    return record


# -- reading and writing ----------------------------------------------------------------------------


class _Progress:
    """A progress bar with a total, so it shows time left: rows from Parquet metadata, else the file's bytes."""

    def __init__(self, source: Path, input_format: str | None, show: bool | None) -> None:
        from tqdm import tqdm

        rows = _known_rows(source, input_format)
        self._in_bytes = rows is None
        total = rows if rows is not None else source.stat().st_size
        self._bar = tqdm(
            total=total,
            unit="B" if self._in_bytes else " rows",
            unit_scale=self._in_bytes,
            unit_divisor=1024,
            disable=None if show is None else not show,
        )
        self._rows = 0

    def __enter__(self) -> _Progress:
        return self

    def advance(self, bytes_read: int | None, rows: int) -> None:
        self._rows += rows
        if not self._in_bytes:
            self._bar.update(rows)
            return
        self._bar.set_postfix_str(f"{self._rows:,} rows", refresh=False)
        if bytes_read is not None:
            self._bar.update(max(0, bytes_read - self._bar.n))

    def __exit__(self, *exc: object) -> None:
        self._bar.close()


def _known_rows(source: Path | str, input_format: str | None) -> int | None:
    """The number of records when the file says so cheaply (Parquet); else unknown."""
    from compliance.batch._readers import infer_format

    path = Path(source)
    if (input_format or infer_format(path)) == "parquet":
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except Exception:  # the reader reports the real problem
            return None
    return None


def _output_frame(frame: pd.DataFrame, decisions: pd.DataFrame, kept: pd.DataFrame | None) -> pd.DataFrame:
    ids = frame["campaign_id"] if "campaign_id" in frame else pd.Series(None, index=frame.index, dtype=object)
    head = pd.DataFrame(
        {"record": np.asarray(frame.index, dtype=np.int64), "campaign_id": ids.astype("string").to_numpy()},
        index=frame.index,
    )
    parts = [head, decisions]
    if kept is not None:
        parts.append(pd.DataFrame({name: _as_text(kept[name]) for name in kept.columns}, index=frame.index))
    return pd.concat(parts, axis=1)


def _as_text(column: pd.Series) -> pd.Series:
    """A kept column as text (lists joined with ``;``); a cell that looks like an identity number stops the
    run: a decisions file never holds one."""
    from compliance.errors import ExportError

    def text(value: Any) -> str | None:
        if value is None or value is pd.NA or (isinstance(value, float) and value != value):
            return None
        return SEPARATOR.join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

    values = column.astype(object).map(text)
    found = values.dropna().str.contains(ID_NUMBER_RUN)  # anywhere in the text: "身份证 1101…" too
    if found.any():
        raise ExportError(
            f"kept column {column.name!r}, record {found.index[found.to_numpy()][0]}: holds what looks like an "
            "identity number, which a decisions file never holds; do not keep this column"
        )
    return values.astype("string")


class _Writer:
    """Appends chunks of decisions to one file, in its format, with a fixed schema."""

    def __init__(self, path: Path, kind: str, encoding: str, keep: tuple[str, ...] = ()) -> None:
        self.path, self.kind, self.encoding, self.keep = path, kind, encoding, keep
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

            table = pa.Table.from_pandas(frame, schema=_parquet_schema(self.keep), preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            self._parquet.write_table(table)
        self._first = False

    def __exit__(self, *exc: object) -> None:
        if self.kind == "parquet":
            if self._parquet is None:  # no rows at all: still a valid, empty file with the schema
                import pyarrow.parquet as pq

                pq.write_table(_parquet_schema(self.keep).empty_table(), self.path)
            else:
                self._parquet.close()
        elif self._text is not None:
            if self._first and self.kind == "csv":  # an empty input still gets the header
                header = pd.DataFrame(columns=[*HEAD_COLUMNS, *OUTPUT_COLUMNS, *self.keep])
                header.to_csv(self._text, index=False, lineterminator="\n")
            self._text.close()


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _parquet_schema(keep: tuple[str, ...] = ()) -> Any:
    import pyarrow as pa

    types = {"string": pa.string(), "float64": pa.float64()}
    fields = [pa.field("record", pa.int64()), pa.field("campaign_id", pa.string())]
    fields += [pa.field(name, types[dtype]) for name, dtype in OUTPUT_COLUMNS.items()]
    fields += [pa.field(name, pa.string()) for name in keep]
    return pa.schema(fields)
