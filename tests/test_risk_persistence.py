"""Risk-model files: exact round trip, a checked card, byte-stable saves, and refusal (with the reason, and
without running anything) of altered, mismatched, foreign or untrusted files."""

from __future__ import annotations

import copy
import hashlib
import hmac
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
from compliance.risk import FEATURE_NAMES, History, Reference, RiskModel, synthetic
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
from compliance.risk._usable import Unusable, check_usable

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


# -- every failure is a ModelFileError naming the file --------------------------------------------------------------


def refused(path: Path, match: str, **options: Any) -> ModelFileError:
    with pytest.raises(ModelFileError, match=match) as caught:
        load_model(path, **options)
    assert str(path) in str(caught.value)
    return caught.value


def with_payload(path: Path, payload: bytes) -> None:
    """The model file with another skops payload, and the digest in its card recomputed to match."""
    card = read_card(path)
    rewrite(path, card={**card, "model_sha256": hashlib.sha256(payload).hexdigest()}, payload=payload)


def test_a_damaged_zip_is_a_model_file_error(supervised: RiskModel, tmp_path: Path) -> None:
    path = tmp_path / "m.zip"
    save_model(supervised, path)
    good = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        start = archive.getinfo("model.skops").header_offset + 30 + len("model.skops")
    path.write_bytes(good[:start] + bytes(b ^ 0xFF for b in good[start : start + 40]) + good[start + 40 :])
    refused(path, "not a readable zip archive")  # was zlib.error / BadZipFile from the model entry
    path.write_bytes(good.replace(b"model.skops", b"model.skopz"))
    refused(path, "model.skop")  # was KeyError: there is no item named 'model.skops'
    path.write_bytes(good[: len(good) - 30])
    refused(path, "not a readable zip archive")  # the end of the archive is missing


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"versions": []}, "versions"),  # was AttributeError
        ({"features": 5}, "features"),  # was TypeError
        ({"features": [1, 2]}, "features"),
        ({"versions": {"scikit-learn": 1}}, "versions"),
        ({"thresholds": "high"}, "thresholds"),
        ({"model_sha256": None}, "model_sha256"),
        ({"name": "another-model"}, "card's name is not the model's"),
        ({"version": "000000000000"}, "card's version is not the model's"),
        ({"thresholds": {"elevated": 0.0, "high": 0.0}}, "card's thresholds is not the model's"),
    ],
)
def test_a_card_with_wrong_values_is_refused(
    supervised: RiskModel, tmp_path: Path, change: dict[str, Any], match: str
) -> None:
    path = tmp_path / "m.zip"
    card = save_model(supervised, path)
    rewrite(path, card={**card, **change})
    refused(path, match)


def test_a_card_that_is_not_json_is_refused(supervised: RiskModel, tmp_path: Path) -> None:
    path = tmp_path / "m.zip"
    save_model(supervised, path)
    for text in ("{", "[" * 100_000, '{"format": 1e999999}'):  # the deep one was RecursionError
        rewrite(path, card=None)
        with zipfile.ZipFile(path) as archive:
            payload = archive.read("model.skops")
        path.write_bytes(zipped_entries([("card.json", text.encode()), ("model.skops", payload)]))
        with pytest.raises(ModelFileError, match=r"not a compliance risk-model file|unknown model format"):
            read_card(path)


