"""Saving and loading risk models without pickle: skops with an explicit list of trusted types,
and a model card that says what the model is, checked before the model itself is read.

A model file is a zip holding ``card.json`` and ``model.skops``. Loading reads the card first and
refuses, with the reason, a file of another format, one built for another feature list, one whose
model bytes do not match the digest in its card (altered), or an unsupervised model made with another
scikit-learn minor version. skops then rebuilds only the types listed in :data:`TRUSTED`; anything
else is refused before it is constructed, so a file from an untrusted source never runs code.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import skops
import skops.io as sio
from skops.io.exceptions import UntrustedTypesFoundException

from compliance._version import __version__
from compliance.errors import ModelFileError
from compliance.risk._features import FEATURE_NAMES, FEATURE_REVISION
from compliance.risk._model import RiskModel

FORMAT = "compliance-risk-model/1"
DEFAULT_MODEL = "default-model.zip"
TRUSTED: tuple[str, ...] = (
    "builtins.frozenset",
    "compliance.risk._features.History",
    "compliance.risk._features.Reference",
    "compliance.risk._model.RiskModel",
    "compliance.risk._model._Linear",
    "numpy.dtype",
    # unsupervised models keep their forest
    "sklearn.ensemble._iforest.IsolationForest",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.impute._base.MissingIndicator",
)
"""The only types a model file may contain beyond those skops trusts by default."""


def feature_schema_digest(names: tuple[str, ...] = FEATURE_NAMES, revision: int = FEATURE_REVISION) -> str:
    """The features a model reads, by name and by the revision of how this library computes them."""
    return hashlib.sha256("\n".join((f"revision {revision}", *names)).encode("utf-8")).hexdigest()[:16]


def save_model(model: RiskModel, path: Path | str, *, card: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``model`` and its card to ``path``; returns the card as written."""
    saved = _without_pipeline(model)
    payload = _canonical(sio.dumps(saved))
    written = {
        **(card or {}),
        "format": FORMAT,
        "name": model.name,
        "version": model.version_,
        "mode": model.mode,
        "input": model.input,
        "features": list(model.feature_names_),
        "feature_schema": feature_schema_digest(tuple(model.feature_names_)),
        "thresholds": model.thresholds_,
        "model_sha256": hashlib.sha256(payload).hexdigest(),
        "versions": {
            "compliance": __version__,
            "scikit-learn": sklearn.__version__,
            "skops": skops.__version__,
            "numpy": np.__version__,
        },
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (
            ("card.json", json.dumps(written, ensure_ascii=False, indent=2, sort_keys=True)),
            ("model.skops", payload),
        ):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed: same model, same bytes
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    Path(path).write_bytes(buffer.getvalue())
    return written


def _canonical(payload: bytes) -> bytes:
    """skops names objects by their memory address and stamps each zip entry with the current time;
    renumbering the ids in order of first appearance (consistently, in the schema and in the array file
    names, which is all they are used for) and fixing the stamps makes equal models give equal bytes."""
    source = zipfile.ZipFile(io.BytesIO(payload))
    schema = json.loads(source.read("schema.json"))
    ids: dict[str, str] = {}

    def renumber(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "__id__":
                    value = ids.setdefault(str(value), str(len(ids) + 1))
                elif key == "file" and isinstance(value, str) and value.endswith(".npy"):
                    value = ids.setdefault(value.removesuffix(".npy"), str(len(ids) + 1)) + ".npy"
                out[key] = renumber(value)
            return out
        if isinstance(node, list):
            return [renumber(item) for item in node]
        return node

    schema = renumber(schema)
    entries = {"schema.json": json.dumps(schema, sort_keys=True).encode("utf-8")}
    for info in source.infolist():
        if info.filename != "schema.json":
            old = info.filename.removesuffix(".npy")
            if old not in ids:
                raise ModelFileError(f"skops wrote an entry this library does not know how to name: {info.filename}")
            entries[ids[old] + ".npy"] = source.read(info.filename)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, entries[name])
    return out.getvalue()


def _without_pipeline(model: RiskModel) -> RiskModel:
    """A supervised model scores from its extracted arithmetic; its sklearn pipeline is not saved, so the
    file does not depend on scikit-learn's internals (and stays small)."""
    if model.mode != "supervised" or not hasattr(model, "calibrated_"):
        return model
    saved = RiskModel(**model.get_params())
    for attribute, value in vars(model).items():
        if attribute.endswith("_") and attribute != "calibrated_":
            setattr(saved, attribute, value)
    return saved


def read_card(path: Path | str) -> dict[str, Any]:
    """The card of a model file, without loading the model."""
    try:
        with zipfile.ZipFile(path) as archive:
            card = json.loads(archive.read("card.json"))
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as error:
        raise ModelFileError(f"{path}: not a compliance risk-model file ({error})") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ModelFileError(
            f"{path}: unknown model format {card.get('format') if isinstance(card, dict) else card!r}; "
            f"this library reads {FORMAT}"
        )
    return card


def load_model(path: Path | str) -> RiskModel:
    """Load a model file after checking its card; raises :class:`ModelFileError` saying why it cannot."""
    card = read_card(path)
    if card.get("feature_schema") != feature_schema_digest(tuple(card.get("features", ()))) or (
        card.get("input") == "campaigns" and tuple(card.get("features", ())) != FEATURE_NAMES
    ):
        raise ModelFileError(
            f"{path}: the model was built for another feature list, or features computed another way, than this "
            "library computes "
            f"(compliance {card.get('versions', {}).get('compliance')}); retrain it with "
            "`compliance train`"
        )
    made_with = str(card.get("versions", {}).get("scikit-learn", ""))
    if card.get("mode") == "unsupervised" and made_with.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        raise ModelFileError(
            f"{path}: this unsupervised model was made with scikit-learn {made_with} and cannot be "
            f"used with {sklearn.__version__}; retrain it with `compliance train`"
        )
    with zipfile.ZipFile(path) as archive:
        payload = archive.read("model.skops")
    if hashlib.sha256(payload).hexdigest() != card.get("model_sha256"):
        raise ModelFileError(f"{path}: the model does not match the digest in its card: the file was altered")
    try:
        model = sio.loads(payload, trusted=list(TRUSTED))
    except UntrustedTypesFoundException as error:
        raise ModelFileError(
            f"{path}: the model contains types this library does not trust, so it was not loaded: {error}"
        ) from None
    if not isinstance(model, RiskModel):
        raise ModelFileError(f"{path}: the file holds a {type(model).__name__}, not a RiskModel")
    return model


@cache
def default_model() -> RiskModel:
    """The model shipped with the library: trained on SYNTHETIC data (see its card); retrain before real use."""
    with resources.as_file(resources.files("compliance.risk") / DEFAULT_MODEL) as path:
        return load_model(path)


def default_model_card() -> dict[str, Any]:
    with resources.as_file(resources.files("compliance.risk") / DEFAULT_MODEL) as path:
        return read_card(path)
