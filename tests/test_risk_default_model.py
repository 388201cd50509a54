"""The shipped default model is reproducible: its recipe, rerun, gives the same model.

This retrains on the default 500,000 synthetic rows (about 25–35 s): the only full training in the suite.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from compliance.risk import RiskModel, synthetic
from compliance.risk._persist import DEFAULT_MODEL, default_model, default_model_card, save_model
from compliance.risk._train import DEFAULT_NAME, DEFAULT_ROWS, DEFAULT_SEED, train_synthetic


@pytest.fixture(scope="module")
def retrained() -> RiskModel:
    return train_synthetic()


def test_the_card_records_the_recipe() -> None:
    card = default_model_card()
    assert (card["training_rows"], card["training_seed"], card["name"]) == (DEFAULT_ROWS, DEFAULT_SEED, DEFAULT_NAME)


def test_retraining_the_default_recipe_gives_the_shipped_model(retrained: RiskModel) -> None:
    shipped = default_model()
    assert retrained.version_ == shipped.version_
    assert retrained.model_name == shipped.model_name
    assert retrained.thresholds_ == shipped.thresholds_
    assert np.array_equal(retrained.baseline_, shipped.baseline_)
    fresh = synthetic.generate(5_000, seed=DEFAULT_SEED + 1).drop(columns=list(synthetic.LABEL_COLUMNS))
    scores = retrained.predict_proba(fresh)[:, 1]
    assert np.array_equal(scores, shipped.predict_proba(fresh)[:, 1])
    assert len(np.unique(scores)) > 4_000  # distinct scores: the comparison is not of a constant
    for campaign in synthetic.to_campaigns(fresh.head(300)):
        assert retrained.score_campaign(campaign) == shipped.score_campaign(campaign)


def test_the_retrained_model_saved_with_the_shipped_card_is_the_shipped_file(
    retrained: RiskModel, tmp_path: Path
) -> None:
    generated = {
        "format",
        "name",
        "version",
        "mode",
        "input",
        "features",
        "feature_schema",
        "thresholds",
        "model_sha256",
        "versions",
    }
    given = {k: v for k, v in default_model_card().items() if k not in generated}
    save_model(retrained, tmp_path / "again.zip", card=given)
    shipped = (resources.files("compliance.risk") / DEFAULT_MODEL).read_bytes()
    assert (tmp_path / "again.zip").read_bytes() == shipped
