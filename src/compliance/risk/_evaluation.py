"""How good is a risk model? Metrics on labelled campaigns, and the documented cases as scenarios.

- :func:`evaluate_model`: ROC AUC, PR AUC (average precision), base rate, precision and recall when
  reviewing the top 1 % and 4 % of campaigns by score, Brier score (and the Brier score of predicting the
  base rate), a reliability table on quantile bins, and the share of campaigns in each band. A plain,
  JSON-safe, deterministic dict.
- :func:`load_scenarios`: the documented cases of ``shared/domain/statistics-and-cases.md`` §4 as
  campaigns (``scenarios.yaml`` beside this module), each with its reported facts, its sources, what is
  assumed, and where it is expected to rank.
- :func:`rank_scenarios`: where each scenario ranks within a reference population of campaigns.

Two ways to score a scenario, both reported:

*as encoded* — the campaign exactly as the file writes it, scored by the model. A press report rarely
says what the platform's form held, and the schema cannot say "not reported": an absent disclosure item
reads as *not answered* and an absent count as *unknown*, both of which the model may treat as signals.
So a campaign with few reported facts can rank high because of what is missing from the report.

*on the reported facts* — the features whose inputs the scenario reports (fields written in its
``campaign``, other than its ``placeholders``) take the scenario's values; every other feature takes,
in turn, the value it has in each campaign of the reference population. The scenario's facts score is
the median of those scores: where a campaign with these facts would typically rank, whatever the
unreported signals are. Whether a scenario's expectation is met (``met``) is judged on this score;
``met_as_encoded`` is the same judgement on the campaign as encoded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from compliance import _yaml
from compliance._flat import FLAT_COLUMNS, flatten
from compliance.campaign import Campaign
from compliance.decision import CONTRIBUTION_PLACES, RISK_BANDS, SCORE_PLACES
from compliance.risk._features import FEATURE_INPUTS, FEATURE_NAMES, FEATURES, features

__all__ = [
    "FEATURE_INPUTS",
    "HELD_OUT_ROWS",
    "HELD_OUT_SEED",
    "SCENARIO_FORMAT",
    "Scenario",
    "evaluate_model",
    "evaluate_scores",
    "load_scenarios",
    "rank_scenarios",
]

HELD_OUT_ROWS = 200_000
HELD_OUT_SEED = 20_261_123
"""Fresh synthetic campaigns for held-out metrics and as the scenarios' reference population (the default
model is trained on seed 20,261,122; ``tests/test_risk_evaluation.py`` and ``benchmarks/model_report.py``
use these)."""
SCENARIO_FORMAT = "compliance-risk-scenarios/1"
SCENARIOS_FILE = "scenarios.yaml"
EXPECTATIONS = ("top", "not_top", "beyond_inputs")
"""``top``: within the top share; ``not_top``: not; ``beyond_inputs``: what caught the case in reality is not
among the model's inputs (the scenario's ``why`` quotes it), so no rank is expected: it is ranked and reported."""
SCENARIO_KINDS = ("fraud", "misconduct", "disclosure_dispute", "legitimate_outlier", "false_accusation")


# -- metrics --------------------------------------------------------------------------------------------


def evaluate_model(
    model: Any, frame: Any, labels: Any, *, budgets: Sequence[float] = (0.01, 0.04), bins: int = 10
) -> dict[str, Any]:
    """Metrics of ``model`` on ``frame`` (flat campaign rows, or features for ``input="features"``)
    against ``labels`` (1/True = found malicious). See :func:`evaluate_scores` for the keys; this adds
    the model's name, thresholds and the share of campaigns in each band."""
    scores = np.asarray(model.predict_proba(frame)[:, 1], dtype=np.float64)
    return evaluate_scores(scores, labels, budgets=budgets, bins=bins, model=model)


