"""`compliance score`: the main batch job, as a scheduler runs it — files in, a decisions file and a
summary out, exit codes to act on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from compliance.batch import OUTPUT_COLUMNS
from compliance.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "examples" / "campaigns-export.csv"
MAPPING = ROOT / "examples" / "export-mapping.yaml"
BLACKLIST = ["--blacklist", str(ROOT / "examples" / "blacklist.json")]
KEY = ["--blacklist-key-file", str(ROOT / "examples" / "demo-blacklist.key")]


@pytest.fixture(scope="module")
def small_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 records of the sample export (same encoding, same columns)."""
    raw = EXPORT.read_bytes().decode("gb18030").splitlines(keepends=True)
    path = tmp_path_factory.mktemp("export") / "small.csv"
    path.write_bytes("".join(raw[:61]).encode("gb18030"))
    return path


def _score(*args: str) -> int:
    return main(["score", *args, "--no-progress"])


def test_scores_every_record_and_prints_a_summary(
    small_export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "decisions.csv"
    code = _score(str(small_export), "--mapping", str(MAPPING), "--stage", "payout", *BLACKLIST, *KEY, "-o", str(out))
    assert code == 0
    decisions = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(decisions.columns) == ["row", "campaign_id", *OUTPUT_COLUMNS]
    assert decisions["row"].tolist() == [str(i) for i in range(1, 61)]
    assert set(decisions["outcome"]) <= {"approve", "approve_with_conditions", "review", "reject"}
    printed = capsys.readouterr().out
    assert "60 rows scored" in printed
    for outcome in ("approve", "review", "reject"):
        count = int((decisions["outcome"] == outcome).sum())
        assert f"{outcome} " in printed and f"{count:,}" in printed
    assert "rows that could not be read: 0" in printed


def test_chunk_size_does_not_change_the_output(small_export: Path, tmp_path: Path) -> None:
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    common = ["--mapping", str(MAPPING), "--stage", "payout", *BLACKLIST, *KEY]
    assert _score(str(small_export), *common, "-o", str(whole)) == 0
    assert _score(str(small_export), *common, "--chunk-rows", "7", "-o", str(chunked)) == 0
    assert whole.read_bytes() == chunked.read_bytes()


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_other_output_formats_hold_the_same_decisions(small_export: Path, tmp_path: Path, fmt: str) -> None:
    csv_out, other = tmp_path / "d.csv", tmp_path / f"d.{fmt}"
    common = ["--mapping", str(MAPPING), "--stage", "publish"]
    assert _score(str(small_export), *common, "-o", str(csv_out)) == 0
    assert _score(str(small_export), *common, "-o", str(other)) == 0
    expected = pd.read_csv(csv_out, dtype=str, keep_default_na=False)
    got = pd.read_parquet(other) if fmt == "parquet" else pd.read_json(other, lines=True, dtype=False)
    assert len(got) == len(expected)
    for column in ("outcome", "failed_rules", "not_evaluable_rules", "obligations"):
        assert got[column].fillna("").astype(str).tolist() == expected[column].tolist()


def test_unreadable_records_keep_their_rows_and_exit_65(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "flat.csv"
    export.write_text(
        "campaign_id,platform,created_at,target_amount,raised_amount\n"
        "c1,水滴筹,2025-03-01 09:00,100000,20000\n"
        "c2,水滴筹,2025-03-01 09:00,-5,20000\n"
        "c3,水滴筹,2025-03-01 09:00,100000,20000.001\n"
        "c4,水滴筹,2025-03-01 09:00,100000\n",
        encoding="utf-8",
    )
    out = tmp_path / "decisions.csv"
    assert _score(str(export), "-o", str(out), "--no-model") == 65
    decisions = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert decisions["row"].tolist() == ["1", "2", "3", "4"]
    assert decisions["campaign_id"].tolist() == ["c1", "c2", "c3", ""]  # record 4 could not be read at all
    errors = decisions["error"].tolist()
    assert errors[0] == ""
    assert "row 2" in errors[1] and "target_amount" in errors[1] and "-5" not in errors[1]
    assert "row 3" in errors[2] and "raised_amount" in errors[2] and "20000.001" not in errors[2]
    assert "record 4" in errors[3] and "fields" in errors[3]
    assert decisions["outcome"].tolist()[1:] == ["review", "review", "review"]
    assert "rows that could not be read: 3" in capsys.readouterr().out


def test_exit_codes_a_scheduler_can_act_on(tmp_path: Path, small_export: Path) -> None:
    out = str(tmp_path / "d.csv")
    assert _score(str(tmp_path / "missing.csv"), "-o", out) == 66
    bad_mapping = tmp_path / "bad.yaml"
    bad_mapping.write_text("format: compliance-mapping/1\nname: x\ncolumns: {a: not.a.column}\n", encoding="utf-8")
    assert _score(str(small_export), "--mapping", str(bad_mapping), "-o", out) == 78
    assert _score(str(small_export), "--mapping", str(MAPPING), "--ruleset", "no-such-ruleset", "-o", out) == 78
    assert _score(str(small_export), "--mapping", str(MAPPING), "-o", str(tmp_path / "d.xlsx")) == 2
    assert _score(str(small_export), "--mapping", str(MAPPING), "--chunk-rows", "0", "-o", out) == 2
