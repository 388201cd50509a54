"""Risk-model files: exact round trip, a checked card, byte-stable saves, and refusal (with the reason, and
without running anything) of altered, mismatched, foreign or untrusted files."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn
import skops.io as sio

from compliance.errors import ModelFileError
from compliance.risk import FEATURE_NAMES, RiskModel, synthetic
from compliance.risk._features import FEATURE_REVISION
from compliance.risk._persist import (
    FORMAT,
    TRUSTED,
    default_model,
    default_model_card,
    feature_schema_digest,
    load_model,
    read_card,
    save_model,
)
from compliance.risk._train import SYNTHETIC_CARD

CARD = {
    "trained_on": "synthetic rows, seed 51",
    "intended_use": "tests of the model file",
    "limits": ["synthetic", "small"],
}


@pytest.fixture(scope="module")
def training() -> tuple[pd.DataFrame, np.ndarray]:
    frame = synthetic.generate(12_000, seed=51)
    return frame.drop(columns=list(synthetic.LABEL_COLUMNS)), frame["label.malicious"].to_numpy(dtype=int)


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    return synthetic.generate(2_000, seed=52).drop(columns=list(synthetic.LABEL_COLUMNS))


@pytest.fixture(scope="module")
def supervised(training: tuple[pd.DataFrame, np.ndarray]) -> RiskModel:
    return RiskModel(name="persist-test").fit(*training)


@pytest.fixture(scope="module")
def unsupervised(training: tuple[pd.DataFrame, np.ndarray]) -> RiskModel:
    return RiskModel(mode="unsupervised", n_estimators=20, name="persist-test-iforest").fit(training[0])


@pytest.fixture(params=["supervised", "unsupervised"])
def model(request: pytest.FixtureRequest) -> RiskModel:
    return request.getfixturevalue(request.param)


def rewrite(path: Path, *, card: dict[str, Any] | None = None, payload: bytes | None = None) -> None:
    """Rewrite a model file with another card and/or model payload, keeping whatever is not given."""
    with zipfile.ZipFile(path) as archive:
        old_card, old_payload = archive.read("card.json"), archive.read("model.skops")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", old_card if card is None else json.dumps(card, ensure_ascii=False))
        archive.writestr("model.skops", old_payload if payload is None else payload)
    path.write_bytes(buffer.getvalue())


# -- round trip and card ----------------------------------------------------------------------------------------


def test_a_saved_model_loads_with_identical_scores(model: RiskModel, fresh: pd.DataFrame, tmp_path: Path) -> None:
    save_model(model, tmp_path / "m.zip", card=CARD)
    loaded = load_model(tmp_path / "m.zip")
    assert isinstance(loaded, RiskModel)
    assert np.array_equal(loaded.predict_proba(fresh), model.predict_proba(fresh))
    assert np.array_equal(loaded.predict(fresh), model.predict(fresh))
    assert np.array_equal(loaded.baseline_, model.baseline_)
    assert (loaded.version_, loaded.thresholds_, loaded.get_params()) == (
        model.version_,
        model.thresholds_,
        model.get_params(),
    )
    for campaign in synthetic.to_campaigns(fresh.head(20 if model.mode == "supervised" else 3)):
        assert loaded.score_campaign(campaign) == model.score_campaign(campaign)


def test_the_supervised_file_holds_no_sklearn_pipeline(supervised: RiskModel, tmp_path: Path) -> None:
    save_model(supervised, tmp_path / "m.zip")
    loaded = load_model(tmp_path / "m.zip")
    assert not hasattr(loaded, "calibrated_") and hasattr(supervised, "calibrated_")  # the original is untouched


def test_the_card_says_what_the_model_is(model: RiskModel, tmp_path: Path) -> None:
    written = save_model(model, tmp_path / "m.zip", card=CARD)
    card = read_card(tmp_path / "m.zip")
    assert card == json.loads(json.dumps(written))
    assert card["format"] == FORMAT
    assert (card["name"], card["version"], card["mode"], card["input"]) == (
        model.name,
        model.version_,
        model.mode,
        "campaigns",
    )
    assert card["features"] == list(FEATURE_NAMES)
    assert card["feature_schema"] == feature_schema_digest(FEATURE_NAMES)
    assert card["thresholds"] == model.thresholds_
    assert set(card["versions"]) == {"compliance", "scikit-learn", "skops", "numpy"}
    assert card["versions"]["scikit-learn"] == sklearn.__version__ and card["versions"]["numpy"] == np.__version__
    assert {k: card[k] for k in CARD} == CARD
    with zipfile.ZipFile(tmp_path / "m.zip") as archive:
        assert card["model_sha256"] == hashlib.sha256(archive.read("model.skops")).hexdigest()
    save_model(model, tmp_path / "bare.zip")
    assert not set(CARD) & set(read_card(tmp_path / "bare.zip"))  # only what was given


def test_the_same_model_saved_twice_gives_the_same_bytes(model: RiskModel, tmp_path: Path) -> None:
    save_model(model, tmp_path / "a.zip", card=CARD)
    save_model(model, tmp_path / "b.zip", card=CARD)
    assert read_card(tmp_path / "a.zip")["model_sha256"] == read_card(tmp_path / "b.zip")["model_sha256"]
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_reading_the_card_does_not_load_the_model(supervised: RiskModel, tmp_path: Path) -> None:
    save_model(supervised, tmp_path / "m.zip")
    rewrite(tmp_path / "m.zip", payload=b"not a model at all")
    assert read_card(tmp_path / "m.zip")["version"] == supervised.version_


# -- refusals -----------------------------------------------------------------------------------------------------


def test_an_altered_model_is_refused(supervised: RiskModel, tmp_path: Path) -> None:
    path = tmp_path / "m.zip"
    save_model(supervised, path)
    with zipfile.ZipFile(path) as archive:
        payload = bytearray(archive.read("model.skops"))
    payload[len(payload) // 2] ^= 0x01
    rewrite(path, payload=bytes(payload))
    with pytest.raises(ModelFileError, match="altered"):
        load_model(path)


def test_a_card_for_another_feature_list_is_refused(supervised: RiskModel, tmp_path: Path) -> None:
    path = tmp_path / "m.zip"
    card = save_model(supervised, path)
    fewer = list(FEATURE_NAMES[:-1])
    rewrite(path, card={**card, "features": fewer})  # digest no longer matches the list
    with pytest.raises(ModelFileError, match="feature list"):
        load_model(path)
    rewrite(path, card={**card, "features": fewer, "feature_schema": feature_schema_digest(tuple(fewer))})
    with pytest.raises(ModelFileError, match="feature list"):  # consistent, but not what this library computes
        load_model(path)
    renamed = [*FEATURE_NAMES[:-1], "something_else"]
    rewrite(path, card={**card, "features": renamed, "feature_schema": feature_schema_digest(tuple(renamed))})
    with pytest.raises(ModelFileError, match="feature list"):
        load_model(path)
    older = feature_schema_digest(FEATURE_NAMES, FEATURE_REVISION - 1)  # same names, computed the old way
    rewrite(path, card={**card, "feature_schema": older})
    with pytest.raises(ModelFileError, match="features computed another way"):
        load_model(path)
    rewrite(path, card=card)
    assert load_model(path).version_ == supervised.version_  # the unaltered card loads


def test_an_unsupervised_model_from_another_sklearn_minor_version_is_refused(
    unsupervised: RiskModel, supervised: RiskModel, tmp_path: Path
) -> None:
    major, minor, *_ = sklearn.__version__.split(".")
    path = tmp_path / "u.zip"
    card = save_model(unsupervised, path)
    other = f"{major}.{int(minor) - 1}.0"
    rewrite(path, card={**card, "versions": {**card["versions"], "scikit-learn": other}})
    with pytest.raises(ModelFileError, match=rf"scikit-learn {re.escape(other)}"):
        load_model(path)
    rewrite(path, card={**card, "versions": {**card["versions"], "scikit-learn": f"{major}.{minor}.99"}})
    assert load_model(path).version_ == unsupervised.version_  # another patch release is fine
    # a supervised file holds only arithmetic, not scikit-learn objects: any scikit-learn reads it
    path = tmp_path / "s.zip"
    card = save_model(supervised, path)
    rewrite(path, card={**card, "versions": {**card["versions"], "scikit-learn": other}})
    assert load_model(path).version_ == supervised.version_


def test_a_file_that_is_not_a_model_file_is_refused(supervised: RiskModel, tmp_path: Path) -> None:
    (tmp_path / "text.zip").write_text("hello")
    with pytest.raises(ModelFileError, match="not a compliance risk-model file"):
        load_model(tmp_path / "text.zip")
    with zipfile.ZipFile(tmp_path / "nocard.zip", "w") as archive:
        archive.writestr("model.skops", b"x")
    with pytest.raises(ModelFileError, match="not a compliance risk-model file"):
        load_model(tmp_path / "nocard.zip")
    with pytest.raises(ModelFileError, match="not a compliance risk-model file"):
        load_model(tmp_path / "missing.zip")
    path = tmp_path / "m.zip"
    card = save_model(supervised, path)
    rewrite(path, card={**card, "format": "compliance-risk-model/2"})
    with pytest.raises(ModelFileError, match="unknown model format"):
        load_model(path)
    rewrite(path, card=[1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ModelFileError, match="unknown model format"):
        load_model(path)
    # a valid skops file that is not a RiskModel
    payload = sio.dumps({"a": np.arange(3)})
    rewrite(path, card={**card, "model_sha256": hashlib.sha256(payload).hexdigest()}, payload=payload)
    with pytest.raises(ModelFileError, match="not a RiskModel"):
        load_model(path)


class Planted:
    """A type no model file may hold: building it (by any route) leaves a marker file."""

    marker: Path | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Planted:
        if cls.marker is not None:
            cls.marker.write_text("constructed")
        return super().__new__(cls)

    def __setstate__(self, state: Any) -> None:
        if Planted.marker is not None:
            Planted.marker.write_text("state set")
        self.__dict__.update(state)


def test_an_untrusted_type_is_refused_and_never_built(
    supervised: RiskModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = Planted()
    planted.note = "x"
    marker = tmp_path / "marker"
    monkeypatch.setattr(Planted, "marker", marker)
    name = f"{Planted.__module__}.{Planted.__qualname__}"
    assert name not in TRUSTED

    # a whole model whose file carries the planted object: its card's digest is right, so only trust stops it
    carrier = RiskModel(**supervised.get_params())
    for attribute, value in vars(supervised).items():
        if attribute.endswith("_"):
            setattr(carrier, attribute, value)
    carrier.planted_ = planted
    path = tmp_path / "m.zip"
    save_model(carrier, path)
    with pytest.raises(ModelFileError, match="does not trust") as caught:
        load_model(path)
    assert name in str(caught.value)
    assert not marker.exists()

    # a file holding only the planted object, with its digest recomputed in the card
    payload = sio.dumps(planted)
    card = read_card(path)
    rewrite(path, card={**card, "model_sha256": hashlib.sha256(payload).hexdigest()}, payload=payload)
    with pytest.raises(ModelFileError, match="does not trust"):
        load_model(path)
    assert not marker.exists()

    # control: trusting the type does build it, so the marker would have shown a load
    sio.loads(payload, trusted=[*TRUSTED, name])
    assert marker.exists()


def test_the_trusted_list_names_no_general_purpose_type() -> None:
    assert all(t.startswith(("compliance.risk.", "sklearn.", "numpy.", "builtins.frozenset")) for t in TRUSTED)
    assert not {"builtins.eval", "builtins.exec", "builtins.getattr", "pathlib.Path", "os.system"} & set(TRUSTED)


# -- the shipped model --------------------------------------------------------------------------------------------


def test_the_shipped_default_model_loads_and_says_it_is_synthetic() -> None:
    model = default_model()
    card = default_model_card()
    assert isinstance(model, RiskModel) and model is default_model()
    assert (model.mode, model.input) == ("supervised", "campaigns")
    assert "SYNTHETIC" in card["trained_on"]
    assert "MUST be retrained" in card["intended_use"]
    assert card["trained_on"] == SYNTHETIC_CARD["trained_on"] and card["limits"] == SYNTHETIC_CARD["limits"]
    assert card["features"] == list(FEATURE_NAMES) and list(model.feature_names_) == list(FEATURE_NAMES)
    assert card["version"] == model.version_ and card["name"] == model.name
    assert card["thresholds"] == model.thresholds_
    assert 0.0 < model.thresholds_["elevated"] <= model.thresholds_["high"] < 1.0
