"""Every script in examples/ runs as a new user would run it, and says what the docs say it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


def run(script: str) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_script_runs(script: str) -> None:
    assert run(script)


def test_the_evaluation_example_shows_the_rejected_route_and_the_permitted_alternative() -> None:
    out = run("evaluate_campaign.py")
    assert "payout: reject; permitted routes: ('hospital_account', 'batched_with_plan')" in out
    assert "payout to the hospital account: approve_with_conditions" in out


def test_the_customisation_example_applies_the_platform_cap_and_rule() -> None:
    out = run("platform_customisation.py")
    assert "publish with a ¥450,000 target: review" in out and "overrides ('max_target_amount',)" in out
    assert "example-platform.payout.staff-review" in out
