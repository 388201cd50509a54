"""Damaged model files, by the thousand: every load either gives a model that scores campaigns, or a
ModelFileError naming the file; never another exception, and never a model that fails later.

Most cases are cheap (damage the outer zip or the card: refused before skops reads anything); the rest
rebuild the model inside with altered contents and a digest recomputed to match, so they reach skops and
the usability checks. Cases per test are set by ``max_examples``; together they are over 5,000.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compliance.errors import ModelFileError
from compliance.risk import History, Reference, RiskModel, load_model, save_model, synthetic
from compliance.risk._persist import DEFAULT_MODEL
from tests.builders import fuzz_settings

KEY = b"platform model-signing key, 32 b"


def fuzz(cases: int) -> settings:
    return fuzz_settings(cases)


class Files:
    """The undamaged files the cases start from, and a place to write each case."""

    def __init__(self, folder: Path) -> None:
        frame = synthetic.generate(3_000, seed=61)
        features = frame.drop(columns=list(synthetic.LABEL_COLUMNS))
        labels = frame["label.malicious"].to_numpy(dtype=int)
        self.folder = folder
        default = Path(__file__).parents[1] / "src" / "compliance" / "risk" / DEFAULT_MODEL
        self.bytes = {"supervised": default.read_bytes()}
        history = RiskModel(name="fuzz-history", keep_history=True).fit(features.head(600), labels[:600])
        # a history of a few campaigns (rows 10 to 29), to keep the file small and its loads quick
        history.reference_ = Reference(history.reference_.typical_target, History.from_frame(features.iloc[10:30]))
        models = {
            "history": history,
            "unsupervised": RiskModel(mode="unsupervised", n_estimators=3, name="fuzz-forest").fit(features),
        }
        for name, model in models.items():
            save_model(model, folder / f"{name}.zip", card={"trained_on": "fuzz"})
            self.bytes[name] = (folder / f"{name}.zip").read_bytes()
        save_model(models["history"], folder / "signed.zip", card={"trained_on": "fuzz"}, signing_key=KEY)
        self.bytes["signed"] = (folder / "signed.zip").read_bytes()
        # Rows 2 and 3: not in the history, and one has a promoter id. Scoring a table by a model with a history
        # raises in frame_features where no row has a promoter id (IndexError), or gives -inf document reuse
        # (RuntimeWarning) for a row whose id the history holds with other documents: scoring defects, not a
        # model file's, reported to the features' owner.
        self.frame = features.iloc[[2, 3]]
        self.campaigns = synthetic.to_campaigns(self.frame)
        self.case = folder / "case.zip"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return Files(tmp_path_factory.mktemp("fuzz-models"))


def loads_usable_or_refuses(files: Files, data: bytes, **options: Any) -> str:
    """The law: a usable model or a ModelFileError naming the file. Returns which, for the counts."""
    files.case.write_bytes(data)
    try:
        model = load_model(files.case, **options)
    except ModelFileError as error:
        assert str(files.case) in str(error)
        return "refused"
    # A model of extreme (finite) weights may overflow on an extreme campaign: numpy warns, the score is still
    # in [0, 1]. That is not a file's fault; an exception, or a score outside [0, 1], would be.
    with np.errstate(over="ignore", under="ignore"):
        for campaign in files.campaigns[: 1 if model.mode == "unsupervised" else None]:  # its reasons cost 24 scores
            risk = model.score_campaign(campaign)
            assert 0.0 <= risk.score <= 1.0
        table = model.score_table(files.frame)
    assert len(table) == len(files.frame) and table["risk_score"].between(0, 1).all()
    return "loaded"


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def zipped(members: dict[str, bytes] | list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items() if isinstance(members, dict) else members:
            archive.writestr(name, content)
    return buffer.getvalue()


def with_payload(data: bytes, payload: bytes) -> bytes:
    """The model file with another skops payload, and the digest in its card recomputed to match."""
    outer = entries(data)
    card = json.loads(outer["card.json"])
    card["model_sha256"] = hashlib.sha256(payload).hexdigest()
    return zipped({"card.json": json.dumps(card).encode(), "model.skops": payload})


# -- JSON values and places in a JSON tree ----------------------------------------------------------------------


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    _containers,
    max_leaves=6,
)


def places(tree: Any) -> list[tuple[Any, Any]]:
    """(container, key) for every value in a JSON tree."""
    found: list[tuple[Any, Any]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for key in keys:
            found.append((node, key))
            stack.append(node[key])
    return found


@st.composite
def altered_json(draw: st.DrawFn, tree: Any, *, skops: bool = False) -> Any:
    """A copy of ``tree`` with one to three values replaced, deleted, or swapped for another part of it."""
    tree = copy.deepcopy(tree)
    for _ in range(draw(st.integers(1, 3))):
        spots = places(tree)
        if not spots:
            break
        container, key = spots[draw(st.integers(0, len(spots) - 1))]
        action = draw(st.sampled_from(["replace", "delete", "swap", "string"] if skops else ["replace", "delete"]))
        if action == "delete" and isinstance(container, dict):
            del container[key]
        elif action == "swap":
            other, other_key = spots[draw(st.integers(0, len(spots) - 1))]
            container[key] = copy.deepcopy(other[other_key])
        elif action == "string":  # skops keeps scalars as JSON text: a JsonNode's content, reinterpreted
            container[key] = json.dumps(draw(json_values))
        else:
            container[key] = draw(json_values)
    return tree


# -- the outer file: bytes, truncation, entries -----------------------------------------------------------------

BASES = st.sampled_from(["supervised", "history"] * 4 + ["unsupervised"])  # the forest's loads cost most


def flips(most: int) -> st.SearchStrategy[list[tuple[float, int]]]:
    """Where (as a share of the length) and which bit to flip, one to ``most`` times."""
    return st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7)), min_size=1, max_size=most)


@fuzz(1_400)
@given(base=BASES, bits=flips(4))
def test_flipped_bits_load_usable_or_are_refused(files: Files, base: str, bits: list[tuple[float, int]]) -> None:
    data = bytearray(files.bytes[base])
    for where, bit in bits:
        data[int(where * len(data))] ^= 1 << bit
    loads_usable_or_refuses(files, bytes(data))


@fuzz(400)
@given(
    base=BASES,
    cut=st.floats(0, 1),
    tail=st.sampled_from([b"", b"\x00" * 7, b"PK\x05\x06" + b"\x00" * 18, b"x" * 100]),
    head=st.sampled_from([b"", b"PK\x03\x04", b"compliance-signed-model/1\n"]),
)
def test_truncated_or_padded_files_load_usable_or_are_refused(
    files: Files, base: str, cut: float, tail: bytes, head: bytes
) -> None:
    data = files.bytes[base]
    loads_usable_or_refuses(files, head + data[: int(cut * len(data))] + tail)


@fuzz(300)
@given(
    base=BASES,
    change=st.sampled_from(["drop card", "drop model", "extra", "repeat card", "repeat model", "swap", "empty"]),
    extra=st.binary(max_size=64),
)
def test_files_with_other_entries_are_refused(files: Files, base: str, change: str, extra: bytes) -> None:
    outer = entries(files.bytes[base])
    card, model = ("card.json", outer["card.json"]), ("model.skops", outer["model.skops"])
    members = {
        "drop card": [model],
        "drop model": [card],
        "extra": [card, model, ("notes.txt", extra)],
        "repeat card": [card, model, ("card.json", extra)],
        "repeat model": [card, model, ("model.skops", extra)],
        "swap": [("card.json", model[1]), ("model.skops", card[1])],
        "empty": [],
    }[change]
    with pytest.warns(UserWarning, match="Duplicate name") if change.startswith("repeat") else _nothing():
        data = zipped(members)
    assert loads_usable_or_refuses(files, data) == "refused"


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# -- the card -----------------------------------------------------------------------------------------------------


@fuzz(800)
@given(base=BASES, data=st.data())
def test_cards_with_wrong_values_load_usable_or_are_refused(files: Files, base: str, data: st.DataObject) -> None:
    outer = entries(files.bytes[base])
    card = data.draw(altered_json(json.loads(outer["card.json"])))
    text = data.draw(st.sampled_from([json.dumps(card), json.dumps(card)[:-1], "[" * 5_000, "\udcff", "1e999999"]))
    raw = text.encode("utf-8", "surrogatepass")
    loads_usable_or_refuses(files, zipped({"card.json": raw, "model.skops": outer["model.skops"]}))


# -- the model inside, with the digest recomputed: these reach skops ----------------------------------------------


@functools.cache
def _payload_parts(data: bytes) -> tuple[str, tuple[tuple[str, bytes], ...]]:
    inner = entries(entries(data)["model.skops"])
    return inner.pop("schema.json").decode(), tuple(inner.items())


def payload_parts(data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The skops schema (a fresh copy) and the arrays of a model file's payload."""
    schema, arrays = _payload_parts(data)
    return json.loads(schema), dict(arrays)


