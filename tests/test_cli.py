"""The command line: output, exit codes a scheduler can act on, and errors that name field and reason."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from compliance.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples"
BLACKLIST = [
    "--blacklist",
    str(EXAMPLES / "blacklist.json"),
    "--blacklist-key-file",
    str(EXAMPLES / "demo-blacklist.key"),
]
PAYOUT = str(EXAMPLES / "campaign-payout.json")


def test_evaluate_prints_the_readable_decision(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", PAYOUT, "--stage", "payout", *BLACKLIST]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Campaign example-2025-0001 at payout: REJECT")
    assert "cv2.payout.route" in out


def test_evaluate_json_is_the_decision(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", PAYOUT, "--stage", "payout", "--json", *BLACKLIST]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["outcome"] == "reject" and decision["stage"] == "payout"
    assert decision["rule_results"]["cv2.payout.route"] == "fail"


def test_the_blacklist_key_may_come_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLIANCE_BLACKLIST_KEY", (EXAMPLES / "demo-blacklist.key").read_text().strip())
    assert main(["evaluate", PAYOUT, "--json", "--blacklist", str(EXAMPLES / "blacklist.json")]) == 0
    assert json.loads(capsys.readouterr().out)["rule_results"]["cv2.blacklist.initiator"] == "pass"


def test_bad_campaign_exits_65_naming_fields_without_echoing_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "campaign_id": "x",
                "platform": "p",
                "created_at": "2025-01-01",
                "target_amount": "-5",
                "initiator": {"id_number": "110101199003074578", "real_name_verified": "perhaps"},
            }
        )
    )
    assert main(["evaluate", str(bad)]) == 65
    err = capsys.readouterr().err
    assert "target_amount" in err and "initiator.real_name_verified" in err
    assert "110101199003074578" not in err and "perhaps" not in err


def test_invalid_json_exits_65_with_the_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"campaign_id": ')
    assert main(["evaluate", str(bad)]) == 65
    assert "not valid JSON" in capsys.readouterr().err


def test_a_missing_file_exits_66(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "no-such-file.json"]) == 66
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--ruleset", "convention-9.9"], "no ruleset 'convention-9.9'"),
        (["--param", "max_target_amount=-1"], "bad_parameter"),
        (["--param", "nonsense=1"], "unknown_parameter"),
        (["--blacklist", str(EXAMPLES / "blacklist.json")], "needs the platform key"),
    ],
)
def test_unusable_rules_or_blacklist_exit_78(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMPLIANCE_BLACKLIST_KEY", raising=False)
    assert main(["evaluate", PAYOUT, *args]) == 78
    assert fragment in capsys.readouterr().err


def test_a_wrong_command_line_exits_2() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["evaluate", PAYOUT, "--stage", "withdrawal"])
    assert caught.value.code == 2


def test_a_parameter_override_changes_the_decision(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", PAYOUT, "--json", *BLACKLIST, "--param", "max_target_amount=300000"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["rule_results"]["cv2.cap.target"] == "fail"
    assert decision["ruleset"]["overrides"] == ["max_target_amount"]


def test_platform_rules_and_clauses_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    rules = EXAMPLES / "platform-rules"
    args = ["--rules", str(rules / "example-platform.yaml"), "--clauses", str(rules / "example-platform-clauses.yaml")]
    assert main(["evaluate", PAYOUT, "--stage", "payout", "--json", *BLACKLIST, *args]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["rule_results"]["example-platform.payout.staff-review"] == "fail"


def test_rules_lists_every_rule_with_its_clauses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [entry["ruleset"] for entry in listing] == ["convention-1.0", "convention-2.0", "charity-law-2024"]
    route = next(r for e in listing for r in e["rules"] if r["id"] == "cv2.payout.route")
    assert {"clause": "convention-2.0/payout-thresholds", "grade": "seed"} in route["cites"]
    assert main(["rules", "--stage", "payout", "--ruleset", "convention-2.0"]) == 0
    text = capsys.readouterr().out
    assert "cv2.payout.route" in text and "cv2.cap.target" not in text


def test_coverage_writes_the_generated_table(tmp_path: Path) -> None:
    out = tmp_path / "coverage.md"
    assert main(["coverage", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == (Path(__file__).parent.parent / "docs" / "clause-coverage.md").read_text(
        encoding="utf-8"
    )


def test_a_reader_that_goes_away_ends_quietly(capsys: pytest.CaptureFixture[str]) -> None:
    """`compliance … | head`: standard output closed early is exit 141 (128 + SIGPIPE), no traceback."""

    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    with contextlib.redirect_stdout(Closed()):
        assert main(["evaluate", PAYOUT, "--stage", "payout", "--json"]) == 141
    assert capsys.readouterr().err == ""


def test_piping_into_head_leaves_no_traceback() -> None:
    shell = f"{shlex.quote(sys.executable)} -m compliance rules --json | head -n 1"
    for _ in range(3):  # the pipe closing races the writes; each run must be quiet
        done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120, check=False)
        assert done.stdout.strip() == "["
        assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr


def test_evaluate_states_its_default_stage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert "default: publish" in capsys.readouterr().out


def test_a_param_that_is_not_yaml_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--stage", "payout", "--param", "max_target_amount=["]) == 2
    assert "--param max_target_amount: not a YAML value" in capsys.readouterr().err
    # an alias is refused by the library's one YAML loader, as in every file it reads
    assert main(["rules", "--stage", "payout", "--param", "max_target_amount=*a"]) == 2


def test_train_reads_a_parquet_export_whose_list_columns_pandas_gives_as_arrays(tmp_path: Path) -> None:
    from compliance.risk import load_model, synthetic

    history = synthetic.generate(3_000, seed=11)
    assert history["medical.document_hashes"].map(len).gt(0).any()  # list cells are there to be read
    export = history.drop(columns=["label.flagged", "label.typology"]).rename(columns={"label.malicious": "malicious"})
    export.to_parquet(tmp_path / "history.parquet")
    assert (
        main(["train", str(tmp_path / "history.parquet"), "--label", "malicious", "-o", str(tmp_path / "m.zip")]) == 0
    )
    assert load_model(tmp_path / "m.zip").reference_.history.documents  # the documents were counted
