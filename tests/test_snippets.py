"""Every snippet in the README and in docs/ runs as written, as a new user would run it from a checkout.

Python blocks (```python) of one page run in order in one namespace, so a later block may use what an
earlier one of the same page made, as a reader would in one session; nothing else is defined for them.
Shell blocks (```bash) run line by line (a trailing backslash continues a line; ``#`` starts a comment):
``compliance …`` through this interpreter's ``python -m compliance``, ``python …`` with this interpreter.
A Python line whose comment is a literal (``decision.outcome  # 'reject'``) is a claim, and is checked.
Both run in a fresh folder holding a copy of ``examples/``, so the paths the docs name resolve and nothing a
snippet writes lands in the checkout.

Not run, by kind, each for a stated reason (listed in ``NOT_RUN``): installing (``pip install``,
``python3 -m venv``: the suite runs inside the installed environment, and CI runs the README's install
commands themselves), and commands that take minutes (training on 500,000 campaigns, the model report),
which run in ``tests/test_risk_default_model.py`` and ``benchmarks/`` instead.
"""

from __future__ import annotations

import ast
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

NOT_RUN = {
    "pip install": "installs packages; CI runs the README's install commands",
    "python3 -m venv": "makes a virtual environment; CI runs the README's commands in one",
    "compliance train --synthetic": "trains on 500,000 campaigns (minutes); tests/test_risk_default_model.py runs it",
    "compliance train export.parquet": "the platform's own labelled history (docs/model-card.md, generated); the same"
    " command runs on a history file in docs/model-files.md",
    "python benchmarks/": "a benchmark or report generator (minutes); run by hand, its output is committed",
}


@dataclass(frozen=True)
class Snippet:
    page: Path
    line: int
    language: str
    text: str


def snippets(page: Path) -> list[Snippet]:
    found, language, start, body = [], None, 0, []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence and language is None:
            language, start, body = fence.group(1) or "text", number, []
        elif line.startswith("```") and language is not None:
            found.append(Snippet(page, start, language, "\n".join(body) + "\n"))
            language = None
        elif language is not None:
            body.append(line)
    return found


def commands(text: str) -> list[str]:
    """The shell block's commands: continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = (shlex.split(line, comments=True) for line in joined.splitlines())
    return [shlex.join(words) for words in lines if words]


def claims(source: str) -> dict[int, object]:
    """By line: the value a trailing comment says the line's expression has, when the comment is a literal."""
    said = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            try:
                said[token.start[0]] = ast.literal_eval(token.string[1:].strip())
            except (ValueError, SyntaxError):
                continue
    return said


def checked(snippet: Snippet) -> ast.Module:
    """The snippet's code, each top-level expression whose comment claims a value turned into an assertion."""
    tree = ast.parse(snippet.text)
    said = claims(snippet.text)
    for index, node in enumerate(tree.body):
        if isinstance(node, ast.Expr) and node.end_lineno in said:
            claimed = ast.parse(repr(said[node.end_lineno]), mode="eval").body
            message = ast.Constant(f"line {snippet.line + node.end_lineno}: not what its comment says")
            test = ast.Compare(left=node.value, ops=[ast.Eq()], comparators=[claimed])
            tree.body[index] = ast.copy_location(ast.Assert(test=test, msg=message), node)
    return ast.fix_missing_locations(tree)


def _not_run(command: str) -> str | None:
    return next((why for prefix, why in NOT_RUN.items() if command.startswith(prefix)), None)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)
    # Spark's workers run `python3` from PATH unless told otherwise; the docs' reader has this environment active
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    return tmp_path


def _run_shell(command: str, where: Path) -> None:
    words = shlex.split(command)
    if words[0] == "compliance":
        words = [sys.executable, "-m", "compliance", *words[1:]]
    elif words[0] in ("python", "python3"):
        words = [sys.executable, *words[1:]]
    else:
        raise AssertionError(f"a shell snippet runs only compliance and python commands, not {words[0]!r}")
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    result = subprocess.run(words, cwd=where, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, (
        f"{command}\nexit {result.returncode}\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
    )


# PySpark warns on every job that it does not yet support pandas >= 3 (docs/distributed.md says so); a user sees
# the warning, the snippet still runs; Dask's Parquet reader calls a pandas 3.1 deprecation
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.*is deprecated")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_snippet_on_the_page_runs_as_written(page: Path, workdir: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__snippet__"}
    for snippet in snippets(page):
        where = f"{snippet.page.relative_to(ROOT)}:{snippet.line}"
        if snippet.language == "python":
            code = compile(checked(snippet), where, "exec")
            exec(code, namespace)  # the docs' own code, run as a reader would paste it
        elif snippet.language in ("bash", "sh", "shell"):
            for command in commands(snippet.text):
                if _not_run(command) is None:
                    _run_shell(command, workdir)


def test_a_comment_that_claims_a_value_is_checked() -> None:
    snippet = Snippet(ROOT / "README.md", 0, "python", "x = 'a'\nx  # 'a'\nx  # a word\nx  # 'b'\n")
    namespace: dict[str, object] = {}
    with pytest.raises(AssertionError, match="line 4: not what its comment says"):
        exec(compile(checked(snippet), "claim", "exec"), namespace)


def test_the_pages_have_snippets_and_nothing_is_left_out_silently() -> None:
    every = [s for page in PAGES for s in snippets(page)]
    assert sum(s.language == "python" for s in every) >= 8
    assert sum(s.language == "bash" for s in every) >= 5
    # a snippet is python, a shell command, or data shown for reading (yaml, json, text, the output of a command)
    assert {s.language for s in every} <= {"python", "bash", "yaml", "json", "text", "csv"}
    skipped = sorted({c for s in every if s.language == "bash" for c in commands(s.text) if _not_run(c)})
    # every command left out, by name: a new one must be run, or be added here and to NOT_RUN with its reason
    assert skipped == [
        "compliance train --synthetic -o model.zip",
        "compliance train export.parquet --label found_malicious -o model.zip",
        "pip install 'dask[dataframe]>=2024.8'",
        "pip install 'pyspark>=3.5'",
        "python benchmarks/model_report.py --model model.zip --output -",
        "python3 -m venv .venv '&&' . .venv/bin/activate '&&' pip install '.[test]' '&&' python -m pytest",
        "python3 -m venv .venv '&&' . .venv/bin/activate '&&' pip install .",
        "python3 -m venv .venv '&&' . .venv/bin/activate '&&' pip install . '&&' compliance score "
        "examples/campaigns-export.csv --mapping examples/export-mapping.yaml --stage payout --blacklist "
        "examples/blacklist.json --blacklist-key-file examples/demo-blacklist.key -o decisions.csv",
    ]  # the README's two commands run in CI itself (.ci/run), and its main job in tests/test_docs.py
