"""Training: the shipped default model (reproducibly, on synthetic data) and a platform's own model.

compliance train --synthetic -o model.zip                    # the default model's recipe
compliance train export.parquet --label found_malicious -o model.zip
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from compliance.risk._model import RiskModel
from compliance.risk._persist import save_model

DEFAULT_ROWS = 500_000
DEFAULT_SEED = 20_261_122
DEFAULT_NAME = "compliance-default-synthetic"
DEFAULT_DATE = "2026-11-22"
"""The synthetic recipe's date, recorded on its card, so `compliance train --synthetic` reproduces the shipped
file byte for byte (a platform's own training records the day it ran)."""

SYNTHETIC_CARD = {
    "trained_on": (
        "SYNTHETIC campaigns from compliance.risk.synthetic (seeded), calibrated to published figures: "
        "amounts raised (BNU 2022), share reaching target (iResearch 2024), malicious and flagged shares "
        "(水滴筹 2019), fraud typologies of 52 publicised cases (Zenone & Snyder 2019). No real campaign "
        "and no real label was used: none is public."
    ),
    "intended_use": (
        "Ranking campaigns for human review, with reasons, in demonstrations and tests, and as a starting "
        "point. It MUST be retrained on the platform's own labelled history (`compliance train`) before it "
        "is used on real campaigns: its weights reflect the generator's assumptions, not real fraud."
    ),
    "limits": [
        "Trained on synthetic data; its calibration and its metrics hold for that data only.",
        "A score is a flag for a person, never a finding of fraud; it never rejects a campaign.",
        "No text, image or document-content features: forged documents are seen only through reuse of "
        "the same document hash.",
        "Features comparing a campaign with others (document reuse, promoter/hospital counts) need the "
        "platform's history; without it they are unknown.",
        "Sex, age, ethnicity, region and other protected attributes are not features, although published "
        "fraud profiles mention some of them.",
    ],
}


def train_synthetic(rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, **params: Any) -> RiskModel:
    """The default model's recipe: a supervised RiskModel on ``rows`` synthetic campaigns."""
    from compliance.risk import synthetic

    frame = synthetic.generate(rows, seed=seed)
    labels = frame["label.malicious"].to_numpy(dtype=int)
    return RiskModel(name=DEFAULT_NAME, **params).fit(frame.drop(columns=list(synthetic.LABEL_COLUMNS)), labels)


def train_from_export(frame: Any, label: str, **params: Any) -> RiskModel:
    """A platform's own model from its export: flat campaign columns plus a 0/1 ``label`` column."""
    if label not in frame:
        raise ValueError(f"the export has no label column {label!r}")
    labels = np.asarray(frame[label].astype(int))
    return RiskModel(**params).fit(frame.drop(columns=[label]), labels)


def save_with_card(
    model: RiskModel,
    path: Path | str,
    card: dict[str, Any],
    *,
    trained: str | None = None,
    metrics: dict[str, Any] | None = None,
    signing_key: bytes | str | None = None,
) -> dict[str, Any]:
    """Save ``model`` with its card (training data, date, metrics, intended use, limits); signed with
    ``signing_key`` if one is given."""
    when = trained or date.today().isoformat()
    return save_model(model, path, card={**card, "trained": when, "metrics": metrics or {}}, signing_key=signing_key)