def zipped_entries(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_model_that_is_not_valid_skops_is_refused(supervised: RiskModel, tmp_path: Path) -> None:
    path = tmp_path / "m.zip"
    save_model(supervised, path)
    with zipfile.ZipFile(path) as archive:
        inner = zipfile.ZipFile(io.BytesIO(archive.read("model.skops")))
        arrays = {i.filename: inner.read(i) for i in inner.infolist() if i.filename != "schema.json"}
    with_payload(path, zipped_entries([("schema.json", b'{"__class__": '), *arrays.items()]))
    refused(path, "could not be rebuilt")  # was JSONDecodeError
    with_payload(path, zipped_entries(list(arrays.items())))
    refused(path, "no schema.json")  # was KeyError
    name, data = next(iter(arrays.items()))
    lying = data.replace(b"'shape': (", b"'shape': (99999999999, ", 1)  # numpy would allocate what it claims
    with_payload(path, zipped_entries([("schema.json", inner.read("schema.json")), (name, lying)]))
    refused(path, "header claims")


def saved_as_is(model: Any, path: Path, card: dict[str, Any]) -> None:
    """Write ``model`` as skops, with a card whose digest matches, past save_model's own checks."""
    payload = sio.dumps(model)
    rewrite(path, card={**card, "model_sha256": hashlib.sha256(payload).hexdigest()}, payload=payload)


def copy_of(model: RiskModel) -> RiskModel:
    copied = RiskModel(**model.get_params())
    for attribute, value in vars(model).items():
        if attribute != "calibrated_":
            setattr(copied, attribute, value)
    return copied


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda m: delattr(m, "linear_"), "not fitted: it has no linear_"),  # loaded, then NotFittedError
        (lambda m: setattr(m, "baseline_", m.baseline_[:-1]), "baseline_ has 22 values, not 23"),
        (lambda m: setattr(m, "baseline_", m.baseline_ * np.nan), "not a finite number"),
        (lambda m: setattr(m, "thresholds_", {"elevated": 0.9, "high": 0.1}), "0 <= elevated <= high <= 1"),
        (lambda m: setattr(m, "thresholds_", {"elevated": True, "high": 1.0}), "0 <= elevated <= high <= 1"),
        (lambda m: setattr(m, "thresholds_", {"high": 1.0}), "thresholds_"),
        (lambda m: setattr(m, "band", "high"), "hides its class's own"),  # would fail at score_campaign
        (lambda m: setattr(m, "fill_", [(99, 3, 0.0)]), "fill_"),
        (lambda m: setattr(m, "mode", "clairvoyant"), "parameter mode"),
        (lambda m: setattr(m, "feature_names_", m.feature_names_[::-1]), "not the features this library computes"),
        (lambda m: setattr(m.linear_, "_weights", [0.0] * 23), r"linear_._weights does not agree"),
        (lambda m: setattr(m.linear_, "weights", m.linear_.weights[:3]), "linear_.weights has 3 values"),
        (lambda m: setattr(m.linear_, "a", "1"), "not a finite number"),
        (lambda m: setattr(m, "reference_", Reference({}, History({"x": "many"}))), "history.documents"),  # type: ignore[dict-item]
        (lambda m: setattr(m, "reference_", Reference({"other": "¥1"})), "typical_target"),  # type: ignore[dict-item]
    ],
)
def test_a_model_that_would_fail_when_scoring_is_refused_at_load(
    supervised: RiskModel, tmp_path: Path, damage: Any, match: str
) -> None:
    path = tmp_path / "m.zip"
    card = save_model(supervised, path)
    model = copy_of(supervised)
    model.linear_ = copy.copy(model.linear_)
    damage(model)
    saved_as_is(model, path, card)
    refused(path, match)
    saved_as_is(copy_of(supervised), path, card)
    assert load_model(path).version_ == supervised.version_  # control: the undamaged copy loads


def test_a_model_altered_consistently_everywhere_but_its_version_is_refused(
    supervised: RiskModel, tmp_path: Path
) -> None:
    path = tmp_path / "m.zip"
    card = save_model(supervised, path)
    model = copy_of(supervised)
    model.linear_ = copy.copy(supervised.linear_)
    model.linear_.b = supervised.linear_.b + 3.0  # every campaign scores higher
    saved_as_is(model, path, card)
    refused(path, "do not give its version id")


def test_an_unsupervised_tree_that_never_ends_is_refused(unsupervised: RiskModel, tmp_path: Path) -> None:
    path = tmp_path / "u.zip"
    card = save_model(unsupervised, path)
    model = copy.deepcopy(unsupervised)
    tree = model.forest_.estimators_[0].tree_
    state = tree.__getstate__()
    state["nodes"]["left_child"][0] = 0  # the root is its own child: a traversal would loop for ever
    tree.__setstate__(state)
    saved_as_is(model, path, card)
    refused(path, "tree 0 has a node whose children")
    model = copy.deepcopy(unsupervised)
    tree = model.forest_.estimators_[1].tree_
    state = tree.__getstate__()
    internal = int(np.flatnonzero(state["nodes"]["left_child"] != -1)[0])
    state["nodes"]["feature"][internal] = 10_000  # read far past the row
    tree.__setstate__(state)
    saved_as_is(model, path, card)
    refused(path, "tree 1 has a node whose children or column")
    # skops 0.16 rebuilds a tree's node count from its arrays; a tree whose count exceeds them (set by its own
    # __setstate__, as another loader might) would be read past their end: refused before its nodes are read
    model = copy.deepcopy(unsupervised)
    tree = model.forest_.estimators_[0].tree_
    state = tree.__getstate__()
    tree.__setstate__({**state, "node_count": state["node_count"] * 1000})
    with pytest.raises(Unusable, match="tree 0 claims more nodes than it holds"):
        check_usable(model)