@fuzz(700)
@given(base=BASES, data=st.data())
def test_altered_model_schemas_load_usable_or_are_refused(files: Files, base: str, data: st.DataObject) -> None:
    schema, arrays = payload_parts(files.bytes[base])
    schema = data.draw(altered_json(schema, skops=True))
    payload = zipped({"schema.json": json.dumps(schema).encode(), **arrays})
    loads_usable_or_refuses(files, with_payload(files.bytes[base], payload))


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


ARRAY_CHANGES: dict[str, Callable[[np.ndarray], bytes]] = {
    "longer": lambda a: npy(np.concatenate([a.ravel(), a.ravel()[:1]])),
    "shorter": lambda a: npy(a.ravel()[:-1]),
    "empty": lambda a: npy(a[:0]),
    "2-d": lambda a: npy(a.reshape(1, -1)),
    "float32": lambda a: npy(a.astype(np.float32)),
    "int8": lambda a: npy(a.astype(np.int8)),
    "nan": lambda a: npy(np.where(np.arange(a.size) == 0, np.nan, a.ravel().astype(float))),
    "inf": lambda a: npy(np.full(a.shape, np.inf)),
    "huge": lambda a: npy(np.full(a.shape, 1e308)),
    "negative": lambda a: npy(-np.abs(a).astype(a.dtype) - 1),
    "reversed": lambda a: npy(a[::-1].copy()),
    "strings": lambda a: npy(np.array(["x"] * a.size)),
    "lying header": lambda a: npy(a)[:10] + npy(a)[10:].replace(b"'shape': (", b"'shape': (99999999999, "),
    "cut": lambda a: npy(a)[: len(npy(a)) // 2],
}


@fuzz(700)
@given(base=BASES, data=st.data())
def test_altered_model_arrays_load_usable_or_are_refused(files: Files, base: str, data: st.DataObject) -> None:
    schema, arrays = payload_parts(files.bytes[base])
    original = dict(arrays)
    for _ in range(data.draw(st.integers(1, 2))):
        name = data.draw(st.sampled_from(sorted(arrays)))
        array = np.load(io.BytesIO(original[name]), allow_pickle=False)
        if array.dtype.names is not None:  # a tree's node records: damage its fields, not its layout
            field = data.draw(st.sampled_from(array.dtype.names))
            index = data.draw(st.integers(0, len(array) - 1))
            value = data.draw(st.sampled_from([-3, -1, 0, 1, len(array), 2**40]))
            array[field][index] = np.array(value).astype(array.dtype[field])  # wraps round, as bytes would
            arrays[name] = npy(array)
        else:
            with np.errstate(all="ignore"):  # the casts overflow: that is the damage
                arrays[name] = ARRAY_CHANGES[data.draw(st.sampled_from(sorted(ARRAY_CHANGES)))](array)
    payload = zipped({"schema.json": json.dumps(schema).encode(), **arrays})
    loads_usable_or_refuses(files, with_payload(files.bytes[base], payload))


@fuzz(300)
@given(base=BASES, bits=flips(3))
def test_flipped_bits_inside_the_model_load_usable_or_are_refused(
    files: Files, base: str, bits: list[tuple[float, int]]
) -> None:
    payload = bytearray(entries(files.bytes[base])["model.skops"])
    for where, bit in bits:
        payload[int(where * len(payload))] ^= 1 << bit
    loads_usable_or_refuses(files, with_payload(files.bytes[base], bytes(payload)))


# -- signed files ---------------------------------------------------------------------------------------------------


@fuzz(500)
@given(
    bits=flips(3),
    key=st.sampled_from([KEY, None, b"another platform's key, 32 bytes"]),
)
def test_a_damaged_signed_file_is_refused_unopened(
    files: Files, bits: list[tuple[float, int]], key: bytes | None
) -> None:
    data = bytearray(files.bytes["signed"])
    for where, bit in bits:
        data[int(where * len(data))] ^= 1 << bit
    assume(bytes(data) != files.bytes["signed"])  # a bit flipped twice is no damage
    assert loads_usable_or_refuses(files, bytes(data), signing_key=key) == "refused"


def test_the_cases_add_up_to_five_thousand() -> None:
    counted = [
        test_flipped_bits_load_usable_or_are_refused,
        test_truncated_or_padded_files_load_usable_or_are_refused,
        test_files_with_other_entries_are_refused,
        test_cards_with_wrong_values_load_usable_or_are_refused,
        test_altered_model_schemas_load_usable_or_are_refused,
        test_altered_model_arrays_load_usable_or_are_refused,
        test_flipped_bits_inside_the_model_load_usable_or_are_refused,
        test_a_damaged_signed_file_is_refused_unopened,
    ]
    total = sum(test._hypothesis_internal_use_settings.max_examples for test in counted)  # type: ignore[attr-defined]
    assert total >= 5_000, total
