"""The generated docs match the data, and the README's commands are the ones CI runs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from compliance.rules import Catalog, clause_coverage, coverage_markdown

ROOT = Path(__file__).parent.parent


def test_the_committed_clause_coverage_table_is_generated_from_the_data() -> None:
    committed = (ROOT / "docs" / "clause-coverage.md").read_text(encoding="utf-8")
    assert committed == coverage_markdown(), "run `compliance coverage -o docs/clause-coverage.md`"


def test_every_clause_appears_with_the_rules_that_cite_it() -> None:
    coverage = clause_coverage()
    corpus = Catalog.default().corpus
    assert set(coverage) == set(corpus)
    assert "cv2.payout.route" in coverage["convention-2.0/payout-thresholds"]
    assert "convention-2.0:params.payout_restriction_amount" in coverage["convention-2.0/payout-thresholds"]
    table = coverage_markdown()
    for clause_id, users in coverage.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{clause_id}` |"))
        assert ("not enforced yet" in row) == (not users)


def test_every_rule_cites_at_least_one_clause_that_exists() -> None:
    catalog = Catalog.default()
    for ruleset in catalog:
        for rule in ruleset.rules:
            assert rule.citations and all(c.clause_id in catalog.corpus for c in rule.citations)


def _readme_command(marker: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", text, re.S)
    assert match, f"README has no {marker} block"
    return match.group(1)


def test_the_readme_starts_with_its_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    main, tests = _readme_command("main-command"), _readme_command("test-command")
    assert text.index(main) < text.index(tests) < text.index("## ")
    assert "pip install ." in main and "compliance score examples/campaigns-export.csv" in main
    assert "pip install '.[test]'" in tests and "pytest" in tests


def test_the_readme_main_job_runs_on_the_shipped_defaults(tmp_path: Path) -> None:
    import shlex

    from compliance.cli import main

    job = shlex.split(_readme_command("main-command").split("&& compliance ", 1)[1])
    out = job.index("-o") + 1
    job[out] = str(tmp_path / "decisions.csv")
    job = [str(ROOT / a) if a.startswith("examples/") else a for a in job]
    assert main([*job, "--no-progress"]) == 0
    lines = (tmp_path / "decisions.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 2000  # the header and one row per campaign of the sample export


def test_ci_runs_the_commands_it_reads_from_the_readme() -> None:
    script = ROOT / ".ci" / "run"
    extract = script.read_text(encoding="utf-8").split("main_command=")[0] + 'readme_command "$1"\n'
    for marker in ("main-command", "test-command"):
        out = subprocess.run(
            ["bash", "-c", extract, str(script), marker], cwd=ROOT, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == _readme_command(marker)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_design_index_lists_every_decision_once_under_a_topic() -> None:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    headings = re.findall(r"^### (\d+\. .*)$", text, re.M)
    index = text.split("## By topic", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"\[(\d+)\]\(#([^)]+)\)", index)
    assert sorted(int(number) for number, _anchor in listed) == list(range(1, len(headings) + 1))
    anchors = {int(heading.split(".")[0]): github_anchor(heading) for heading in headings}
    assert all(anchor == anchors[int(number)] for number, anchor in listed)
