"""Seeded fuzzing of everything that reads a file: exports, mapping files, rule files (issue 11).

Each entry point gets at least 5,000 generated cases (derandomized, so every run is the same run):

- :func:`read_export` on CSV, gzipped CSV, JSON Lines and Parquet bytes, valid and then damaged (bytes
  flipped, cut, inserted; invalid UTF-8 and GB18030; NULs): only ExportError/MappingError may escape; a
  file read whole gives one row per record; a record that could not be read is null and, evaluated,
  never approved; no raw identity number in any error;
- :meth:`Mapping.load` on hostile YAML (aliases, tags, deep nesting, long values, bad dates) and on
  damaged copies of a valid mapping: a Mapping or a MappingError, short, without identity numbers;
- rule files: damaged copies of a valid ruleset, and generated conditions (deep, regular expressions,
  ternaries, comprehensions): a Ruleset or a RuleFileError; a loaded rule evaluates without raising.

Files are a few hundred bytes, so the whole file runs in well under a minute.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance import Campaign, evaluate_frame
from compliance.batch._mapping import Mapping
from compliance.batch._readers import read_export
from compliance.blacklist import UNCHECKED
from compliance.errors import ComplianceError, ExportError, MappingError, RuleFileError
from compliance.rules._catalog import load_ruleset
from compliance.rules._schema import Facts
from tests.builders import fuzz_settings, rule_yaml

RAW_ID = "110101199003074578"  # a made-up identity number; it must never appear in an error
KEY = "a platform key of 16+ chars"


CASES = 5  # files generated per example: 1,000 examples give 5,000 cases per entry point


def fuzz(examples: int = 5_000 // CASES) -> Any:
    return fuzz_settings(examples)


seeds = st.integers(0, 2**32 - 1)
"""Cases are built from a seed by :class:`random.Random` (cheap to draw; a failure names its seed)."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the generated files are written: memory (``/dev/shm``) where there is one, as each case writes
    and opens a file (about 1 ms an open on this machine's disk, 0.02 ms in memory)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="compliance-fuzz-") as name:
            yield Path(name)
    else:
        yield tmp_path_factory.mktemp("fuzz-files")


# -- damage -----------------------------------------------------------------------------------------

INSERTS = [b"\x00", b"\xff\xfe", b"\xc3", b"\x81\x30", b'"', b"\r", b"\n{", b"\x1f\x8b", b"PAR1"]


def damaged(rng: random.Random, data: bytes) -> bytes:
    """``data`` with a few bytes flipped, cut, inserted or overwritten (or, a quarter of the time, as it is)."""
    if not data or rng.random() < 0.25:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        where = rng.randrange(max(len(out), 1))
        how = rng.choice(["flip", "cut", "insert", "truncate", "zero"])
        if how == "flip" and out:
            out[where] ^= rng.randint(1, 255)
        elif how == "cut":
            del out[where : where + rng.randint(1, 16)]
        elif how == "insert":
            out[where:where] = rng.choice(INSERTS)
        elif how == "truncate":
            del out[where:]
        else:
            out[where : where + 8] = bytes(8)
    return bytes(out)


# -- exports ----------------------------------------------------------------------------------------

COLUMNS = ["campaign_id", "platform", "raised_amount", "target_amount", "medical.diagnosis", "disclosure.house"]
CELLS = [
    "",
    "水滴筹",
    "300000",
    "49,999.99",
    "1e999",
    "true",
    "否",
    RAW_ID,
    "a,b",
    'say "hi"',
    "line\nbreak",
    "\r",
    "\udcff",
]


def cell(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return rng.choice(CELLS)
    return "".join(
        chr(rng.choice([rng.randint(32, 126), rng.randint(0x80, 0x3000), rng.randint(0, 31)]))
        for _ in range(rng.randint(0, 8))
    )


def table(rng: random.Random) -> tuple[list[str], list[list[str]]]:
    header = rng.sample([*COLUMNS, "initiator.id_number"], rng.randint(1, 5))
    rows = [[cell(rng) for _ in header] for _ in range(rng.randint(0, 6))]
    return header, rows


def _csv_bytes(header: list[str], rows: list[list[str]], encoding: str) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")  # so a lone \r in a cell is quoted too
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode(encoding, errors="surrogateescape" if encoding.startswith("utf-8") else "replace")


def _text(cell: str) -> str:
    """A cell as valid Unicode (Parquet stores text as UTF-8, so it cannot hold a lone surrogate)."""
    return cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def check_export(path: Path, expected_rows: int | None, *, evaluate: bool = False) -> None:
    """The laws: only our errors, one row per record when the file was not damaged, unreadable rows null
    and never approved, no identity number in any message."""
    id_key = KEY if expected_rows is not None and expected_rows % 2 else None
    chunk_rows = 4 if zlib.crc32(path.read_bytes()) % 5 == 0 else 100  # now and then several chunks
    try:
        chunks = list(read_export(path, id_key=id_key, chunk_rows=chunk_rows))
    except (ExportError, MappingError) as error:
        assert RAW_ID not in str(error) and len(str(error)) < 5_000
        return
    rows = sum(len(chunk.frame) for chunk in chunks)
    if expected_rows is not None:
        assert rows == expected_rows
    for chunk in chunks:
        assert chunk.frame.index.is_unique
        assert set(chunk.read_errors) <= set(chunk.frame.index)
        assert RAW_ID not in json.dumps(chunk.read_errors, ensure_ascii=False)
        for record in chunk.read_errors:
            assert chunk.frame.loc[record].isna().all()
        if evaluate and chunk.read_errors:
            try:
                decisions = evaluate_frame(chunk.frame, read_errors=chunk.read_errors, model=None)
            except ComplianceError as error:
                assert RAW_ID not in str(error)
                continue
            for record in chunk.read_errors:
                assert decisions.loc[record, "outcome"] != "approve"
            assert RAW_ID not in decisions.to_csv()


@fuzz()
@given(seeds)
def test_fuzz_csv_exports(folder: Path, seed: int) -> None:
    rng = random.Random(seed)
    for case in range(CASES):
        header, rows = table(rng)
        clean = _csv_bytes(header, rows, rng.choice(["utf-8", "utf-8-sig", "gb18030"]))
        raw = damaged(rng, clean)
        path = folder / "export.csv"
        path.write_bytes(raw)
        readable = raw == clean and "initiator.id_number" not in header and "\udcff" not in str(rows)
        check_export(path, len(rows) if readable else None, evaluate=case == 0 and seed % 4 == 0)


@fuzz()
@given(seeds)
def test_fuzz_gzipped_csv_exports(folder: Path, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(CASES):
        header, rows = table(rng)
        clean = gzip.compress(_csv_bytes(header, rows, "utf-8"), mtime=0)
        raw = damaged(rng, clean)
        path = folder / "export.csv.gz"
        path.write_bytes(raw)
        readable = raw == clean and "initiator.id_number" not in header and "\udcff" not in str(rows)
        check_export(path, len(rows) if readable else None)


def json_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(6 if depth < 3 else 4)
    if kind == 0:
        return rng.choice([None, True, False, 0, -1, 10**30, 1.5, "x"])
    if kind in (1, 2, 3):
        return cell(rng)
    if kind == 4:
        return [json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["a", "b", "diagnosis"]): json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def json_record(rng: random.Random) -> str:
    kind = rng.randrange(10)
    if kind == 0:  # deep, past any limit
        depth = rng.randint(30, 3000)
        return '{"medical": ' * depth + "1" + "}" * depth
    if kind == 1:
        return json.dumps(json_value(rng))
    record: dict[str, Any] = {c: cell(rng) for c in rng.sample(COLUMNS, rng.randint(0, 4))}
    if rng.random() < 0.5:
        record["medical"] = {"diagnosis": cell(rng)}
    return json.dumps(record, ensure_ascii=rng.random() < 0.5)


@fuzz()
@given(seeds)
def test_fuzz_json_lines_exports(folder: Path, seed: int) -> None:
    rng = random.Random(seed)
    for case in range(CASES):
        records = [json_record(rng) for _ in range(rng.randint(0, 6))]
        clean = "".join(r + "\n" for r in records).encode("utf-8", errors="surrogateescape")
        raw = damaged(rng, clean)
        path = folder / "export.jsonl"
        path.write_bytes(raw)
        check_export(path, None, evaluate=case == 0 and seed % 4 == 0)


@fuzz()
@given(seeds)
def test_fuzz_parquet_exports(folder: Path, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(CASES):
        header, rows = table(rng)
        text = [name for name in header if name != "initiator.id_number"]
        columns: dict[str, Any] = {
            name: [_text(row[i]) or None for row in rows] for i, name in enumerate(header) if name in text
        }
        if rng.random() < 0.3:
            columns["target_amount"] = [rng.randint(-(2**63), 2**63 - 1) for _ in rows]
        if rng.random() < 0.2:
            columns["created_at"] = pa.array([rng.randint(-(2**62), 2**62) for _ in rows], pa.timestamp("us"))
        buffer = io.BytesIO()
        pq.write_table(pa.table(columns) if columns else pa.table({"campaign_id": pa.array([], pa.string())}), buffer)
        clean = buffer.getvalue()
        raw = damaged(rng, clean)
        path = folder / "export.parquet"
        path.write_bytes(raw)
        check_export(path, len(rows) if raw == clean and columns else None)


# -- mapping files ----------------------------------------------------------------------------------

VALID_MAPPING = """\
format: compliance-mapping/1
name: fuzz
columns:
  项目编号: campaign_id
  目标金额: target_amount
  身份证号: {to: initiator.id_number_hash, hash_with_key: true}
ignore: [序号]
constants: {platform: 测试}
missing: ["-"]
values:
  boolean: {是: true, 否: false}
parse:
  money: abbreviated_number
  created_at: {datetime: "%Y/%m/%d %H:%M"}
separators: {list: ";"}
"""

HOSTILE = [
    "*a",
    "&a x",
    "!!python/object/apply:os.system ['true']",
    "!!binary notbase64",
    "2025-13-45",
    "9999-99-99 99:99:99",
    RAW_ID,
    "x" * 2_000,
    "[" * 200 + "]" * 200,
    "{a: *b}",
    "? [a, b]\n  : c",
    ".inf",
    "0x_1",
    "~",
    "'unclosed",
    "\t",
    "%TAG ! tag:x,2000:",
    "[1, 2, {a: [3]}]",
    "{to: campaign_id, hash_with_key: true}",
]
KEYS = ["format", "name", "columns", "ignore", "constants", "missing", "values", "parse", "separators", "description"]
INNER = [RAW_ID, "campaign_id", "money", "x", "initiator.id_number_hash", "boolean", "created_at"]


def hostile_mapping(rng: random.Random) -> str:
    lines = ["format: compliance-mapping/1"] if rng.random() < 0.7 else []
    for key in rng.choices(KEYS, k=rng.randint(0, 5)):
        value = rng.choice(HOSTILE) if rng.random() < 0.8 else cell(rng)
        if rng.random() < 0.5:
            lines.append(f"{key}:\n  {rng.choice(INNER)}: {value}")
        else:
            lines.append(f"{key}: {value}")
    if rng.random() < 0.15:  # an alias bomb
        levels = rng.randint(2, 8)
        lines += ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
        lines += [f"columns: {{x: *a{levels - 1}}}"]
    return "\n".join(lines) + "\n"


def check_mapping(path: Path) -> None:
    try:
        Mapping.load(path)
    except MappingError as error:
        message = str(error)
        assert RAW_ID not in message
        assert len(message) < 400 * max(len(error.problems), 1)
        assert all(len(p.message) < 600 for p in error.problems)


@fuzz()
@given(seeds)
def test_fuzz_mapping_files(folder: Path, seed: int) -> None:
    rng = random.Random(seed)
    for case in range(CASES):
        path = folder / "mapping.yaml"
        if case % 2:
            path.write_bytes(damaged(rng, VALID_MAPPING.encode("utf-8")))
        else:
            path.write_text(hostile_mapping(rng), encoding="utf-8", errors="surrogateescape")
        check_mapping(path)


# -- rule files -------------------------------------------------------------------------------------

RULESET = """\
ruleset:
  id: fuzz
  title: {zh: 模糊, en: Fuzz}
  family: fuzz
  effective_from: 2021-01-01
  revision: 1
parameters:
  cap:
    type: money
    value: 500000
    title: {zh: 上限, en: Cap}
    source: {note: test}
rules:
"""


def _rule(rule_id: str, fails_when: str, requires: str = "[]") -> str:
    return rule_yaml(rule_id, fails_when, requires, title="模糊")


VALID_RULESET = RULESET + _rule("f.a", "raised_amount > params.cap") + _rule("f.b", "disclosure.house == false")

ATOMS = [
    "raised_amount",
    "target_amount",
    "params.cap",
    "disclosure.house",
    "(medical.diagnosis ?? '')",
    "medical.diagnosis",
    "platform",
    "payout",
    "1",
    "0.5",
    "null",
    "true",
    "'水滴'",
    f"'{RAW_ID}'",
    "stage",
    "nope.field",
    "$now",
]
PATTERNS = ["(a+)+$", "^水滴", "(a|a)*b", r"(a)\1", "(?=x)", "[", "\\d{3}", ".*", "(?i)abc", "a{1000}", "\\p{Han}+"]
OPERATORS = ["and", "or", "==", "!=", ">", "<=", "+", "*", "in", "??"]


def condition(rng: random.Random, leaves: int = 6) -> str:
    """A random condition: operators, regular expressions, ternaries, comprehensions, and now and then a
    chain hundreds deep."""
    if leaves <= 1 or rng.random() < 0.25:
        return rng.choice(ATOMS)
    kind = rng.randrange(7)
    if kind == 0:
        return f"not {condition(rng, leaves - 1)}"
    if kind == 1:
        return f"({condition(rng, leaves - 1)} ? {condition(rng, leaves // 2)} : {condition(rng, leaves // 2)})"
    if kind == 2:
        operator = rng.choice(["=~", "=~~", "!~", "!~~"])
        return f"({condition(rng, leaves - 1)} {operator} {json.dumps(rng.choice(PATTERNS))})"
    if kind == 3:
        return f"$any([{condition(rng, leaves - 1)} for v in [1, 2]])"
    if kind == 4 and rng.random() < 0.1:  # now and then a chain past the nesting limit (long to parse)
        depth = rng.randint(20, 400)
        return rng.choice(["not " * depth + "true", "$any([" * depth + "true" + "])" * depth])
    left, right = condition(rng, leaves // 2), condition(rng, leaves // 2)
    return f"({left} {rng.choice(OPERATORS)} {right})"


def _facts() -> list[Facts]:
    out = []
    for diagnosis in ("a" * 41 + "!", None, "水滴筹"):
        campaign = Campaign.parse(
            {
                "campaign_id": "c1",
                "platform": "水滴筹",
                "created_at": "2022-01-01 09:00",
                "target_amount": 100,
                "raised_amount": 600000,
                "medical": {"diagnosis": diagnosis},
            }
        )
        out.append(Facts(campaign, "publish", UNCHECKED, campaign.disclosure.__dict__))
    return out


FACTS = _facts()


def check_rules(path: Path) -> None:
    try:
        ruleset = load_ruleset(path)
    except RuleFileError as error:
        assert RAW_ID not in str(error)
        assert all(len(p.message) < 600 for p in error.problems)
        return
    for rule in ruleset.rules:
        for facts in FACTS:
            assert rule.status(facts) in ("pass", "fail", "not_applicable", "not_evaluable")


@fuzz()
@given(seeds)
def test_fuzz_rule_files(folder: Path, seed: int) -> None:
    rng = random.Random(seed)
    for case in range(CASES):
        path = folder / "rules.yaml"
        if case % 2:
            path.write_bytes(damaged(rng, VALID_RULESET.encode("utf-8")))
        else:
            requires = "[medical.diagnosis]" if rng.random() < 0.3 else "[]"
            path.write_text(RULESET + _rule("f.c", condition(rng), requires), encoding="utf-8")
        check_rules(path)
