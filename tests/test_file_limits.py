"""Damaged and hostile files end as the library's own errors, short, naming the file and the record or line.

Each test here failed before the limits were added (issue 11): a truncated ``.csv.gz`` raised ``EOFError``,
a deep JSON Lines record ``RecursionError``, a YAML alias bomb gave an error hundreds of kilobytes long.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compliance import _yaml
from compliance.batch._io import MAX_JSON_DEPTH, ExportError, Mapping, MappingError, read_export
from compliance.errors import RuleFileError
from compliance.rules._ruleset import load_ruleset

RAW_ID = "110101199003074578"  # a made-up identity number: it must never appear in a message


def _rows(path: Path, **options: object) -> int:
    return sum(len(chunk.frame) for chunk in read_export(path, **options))  # type: ignore[arg-type]


# -- exports --------------------------------------------------------------------------------------


def _csv(rows: int) -> bytes:
    return ("campaign_id,platform\n" + "".join(f"c{i},水滴筹\n" for i in range(rows))).encode()


def test_a_truncated_csv_gz_is_an_export_error_naming_the_file_and_how_far_it_got(tmp_path: Path) -> None:
    whole = gzip.compress(_csv(200_000))  # more than one block of text before the cut
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ExportError, match=r"cut\.csv\.gz: cannot be read after [\d,]+ bytes .*cut short") as caught:
        _rows(path, chunk_rows=1000)
    assert "records 1 to " in str(caught.value)  # the chunks before the damage were delivered


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:10] + bytes(b ^ 0x5A for b in data[10:60]) + data[60:],  # corrupt deflate data
        lambda data: data[:-4] + b"\0\0\0\0",  # wrong length in the trailer
        lambda data: b"not gzip at all" * 10,
        lambda data: data + b"trailing garbage",
    ],
)
def test_damaged_gzip_streams_are_export_errors(tmp_path: Path, damage: object) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(damage(gzip.compress(b'{"campaign_id": "a"}\n' * 100)))  # type: ignore[operator]
    with pytest.raises(ExportError, match=r"bad\.jsonl\.gz: cannot be read"):
        _rows(path)


def test_a_json_record_nested_100000_deep_is_that_records_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    path.write_text('{"campaign_id": "a"}\n' + deep + '\n{"campaign_id": "b"}\n', encoding="utf-8")
    chunks = list(read_export(path))
    assert sum(len(c.frame) for c in chunks) == 3
    assert chunks[0].read_errors == {2: f"record 2: nested more than {MAX_JSON_DEPTH} levels deep"}
    assert chunks[0].frame.loc[3, "campaign_id"] == "b"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 900])
def test_json_records_nested_past_the_limit_in_objects_or_lists_are_refused(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "deep.jsonl"
    objects = '{"a": ' * depth + "1" + "}" * depth
    lists = '{"a": ' + "[" * depth + "]" * depth + "}"
    path.write_text(objects + "\n" + lists + "\n", encoding="utf-8")
    (chunk,) = read_export(path, mapping=None)
    assert set(chunk.read_errors) == {1, 2}


def test_a_parquet_batch_pandas_cannot_hold_keeps_its_rows_as_read_errors(tmp_path: Path) -> None:
    path = tmp_path / "far.parquet"
    far = pa.array([253_402_300_799_000_000] * 3, pa.timestamp("us"))  # 9999-12-31: beyond pandas' ns range
    pq.write_table(pa.table({"campaign_id": ["a", "b", "c"], "created_at": far}), path)
    chunks = list(read_export(path))
    assert sum(len(c.frame) for c in chunks) == 3
    if chunks[0].read_errors:  # pandas versions that keep microseconds read the time as it is
        assert chunks[0].read_errors[1].startswith("record 1: its values cannot be converted")


def test_bad_parquet_bytes_are_an_export_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"campaign_id": [f"c{i}" for i in range(1000)]}), path)
    data = bytearray(path.read_bytes())
    data[200:400] = bytes(200)  # inside the column data
    path.write_bytes(bytes(data))
    try:
        rows = _rows(path)
    except ExportError as error:
        assert "bad.parquet" in str(error)
    else:
        assert rows == 1000


# -- YAML: mapping, rule and clause files ---------------------------------------------------------

BOMB = """\
format: compliance-mapping/1
name: bomb
a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
columns: {*c : campaign_id}
"""


def test_a_yaml_alias_is_refused_in_a_mapping_file_with_a_short_error(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        Mapping.load(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.code) == (4, "yaml-limit")
    assert "aliases" in problem.message and len(str(caught.value)) < 300


def test_yaml_nested_past_the_limit_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("format: compliance-mapping/1\nname: x\nvalues: " + "[" * 10_000 + "]" * 10_000 + "\n")
    with pytest.raises(MappingError) as caught:
        Mapping.load(path)
    (problem,) = caught.value.problems
    assert problem.code == "yaml-limit" and f"more than {_yaml.MAX_DEPTH} levels" in problem.message


def test_a_yaml_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("format: compliance-mapping/1\nname: x\ndescription: " + "x" * _yaml.MAX_BYTES + "\n")
    with pytest.raises(MappingError, match="files of at most 1,048,576 bytes are read"):
        Mapping.load(path)


def test_long_values_are_cut_in_mapping_errors_and_identity_numbers_never_quoted_whole(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    long_name = RAW_ID + "x" * 100_000
    path.write_text(
        f"format: compliance-mapping/1\nname: x\ncolumns:\n  a: {long_name}\n  {long_name}: nope\n"
        f"ignore: [{long_name}]\nparse:\n  money: {long_name}\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as caught:
        Mapping.load(path)
    assert len(str(caught.value)) < 2_000
    assert RAW_ID not in str(caught.value)


def test_a_yaml_timestamp_that_is_no_date_is_a_problem_not_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "date.yaml"
    path.write_text("format: compliance-mapping/1\nname: x\nconstants:\n  created_at: 2025-13-45\n")
    with pytest.raises(MappingError, match="cannot read the file"):
        Mapping.load(path)


def test_a_rule_file_with_an_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("ruleset: &r {id: x}\nrules: [*r]\n", encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(path)
    assert [p.code for p in caught.value.problems] == ["yaml-limit"]


def test_the_safe_loader_builds_no_python_objects() -> None:
    import yaml

    with pytest.raises(yaml.YAMLError):
        _yaml.load_text("!!python/object/apply:os.system ['true']")
    assert _yaml.load_text("a: &x 1\nb: 2") == {"a": 1, "b": 2}  # an anchor without an alias is harmless


def test_json_dumps_of_the_error_stays_small(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"campaign_id": RAW_ID * 10}) + "\n" + "[" * 50_000 + "\n")
    (chunk,) = read_export(path)
    assert RAW_ID not in json.dumps(chunk.read_errors)