def evaluate_scores(
    scores: Any, labels: Any, *, budgets: Sequence[float] = (0.01, 0.04), bins: int = 10, model: Any = None
) -> dict[str, Any]:
    """Metrics of scores in [0, 1] against binary labels; a plain JSON-safe dict, the same for the same input.

    Keys: ``rows``, ``positives``, ``base_rate``, ``roc_auc``, ``pr_auc`` (average precision),
    ``brier``, ``brier_base_rate`` (the Brier score of predicting the base rate for every campaign),
    ``budgets`` (for each review budget: rows ``reviewed`` = ⌈budget × rows⌉ highest scores, ties broken
    by row order, ``found``, ``precision``, ``recall``, ``lift`` over the base rate and the lowest score
    reviewed), ``reliability`` (``calibration_curve`` on quantile bins: mean predicted, observed rate,
    count and positives per non-empty bin); with a ``model``: ``model``, ``thresholds`` and ``bands``
    (share of campaigns in each band).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = _binary(labels, len(s))
    if not np.all(np.isfinite(s)) or s.min(initial=0.0) < 0.0 or s.max(initial=0.0) > 1.0:
        raise ValueError("scores must be finite and within [0, 1]")
    n, positives = len(s), int(y.sum())
    if positives == 0 or positives == n:
        raise ValueError("the labels need both classes (campaigns found malicious and campaigns not)")
    if bins < 1:
        raise ValueError("bins must be at least 1")
    base_rate = positives / n
    order = np.argsort(-s, kind="stable")  # highest first; equal scores keep row order
    found_cumulative = np.cumsum(y[order])
    at_budget = []
    for budget in budgets:
        if not 0.0 < budget <= 1.0:
            raise ValueError(f"a review budget is a share of campaigns in (0, 1], not {budget!r}")
        k = max(1, math.ceil(budget * n - 1e-9))
        found = int(found_cumulative[k - 1])
        precision = found / k
        at_budget.append(
            {
                "budget": float(budget),
                "reviewed": k,
                "found": found,
                "precision": precision,
                "recall": found / positives,
                "lift": precision / base_rate,
                "threshold": float(s[order[k - 1]]),
            }
        )
    observed, predicted = calibration_curve(y, s, n_bins=bins, strategy="quantile")
    edges = np.percentile(s, np.linspace(0, 1, bins + 1) * 100)  # the bins calibration_curve uses
    ids = np.searchsorted(edges[1:-1], s)
    counts = np.bincount(ids, minlength=bins)
    found_in = np.bincount(ids, weights=y, minlength=bins)
    nonzero = counts > 0
    if not np.allclose(observed, found_in[nonzero] / counts[nonzero]):  # pragma: no cover - sklearn changed
        raise RuntimeError("calibration_curve's quantile bins are not the ones counted here")
    reliability = [
        {"mean_predicted": float(p), "observed": float(o), "count": int(c), "positives": int(f)}
        for p, o, c, f in zip(predicted, observed, counts[nonzero], found_in[nonzero], strict=True)
    ]
    result: dict[str, Any] = {
        "rows": n,
        "positives": positives,
        "base_rate": base_rate,
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "brier": float(brier_score_loss(y, s)),
        "brier_base_rate": base_rate * (1.0 - base_rate),
        "budgets": at_budget,
        "reliability": {"strategy": "quantile", "bins": reliability},
    }
    if model is not None:
        result["model"] = str(getattr(model, "model_name", type(model).__name__))
        result["thresholds"] = {k: float(v) for k, v in model.thresholds_.items()}
        bands = [model.band(float(v)) for v in s]
        result["bands"] = {band: bands.count(band) / n for band in RISK_BANDS}
    return result


def _binary(labels: Any, n: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"expected {n} labels, one per score")
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:  # True == 1 and False == 0
        raise ValueError(f"labels must be 0/1 or booleans, got {sorted(values, key=str)[:5]}")
    return y.astype(bool).astype(np.int64)


# -- scenarios ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One documented case as a campaign, with what is reported and what is assumed."""

    id: str
    case: str
    kind: str
    date: str
    expect: str
    expect_note: str
    facts: tuple[str, ...]
    sources: tuple[str, ...]
    outcome: str
    campaign: Campaign
    context: tuple[Campaign, ...]
    """Other campaigns the platform held that the case's facts involve (for the cross-campaign features)."""
    reported: frozenset[str]
    """Flat fields the scenario reports: written in its campaign and not a placeholder."""
    placeholders: Mapping[str, str]
    """Fields the schema requires but the case does not report: field → what was put there and why."""
    assumptions: Mapping[str, str]
    """Fields whose value is a reading of the facts rather than a reported figure: field → why."""
    why: str = ""
    """For ``expect: beyond_inputs``: what caught the case in reality, quoted, and why no input holds it."""

    @property
    def reported_features(self) -> tuple[str, ...]:
        return tuple(name for name in FEATURE_NAMES if all(f in self.reported for f in FEATURE_INPUTS[name]))


def load_scenarios(path: Path | str | None = None) -> list[Scenario]:
    """The scenarios in ``path`` (default: the ``scenarios.yaml`` shipped beside this module), checked:
    unique ids, known kinds and expectations, facts and sources present, every campaign parses, and every
    placeholder or assumption names a field the campaign writes."""
    if path is None:
        text = (resources.files("compliance.risk") / SCENARIOS_FILE).read_text(encoding="utf-8")
        where = SCENARIOS_FILE
    else:
        text = _yaml.read_text(Path(path))  # within the YAML size limit, as every file the library reads
        where = str(path)
    document = _yaml.load_text(text)
    if not isinstance(document, dict) or document.get("format") != SCENARIO_FORMAT:
        raise ValueError(f"{where}: not a scenario file of format {SCENARIO_FORMAT}")
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for entry in document.get("scenarios") or ():
        scenario = _scenario(entry, where)
        if scenario.id in seen:
            raise ValueError(f"{where}: scenario id {scenario.id!r} is used twice")
        seen.add(scenario.id)
        scenarios.append(scenario)
    if not scenarios:
        raise ValueError(f"{where}: no scenarios")
    return scenarios


