"""`compliance score`: the main batch job, as a scheduler runs it — files in, a decisions file and a
summary out, exit codes to act on."""

from __future__ import annotations

import copy
import csv
import gzip
import hashlib
import io
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import compliance
from compliance.batch import OUTPUT_COLUMNS
from compliance.batch._score import CHUNK_ROWS, provenance_path
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
    assert list(decisions.columns) == ["record", "campaign_id", *OUTPUT_COLUMNS]  # record, as the frame's index
    assert decisions["record"].tolist() == [str(i) for i in range(1, 61)]
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
    assert _score(str(export), "-o", str(out), "--stage", "publish", "--no-model") == 65
    decisions = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert decisions["record"].tolist() == ["1", "2", "3", "4"]
    assert decisions["campaign_id"].tolist() == ["c1", "c2", "c3", ""]  # record 4 could not be read at all
    errors = decisions["error"].tolist()
    assert errors[0] == ""
    assert "record 2" in errors[1] and "target_amount" in errors[1] and "-5" not in errors[1]
    assert "record 3" in errors[2] and "raised_amount" in errors[2] and "20000.001" not in errors[2]
    assert "record 4" in errors[3] and "fields" in errors[3]
    assert decisions["outcome"].tolist()[1:] == ["review", "review", "review"]
    assert "rows that could not be read: 3" in capsys.readouterr().out


def test_exit_codes_a_scheduler_can_act_on(tmp_path: Path, small_export: Path) -> None:
    out = str(tmp_path / "d.csv")
    stage = ["--stage", "publish"]
    assert _score(str(tmp_path / "missing.csv"), *stage, "-o", out) == 66
    bad_mapping = tmp_path / "bad.yaml"
    bad_mapping.write_text("format: compliance-mapping/1\nname: x\ncolumns: {a: not.a.column}\n", encoding="utf-8")
    assert _score(str(small_export), *stage, "--mapping", str(bad_mapping), "-o", out) == 78
    assert _score(str(small_export), *stage, "--mapping", str(MAPPING), "--ruleset", "no-such-ruleset", "-o", out) == 78
    assert _score(str(small_export), *stage, "--mapping", str(MAPPING), "-o", str(tmp_path / "d.xlsx")) == 2
    assert _score(str(small_export), *stage, "--mapping", str(MAPPING), "--chunk-rows", "0", "-o", out) == 2


# -- the first ten minutes (issue 11): what a new user meets -----------------------------------------


def _payout(export: Path, out: Path, *args: str) -> int:
    return _score(str(export), "--mapping", str(MAPPING), "--stage", "payout", *args, "-o", str(out))


def _rewritten(small_export: Path, tmp_path: Path, name: str, change: Callable[[list[list[str]]], None]) -> Path:
    """A copy of the small export (same encoding) with some cells changed."""
    rows = list(csv.reader(io.StringIO(small_export.read_bytes().decode("gb18030"))))
    change(rows)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    path = tmp_path / name
    path.write_bytes(text.getvalue().encode("gb18030"))
    return path


