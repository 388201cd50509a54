"""Reading exports as they come: formats, encodings, mappings, chunks and records that cannot be read."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compliance import Campaign
from compliance._flat import FLAT_COLUMNS, unflatten
from compliance.batch._mapping import Mapping, shipped_mappings
from compliance.batch._readers import Chunk, read_export
from compliance.blacklist import hash_id_number
from compliance.errors import ExportError, MappingError
from compliance.risk.synthetic import generate, to_campaigns

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
KEY = "a platform key of 16+ chars"
RAW_ID = "110101199003074578"  # a made-up resident identity number; it must never appear in output or messages

FLAT_CSV = (
    "campaign_id,platform,created_at,target_amount,raised_amount,disclosure.house,medical.document_hashes\n"
    "c1,水滴筹,2025-03-01 09:00,49999.99,1200.5,true,\n"
    "c2,轻松筹,2025-03-02 10:00,300000,,,\n"
)

MAPPING_YAML = """\
format: compliance-mapping/1
name: test-platform
columns:
  项目编号: campaign_id
  发起时间: created_at
  目标金额(元): target_amount
  已筹金额: raised_amount
  是否有房产: disclosure.house
  是否有医保: disclosure.basic_medical_insurance
  收款方: payout.payee
  材料哈希: medical.document_hashes
  转发次数: activity.share_count
ignore: [序号]
constants:
  platform: 测试平台
missing: ["-"]
values:
  boolean: {是: true, 否: false, 未填写: null}
  disclosure.house: {有: true, 无: false}
  payout.payee: {患者本人: patient, 近亲属: close_relative, 医院对公账户: hospital_account, 其他: other}
parse:
  money: abbreviated_number
  activity.share_count: abbreviated_number
  created_at: {datetime: "%Y/%m/%d %H:%M"}
separators:
  list: ";"