def test_a_model_that_would_not_load_is_not_saved(supervised: RiskModel, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not saved: the model is not fitted"):
        save_model(RiskModel(), tmp_path / "m.zip")
    with pytest.raises(ModelFileError, match="not saved: the file holds a dict"):
        save_model({"a": 1}, tmp_path / "m.zip")  # type: ignore[arg-type]
    assert not (tmp_path / "m.zip").exists()


def test_files_and_entries_past_the_size_limits_are_refused(
    supervised: RiskModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliance.risk import _persist

    path = tmp_path / "m.zip"
    card = save_model(supervised, path)
    monkeypatch.setattr(_persist, "MAX_FILE_BYTES", path.stat().st_size - 1)
    refused(path, "larger than")
    monkeypatch.undo()
    # a bomb: a few kilobytes that unpack to more than the limit; read no further than the limit
    monkeypatch.setattr(_persist, "MAX_UNPACKED_BYTES", 2**20)
    bomb = {**card, "padding": " " * 2**21}
    rewrite(path, card=bomb)
    assert path.stat().st_size < 20_000
    refused(path, "unpacks to more than 1 MiB")


def test_extra_repeated_or_leading_bytes_are_refused(supervised: RiskModel, tmp_path: Path) -> None:
    path = tmp_path / "m.zip"
    save_model(supervised, path)
    good = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        members = [(i.filename, archive.read(i)) for i in archive.infolist()]
    path.write_bytes(zipped_entries([*members, ("run-me.py", b"print(1)")]))
    refused(path, "unexpected or repeated entry 'run-me.py'")
    with pytest.warns(UserWarning, match="Duplicate name"):
        path.write_bytes(zipped_entries([*members, ("card.json", b"{}")]))
    refused(path, "unexpected or repeated entry 'card.json'")
    path.write_bytes(b"#!/bin/sh\n" + good)  # zipfile alone would find the archive behind it
    refused(path, "neither a zip archive nor signed")
    refused(tmp_path, "cannot read it")  # a folder
    with pytest.raises(ModelFileError, match="cannot read it"):
        load_model(f"{path}\x00.zip")  # open() raises ValueError for a NUL in the path


# -- signed model files ------------------------------------------------------------------------------------------

KEY = "a platform key of 16+ chars"


def test_a_signed_model_loads_with_its_key_and_scores_the_same(
    supervised: RiskModel, fresh: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "signed.zip"
    written = save_model(supervised, path, card=CARD, signing_key=KEY)
    loaded = load_model(path, signing_key=KEY)
    assert np.array_equal(loaded.predict_proba(fresh), supervised.predict_proba(fresh))
    assert read_card(path, signing_key=KEY.encode()) == json.loads(json.dumps(written))
    save_model(supervised, tmp_path / "again.zip", card=CARD, signing_key=KEY)
    assert path.read_bytes() == (tmp_path / "again.zip").read_bytes()  # signing is deterministic


def test_the_signature_is_an_hmac_of_the_file_anyone_with_the_key_can_check(
    supervised: RiskModel, tmp_path: Path
) -> None:
    save_model(supervised, tmp_path / "plain.zip", card=CARD)
    save_model(supervised, tmp_path / "signed.zip", card=CARD, signing_key=KEY)
    first, second, body = (tmp_path / "signed.zip").read_bytes().split(b"\n", 2)
    assert first == b"compliance-signed-model/1"
    assert body == (tmp_path / "plain.zip").read_bytes()  # the unsigned file, byte for byte
    expected = hmac.new(KEY.encode(), first + b"\n" + body, hashlib.sha256).hexdigest()
    assert second == b"hmac-sha256:" + expected.encode()


def test_a_signed_file_without_its_key_is_refused(supervised: RiskModel, tmp_path: Path) -> None:
    path = tmp_path / "signed.zip"
    save_model(supervised, path, signing_key=KEY)
    refused(path, "the file is signed")
    with pytest.raises(ModelFileError, match="the file is signed"):
        read_card(path)
    refused(path, "signature does not match", signing_key="another platform's key")
    refused(path, "at least 16 bytes", signing_key="short")


def test_a_signed_file_is_checked_before_anything_in_it_is_read(
    supervised: RiskModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliance.risk import _persist

    path = tmp_path / "signed.zip"
    save_model(supervised, path, signing_key=KEY)
    signed = path.read_bytes()
    header = len(b"compliance-signed-model/1\nhmac-sha256:") + 65

    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a parser ran on a file whose signature was not checked")

    monkeypatch.setattr(_persist.zipfile, "ZipFile", must_not_run)
    monkeypatch.setattr(_persist.json, "loads", must_not_run)
    monkeypatch.setattr(_persist.sio, "loads", must_not_run)
    path.write_bytes(signed[:header] + b"altered" + signed[header + 7 :])
    refused(path, "signature does not match", signing_key=KEY)
    path.write_bytes(signed[:-1] + bytes([signed[-1] ^ 1]))
    refused(path, "signature does not match", signing_key=KEY)
    path.write_bytes(signed.replace(b"hmac-sha256:", b"hmac-sha256:0", 1))
    refused(path, "signature line is damaged", signing_key=KEY)


def test_an_unsigned_file_is_refused_where_a_signature_is_required(supervised: RiskModel, tmp_path: Path) -> None:
    path = tmp_path / "plain.zip"
    save_model(supervised, path)
    refused(path, "not signed", signing_key=KEY)  # a key means: signed files only
    refused(path, "not signed", require_signature=True)
    assert load_model(path, signing_key=KEY, require_signature=False).version_ == supervised.version_
    # stripping the signature lines off a signed file gives an unsigned file: refused the same way
    save_model(supervised, tmp_path / "signed.zip", signing_key=KEY)
    path.write_bytes((tmp_path / "signed.zip").read_bytes().split(b"\n", 2)[2])
    refused(path, "not signed", signing_key=KEY)


def test_a_short_signing_key_is_refused_when_saving(supervised: RiskModel, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="at least 16 bytes"):
        save_model(supervised, tmp_path / "m.zip", signing_key=b"short")
    assert not (tmp_path / "m.zip").exists()


def test_a_signing_key_that_is_not_valid_unicode_is_refused_without_echoing_it(
    supervised: RiskModel, tmp_path: Path
) -> None:
    key = "secret-key-\udcff-0123456789"
    with pytest.raises(ModelFileError, match="valid Unicode") as refused_key:
        save_model(supervised, tmp_path / "m.zip", signing_key=key)
    assert "secret-key" not in str(refused_key.value) and refused_key.value.__suppress_context__


def test_the_command_line_signs_and_checks_model_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from compliance.cli import main

    examples = Path(__file__).parents[1] / "examples"
    key_file, signed = tmp_path / "model.key", tmp_path / "signed.zip"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    assert main(["train", "--synthetic", "--rows", "4000", "-o", str(signed), "--signing-key-file", str(key_file)]) == 0
    assert signed.read_bytes().startswith(b"compliance-signed-model/1\n")
    assert load_model(signed, signing_key=KEY).name == "compliance-default-synthetic"
    score = [
        "score",
        str(examples / "campaigns-export.csv"),
        "--mapping",
        str(examples / "export-mapping.yaml"),
        "--stage",
        "publish",
        "-o",
        str(tmp_path / "decisions.csv"),
        "--model",
        str(signed),
    ]
    assert main([*score, "--model-key-file", str(key_file)]) == 0
    capsys.readouterr()
    assert main(score) == 78
    assert "the file is signed" in capsys.readouterr().err
    assert main([*score[:-2], "--model-key-file", str(key_file)]) == 2  # a key, but no --model to check
    (tmp_path / "wrong.key").write_text("another platform's key\n", encoding="utf-8")
    assert main([*score, "--model-key-file", str(tmp_path / "wrong.key")]) == 78
    assert "signature does not match" in capsys.readouterr().err