def _scenario(entry: Any, where: str) -> Scenario:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise ValueError(f"{where}: each scenario is a mapping with an id")
    sid = entry["id"]
    missing = [
        k
        for k in ("case", "kind", "date", "expect", "expect_note", "facts", "sources", "outcome", "campaign")
        if not entry.get(k)
    ]
    if missing:
        raise ValueError(f"{where}: scenario {sid!r} lacks {', '.join(missing)}")
    if entry["kind"] not in SCENARIO_KINDS:
        raise ValueError(f"{where}: scenario {sid!r}: kind must be one of {SCENARIO_KINDS}")
    if entry["expect"] not in EXPECTATIONS:
        raise ValueError(f"{where}: scenario {sid!r}: expect must be one of {EXPECTATIONS}")
    why = str(entry.get("why") or "").strip()
    if (entry["expect"] == "beyond_inputs") != bool(why):
        raise ValueError(f"{where}: scenario {sid!r}: a `why` is given with, and only with, expect: beyond_inputs")
    if "|" in why:
        raise ValueError(f"{where}: scenario {sid!r}: `why` must not contain '|' (it goes into a Markdown table)")
    raw = entry["campaign"]
    campaign = Campaign.parse(raw, row=sid)
    written = set(_written_fields(raw))
    placeholders = dict(entry.get("placeholders") or {})
    assumptions = dict(entry.get("assumptions") or {})
    for label, fields in (("placeholder", placeholders), ("assumption", assumptions)):
        unknown = sorted(set(fields) - written - {"context"})
        if unknown:
            raise ValueError(f"{where}: scenario {sid!r}: {label} for fields the campaign does not write: {unknown}")
    context: list[Campaign] = []
    for i, item in enumerate(entry.get("context") or ()):
        copies = int(item.get("count", 1))
        for j in range(copies):
            other = dict(item["campaign"])
            other["campaign_id"] = f"{other['campaign_id']}-{j + 1}" if copies > 1 else other["campaign_id"]
            context.append(Campaign.parse(other, row=f"{sid} context {i}"))
    return Scenario(
        id=sid,
        case=str(entry["case"]),
        kind=entry["kind"],
        date=str(entry["date"]),
        expect=entry["expect"],
        expect_note=str(entry["expect_note"]).strip(),
        facts=tuple(str(f) for f in entry["facts"]),
        sources=tuple(str(s) for s in entry["sources"]),
        outcome=str(entry["outcome"]).strip(),
        campaign=campaign,
        context=tuple(context),
        reported=frozenset(written - set(placeholders)),
        placeholders=placeholders,
        assumptions=assumptions,
        why=why,
    )


def _written_fields(raw: Mapping[str, Any]) -> Iterable[str]:
    """The flat fields a nested campaign dict writes; a sub-object written as null (e.g. ``payout: null``,
    "there was no payout") reports every field under it."""
    for column in FLAT_COLUMNS:
        value: Any = raw
        for part in column.split("."):
            if not isinstance(value, Mapping) or part not in value:
                break
            value = value[part]
            if value is None:
                yield column
                break
        else:
            yield column