"""

CHINESE_CSV = (
    "序号,项目编号,发起时间,目标金额(元),已筹金额,是否有房产,是否有医保,收款方,材料哈希,转发次数\n"
    '1,c1,2025/03/01 09:00,"300,000",1.5万,有,是,医院对公账户,a;b,1.2k\n'
    "2,c2,2025/03/02 10:30,$1.0M,-,无,未填写,近亲属,,12\n"
    "3,c3,昨天,很多,49999.99, 有 ,也许,朋友,c,-\n"
)


def write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def read_all(path: Path, **options: object) -> tuple[pd.DataFrame, dict[int, str]]:
    chunks = list(read_export(path, **options))  # type: ignore[arg-type]
    assert chunks and all(isinstance(c, Chunk) for c in chunks)
    errors: dict[int, str] = {}
    for chunk in chunks:
        errors |= chunk.read_errors
    return pd.concat([c.frame for c in chunks]), errors


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    return write(tmp_path, "mapping.yaml", MAPPING_YAML)


# -- formats and encodings --------------------------------------------------------------------------


def test_a_flat_utf8_csv_is_read_as_exact_text_with_empty_cells_null(tmp_path: Path) -> None:
    frame, errors = read_all(write(tmp_path, "flat.csv", FLAT_CSV))
    assert errors == {}
    assert list(frame.columns) == [c for c in FLAT_COLUMNS if c in FLAT_CSV.splitlines()[0].split(",")]
    assert frame.index.tolist() == [1, 2] and frame.index.dtype == "int64"
    assert frame.loc[1, "target_amount"] == "49999.99"  # never through float
    assert frame.loc[1, "raised_amount"] == "1200.5"
    assert pd.isna(frame.loc[2, "raised_amount"]) and pd.isna(frame.loc[2, "disclosure.house"])
    assert frame["target_amount"].dtype == pd.StringDtype("pyarrow")  # Arrow-backed text: missing is pd.NA
    assert frame.loc[1, "platform"] == "水滴筹"


@pytest.mark.parametrize("encoding", [None, "utf-8", "utf-8-sig"])
def test_a_utf8_csv_with_a_bom_reads_its_first_column_by_name(tmp_path: Path, encoding: str | None) -> None:
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + FLAT_CSV.encode("utf-8"))
    frame, _ = read_all(path, encoding=encoding)
    assert frame["campaign_id"].tolist() == ["c1", "c2"]
    assert frame.loc[1, "platform"] == "水滴筹"


def test_a_gb18030_export_with_chinese_names_and_spellings_is_detected_and_mapped(
    tmp_path: Path, mapping_file: Path
) -> None:
    content = CHINESE_CSV.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    frame, errors = read_all(write(tmp_path, "export.csv", content), mapping=mapping_file)
    assert errors == {}
    row = frame.loc[1]
    assert row["campaign_id"] == "c1" and row["platform"] == "测试平台"
    assert row["created_at"] == "2025-03-01T09:00:00"
    assert (row["target_amount"], row["raised_amount"]) == ("300000", "15000")
    assert row["disclosure.house"] is True and row["disclosure.basic_medical_insurance"] is True
    assert row["payout.payee"] == "hospital_account"
    assert row["medical.document_hashes"] == ("a", "b")
    assert row["activity.share_count"] == "1200"
    assert frame.loc[2, "target_amount"] == "1000000" and frame.loc[2, "raised_amount"] is None  # "-" is missing
    assert frame.loc[2, "disclosure.house"] is False and frame.loc[2, "disclosure.basic_medical_insurance"] is None
    assert frame.loc[2, "medical.document_hashes"] is None
    assert frame.loc[3, "disclosure.house"] is True  # spaces around a spelling do not matter


def test_values_the_mapping_cannot_translate_are_passed_on_unchanged(tmp_path: Path, mapping_file: Path) -> None:
    frame, _ = read_all(write(tmp_path, "export.csv", CHINESE_CSV, "gb18030"), mapping=mapping_file)
    row = frame.loc[3]
    assert row["created_at"] == "昨天" and row["target_amount"] == "很多"
    assert row["disclosure.basic_medical_insurance"] == "也许" and row["payout.payee"] == "朋友"
    assert row["raised_amount"] == "49999.99"  # a plain number is already plain


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_an_explicit_encoding_is_honoured(tmp_path: Path, mapping_file: Path, encoding: str) -> None:
    frame, _ = read_all(write(tmp_path, "export.csv", CHINESE_CSV, "gbk"), mapping=mapping_file, encoding=encoding)
    assert frame.loc[1, "payout.payee"] == "hospital_account"


def test_gb18030_is_detected_after_a_long_ascii_start(tmp_path: Path) -> None:
    rows = "".join(f"c{i},platform-{i}\n" for i in range(5_000))  # more than one 64 KiB block of ASCII
    content = f"campaign_id,platform\n{rows}c5000,水滴筹\n".encode("gb18030")
    assert len(content) > 1 << 16
    frame, errors = read_all(write(tmp_path, "export.csv", content))
    assert errors == {} and frame.loc[5_001, "platform"] == "水滴筹"


def test_a_stray_byte_does_not_make_a_utf8_export_gb18030(tmp_path: Path) -> None:
    content = ("campaign_id,platform\n" + "".join(f"c{i},水滴筹\n" for i in range(20))).encode()
    frame, errors = read_all(write(tmp_path, "export.csv", content.replace(b"c3,", b"c3\xff,")))
    assert errors == {4: "record 4: bytes that are not valid utf-8"}
    assert frame["platform"].dropna().eq("水滴筹").all() and frame["platform"].count() == 19


def test_a_tsv_and_a_gzipped_csv_are_read_by_their_names(tmp_path: Path) -> None:
    tsv = write(tmp_path, "flat.tsv", FLAT_CSV.replace(",", "\t"))
    gz = tmp_path / "flat.csv.gz"
    gz.write_bytes(gzip.compress(FLAT_CSV.encode("utf-8")))
    expected, _ = read_all(write(tmp_path, "flat.csv", FLAT_CSV))
    for path in (tsv, gz):
        frame, _ = read_all(path)
        pd.testing.assert_frame_equal(frame, expected)


def test_quoted_line_breaks_stay_inside_one_record(tmp_path: Path) -> None:
    content = 'campaign_id,medical.diagnosis\r\nc1,"two\r\nlines"\r\nc2,one\r\n'
    frame, errors = read_all(write(tmp_path, "flat.csv", content))
    assert errors == {} and frame.index.tolist() == [1, 2]
    assert frame.loc[1, "medical.diagnosis"] == "two\r\nlines" and frame.loc[2, "campaign_id"] == "c2"


def test_parquet_is_read_in_batches_with_nested_structs_as_dotted_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "campaign_id": ["c1", "c2", "c3"],
            "target_amount": pa.array([Decimal("49999.99"), Decimal("300000.00"), None], pa.decimal128(12, 2)),
            "disclosure": [{"house": True, "car": None}, {"house": None, "car": False}, None],
            "activity": [{"donation_count": 5}, {"donation_count": None}, {"donation_count": 7}],
            "medical": [{"document_hashes": ["a", "b"]}, {"document_hashes": []}, {"document_hashes": None}],
        }
    )
    path = tmp_path / "export.parquet"
    pq.write_table(table, path)
    chunks = list(read_export(path, chunk_rows=2))
    assert [c.frame.index.tolist() for c in chunks] == [[1, 2], [3]]
    frame = pd.concat([c.frame for c in chunks])
    assert frame.loc[1, "target_amount"] == Decimal("49999.99")
    assert frame.loc[1, "disclosure.house"] and pd.isna(frame.loc[2, "disclosure.house"])
    assert frame.loc[2, "disclosure.car"] == False  # noqa: E712 - a nullable boolean, answered "no"
    assert frame["activity.donation_count"].dtype == "Int64" and frame.loc[3, "activity.donation_count"] == 7
    assert frame.loc[1, "medical.document_hashes"] == ("a", "b") and frame.loc[2, "medical.document_hashes"] == ()


def test_parquet_text_cells_are_mapped_like_csv(tmp_path: Path, mapping_file: Path) -> None:
    path = tmp_path / "export.parquet"
    pq.write_table(pa.table({"项目编号": ["c1"], "是否有房产": ["有"], "转发次数": [12], "序号": [1]}), path)
    frame, _ = read_all(path, mapping=mapping_file)
    assert frame.loc[1, "disclosure.house"] is True and frame.loc[1, "activity.share_count"] == 12


def test_json_lines_nested_and_flat_give_the_same_columns(tmp_path: Path) -> None:
    nested = {
        "campaign_id": "c1",
        "target_amount": 49999.99,
        "disclosure": {"house": True},
        "payout": None,
        "medical": {"document_hashes": ["a", "b"]},
    }
    flat = {"campaign_id": "c2", "target_amount": "300000", "disclosure.house": False, "medical.document_hashes": []}
    path = write(tmp_path, "export.jsonl", json.dumps(nested) + "\n\n" + json.dumps(flat, ensure_ascii=False) + "\n")
    frame, errors = read_all(path)
    assert errors == {}
    assert frame.index.tolist() == [1, 3]  # line numbers; a blank line is no record
    assert frame.loc[1, "target_amount"] == Decimal("49999.99")  # JSON numbers never pass through float
    assert frame.loc[1, "disclosure.house"] is True and frame.loc[3, "disclosure.house"] is False
    assert frame.loc[1, "medical.document_hashes"] == ("a", "b") and frame.loc[3, "medical.document_hashes"] == ()
    assert "payout" not in frame.columns


def test_json_lines_that_are_not_objects_keep_their_row_with_a_reason(tmp_path: Path) -> None:
    lines = ['{"campaign_id": "c1"}', f'["{RAW_ID}"]', f'{{"campaign_id": "{RAW_ID}"', '{"campaign_id": "c4"}']
    frame, errors = read_all(write(tmp_path, "export.jsonl", "\n".join(lines)))
    assert frame.index.tolist() == [1, 2, 3, 4]
    assert set(errors) == {2, 3}
    assert errors[2] == "record 2: not a JSON object (a JSON list)"
    assert errors[3].startswith("record 3: not valid JSON")
    assert frame.loc[[2, 3], "campaign_id"].isna().all() and frame.loc[4, "campaign_id"] == "c4"
    assert not any(RAW_ID in message for message in errors.values())


# -- the mapping ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.0M", "1000000"),
        ("12k", "12000"),
        ("1.8k", "1800"),
        ("1.25K", "1250"),
        ("15,000", "15000"),
        ("$1,234", "1234"),
        ("¥49,999.99", "49999.99"),
        ("1.5万", "15000"),
        ("2亿", "200000000"),
        ("327345.0", "327345.0"),
        ("30万元", "300000"),
        ("about 5k", "about 5k"),  # not a number of that shape: passed on for validation to report
        ("1,23", "1,23"),
    ],
)
def test_abbreviated_numbers_become_exact_plain_digits(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "export.csv", f'项目编号,目标金额(元)\nc1,"{text}"\n')
    frame, _ = read_all(path, mapping=write(tmp_path, "m.yaml", MAPPING_YAML.replace("序号", "是否有车辆")))
    assert frame.loc[1, "target_amount"] == expected


def test_the_number_converter_refuses_abbreviations(tmp_path: Path) -> None:
    mapping = write(tmp_path, "m.yaml", MAPPING_YAML.replace("money: abbreviated_number", "money: number"))
    frame, _ = read_all(write(tmp_path, "e.csv", '项目编号,目标金额(元),已筹金额\nc1,"15,000",12k\n'), mapping=mapping)
    assert (frame.loc[1, "target_amount"], frame.loc[1, "raised_amount"]) == ("15000", "12k")


def test_hashed_identity_columns_are_keyed_as_read_and_the_raw_numbers_dropped(tmp_path: Path) -> None:
    raw_column = "  发起人身份证号: {to: initiator.id_number_hash, hash_with_key: true}\n"
    mapping = write(tmp_path, "m.yaml", MAPPING_YAML.replace("ignore: [序号]", raw_column + "ignore: [序号]"))
    export = write(tmp_path, "e.csv", f"项目编号,发起人身份证号\nc1,{RAW_ID}\nc2,-\nc3,\n")
    frame, _ = read_all(export, mapping=mapping, id_key=KEY)
    assert frame.loc[1, "initiator.id_number_hash"] == hash_id_number(RAW_ID, KEY)
    assert frame.loc[2, "initiator.id_number_hash"] is None and frame.loc[3, "initiator.id_number_hash"] is None
    assert RAW_ID not in frame.to_string() and "发起人身份证号" not in frame.columns
    with pytest.raises(ExportError, match="id_key") as error:
        read_all(export, mapping=mapping)
    assert "发起人身份证号" in str(error.value) and RAW_ID not in str(error.value)


def test_raw_identity_numbers_in_nested_campaign_json_are_hashed_with_the_key(tmp_path: Path) -> None:
    line = {"campaign_id": "c1", "initiator": {"id_number": RAW_ID}, "patient": {"id_number_hash": "ab" * 32}}
    path = write(tmp_path, "e.jsonl", json.dumps(line))
    frame, _ = read_all(path, id_key=KEY)
    assert frame.loc[1, "initiator.id_number_hash"] == hash_id_number(RAW_ID, KEY)
    assert frame.loc[1, "patient.id_number_hash"] == "ab" * 32
    with pytest.raises(ExportError, match=r"initiator\.id_number"):
        read_all(path)


def test_a_mapping_file_with_problems_reports_every_one_with_its_file_and_line(tmp_path: Path) -> None:
    bad = MAPPING_YAML.replace("disclosure.house\n", "disclosure.hose\n")
    bad = bad.replace("money: abbreviated_number", "money: roman_numeral") + "  disclosure.car: ','\n"
    path = write(tmp_path, "bad.yaml", bad)
    with pytest.raises(MappingError) as error:
        Mapping.load(path)
    problems = {p.message.split(":")[0]: p for p in error.value.problems}
    assert set(problems) == {"columns.是否有房产", "parse.money", "separators.disclosure.car"}
    assert "did you mean 'disclosure.house'" in problems["columns.是否有房产"].message
    assert problems["columns.是否有房产"].line == 8 and problems["parse.money"].line == 22
    assert "unknown converter 'roman_numeral'" in problems["parse.money"].message
    assert "list columns, not boolean" in problems["separators.disclosure.car"].message
    assert all(p.file == str(path) for p in error.value.problems) and f"{path}:8" in str(error.value)


def test_a_mapping_file_outside_the_format_is_refused_with_its_lines(tmp_path: Path) -> None:
    text = MAPPING_YAML.replace("compliance-mapping/1", "compliance-mapping/9") + "extra: 1\n"
    with pytest.raises(MappingError) as error:
        Mapping.load(write(tmp_path, "bad.yaml", text))
    extra_line = text.splitlines().index("extra: 1") + 1
    assert [(p.line, p.code) for p in error.value.problems] == [(1, "schema"), (extra_line, "schema")]
    assert "extra: Extra inputs are not permitted" in str(error.value)
    with pytest.raises(MappingError, match="not valid YAML"):
        Mapping.load(write(tmp_path, "broken.yaml", "columns: {a: [\n"))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("  已筹金额: raised_amount", "  已筹金额: target_amount"), "already mapped from '目标金额(元)'"),
        (("platform: 测试平台", "campaign_id: x"), "also mapped from '项目编号'"),
        (("activity.share_count: abbreviated_number", "disclosure.car: number"), "not boolean"),
        (("{是: true,", "{yes: true,"), "quote it"),
        (("ignore: [序号]", "ignore: [项目编号]"), "both mapped and ignored"),
        (
            ("  转发次数: activity.share_count", "  转发次数: {to: activity.share_count, hash_with_key: true}"),
            "hash_with_key maps to one of",
        ),
    ],
)
def test_a_mapping_that_contradicts_itself_or_the_schema_is_refused(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    assert change[0] in MAPPING_YAML
    with pytest.raises(MappingError, match=re.escape(expected)):
        Mapping.load(write(tmp_path, "m.yaml", MAPPING_YAML.replace(*change)))


def test_shipped_mappings_load_by_name_and_unknown_names_list_them() -> None:
    assert "gofundme-meninato2018" in shipped_mappings()
    assert Mapping.load("gofundme-meninato2018").name == "gofundme-meninato2018"
    with pytest.raises(MappingError, match="gofundme-meninato2018"):
        Mapping.load("no-such-mapping")


def test_unknown_columns_are_named_with_a_suggestion(tmp_path: Path, mapping_file: Path) -> None:
    flat = write(tmp_path, "flat.csv", FLAT_CSV.replace("disclosure.house", "disclosure.hose"))
    with pytest.raises(ExportError, match=r"'disclosure.hose' \(did you mean 'disclosure.house'\?\)") as error:
        read_all(flat)
    assert str(flat) in str(error.value)
    export = write(tmp_path, "e.csv", "项目编号,是否有房子,备注\nc1,有,x\n")
    with pytest.raises(ExportError, match=r"'是否有房子' \(did you mean '是否有房产'\?\), '备注'"):
        read_all(export, mapping=mapping_file)
    lenient = write(tmp_path, "lenient.yaml", MAPPING_YAML + "unmapped: ignore\n")
    frame, _ = read_all(export, mapping=lenient)
    assert list(frame.columns) == ["campaign_id", "platform"]


# -- chunks and records that cannot be read ---------------------------------------------------------


def _csv_with_bad_records(tmp_path: Path) -> Path:
    lines = ["campaign_id,platform,created_at,target_amount"]
    for i in range(1, 31):
        lines.append(f"c{i},水滴筹,2025-03-01,{i}000")
    lines[5] = f"c5,水滴筹,2025-03-01,5000,{RAW_ID}"  # record 5: one field too many
    lines[12] = "c12,水滴筹"  # record 12: too few
    lines.insert(20, "")  # a blank line: not a record
    return write(tmp_path, "bad.csv", "\n".join(lines) + "\n")


def test_malformed_records_keep_a_null_row_and_say_why_without_values(tmp_path: Path) -> None:
    frame, errors = read_all(_csv_with_bad_records(tmp_path))
    assert frame.index.tolist() == list(range(1, 31))
    assert errors == {
        5: "record 5: expected 4 fields, found 5",
        12: "record 12: expected 4 fields, found 2",
    }
    assert frame.loc[[5, 12]].isna().all().all()
    assert frame.loc[6, "campaign_id"] == "c6" and frame.loc[30, "campaign_id"] == "c30"
    assert RAW_ID not in frame.to_string()


def test_a_field_beyond_the_csv_limit_costs_only_its_record(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", f"campaign_id,medical.diagnosis\nc1,{'x' * 200_000}\nc2,ok\n")
    frame, errors = read_all(path)
    assert errors == {1: "record 1: not readable as CSV (field larger than field limit (131072))"}
    assert frame.loc[1].isna().all() and frame.loc[2, "medical.diagnosis"] == "ok"


def test_a_record_with_undecodable_bytes_is_reported_and_the_rest_read(tmp_path: Path, mapping_file: Path) -> None:
    content = "项目编号,是否有房产\nc1,有\nc2,无\nc3,有\n".encode()
    content = content.replace("c2,无".encode(), b"c2,\xff\xfe")
    frame, errors = read_all(write(tmp_path, "e.csv", content), mapping=mapping_file)
    assert errors == {2: "record 2: bytes that are not valid utf-8"}
    assert frame.loc[2].isna().all()  # the constant platform too: nothing is known of the record
    assert frame.loc[3, "disclosure.house"] is True


def test_reading_in_chunks_gives_the_same_frame_and_continuing_record_numbers(tmp_path: Path) -> None:
    path = _csv_with_bad_records(tmp_path)
    whole = list(read_export(path))
    chunks = list(read_export(path, chunk_rows=7))
    assert len(whole) == 1 and [len(c.frame) for c in chunks] == [7, 7, 7, 7, 2]
    assert chunks[1].frame.index.tolist() == list(range(8, 15)) and chunks[1].read_errors.keys() == {12}
    pd.testing.assert_frame_equal(pd.concat([c.frame for c in chunks]), whole[0].frame)
    assert {k: v for c in chunks for k, v in c.read_errors.items()} == whole[0].read_errors


def test_json_lines_in_chunks_number_records_by_line(tmp_path: Path) -> None:
    lines = [json.dumps({"campaign_id": f"c{i}", "disclosure": {"house": i % 2 == 0}}) for i in range(10)]
    lines[4] = "not json"
    path = write(tmp_path, "e.jsonl", "\n".join(lines))
    chunks = list(read_export(path, chunk_rows=3))
    assert [c.frame.index.tolist() for c in chunks] == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]
    assert chunks[1].read_errors.keys() == {5}
    pd.testing.assert_frame_equal(pd.concat([c.frame for c in chunks]), next(read_export(path)).frame)


def test_a_header_only_export_gives_one_empty_chunk_with_its_columns(tmp_path: Path) -> None:
    chunks = list(read_export(write(tmp_path, "e.csv", "campaign_id,platform\n")))
    assert len(chunks) == 1 and chunks[0].frame.empty and list(chunks[0].frame.columns) == ["campaign_id", "platform"]


def test_arguments_are_checked_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="cannot tell the format"):
        read_export(write(tmp_path, "e.xlsx", "x"))
    with pytest.raises(ExportError, match="no such file"):
        read_export(tmp_path / "missing.csv")
    with pytest.raises(ExportError, match="unknown encoding"):
        read_export(write(tmp_path, "e.csv", FLAT_CSV), encoding="klingon")
    with pytest.raises(MappingError):
        read_export(write(tmp_path, "e.csv", FLAT_CSV), mapping=tmp_path / "missing.yaml")


# -- the sample export ------------------------------------------------------------------------------


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def test_the_sample_export_reads_back_the_generators_campaigns() -> None:
    chunks = list(read_export(EXAMPLES / "campaigns-export.csv", mapping=EXAMPLES / "export-mapping.yaml"))
    frame = pd.concat([c.frame for c in chunks])
    assert not any(c.read_errors for c in chunks) and len(frame) == 2_000
    assert list(frame.columns) == list(FLAT_COLUMNS)
    expected = to_campaigns(generate(2_000, seed=2025))
    for (_record, row), want in zip(frame.iterrows(), expected, strict=True):
        given = {column: value for column, value in row.items() if not _missing(value)}
        assert Campaign.parse(unflatten(given)) == Campaign.parse(want)


def test_the_sample_export_is_the_one_its_script_makes() -> None:
    spec = importlib.util.spec_from_file_location("make_sample_export", EXAMPLES / "make_sample_export.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    made = {"campaigns-export.csv": script.export_bytes(), "export-mapping.yaml": script.mapping_bytes()}
    for name, content in made.items():
        assert content == (EXAMPLES / name).read_bytes(), "run `python examples/make_sample_export.py --write`"
    assert made["campaigns-export.csv"].decode("gb18030").startswith("序号,项目编号,平台,发起时间,目标金额(元)")