def test_the_stage_must_be_given(small_export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A batch decision is defended by its stage: none is assumed (publish was, silently)."""
    with pytest.raises(SystemExit) as caught:
        _score(str(small_export), "--mapping", str(MAPPING), "-o", str(tmp_path / "d.csv"))
    assert caught.value.code == 2
    assert "--stage" in capsys.readouterr().err
    assert not (tmp_path / "d.csv").exists()


def test_help_states_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    text = capsys.readouterr().out
    for code, meaning in (("65", "some records could not be read"), ("66", "refused whole"), ("78", "model")):
        assert re.search(rf"^\s+{code}\s+.*{meaning}", text, re.M), (code, text)
    assert f"{CHUNK_ROWS:,}" in text and CHUNK_ROWS <= 10_000  # the bar moves at least every 10,000 records


def test_a_refused_export_exits_66_and_leaves_no_output(tmp_path: Path, small_export: Path) -> None:
    """65 means some rows could not be read (and the file has them all); a file refused whole is 66, and
    leaves neither a decisions file nor a sidecar, even when refused after records were written."""
    out = tmp_path / "d.csv"
    unknown = _rewritten(small_export, tmp_path, "renamed.csv", lambda rows: rows[0].__setitem__(3, "发起时刻"))
    assert _payout(unknown, out) == 66
    assert not out.exists() and not provenance_path(out).exists()
    assert list(tmp_path.glob(".*partial")) == []
    damaged = tmp_path / "damaged.csv.gz"
    whole = gzip.compress(small_export.read_bytes())
    damaged.write_bytes(whole[: len(whole) * 3 // 4])
    assert _payout(damaged, out, "--chunk-rows", "5") == 66
    assert not out.exists() and list(tmp_path.glob(".*partial")) == []


def test_errors_name_the_file_once_and_the_command_line_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("项目编号,平台\nc1,水滴筹\n".encode("gbk"))
    assert _score(str(gbk), "--stage", "publish", "--encoding", "utf-8", "-o", str(tmp_path / "d.csv")) == 66
    err = capsys.readouterr().err
    assert err.count(str(gbk)) == 1, err
    assert "--encoding" in err and "encoding=" not in err


def test_errors_name_the_exports_own_columns(small_export: Path, tmp_path: Path) -> None:
    def spoil(rows: list[list[str]]) -> None:
        rows[2][rows[0].index("发起人已实名认证")] = "也许"
        rows[3][rows[0].index("目标金额(元)")] = "很多"

    export = _rewritten(small_export, tmp_path, "spoilt.csv", spoil)
    out = tmp_path / "d.csv"
    assert _payout(export, out, "--no-model") == 65
    errors = pd.read_csv(out, dtype=str, keep_default_na=False)["error"].tolist()
    assert errors[1].startswith("record 2: 发起人已实名认证: ") and "initiator.real_name_verified" not in errors[1]
    assert errors[2].startswith("record 3: 目标金额(元): ") and "target_amount" not in errors[2]
    assert "也许" not in errors[1] and "很多" not in errors[2]  # values are never echoed


def test_keep_carries_export_columns_through(small_export: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    assert _payout(small_export, out, "--no-model", "--keep", "序号,备注", "--keep", "诊断") == 0
    decisions = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(decisions.columns) == ["record", "campaign_id", *OUTPUT_COLUMNS, "序号", "备注", "诊断"]
    given = pd.read_csv(small_export, encoding="gb18030", dtype=str, keep_default_na=False)
    for column in ("序号", "备注", "诊断"):
        assert decisions[column].tolist() == given[column].tolist()
    parquet = tmp_path / "d.parquet"
    assert _payout(small_export, parquet, "--no-model", "--keep", "序号") == 0
    assert pd.read_parquet(parquet)["序号"].tolist() == given["序号"].tolist()


def test_keep_refuses_what_would_leak_or_clash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "flat.csv"
    export.write_text(
        "campaign_id,platform,created_at,target_amount,initiator.id_number,note,order\n"
        "c1,水滴筹,2025-03-01 09:00,100000,110101199003074578,110101199003074578,A-17\n",
        encoding="utf-8",
    )
    out = tmp_path / "d.csv"
    common = [str(export), "--stage", "publish", "--no-model", "--blacklist-key-file", KEY[1], "-o", str(out)]
    assert _score(*common, "--keep", "initiator.id_number") == 66
    assert "holds raw identity numbers" in capsys.readouterr().err
    assert _score(*common, "--keep", "note,order") == 66  # a column kept needs no mapping, but this one holds an ID
    assert "looks like an identity number" in capsys.readouterr().err
    assert _score(*common, "--keep", "no_such_column") == 66
    assert _score(*common, "--keep", "outcome") == 2
    err = capsys.readouterr().err
    assert "110101199003074578" not in err and "no_such_column" in err
    assert not out.exists()
    export.write_text(export.read_text(encoding="utf-8").replace(",110101199003074578,A", ",,A"), encoding="utf-8")
    assert _score(*common, "--keep", "note,order") == 0  # kept columns are accounted for without a mapping
    assert pd.read_csv(out, dtype=str)["order"].tolist() == ["A-17"]
    # a number inside other text is an identity number all the same
    for note in ("身份证 110101199003074578", "ids: 11010119900307457X; 2"):
        export.write_text(export.read_text(encoding="utf-8").replace(",,A", f",{note},A"), encoding="utf-8")
        out.unlink(missing_ok=True)
        assert _score(*common, "--keep", "note,order") == 66
        assert "looks like an identity number" in capsys.readouterr().err
        assert not out.exists()
        export.write_text(export.read_text(encoding="utf-8").replace(f",{note},A", ",,A"), encoding="utf-8")


def test_a_model_from_compliance_train_is_used(
    small_export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from compliance.risk import default_model, save_model

    model = copy.deepcopy(default_model())
    model.name = "platform-own"
    path = tmp_path / "model.zip"
    save_model(model, path)
    out = tmp_path / "d.csv"
    assert _payout(small_export, out, "--model", str(path)) == 0
    record = json.loads(provenance_path(out).read_text(encoding="utf-8"))
    assert record["model"]["id"] == model.model_name and record["model"]["id"].startswith("platform-own@")
    assert record["model"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a model")
    assert _payout(small_export, out, "--model", str(broken)) == 78
    assert str(broken) in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        _payout(small_export, out, "--model", str(path), "--no-model")
    assert caught.value.code == 2


def test_the_progress_bar_has_a_total_and_time_left(
    small_export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d.csv"
    options = ["--mapping", str(MAPPING), "--stage", "payout", "--no-model", "--progress", "--chunk-rows", "20"]
    assert main(["score", str(small_export), *options, "-o", str(out)]) == 0
    bar = capsys.readouterr().err
    size = small_export.stat().st_size / 1024
    assert "100%" in bar and f"{size:.1f}k/{size:.1f}k" in bar, bar  # bytes of the file's size: a total
    assert "<00:00" in bar and "60 rows" in bar


def test_parquet_progress_counts_rows_from_its_metadata(small_export: Path, tmp_path: Path) -> None:
    from compliance.batch._score import _Progress

    flat = tmp_path / "flat.parquet"
    pd.DataFrame({"campaign_id": ["a", "b", "c"]}).to_parquet(flat)
    with _Progress(flat, None, False) as bar:
        assert bar._bar.total == 3 and not bar._in_bytes
    with _Progress(small_export, None, False) as bar:
        assert bar._bar.total == small_export.stat().st_size and bar._in_bytes


def test_rows_per_second_leave_out_the_start_up(
    small_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliance.batch import Mapping, score_file

    real = Mapping.load.__func__  # type: ignore[attr-defined]

    def slow_load(cls: type[Mapping], path: Any) -> Mapping:
        time.sleep(2.0)
        loaded: Mapping = real(cls, path)
        return loaded

    monkeypatch.setattr(Mapping, "load", classmethod(slow_load))
    summary = score_file(small_export, tmp_path / "d.csv", stage="payout", mapping=MAPPING, model=None, progress=False)
    assert summary.startup_seconds >= 2.0 > summary.seconds
    assert summary.rate == pytest.approx(60 / summary.seconds)
    assert "from the first record read" in summary.text()


def test_without_a_blacklist_the_summary_says_why_rows_are_review(
    small_export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    without, listed = tmp_path / "without.csv", tmp_path / "with.csv"
    assert _payout(small_export, without, "--no-model") == 0
    printed = capsys.readouterr().out
    assert _payout(small_export, listed, "--no-model", *BLACKLIST, *KEY) == 0
    assert "no blacklist was given" not in capsys.readouterr().out
    found = re.search(r"no blacklist was given .*cv2\.blacklist\.initiator.*; ([\d,]+) rows are review", printed)
    assert found, printed
    alone = int(found[1].replace(",", ""))
    a, b = (pd.read_csv(p, dtype=str, keep_default_na=False)["outcome"] for p in (without, listed))
    changed = int(((a == "review") & (b != "review")).sum())  # the blacklist was all that kept these review
    assert 0 < changed <= alone <= int((a == "review").sum())


def test_risk_reasons_are_readable_and_only_where_the_band_is_not_low(small_export: Path, tmp_path: Path) -> None:
    from compliance.batch import decision_for, read_export

    out = tmp_path / "d.csv"
    assert _payout(small_export, out) == 0
    decisions = pd.read_csv(out, dtype=str, keep_default_na=False)
    low = decisions["risk_band"] == "low"
    assert low.any() and (~low).any()
    assert (decisions.loc[low, "risk_reasons"] == "").all()
    frame = pd.concat(chunk.frame for chunk in read_export(small_export, mapping=MAPPING))
    for _, row in decisions[~low].iterrows():
        risk = decision_for(frame, int(row["record"]), stage="payout").risk  # evaluate()'s own reasons
        assert risk is not None
        assert row["risk_reasons"] == "; ".join(f"{r.message.en} / {r.message.zh}" for r in risk.reasons)
        assert not any(r.feature in row["risk_reasons"].split("; ") for r in risk.reasons)


def test_the_provenance_sidecar_records_what_went_in_and_came_out(small_export: Path, tmp_path: Path) -> None:
    from compliance.rules import Catalog

    out, summary_json = tmp_path / "d.csv", tmp_path / "summary.json"
    assert _payout(small_export, out, *BLACKLIST, *KEY, "--summary-json", str(summary_json)) == 0
    record = json.loads(provenance_path(out).read_text(encoding="utf-8"))
    assert provenance_path(out).name == "d.csv.provenance.json"
    assert record["library"]["compliance"] == compliance.__version__
    assert record["input"] == {
        "file": str(small_export),
        "sha256": hashlib.sha256(small_export.read_bytes()).hexdigest(),
        "bytes": small_export.stat().st_size,
    }
    assert record["decisions"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert record["mapping"]["sha256"] == hashlib.sha256(MAPPING.read_bytes()).hexdigest()
    assert record["stage"] == "payout"
    used = pd.read_csv(out, dtype=str)["ruleset"].value_counts()
    assert [r["id"] for r in record["rulesets"]] == sorted(used.index)
    for entry in record["rulesets"]:
        ruleset = Catalog.default().get(entry["id"])
        assert (entry["revision"], entry["digest"], entry["rows"]) == (
            ruleset.revision,
            ruleset.digest,
            used[entry["id"]],
        )
    assert record["model"]["id"].startswith("compliance-default-synthetic@") and len(record["model"]["sha256"]) == 64
    blacklist = Path(BLACKLIST[1])
    assert (
        record["blacklist"]["given"]
        and record["blacklist"]["sha256"] == hashlib.sha256(blacklist.read_bytes()).hexdigest()
    )
    assert Path(KEY[1]).read_text(encoding="utf-8").strip() not in provenance_path(out).read_text(encoding="utf-8")
    assert record["options"]["stage"] == "payout" and record["options"]["mapping"] == str(MAPPING)
    summary = json.loads(summary_json.read_text(encoding="utf-8"))
    assert record["summary"] == summary  # the sidecar and --summary-json agree
    assert summary["rows"] == 60 and sum(summary["outcomes"].values()) == 60


def test_the_docs_list_the_exit_codes_the_command_uses() -> None:
    from compliance.cli import SCORE_EXIT_CODES

    text = (ROOT / "docs" / "exports.md").read_text(encoding="utf-8")
    table = text.split("### Exit codes", 1)[1].split("###", 1)[0]
    documented = set(re.findall(r"^\| (\d+) \|", table, re.M))
    assert documented == set(re.findall(r"^  (\d+) ", SCORE_EXIT_CODES, re.M)) == {"0", "2", "65", "66", "78", "141"}
