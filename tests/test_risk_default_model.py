"""The shipped default model is reproducible: its recipe, rerun, gives a model that predicts the same.

This retrains on the default 500,000 synthetic rows (about 25–35 s): the only full training in the suite.

A retrained model is compared by what it predicts, never by its bytes or its version (a digest of the
fitted parameters): the solver's floating point runs through numpy's SIMD kernels and the BLAS, which
differ in the last bits between CPUs (AVX-512 or not, another OpenBLAS kernel). Measured on an AVX-512
machine against the shipped file: probabilities within 4e-16 absolute, thresholds within 3e-17.
"""

from __future__ import annotations

import io
import json
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from compliance.risk import RiskModel, synthetic
from compliance.risk._persist import DEFAULT_MODEL, default_model, default_model_card, load_model, save_model
from compliance.risk._train import DEFAULT_NAME, DEFAULT_ROWS, DEFAULT_SEED, train_synthetic

PROBABILITY_TOLERANCE = 1e-9
"""Far above the last-bit differences between CPUs (≈ 4e-16) and far below what any decision reads:
scores are carried at 6 decimal places (``Risk.score``), so a difference of 1e-9 can move a score by at most one
step of 1e-6, and only when it sits on a rounding boundary."""


@pytest.fixture(scope="module")
def retrained() -> RiskModel:
    return train_synthetic()


@pytest.fixture(scope="module")
def fresh() -> object:
    return synthetic.generate(5_000, seed=DEFAULT_SEED + 1).drop(columns=list(synthetic.LABEL_COLUMNS))


def test_the_card_records_the_recipe() -> None:
    card = default_model_card()
    assert (card["training_rows"], card["training_seed"], card["name"]) == (DEFAULT_ROWS, DEFAULT_SEED, DEFAULT_NAME)


def test_retraining_the_default_recipe_gives_a_model_that_predicts_as_the_shipped_one(
    retrained: RiskModel, fresh: object
) -> None:
    shipped = default_model()
    assert retrained.name == shipped.name
    assert retrained.thresholds_.keys() == shipped.thresholds_.keys()
    for band, threshold in shipped.thresholds_.items():
        assert retrained.thresholds_[band] == pytest.approx(threshold, rel=1e-9, abs=0)
    assert np.allclose(retrained.baseline_, shipped.baseline_, rtol=1e-12, atol=0, equal_nan=True)
    scores = retrained.predict_proba(fresh)[:, 1]
    expected = shipped.predict_proba(fresh)[:, 1]
    assert len(np.unique(expected)) > 4_000  # distinct scores: the comparison is not of a constant
    assert np.max(np.abs(scores - expected)) <= PROBABILITY_TOLERANCE
    # what a reviewer reads: a score at 6 places moves by at most one step, the reasons and their order stay
    bands_differ = 0
    for campaign in synthetic.to_campaigns(fresh.head(300)):  # type: ignore[attr-defined]
        mine, theirs = retrained.score_campaign(campaign), shipped.score_campaign(campaign)
        assert abs(mine.score - theirs.score) <= 1.000001e-6
        assert [r.feature for r in mine.reasons] == [r.feature for r in theirs.reasons]
        assert [r.value for r in mine.reasons] == [r.value for r in theirs.reasons]
        for a, b in zip(mine.reasons, theirs.reasons, strict=True):
            assert abs(a.contribution - b.contribution) <= 1.000001e-4
        bands_differ += mine.band != theirs.band
    assert bands_differ == 0


def _card_of(data: bytes) -> dict[str, object]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        card: dict[str, object] = json.loads(archive.read("card.json"))
    return card


def test_the_retrained_model_saved_with_the_shipped_card_loads_and_predicts_as_the_shipped_file(
    retrained: RiskModel, fresh: object, tmp_path: Path
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
    save_model(retrained, tmp_path / "twice.zip", card=given)
    # the file is canonical: the same fitted model gives the same bytes (on one machine)
    assert (tmp_path / "again.zip").read_bytes() == (tmp_path / "twice.zip").read_bytes()
    shipped = (resources.files("compliance.risk") / DEFAULT_MODEL).read_bytes()
    again, card = _card_of((tmp_path / "again.zip").read_bytes()), _card_of(shipped)
    varying = {
        "version",
        "model_sha256",
        "thresholds",
        "versions",
    }  # the fitted floats, their digests, the installed libraries
    assert {k: v for k, v in again.items() if k not in varying} == {k: v for k, v in card.items() if k not in varying}
    reloaded = load_model(tmp_path / "again.zip")
    expected = default_model().predict_proba(fresh)[:, 1]
    assert np.max(np.abs(reloaded.predict_proba(fresh)[:, 1] - expected)) <= PROBABILITY_TOLERANCE
