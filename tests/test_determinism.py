"""Same campaign, rules and model → the same decision, byte for byte, whichever SIMD kernels numpy picks.

numpy dispatches its vector loops (``log1p``, ``exp``, sums) to the widest instructions the CPU has, and with
AVX-512 some results differ from other kernels in the last bit. A decision must not: its risk score is carried
at 6 decimal places and its contributions at 4 (``compliance.Risk``). This test decides the same campaigns in a
second process with numpy's AVX-512 dispatch disabled (the targets this CPU has, see ``.ci/numpy-avx512-targets``;
on a CPU without them the second process runs the same kernels, and the test still checks that a fresh process
gives the same bytes) and compares the JSON of every decision, single and batch (floats at full precision: ``repr``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import compliance
from compliance.risk import synthetic

ROOT = Path(__file__).parent.parent
ROWS = 2_000

_DECIDE = """
import json, sys
import compliance
from compliance.risk import synthetic

frame = synthetic.generate({rows}, seed=4242).drop(columns=list(synthetic.LABEL_COLUMNS))
single = [compliance.evaluate(c, stage="payout").model_dump_json() for c in synthetic.to_campaigns(frame)]
batch = compliance.evaluate_frame(frame, stage="payout")
json.dump({{"single": single, "batch": batch.to_dict(orient="list")}}, sys.stdout)
"""


def _decide_elsewhere(disabled: str) -> dict[str, object]:
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": disabled}
    if not disabled:
        env.pop("NPY_DISABLE_CPU_FEATURES")
    result = subprocess.run(
        [sys.executable, "-c", _DECIDE.format(rows=ROWS)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    decided: dict[str, object] = json.loads(result.stdout)
    return decided


def _avx512_targets() -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "numpy-avx512-targets")], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_decisions_are_the_same_bytes_with_and_without_numpy_avx512_kernels() -> None:
    frame = synthetic.generate(ROWS, seed=4242).drop(columns=list(synthetic.LABEL_COLUMNS))
    single = [compliance.evaluate(c, stage="payout").model_dump_json() for c in synthetic.to_campaigns(frame)]
    batch = json.loads(json.dumps(compliance.evaluate_frame(frame, stage="payout").to_dict(orient="list")))
    elsewhere = _decide_elsewhere(_avx512_targets())
    assert elsewhere["single"] == single
    assert elsewhere["batch"] == batch
    # not vacuous: the model scored every campaign, with reasons, and the scores vary
    scores = {json.loads(d)["risk"]["score"] for d in single}
    assert len(scores) > ROWS // 2
    assert all(json.loads(d)["risk"]["reasons"] for d in single[:50])
