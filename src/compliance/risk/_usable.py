"""What a rebuilt risk model must be before it is handed out: fitted, of the shapes it claims, with sane
thresholds, and scoring a probe without error, so that a model which loads never fails later, when scoring.

skops rebuilds an object by setting its attributes, not by calling its constructor or ``fit``, so a file
can describe an object no ``fit`` would make: arrays of the wrong length, thresholds above 1, an attribute
that hides a method, a tree whose children point back up (a traversal that never ends). Each is refused
here with the reason; :func:`compliance.risk.load_model` turns it into a ``ModelFileError`` naming the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.tree import ExtraTreeRegressor

from compliance.risk._features import FEATURE_NAMES, History, Reference
from compliance.risk._model import RiskModel, _Linear

__all__ = ["Unusable", "check_usable"]

_FITTED = ("feature_names_", "n_features_in_", "classes_", "fill_", "baseline_", "thresholds_", "version_")
_FITTED_BY_MODE = {"supervised": ("linear_",), "unsupervised": ("imputer_", "forest_", "training_anomaly_")}
_LINEAR = ("medians", "indicated", "weights", "indicator_weights", "constant", "a", "b")
_LINEAR_CACHES = ("_medians", "_weights", "_marks", "baseline")
_VERSION = re.compile(r"^[0-9a-f]{12}$")


class Unusable(Exception):
    """Why a rebuilt model cannot be used; the caller names the file."""


def check_usable(model: Any) -> None:
    """Raise :class:`Unusable` unless ``model`` is a fitted RiskModel that scores a probe without error."""
    if type(model) is not RiskModel:
        raise Unusable(f"the file holds a {type(model).__name__}, not a RiskModel")
    _no_hidden_methods(model, "the model")
    _parameters(model)
    missing = [a for a in (*_FITTED, *_FITTED_BY_MODE[model.mode]) if a not in vars(model)]
    if missing:
        raise Unusable(f"the model is not fitted: it has no {', '.join(missing)}")
    n = _feature_names(model)
    _classes(model.classes_)
    _vector(model.baseline_, "baseline_", n)
    _fills(model.fill_, n)
    _thresholds(model.thresholds_)
    _reference(model.reference_) if "reference_" in vars(model) else _missing("reference_")
    if model.mode == "supervised":
        _linear(model.linear_, n, model.baseline_)
    else:
        _forest(model, n)
    if not isinstance(model.version_, str) or not _VERSION.match(model.version_):
        raise Unusable("its version_ is not 12 hex digits")
    if model._version() != model.version_:
        raise Unusable(f"its contents do not give its version id {model.version_}: the model was altered")
    _probe(model, n)


def _missing(name: str) -> None:
    raise Unusable(f"the model is not fitted: it has no {name}")


def _no_hidden_methods(obj: Any, label: str) -> None:
    """An attribute of the instance named like a method or property of its class would hide it."""
    for name in vars(obj):
        if not isinstance(name, str) or hasattr(type(obj), name):
            raise Unusable(f"{label} has an attribute {str(name)[:40]!r} that hides its class's own")


def _parameters(model: RiskModel) -> None:
    params = vars(model)
    expected: dict[str, Any] = {
        "mode": lambda v: v in ("supervised", "unsupervised"),
        "input": lambda v: v in ("campaigns", "features"),
        "name": lambda v: isinstance(v, str) and v != "",
        "C": lambda v: _real(v) and v > 0,
        "cv": lambda v: _integer(v) and v >= 2,
        "n_estimators": lambda v: _integer(v) and v >= 1,
        "elevated_share": lambda v: _real(v) and 0 <= v <= 1,
        "high_share": lambda v: _real(v) and 0 <= v <= 1,
        "elevated_threshold": lambda v: v is None or (_real(v) and 0 <= v <= 1),
        "high_threshold": lambda v: v is None or (_real(v) and 0 <= v <= 1),
        "keep_history": lambda v: isinstance(v, bool),
        "random_state": lambda v: v is None or _integer(v),
    }
    for name, valid in expected.items():
        if name not in params:
            raise Unusable(f"the model has no parameter {name}")
        try:
            ok = bool(valid(params[name]))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise Unusable(f"its parameter {name} is not a valid value (a {type(params[name]).__name__})")


def _real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _feature_names(model: RiskModel) -> int:
    names = model.feature_names_
    if type(names) is not tuple or not all(isinstance(n, str) for n in names) or not names:
        raise Unusable("its feature_names_ is not a tuple of names")
    if model.input == "campaigns" and names != FEATURE_NAMES:
        raise Unusable("its feature_names_ are not the features this library computes")
    if not _integer(model.n_features_in_) or model.n_features_in_ != len(names):
        raise Unusable(f"its n_features_in_ is not the {len(names)} features it names")
    return len(names)


def _classes(classes: Any) -> None:
    if type(classes) is not np.ndarray or classes.shape != (2,) or classes.dtype.kind not in "iubfU":
        raise Unusable("its classes_ are not two class labels")
    if classes[0] == classes[1]:
        raise Unusable("its two classes_ are the same label")


def _vector(value: Any, label: str, length: int | None = None, *, kind: str = "f") -> np.ndarray:
    """A 1-D array of ``length`` finite numbers (``kind``: numpy dtype kinds accepted)."""
    if type(value) is not np.ndarray or value.ndim != 1 or value.dtype.kind not in kind:
        raise Unusable(f"its {label} is not a vector of numbers")
    if length is not None and value.shape[0] != length:
        raise Unusable(f"its {label} has {value.shape[0]} values, not {length}")
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise Unusable(f"its {label} holds a value that is not a finite number")
    return value


def _indices(value: Any, label: str, bound: int) -> np.ndarray:
    """Increasing column indices below ``bound``."""
    indices = _vector(value, label, kind="iu")
    if len(indices) and (indices[0] < 0 or indices[-1] >= bound or (np.diff(indices) <= 0).any()):
        raise Unusable(f"its {label} are not increasing column indices below {bound}")
    return indices


def _fills(fills: Any, n: int) -> None:
    if type(fills) is not list:
        raise Unusable("its fill_ is not a list")
    for fill in fills:
        if not (
            type(fill) is tuple
            and len(fill) == 3
            and all(_integer(i) and 0 <= i < n for i in fill[:2])
            and isinstance(fill[2], float)
            and math.isfinite(fill[2])
        ):
            raise Unusable("its fill_ holds an entry that is not (feature, flag, value)")


def _thresholds(thresholds: Any) -> None:
    if type(thresholds) is not dict or set(thresholds) != {"elevated", "high"}:
        raise Unusable("its thresholds_ are not the two thresholds 'elevated' and 'high'")
    elevated, high = thresholds["elevated"], thresholds["high"]
    if not (_real(elevated) and _real(high) and 0.0 <= elevated <= high <= 1.0):
        raise Unusable("its thresholds_ are not numbers with 0 <= elevated <= high <= 1")


def _reference(reference: Any) -> None:
    _exactly(reference, Reference, "reference_")
    _exactly(reference.history, History, "reference_.history")
    history = reference.history
    _mapping(reference.typical_target, "reference_.typical_target", lambda v: isinstance(v, float) and math.isfinite(v))
    _mapping(history.documents, "reference_.history.documents", lambda v: _integer(v) and v >= 0)
    _mapping(history.pairs, "reference_.history.pairs", lambda v: _integer(v) and v >= 0)
    if type(history.campaigns) is not frozenset or not all(isinstance(c, str) for c in history.campaigns):
        raise Unusable("its reference_.history.campaigns is not a set of campaign ids")


def _exactly(obj: Any, kind: type, label: str) -> None:
    """An instance of exactly ``kind`` (a dataclass) holding exactly its fields."""
    if type(obj) is not kind or set(vars(obj)) != {f.name for f in fields(kind)}:
        raise Unusable(f"its {label} is not a {kind.__name__} with exactly its fields")


def _mapping(value: Any, label: str, valid: Any) -> None:
    if type(value) is not dict or not all(isinstance(k, str) and valid(v) for k, v in value.items()):
        raise Unusable(f"its {label} is not a mapping of names to counts or amounts")


def _linear(linear: Any, n: int, baseline: np.ndarray) -> None:
    if type(linear) is not _Linear:
        raise Unusable("its linear_ is not the model's arithmetic")
    _no_hidden_methods(linear, "its linear_")
    missing = [a for a in (*_LINEAR, *_LINEAR_CACHES) if a not in vars(linear)]
    if missing:
        raise Unusable(f"its linear_ has no {', '.join(missing)}")
    _vector(linear.medians, "linear_.medians", n)
    _vector(linear.weights, "linear_.weights", n)
    indicated = _indices(linear.indicated, "linear_.indicated", n)
    _vector(linear.indicator_weights, "linear_.indicator_weights", len(indicated))
    if not all(isinstance(v, float) and math.isfinite(v) for v in (linear.constant, linear.a, linear.b)):
        raise Unusable("its linear_ constant, a or b is not a finite number")
    marks = [0.0] * n
    for j, u in zip(indicated.tolist(), linear.indicator_weights.tolist(), strict=True):
        marks[j] = u
    derived = {
        "_medians": linear.medians.tolist(),
        "_weights": linear.weights.tolist(),
        "_marks": marks,
        "baseline": baseline.tolist(),
    }
    for name, value in derived.items():
        if getattr(linear, name) != value:
            raise Unusable(f"its linear_.{name} does not agree with the arrays it is derived from")


def _forest(model: RiskModel, n: int) -> None:
    imputer, forest = model.imputer_, model.forest_
    if type(imputer) is not SimpleImputer or type(forest) is not IsolationForest:
        raise Unusable("its imputer_ or forest_ is not what an unsupervised RiskModel fits")
    _vector(imputer.statistics_ if "statistics_" in vars(imputer) else None, "imputer_.statistics_", n)
    indicator: Any = getattr(imputer, "indicator_", None)
    if type(indicator) is not MissingIndicator or "features_" not in vars(indicator):
        raise Unusable("its imputer_ has no fitted missing-value indicator")
    width = n + len(_indices(indicator.features_, "imputer_.indicator_.features_", n))
    if getattr(forest, "n_features_in_", None) != width:
        raise Unusable(f"its forest_ does not read the {width} imputed columns")
    trees = getattr(forest, "estimators_", None)
    columns = getattr(forest, "estimators_features_", None)
    if type(trees) is not list or not trees or type(columns) is not list or len(columns) != len(trees):
        raise Unusable("its forest_ has no trees, or not one column list per tree")
    for index, (tree, used) in enumerate(zip(trees, columns, strict=True)):
        _tree(tree, _vector(used, f"forest_ tree {index}'s columns", kind="iu"), width, index)
    anomaly = _vector(model.training_anomaly_, "training_anomaly_")
    if not len(anomaly) or (np.diff(anomaly) < 0).any():
        raise Unusable("its training_anomaly_ is not a sorted, non-empty list of scores")


def _tree(estimator: Any, used: np.ndarray, width: int, index: int) -> None:
    """A tree whose every split reads a column it has and whose children come after their parent, so each
    traversal ends at a leaf (the traversal itself is compiled code that does not check)."""
    if type(estimator) is not ExtraTreeRegressor or not hasattr(estimator, "tree_"):
        raise Unusable(f"its forest_ tree {index} is not a fitted ExtraTreeRegressor")
    if len(used) and (used.min() < 0 or used.max() >= width):
        raise Unusable(f"its forest_ tree {index} reads columns the forest does not have")
    tree = estimator.tree_
    count = tree.node_count
    if not 1 <= count <= tree.capacity:  # the node arrays are read as node_count long, whatever was stored
        raise Unusable(f"its forest_ tree {index} claims more nodes than it holds")
    left, right, feature = tree.children_left, tree.children_right, tree.feature
    if tree.n_features != len(used) or not (len(left) == len(right) == len(feature) == count):
        raise Unusable(f"its forest_ tree {index} has an inconsistent shape")
    nodes = np.arange(count)
    leaf = left == -1
    split_ok = (left > nodes) & (right > nodes) & (left < count) & (right < count)
    split_ok &= (feature >= 0) & (feature < len(used))
    if not ((leaf & (right == -1)) | (~leaf & split_ok)).all():
        raise Unusable(f"its forest_ tree {index} has a node whose children or column are out of place")


def _probe(model: RiskModel, n: int) -> None:
    """Score the typical row and an all-unknown row, by the table path and the single-campaign path."""
    probe = np.vstack([model.baseline_, np.full(n, np.nan)])
    try:  # arithmetic that overflows on the typical row is not a model that scores: raise, and refuse it
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            features = model._apply_fills(probe)
            scores = model._scores(features)
            for score in scores.tolist():
                model.band(score)
            if model.mode == "supervised":
                contributions = model.contributions(features)
                for row in features.tolist():
                    scores = np.append(scores, model.linear_.score(row))
                    contributions = np.vstack([contributions, model.linear_.contribution_list(row)])
            else:  # an unsupervised model's reasons are its scores of altered rows: scored above, once is enough
                contributions = np.zeros((len(scores), n))
    except Exception as error:  # whatever the rebuilt objects do wrong, the model is not usable
        raise Unusable(f"scoring a probe failed ({type(error).__name__}: {str(error)[:200]})") from error
    if scores.ndim != 1 or not np.isfinite(scores).all() or (scores < 0).any() or (scores > 1).any():
        raise Unusable("scoring a probe gave scores outside [0, 1]")
    if contributions.shape != (len(scores), n) or np.isnan(contributions).any():
        raise Unusable("scoring a probe gave reasons of the wrong shape")
