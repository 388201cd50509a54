"""``RiskModel``: a scikit-learn estimator that scores campaigns for review, with faithful reasons.

Supervised mode (a platform's labelled history): median imputation with missing-value indicators,
standard scaling and logistic regression, calibrated by ``CalibratedClassifierCV(method="sigmoid",
ensemble=False)``. With one calibrated linear model, the calibrated log-odds are *exactly*
``-(a · f(x) + b)`` with ``f`` linear in each feature, so:

- a single campaign is scored with plain float arithmetic (no numpy, no sklearn call: microseconds);
- a reason's contribution is the exact change in log-odds when that feature is set to its typical value
  among legitimate campaigns, so setting the top reason's feature to that value always lowers the score.

Unsupervised mode (no labels): an IsolationForest on the same imputed features; the score is the
share of training campaigns that look less anomalous (so it lies in [0, 1]), and a reason's
contribution is the score's drop when that feature alone is set to its typical value (occlusion).

A high score sends a campaign to a person with its reasons; it never rejects and never says "fraud".
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from compliance.campaign import Campaign
from compliance.decision import CONTRIBUTION_PLACES, RISK_BANDS, SCORE_PLACES, Risk, RiskReason, Text
from compliance.risk._features import (
    FEATURE_NAMES,
    FEATURES,
    Reference,
    _compute,
    _Vector,
    campaign_features,
    frame_features,
)
from compliance.risk._inputs import InputColumns, column_inputs

__all__ = ["RiskColumns", "RiskModel"]

NOT_APPLICABLE_WHEN: tuple[tuple[str, str], ...] = (("target_over_estimate", "no_cost_estimate"),)
"""(feature, flag): where the flag is 1 the feature does not apply (no estimate, no ratio). The model fills it
with its typical legitimate value, so it contributes exactly nothing and the flag alone carries the absence:
one fact, one reason."""


@dataclass(frozen=True)
class RiskColumns:
    """Scores, bands and top reasons of a table's rows, as arrays (:meth:`RiskModel.score_columns`).

    Row ``i`` holds what :meth:`RiskModel.score_campaign` gives for that row's campaign alone: ``scores``
    rounded as :attr:`Risk.score <compliance.Risk.score>` is; ``bands`` as codes into
    :data:`~compliance.decision.RISK_BANDS` (0 low, 1 elevated, 2 high); ``reasons`` of shape (rows, top), the
    features' indices into ``feature_names_``, the strongest first, -1 where there is no such reason; and
    ``contributions`` beside them, rounded as a reason's is (NaN where there is no reason).
    """

    scores: np.ndarray
    bands: np.ndarray
    reasons: np.ndarray
    contributions: np.ndarray


class RiskModel(ClassifierMixin, BaseEstimator):
    """Scores campaigns by how likely review would find them malicious, and says why.

    Parameters
    ----------
    mode : ``"supervised"`` (needs labels: 1 = found malicious) or ``"unsupervised"`` (labels optional:
        if given, they only choose the typical legitimate values that reasons compare against).
    input : ``"campaigns"`` — ``fit``/``predict_proba`` take a DataFrame of flat campaign rows
        (see ``compliance.risk.synthetic`` for the columns) and compute the features; ``"features"`` —
        they take a numeric feature matrix (what scikit-learn's estimator checks exercise).
    C : inverse regularisation strength of the logistic regression.
    cv : folds used to fit the probability calibration.
    n_estimators : trees of the IsolationForest (unsupervised mode).
    elevated_share, high_share : the share of training campaigns at or above the ``elevated`` and
        ``high`` band thresholds (default: the ≈ 4.4 % that risk control flagged in 2019, and 1 %).
    elevated_threshold, high_threshold : fixed thresholds on the score, overriding the shares.
    keep_history : keep the training export's document hashes and promoter/hospital counts, so new
        campaigns are compared with them (a platform's own model); off by default to keep files small.
    name : a name for the model, recorded on every decision with its version.
    random_state : seed for cross-validation folds and the forest.
    """

    def __init__(
        self,
        *,
        mode: str = "supervised",
        input: str = "campaigns",
        C: float = 1.0,
        cv: int = 3,
        n_estimators: int = 200,
        elevated_share: float = 0.044,
        high_share: float = 0.01,
        elevated_threshold: float | None = None,
        high_threshold: float | None = None,
        keep_history: bool = False,
        name: str = "risk-model",
        random_state: int = 0,
    ) -> None:
        self.mode = mode
        self.input = input
        self.C = C
        self.cv = cv
        self.n_estimators = n_estimators
        self.elevated_share = elevated_share
        self.high_share = high_share
        self.elevated_threshold = elevated_threshold
        self.high_threshold = high_threshold
        self.keep_history = keep_history
        self.name = name
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        return tags

    # -- fitting ---------------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> RiskModel:
        """Fit on campaigns (or features) and labels: 1 = review found the campaign malicious."""
        if self.mode not in ("supervised", "unsupervised"):
            raise ValueError(f"mode must be 'supervised' or 'unsupervised', not {self.mode!r}")
        if self.input not in ("campaigns", "features"):
            raise ValueError(f"input must be 'campaigns' or 'features', not {self.input!r}")
        features, y = self._training_features(X, y)
        self.fill_ = self._fills(features, y)
        features = self._apply_fills(features)
        if self.mode == "supervised":
            self._fit_supervised(features, y)
        else:
            self._fit_unsupervised(features)
        self.baseline_ = self._baseline(features, y)
        if self.mode == "supervised":
            self.linear_.baseline = self.baseline_.tolist()
        scores = self._scores(features)
        self.thresholds_ = {
            "elevated": float(
                self.elevated_threshold
                if self.elevated_threshold is not None
                else np.quantile(scores, 1 - self.elevated_share)
            ),
            "high": float(
                self.high_threshold if self.high_threshold is not None else np.quantile(scores, 1 - self.high_share)
            ),
        }
        self.version_ = self._version()
        return self

    def _training_features(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray | None]:
        if self.input == "campaigns":
            if not hasattr(X, "columns"):
                raise TypeError(
                    "input='campaigns' takes a DataFrame of flat campaign rows; "
                    "use input='features' for a numeric feature matrix"
                )
            reference = Reference.from_frame(X)
            features = frame_features(X, reference)
            self.reference_ = reference if self.keep_history else Reference(reference.typical_target)
            self.n_features_in_ = features.shape[1]
            self.feature_names_ = FEATURE_NAMES
            if y is not None:
                y = np.asarray(y)
        else:
            if y is None:
                features = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
            else:
                features, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
            self.reference_ = Reference()
            self.feature_names_ = tuple(f"x{i}" for i in range(features.shape[1]))
        if self.mode == "supervised" and y is None:
            raise ValueError(
                "RiskModel in supervised mode requires y to be passed, but the target y is None "
                "(labels: 1 = review found the campaign malicious); use mode='unsupervised'"
            )
        if y is not None:  # unsupervised mode uses labels, when given, only to find typical legitimate values
            check_classification_targets(y)
            y_type = type_of_target(y, input_name="y", raise_unknown=True)
            if y_type != "binary":
                raise ValueError(f"Only binary classification is supported. The type of the target is {y_type}.")
            self.classes_ = np.unique(y)
            if len(self.classes_) != 2:
                raise ValueError(
                    "Classifier can't train when only one class is present: RiskModel needs "
                    "campaigns found malicious and campaigns not"
                )
        else:
            self.classes_ = np.array([0, 1])
        return features, y

    def _fills(self, features: np.ndarray, y: np.ndarray | None) -> list[tuple[int, int, float]]:
        """(feature, flag, value) for each not-applicable feature: its typical legitimate value where it applies."""
        if self.input != "campaigns":
            return []
        legitimate = np.ones(len(features), bool) if y is None else (y == self.classes_[0])
        fills = []
        for name, flag in NOT_APPLICABLE_WHEN:
            i, j = self.feature_names_.index(name), self.feature_names_.index(flag)
            applies = legitimate & (features[:, j] == 0) & ~np.isnan(features[:, i])
            fills.append((i, j, float(np.median(features[applies, i])) if applies.any() else 0.0))
        return fills

    def _apply_fills(self, features: np.ndarray) -> np.ndarray:
        fills = getattr(self, "fill_", [])
        if not fills:
            return features
        features = features.copy()
        for i, j, value in fills:
            features[features[:, j] == 1, i] = value
        return features

    def _fit_supervised(self, features: np.ndarray, y: np.ndarray) -> None:
        pipeline = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
                ("scale", StandardScaler()),
                ("classify", LogisticRegression(C=self.C, max_iter=2000)),
            ]
        )
        folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        self.calibrated_ = CalibratedClassifierCV(pipeline, method="sigmoid", cv=folds, ensemble=False)
        self.calibrated_.fit(features, y)
        self.linear_ = _Linear.from_calibrated(self.calibrated_)

    def _fit_unsupervised(self, features: np.ndarray) -> None:
        self.imputer_ = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        imputed = self.imputer_.fit_transform(features)
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state)
        self.forest_.fit(imputed)
        self.training_anomaly_ = np.sort(-self.forest_.score_samples(imputed))

    def _baseline(self, features: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        """Each feature's typical value among legitimate campaigns (all of them, without labels)."""
        legitimate = features if y is None else features[y == self.classes_[0]]
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-unknown column has no median
                typical = np.nanmedian(legitimate, axis=0) if len(legitimate) else np.full(features.shape[1], np.nan)
                overall = np.nanmedian(features, axis=0)
        typical = np.where(np.isnan(typical), overall, typical)
        return np.where(np.isnan(typical), 0.0, typical)

    def _version(self) -> str:
        digest = hashlib.sha256()
        if self.mode == "supervised":
            digest.update(self.linear_.fingerprint())
        else:
            digest.update(np.ascontiguousarray(self.training_anomaly_).tobytes())
        digest.update(np.ascontiguousarray(self.baseline_).tobytes())
        digest.update(repr(self.fill_).encode())
        return digest.hexdigest()[:12]

    # -- scoring ---------------------------------------------------------------------------------------

    def _features(self, X: Any, *, compare_rows: bool = True) -> np.ndarray:
        check_is_fitted(self)
        if self.input == "campaigns":  # rows are compared with the history, and with each other if asked
            return self._apply_fills(frame_features(X, self.reference_, compare_rows=compare_rows))
        return validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)

    def _scores(self, features: np.ndarray) -> np.ndarray:
        if self.mode == "supervised":
            return self.linear_.scores(features)
        anomaly = -self.forest_.score_samples(self.imputer_.transform(features))
        return np.searchsorted(self.training_anomaly_, anomaly, side="right") / len(self.training_anomaly_)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Columns: [not flagged, flagged] probabilities (supervised: calibrated; unsupervised: rank)."""
        scores = self._scores(self._features(X))
        return np.column_stack([1.0 - scores, scores])

    def predict(self, X: Any) -> np.ndarray:
        """The more probable class, as for any scikit-learn classifier. Review queues use :meth:`band`,
        whose thresholds follow a review budget, not this 50 % cut."""
        scores = self._scores(self._features(X))
        return np.where(scores >= 0.5, self.classes_[1], self.classes_[0])

    def band(self, score: float) -> str:
        """``low``, ``elevated`` or ``high`` for a score, by this model's thresholds."""
        if score >= self.thresholds_["high"]:
            return "high"
        return "elevated" if score >= self.thresholds_["elevated"] else "low"

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """For each row and feature, how much the feature raised the score against its typical value
        (log-odds in supervised mode, score in unsupervised mode)."""
        if self.mode == "supervised":
            return self.linear_.contributions(features, self.baseline_)
        scores = self._scores(features)
        out = np.empty_like(features, dtype=float)
        for column in range(features.shape[1]):
            occluded = features.copy()
            occluded[:, column] = self.baseline_[column]
            out[:, column] = scores - self._scores(occluded)
        return out

    @property
    def model_name(self) -> str:
        """``name@version``, recorded on every decision."""
        return f"{self.name}@{self.version_}"

    def score_campaign(self, campaign: Any, *, top: int = 3) -> Risk:
        """Score, band and top reasons for one campaign (a Campaign, dict or JSON text); fast path."""
        if not hasattr(self, "thresholds_"):  # check_is_fitted inspects every attribute: too slow here
            check_is_fitted(self)
        if self.input != "campaigns":
            raise TypeError("score_campaign needs a model fitted with input='campaigns'")
        x = campaign_features(Campaign.parse(campaign), self.reference_)
        for i, j, value in self.fill_:
            if x[j] == 1.0:
                x[i] = value
        if self.mode == "supervised":
            score = self.linear_.score(x)
            contributions = self.linear_.contribution_list(x)
        else:
            row = np.asarray([x], dtype=float)
            score = float(self._scores(row)[0])
            contributions = list(self.contributions(row)[0])
        return self._risk(score, x, contributions, top)

    def score_table(self, frame: Any, *, top: int = 3, compare_rows: bool = True) -> Any:
        """Scores, bands and top reasons for a DataFrame of flat campaign rows, as columns (batch path):
        ``risk_score``, ``risk_band``, ``risk_reason_1``… (feature names) and ``risk_contribution_1``…
        The rows are also compared with each other (document reuse, promoter/hospital counts), unless
        ``compare_rows=False``: then each row is scored exactly as :meth:`score_campaign` scores it alone."""
        return self._table_result(self._ranked(self._features(frame, compare_rows=compare_rows), top), frame.index, top)

    def score_inputs(self, inputs: Mapping[str, np.ndarray], index: Any, *, top: int = 3) -> Any:
        """:meth:`score_table` from the feature inputs already computed as columns (by key, as
        ``compliance.risk._inputs.column_inputs`` gives them)."""
        return self._table_result(self._ranked(self._input_features(inputs), top), index, top)

    def score_columns(self, columns: InputColumns, *, top: int = 3) -> RiskColumns:
        """Scores, bands and top reasons for the rows of a table read through ``columns`` (an
        ``InputColumns`` of ``compliance.risk._inputs``: the batch path's validated table provides one), each row
        scored alone, exactly as :meth:`score_campaign` scores its campaign (compared with the model's
        history, never with the other rows).

        >>> risk = model.score_columns(columns)
        >>> risk.scores, risk.bands, risk.reasons  # arrays: one row per campaign
        """
        if self.input != "campaigns":
            raise TypeError("score_columns needs a model fitted with input='campaigns'")
        return self._ranked(self._input_features(column_inputs(columns, self.reference_, compare_rows=False)), top)

    def _input_features(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        check_is_fitted(self)
        return self._apply_fills(np.column_stack(_compute(inputs, _Vector)).astype(float))

    def _ranked(self, features: np.ndarray, top: int) -> RiskColumns:
        scores = np.round(self._scores(features), SCORE_PLACES)  # banded as rounded, exactly as score_campaign does
        contributions = self.contributions(features)
        ranked = np.where(contributions > 1e-9, contributions, -np.inf)
        # the top reasons by contribution, ties to the earlier feature (as score_campaign sorts them):
        # argmax returns the first of equal values, so ``top`` passes of it are a stable partial sort. Once
        # every positive contribution is taken the maximum is -inf, and such picks are not reasons.
        rows = np.arange(len(ranked))
        order = np.zeros((len(ranked), top), np.intp)
        picked = np.full((len(ranked), top), -np.inf)
        remaining = ranked.copy()
        for k in range(min(top, remaining.shape[1])):
            order[:, k] = np.argmax(remaining, axis=1)
            picked[:, k] = remaining[rows, order[:, k]]
            remaining[rows, order[:, k]] = -np.inf
        bands = (scores >= self.thresholds_["elevated"]).astype(np.int8) + (scores >= self.thresholds_["high"])
        present = np.isfinite(picked)
        return RiskColumns(
            scores,
            bands,
            np.where(present, order, -1),
            np.where(present, np.round(picked, CONTRIBUTION_PLACES), np.nan),
        )

    def _table_result(self, risk: RiskColumns, index: Any, top: int) -> Any:
        import pandas as pd

        names = np.asarray(self.feature_names_, dtype=object)
        columns: dict[str, Any] = {
            "risk_score": risk.scores,
            "risk_band": np.asarray(RISK_BANDS, dtype=object)[risk.bands],
        }
        for k in range(top):
            reason = risk.reasons[:, k]
            columns[f"risk_reason_{k + 1}"] = np.where(reason >= 0, names[reason], np.array(None, dtype=object))
            columns[f"risk_contribution_{k + 1}"] = risk.contributions[:, k]
        return pd.DataFrame(columns, index=index)

    def score_frame(self, frame: Any, *, top: int = 3) -> list[Risk]:
        """Score, band and reasons for every row of a DataFrame of flat campaign rows (batch path)."""
        features = self._features(frame)
        scores = self._scores(features)
        contributions = self.contributions(features)
        return [
            self._risk(float(s), list(x), list(c), top) for s, x, c in zip(scores, features, contributions, strict=True)
        ]

    def _risk(self, score: float, x: list[float], contributions: list[float], top: int) -> Risk:
        score = round(score, SCORE_PLACES)
        order = sorted((i for i, c in enumerate(contributions) if c > 1e-9), key=lambda i: (-contributions[i], i))
        reasons = tuple(_reason(i, x[i], contributions[i]) for i in order[:top])
        return Risk._trusted(score=score, band=self.band(score), reasons=reasons, model=self.model_name)


def _reason(index: int, value: float, contribution: float) -> RiskReason:
    feature = FEATURES[index]
    shown = feature.display(value)
    if value != value:  # unknown: the reason is that it is missing
        message = feature.unknown
    else:
        fill = {"value": shown if shown is not None else ""}
        message = Text._trusted(zh=feature.reason.zh.format(**fill), en=feature.reason.en.format(**fill))
    return RiskReason._trusted(
        feature=feature.name, value=shown, contribution=round(contribution, CONTRIBUTION_PLACES), message=message
    )


class _Linear:
    """The fitted supervised model as arithmetic: calibrated log-odds = -(a · (c + Σ wᵢ vᵢ + Σ uⱼ mⱼ) + b),
    where vᵢ is feature i (its training median when unknown) and mⱼ marks feature j unknown."""

    def __init__(
        self,
        medians: np.ndarray,
        indicated: np.ndarray,
        weights: np.ndarray,
        indicator_weights: np.ndarray,
        constant: float,
        a: float,
        b: float,
    ) -> None:
        self.medians = medians
        self.indicated = indicated
        self.weights = weights
        self.indicator_weights = indicator_weights
        self.constant = constant
        self.a = a
        self.b = b
        self._medians = medians.tolist()
        self._weights = weights.tolist()
        self._marks = [0.0] * len(medians)
        self.baseline: list[float] = [0.0] * len(medians)
        """Each feature's typical legitimate value (set by RiskModel.fit), for single-campaign reasons."""
        for j, u in zip(indicated.tolist(), indicator_weights.tolist(), strict=True):
            self._marks[j] = u

    @classmethod
    def from_calibrated(cls, calibrated: CalibratedClassifierCV) -> _Linear:
        (fitted,) = calibrated.calibrated_classifiers_
        impute, scale, classify = (fitted.estimator.named_steps[s] for s in ("impute", "scale", "classify"))
        (calibrator,) = fitted.calibrators
        coef = classify.coef_[0] / scale.scale_
        constant = float(classify.intercept_[0] - np.dot(classify.coef_[0], scale.mean_ / scale.scale_))
        n = len(impute.statistics_)
        indicated = (
            np.asarray(impute.indicator_.features_, dtype=int)
            if impute.indicator_ is not None
            else np.zeros(0, dtype=int)
        )
        return cls(
            impute.statistics_.astype(float),
            indicated,
            coef[:n],
            coef[n:],
            constant,
            float(calibrator.a_),
            float(calibrator.b_),
        )

    def fingerprint(self) -> bytes:
        parts = [
            self.medians,
            self.indicated.astype(float),
            self.weights,
            self.indicator_weights,
            np.array([self.constant, self.a, self.b]),
        ]
        return b"".join(np.ascontiguousarray(p, dtype=float).tobytes() for p in parts)

    def _decision(self, features: np.ndarray) -> np.ndarray:
        unknown = np.isnan(features)
        values = np.where(unknown, self.medians, features)
        return self.constant + values @ self.weights + unknown[:, self.indicated] @ self.indicator_weights

    def scores(self, features: np.ndarray) -> np.ndarray:
        log_odds = -(self.a * self._decision(features) + self.b)
        # as score(): below a log-odds of -700 the probability is 0 (and exp would overflow)
        return np.where(log_odds > -700, 1.0 / (1.0 + np.exp(-np.maximum(log_odds, -700.0))), 0.0)

    def contributions(self, features: np.ndarray, baseline: np.ndarray) -> np.ndarray:
        unknown = np.isnan(features)
        values = np.where(unknown, self.medians, features)
        marks = np.zeros(features.shape[1])
        marks[self.indicated] = self.indicator_weights
        return -self.a * ((values - baseline) * self.weights + unknown * marks)

    def score(self, x: list[float]) -> float:
        """One campaign, with plain floats."""
        f = self.constant
        for v, w, median, mark in zip(x, self._weights, self._medians, self._marks, strict=True):
            f += w * median + mark if v != v else w * v
        log_odds = -(self.a * f + self.b)
        return 1.0 / (1.0 + math.exp(-log_odds)) if log_odds > -700 else 0.0

    def contribution_list(self, x: list[float]) -> list[float]:
        """One campaign's contributions against the fitted baseline, with plain floats."""
        a = self.a
        return [
            -a * ((median - base) * w + mark) if v != v else -a * (v - base) * w
            for v, w, median, mark, base in zip(
                x, self._weights, self._medians, self._marks, self.baseline, strict=True
            )
        ]
