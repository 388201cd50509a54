"""Lint and strict typing are part of the suite, so CI enforces them (configuration in pyproject.toml)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
SRC = ROOT / "src" / "compliance"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    result = run("ruff", "check", "src", "tests", "benchmarks", "examples")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def _package_of(module: str) -> str:
    """The package a module belongs to: compliance.rules, compliance.risk, compliance.batch or compliance."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and (SRC / parts[1]).is_dir() else parts[0]


def _private_imports_across_packages() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or not (node.module or "").startswith("compliance"):
                continue
            home = str(node.module)
            if _package_of(home) == _package_of(module):
                continue
            for alias in node.names:
                name = alias.name
                is_module = (SRC.parent / home.replace(".", "/") / name).with_suffix(".py").is_file() or (
                    SRC.parent / home.replace(".", "/") / name
                ).is_dir()
                if name.startswith("_") and not name.startswith("__") and not is_module:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name} from {home}")
    return found


def test_no_module_imports_another_packages_private_names() -> None:
    """A private name is its package's own business; a name another package needs is public in its home
    (importing a private *module* is fine: ``compliance.rules._catalog`` has a public ``Catalog``)."""
    assert _private_imports_across_packages() == []


def _modules_importing(package: str) -> list[str]:
    found = set()
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [str(node.module)]
            if any(name == package or name.startswith(package + ".") for name in names):
                found.add(str(path.relative_to(SRC)))
    return sorted(found)


def test_rule_engine_is_imported_behind_one_door() -> None:
    """rule-engine's quirks live in two private modules: its parser and AST (``rules/_parse.py``) and its
    typed context (``rules/_schema.py``); every other module reaches it through them."""
    assert _modules_importing("rule_engine") == ["rules/_parse.py", "rules/_schema.py"]