def _frame(campaigns: Sequence[Campaign]) -> Any:
    """Campaigns as flat rows, with times at nanosecond resolution like :func:`synthetic.generate`'s.

    (``_inputs._epoch_seconds`` reads a time column's int64 value as nanoseconds; pandas 3 builds
    microsecond columns from Python datetimes, which it would read 1,000 times too small.)
    """
    import pandas as pd

    frame = pd.DataFrame([flatten(c) for c in campaigns], columns=list(FLAT_COLUMNS))
    for column in ("created_at", "initiator.account_created_at", "payout.requested_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert("Asia/Shanghai").dt.as_unit("ns")
    return frame


def _score_matrix(model: Any, matrix: np.ndarray) -> np.ndarray:
    return np.asarray(model._scores(matrix), dtype=np.float64)


def rank_scenarios(
    model: Any, population: Any, scenarios: Sequence[Scenario] | None = None, *, top_share: float = 0.04, top: int = 3
) -> list[dict[str, Any]]:
    """Where each scenario ranks among ``population`` (a DataFrame of flat campaign rows, e.g. 200,000
    fresh synthetic campaigns; label columns are ignored), for a model fitted with ``input="campaigns"``.

    For each scenario (default: :func:`load_scenarios`), a JSON-safe dict:

    - ``score``, ``band``, ``percentile`` (share of the population scoring lower, in %), ``top_share``
      (share scoring at least as high) and ``reasons``: the campaign *as encoded*, with the campaigns of
      its ``context`` as the platform's other campaigns;
    - ``facts_score``, ``facts_band``, ``facts_percentile``, ``facts_top_share``, ``facts_reasons``:
      *on the reported facts* (see the module docstring), with ``facts_in_top`` the share of the
      population's campaigns that land within the top ``top_share`` once given the scenario's facts;
    - ``reported_features`` and ``unreported_features``;
    - ``met``: the expectation (``top``: within the top ``top_share``; ``not_top``: not) holds on the
      reported facts; ``met_as_encoded``: it holds for the campaign as encoded. Both are ``None`` for
      ``expect: beyond_inputs`` (no rank is expected), which also carries ``why``.
    """
    if getattr(model, "input", "campaigns") != "campaigns":
        raise TypeError("rank_scenarios needs a model fitted with input='campaigns'")
    if not 0.0 < top_share < 1.0:
        raise ValueError("top_share must be in (0, 1)")
    scenarios = load_scenarios() if scenarios is None else scenarios
    base = features(population, model.reference_).to_numpy(dtype=np.float64)
    population_scores = np.sort(_score_matrix(model, base))
    n = len(population_scores)
    if n == 0:
        raise ValueError("the reference population is empty")

    def shares(score: float) -> tuple[float, float]:
        below = int(np.searchsorted(population_scores, score, side="left"))
        return 100.0 * below / n, (n - below) / n

    results = []
    for scenario in scenarios:
        frame = _frame([scenario.campaign, *scenario.context])
        risk = model.score_frame(frame, top=top)[0]  # the scenario, beside its context campaigns
        row = features(frame, model.reference_).to_numpy(dtype=np.float64)[0]
        percentile, share = shares(risk.score)

        reported = scenario.reported_features
        columns = [FEATURE_NAMES.index(name) for name in reported]
        given = base.copy()
        given[:, columns] = row[columns]
        variant_scores = _score_matrix(model, given)
        facts_score = float(np.median(variant_scores))
        facts_percentile, facts_share = shares(facts_score)
        lower = np.searchsorted(population_scores, variant_scores, side="left")
        in_top = float(np.mean((n - lower) / n <= top_share))
        contributions = np.asarray(model.contributions(row[None, :]), dtype=np.float64)[0]
        facts_reasons = _reasons(row, contributions, columns, top)

        is_top, facts_is_top = share <= top_share, facts_share <= top_share
        wanted = scenario.expect == "top"
        judged = scenario.expect != "beyond_inputs"
        results.append(
            {
                "id": scenario.id,
                "case": scenario.case,
                "kind": scenario.kind,
                "expect": scenario.expect,
                "score": float(risk.score),
                "band": risk.band,
                "percentile": percentile,
                "top_share": share,
                "reasons": [
                    {
                        "feature": r.feature,
                        "value": r.value,
                        "contribution": float(r.contribution),
                        "en": r.message.en,
                        "zh": r.message.zh,
                    }
                    for r in risk.reasons
                ],
                "facts_score": round(facts_score, SCORE_PLACES),
                "facts_band": model.band(round(facts_score, SCORE_PLACES)),
                "facts_percentile": facts_percentile,
                "facts_top_share": facts_share,
                "facts_in_top": in_top,
                "facts_reasons": facts_reasons,
                "reported_features": list(reported),
                "unreported_features": [name for name in FEATURE_NAMES if name not in reported],
                "met": facts_is_top == wanted if judged else None,
                "met_as_encoded": is_top == wanted if judged else None,
                **({} if judged else {"why": scenario.why}),
            }
        )
    return results


def _reasons(row: np.ndarray, contributions: np.ndarray, columns: Sequence[int], top: int) -> list[dict[str, Any]]:
    """The reported features that raise the score most, with the model's reason sentences."""
    order = sorted((j for j in columns if contributions[j] > 1e-9), key=lambda j: (-contributions[j], j))
    out = []
    for j in order[:top]:
        feature, value = FEATURES[j], float(row[j])
        shown = feature.display(value)
        if value != value:
            en, zh = feature.unknown.en, feature.unknown.zh
        else:
            fill = {"value": shown if shown is not None else ""}
            en, zh = feature.reason.en.format(**fill), feature.reason.zh.format(**fill)
        out.append(
            {
                "feature": feature.name,
                "value": shown,
                "contribution": round(float(contributions[j]), CONTRIBUTION_PLACES),
                "en": en,
                "zh": zh,
            }
        )
    return out
