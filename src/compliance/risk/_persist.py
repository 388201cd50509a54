"""Saving and loading risk models without pickle: skops with an explicit list of trusted types,
and a model card that says what the model is, checked before the model itself is read.

A model file is a zip holding ``card.json`` and ``model.skops``. Loading reads the card first and
refuses, with the reason, a file of another format, one built for another feature list, one whose
model bytes do not match the digest in its card, or an unsupervised model made with another
scikit-learn minor version. skops then rebuilds only the types listed in :data:`TRUSTED`; anything
else is refused before it is constructed, so a file from an untrusted source never runs code. The
rebuilt model is checked to be usable (fitted, of the right shapes, sane thresholds, scoring a probe)
before it is returned. Every way a file can fail is a :class:`~compliance.errors.ModelFileError`.

The digest in the card detects accidents (a truncated copy, a flipped bit), not tampering: whoever
can change the file can recompute it. A *signed* file (``save_model(..., signing_key=key)``) is the
model file behind two lines, ``compliance-signed-model/1`` and ``hmac-sha256:<64 hex>``, the HMAC-SHA256
under the platform's key of the first line and the model file; it is checked before anything else in
the file is read, so a file changed by anyone without the key is refused unopened.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import skops
import skops.io as sio
from skops.io.exceptions import UntrustedTypesFoundException

from compliance._atomic import replaced_when_done
from compliance._version import __version__
from compliance.errors import ModelFileError
from compliance.risk._features import FEATURE_NAMES, FEATURE_REVISION
from compliance.risk._model import RiskModel
from compliance.risk._usable import Unusable, check_usable

FORMAT = "compliance-risk-model/1"
SIGNED_FORMAT = b"compliance-signed-model/1\n"
"""The first line of a signed model file; the second is ``hmac-sha256:`` and 64 lower-case hex digits."""
MIN_KEY_BYTES = 16
"""The shortest signing key accepted (as for the blacklist key)."""
MAX_FILE_BYTES = 256 * 2**20
"""The largest model file read: a platform model that keeps a history of millions of campaigns fits."""
MAX_UNPACKED_BYTES = 1024 * 2**20
"""The most bytes the entries of a model file (or of the model inside it) may unpack to, together: a
zip bomb is refused when it passes this, not when memory runs out."""
MAX_CARD_BYTES = 2**20
MAX_ENTRIES = 10_000
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


def save_model(
    model: RiskModel,
    path: Path | str,
    *,
    card: dict[str, Any] | None = None,
    signing_key: bytes | str | None = None,
) -> dict[str, Any]:
    """Write ``model`` and its card to ``path``; returns the card as written.

    With ``signing_key`` (the platform's key, 16 bytes or more) the file is signed, and only
    ``load_model(path, signing_key=key)`` reads it. A model that :func:`load_model` would refuse is not
    written: the error says why.
    """
    key = None if signing_key is None else _signing_key(path, signing_key)
    try:
        check_usable(model)
    except Unusable as problem:
        raise ModelFileError(f"{path}: not saved: {problem}") from None
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
    data = buffer.getvalue()
    if key is not None:
        data = SIGNED_FORMAT + b"hmac-sha256:" + _signature(key, data).encode("ascii") + b"\n" + data
    _write_atomically(Path(path), data)
    return written


def _write_atomically(path: Path, data: bytes) -> None:
    """A reader sees the old file or the new one, never half of one."""
    with replaced_when_done(path) as partial:
        partial.write_bytes(data)


def _signing_key(path: Path | str, key: bytes | str) -> bytes:
    try:
        raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    except (UnicodeEncodeError, TypeError):  # a lone surrogate, or not bytes at all: never echo the key
        raise ModelFileError(f"{path}: the signing key must be bytes or text that is valid Unicode") from None
    if len(raw) < MIN_KEY_BYTES:
        raise ModelFileError(f"{path}: the signing key must be at least {MIN_KEY_BYTES} bytes")
    return raw


def _signature(key: bytes, model_file: bytes) -> str:
    """HMAC-SHA256 of the signed file's first line and the model file: what its second line holds."""
    return hmac.new(key, SIGNED_FORMAT + model_file, hashlib.sha256).hexdigest()


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


def read_card(
    path: Path | str, *, signing_key: bytes | str | None = None, require_signature: bool | None = None
) -> dict[str, Any]:
    """The card of a model file, without loading the model; a signed file needs its key, as for loading."""
    return _card(path, _entries(path, _verified(path, signing_key, require_signature)))


def load_model(
    path: Path | str, *, signing_key: bytes | str | None = None, require_signature: bool | None = None
) -> RiskModel:
    """Load a model file after checking it; raises :class:`ModelFileError` saying why it cannot.

    ``signing_key``: the platform's key. A signed file is read only with the key it was signed with, and
    its signature is checked before anything else in it is read. ``require_signature`` (default: whether
    a key is given) refuses an unsigned file, which anyone could have written; ``False`` with a key
    still reads older unsigned files, and checks the signature of signed ones.

    The model returned is usable: fitted, of the shapes and features its card states, with thresholds
    0 <= elevated <= high <= 1, and it has scored a probe; a file that gives anything else is refused.
    """
    entries = _entries(path, _verified(path, signing_key, require_signature))
    card = _card(path, entries)
    _check_compatible(path, card)
    payload = entries["model.skops"]
    if hashlib.sha256(payload).hexdigest() != card["model_sha256"]:
        raise ModelFileError(f"{path}: the model does not match the digest in its card: the file was altered")
    _check_payload(path, payload)
    try:
        model = sio.loads(payload, trusted=list(TRUSTED))
    except UntrustedTypesFoundException as error:
        raise ModelFileError(
            f"{path}: the model contains types this library does not trust, so it was not loaded: {str(error)[:1000]}"
        ) from None
    except Exception as error:  # skops parses untrusted bytes: any failure means the model cannot be rebuilt
        raise ModelFileError(f"{path}: the model could not be rebuilt ({_brief(error)})") from error
    try:
        check_usable(model)
    except Unusable as problem:
        raise ModelFileError(f"{path}: the model is not usable: {problem}") from None
    except Exception as error:  # the object was built from untrusted bytes: checking it may fail in any way
        raise ModelFileError(f"{path}: the model is not usable ({_brief(error)})") from error
    _check_card_matches(path, card, model)
    return model


def _verified(path: Path | str, signing_key: bytes | str | None, require_signature: bool | None) -> bytes:
    """The model file's bytes (a signed file's without its two signature lines), its signature checked."""
    key = None if signing_key is None else _signing_key(path, signing_key)
    required = key is not None if require_signature is None else require_signature
    data = _read_bounded(path)
    if not data.startswith(SIGNED_FORMAT):
        if required:
            raise ModelFileError(f"{path}: the file is not signed, and a signed model file is required")
        if not data.startswith(b"PK\x03\x04"):  # zipfile would look past leading bytes for an archive
            raise ModelFileError(f"{path}: not a compliance risk-model file (neither a zip archive nor signed)")
        return data
    if key is None:
        raise ModelFileError(f"{path}: the file is signed; it is read only with the platform's signing key")
    match = re.match(rb"hmac-sha256:([0-9a-f]{64})\n", data[len(SIGNED_FORMAT) :])
    if match is None:
        raise ModelFileError(f"{path}: the signature line is damaged; nothing in the file was read")
    body = data[len(SIGNED_FORMAT) + match.end() :]
    if not hmac.compare_digest(match.group(1).decode("ascii"), _signature(key, body)):
        raise ModelFileError(
            f"{path}: the signature does not match: the file was altered, or signed with another key; "
            "nothing in it was read"
        )
    return body


def _read_bounded(path: Path | str) -> bytes:
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: not a compliance risk-model file (no such file)") from None
    except (OSError, ValueError) as error:  # ValueError: a path with a NUL in it
        raise ModelFileError(f"{path}: not a compliance risk-model file (cannot read it: {_brief(error)})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ModelFileError(f"{path}: the file is larger than the {MAX_FILE_BYTES // 2**20} MiB a model file may be")
    return data


@contextmanager
def _refusing(path: Path | str, what: str) -> Iterator[None]:
    """Any error reading untrusted bytes with a third-party parser (zipfile, json, numpy) becomes a
    ModelFileError saying what could not be read: its exceptions are many and undocumented."""
    try:
        yield
    except ModelFileError:
        raise
    except Exception as error:
        raise ModelFileError(f"{path}: {what} ({_brief(error)})") from error


def _brief(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception:
        text = ""
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__


def _unzip(path: Path | str, data: bytes, what: str, allowed: Callable[[str], bool]) -> dict[str, bytes]:
    """Every entry of a zip, each read no further than the limits allow (a zip bomb stops there)."""
    entries: dict[str, bytes] = {}
    total = 0
    readable = _refusing(path, f"not a compliance risk-model file: {what} is not a readable zip archive")
    with readable, zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ModelFileError(f"{path}: {what} has {len(infos):,} entries; a model file has a few")
        for info in infos:
            name = info.filename
            if not allowed(name) or name in entries:
                raise ModelFileError(f"{path}: {what} holds an unexpected or repeated entry {name[:60]!r}")
            with archive.open(info) as stream:
                content = stream.read(MAX_UNPACKED_BYTES - total + 1)
            total += len(content)
            if total > MAX_UNPACKED_BYTES:
                raise ModelFileError(
                    f"{path}: {what} unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MiB (a zip bomb?)"
                )
            entries[name] = content
    return entries


def _entries(path: Path | str, data: bytes) -> dict[str, bytes]:
    entries = _unzip(path, data, "the file", lambda name: name in ("card.json", "model.skops"))
    if "card.json" not in entries:
        raise ModelFileError(f"{path}: not a compliance risk-model file (it has no card.json)")
    if "model.skops" not in entries:
        raise ModelFileError(f"{path}: not a compliance risk-model file (it has no model.skops)")
    return entries


_CARD_FIELDS: dict[str, type] = {
    "name": str,
    "version": str,
    "mode": str,
    "input": str,
    "features": list,
    "feature_schema": str,
    "thresholds": dict,
    "model_sha256": str,
    "versions": dict,
}


def _card(path: Path | str, entries: dict[str, bytes]) -> dict[str, Any]:
    raw = entries["card.json"]
    if len(raw) > MAX_CARD_BYTES:
        raise ModelFileError(f"{path}: its card is larger than {MAX_CARD_BYTES // 2**10} KiB")
    with _refusing(path, "not a compliance risk-model file: its card is not UTF-8 JSON"):
        card = json.loads(raw.decode("utf-8"))
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        shown = card.get("format") if isinstance(card, dict) else type(card).__name__
        raise ModelFileError(f"{path}: unknown model format {str(shown)[:60]!r}; this library reads {FORMAT}")
    for name, kind in _CARD_FIELDS.items():
        if not isinstance(card.get(name), kind):
            raise ModelFileError(f"{path}: its card has no {name} (a {kind.__name__}), so it cannot be checked")
    if not all(isinstance(f, str) for f in card["features"]):
        raise ModelFileError(f"{path}: its card's features are not a list of names")
    if not all(isinstance(v, str) for v in card["versions"].values()):
        raise ModelFileError(f"{path}: its card's versions are not version strings")
    return card


def _check_compatible(path: Path | str, card: dict[str, Any]) -> None:
    features = tuple(card["features"])
    if card["feature_schema"] != feature_schema_digest(features) or (
        card["input"] == "campaigns" and features != FEATURE_NAMES
    ):
        raise ModelFileError(
            f"{path}: the model was built for another feature list, or features computed another way, than this "
            f"library computes (compliance {str(card['versions'].get('compliance'))[:20]}); retrain it with "
            "`compliance train`"
        )
    made_with = card["versions"].get("scikit-learn", "")
    if card["mode"] == "unsupervised" and made_with.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        raise ModelFileError(
            f"{path}: this unsupervised model was made with scikit-learn {made_with[:20]} and cannot be "
            f"used with {sklearn.__version__}; retrain it with `compliance train`"
        )


def _check_payload(path: Path | str, payload: bytes) -> None:
    """The skops file inside, read within the limits before skops reads it: every array's header must
    describe exactly the bytes that follow (numpy allocates what a header claims before reading)."""
    arrays = _unzip(path, payload, "the model", lambda name: name == "schema.json" or name.endswith(".npy"))
    if "schema.json" not in arrays:
        raise ModelFileError(f"{path}: the model has no schema.json")
    for name, data in arrays.items():
        if name != "schema.json":
            with _refusing(path, f"the model's array {name[:60]} is damaged"):
                _check_array(data)


def _check_array(data: bytes) -> None:
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = header(stream)
    if dtype.hasobject:
        raise ValueError("an array of Python objects")
    if int(np.prod(shape, dtype=object)) * dtype.itemsize != len(data) - stream.tell():
        raise ValueError(f"its header claims {shape} {dtype}, which is not the bytes that follow")


def _check_card_matches(path: Path | str, card: dict[str, Any], model: RiskModel) -> None:
    stated = {
        "name": model.name,
        "version": model.version_,
        "mode": model.mode,
        "input": model.input,
        "features": list(model.feature_names_),
        "thresholds": model.thresholds_,
    }
    for name, value in stated.items():
        if card[name] != value:
            raise ModelFileError(f"{path}: its card's {name} is not the model's: the file was altered")


@cache
def default_model() -> RiskModel:
    """The model shipped with the library: trained on SYNTHETIC data (see its card); retrain before real use."""
    with resources.as_file(resources.files("compliance.risk") / DEFAULT_MODEL) as path:
        return load_model(path)


def default_model_card() -> dict[str, Any]:
    with resources.as_file(resources.files("compliance.risk") / DEFAULT_MODEL) as path:
        return read_card(path)
