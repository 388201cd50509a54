"""Every measured figure of docs/synthetic-data.md, recomputed from the current synthetic generator.

    python benchmarks/synthetic_report.py                 # rewrites the measured parts of docs/synthetic-data.md
    python benchmarks/synthetic_report.py --output -      # prints them instead
    python benchmarks/synthetic_report.py --no-timing     # figures only; the doc keeps its speed section

The doc's measured figures sit between ``<!-- synthetic:NAME:start -->`` and ``<!-- synthetic:NAME:end -->``
comments; this script rewrites what is between them and nothing else (in the published-figures table, only
the "measured" column). Every figure comes from ``compliance.risk.synthetic.generate``:

- ``published``: the "measured" column, on ``generate(200_000, seed=2024)``, the fixture of
  ``tests/test_synthetic.py``, each figure computed as that file's tests compute it;
- ``signals``: per group (unflagged and flagged legitimate campaigns, the malicious ones of each typology),
  the percent of rows showing each signal, missing values excluded, on ``generate(1_000_000, seed=2024)``;
- ``leakage``: per seed (2024, 0, 1, 2, 3, 4; 200,000 rows), the best single signal's ROC AUC for
  ``label.malicious`` and the logistic regression's held-out ROC AUC, with the encodings, samples and
  pipeline of ``tests/test_synthetic.py`` (imported from it, so the two cannot drift apart); the same
  pipeline for ``label.flagged`` on the fixture; and a ``RiskModel`` trained by
  ``train_synthetic(rows=200_000, seed=1)`` scored on ``generate(200_000, seed=99)``;
- figures the prose quotes (mean target, mean cost estimate, targets below ¥50k, campaigns per hot
  promoter/hospital pair and per ordinary promoter), on the fixture;
- ``speed``: wall time of ``generate`` at 1,000,000 rows (seed 2024) and at 200,000 rows (the six seeds
  above), of ``to_campaigns`` per row (on 20,000 rows); the 1,000,000-row frame's memory and the process's
  peak resident memory after making it; the wall time of ``pytest tests/test_synthetic.py`` and of its
  imports alone, each in a child process.

Takes about a minute on the project's 2-core machine (x86_64, Python 3.11) and peaks at about 3 GB of
resident memory.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import roc_auc_score

from compliance._flat import FLAT_COLUMNS
from compliance.campaign import DISCLOSURE_ITEMS
from compliance.risk._train import train_synthetic
from compliance.risk.synthetic import LABEL_COLUMNS, PUBLISHED, TYPOLOGIES, generate, to_campaigns

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "synthetic-data.md"
FIXTURE_ROWS, FIXTURE_SEED = 200_000, 2024  # tests/test_synthetic.py's frame
SIGNAL_ROWS = 1_000_000
LEAKAGE_SEEDS = (2024, 0, 1, 2, 3, 4)
MODEL_ROWS, MODEL_TRAIN_SEED, MODEL_TEST_SEED = 200_000, 1, 99
TO_CAMPAIGNS_ROWS = 20_000
TEST_FILE = "tests/test_synthetic.py"
TEST_IMPORTS = (
    "import numpy, pandas, sklearn.impute, sklearn.linear_model, sklearn.metrics, sklearn.model_selection, "
    "sklearn.pipeline, sklearn.preprocessing, compliance.risk.synthetic"
)
GROUPS = ("unflagged legit", "flagged legit", "faked own", "faked another's", "impersonation", "misused funds")
DERIVED_NAMES = {
    "log_target_over_category": "target ÷ category median",
    "log_target_over_cost": "target ÷ estimate",
    "first_day_share": "first-day share of donations",
    "log_shares_per_donation": "shares per donation",
    "log_account_age_hours": "account age",
    "document_reuse": "document reuse count",
    "pair_campaigns": "promoter/hospital pair count",
    "log_hours_to_payout": "hours to payout",
}
"""How the leakage table names the derived signals of ``tests/test_synthetic.py`` (others: their own name)."""


@functools.cache
def encodings() -> ModuleType:
    """``tests/test_synthetic.py``: its numeric encodings, samples and logistic pipeline define the leakage
    figures, so they are read from there rather than copied."""
    spec = importlib.util.spec_from_file_location("_test_synthetic", ROOT / TEST_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pct(share: float, digits: int = 1) -> str:
    return f"{100 * share:.{digits}f} %"


# -- the published-figures table, on the test fixture ---------------------------------------------------


def published_column(frame: pd.DataFrame) -> dict[str, str]:
    """The "measured" cell of each row of the published-figures table, keyed by the row's first cell."""
    raised, target = frame["raised_amount"], frame["target_amount"]
    malicious = frame["label.malicious"].to_numpy()
    cap = PUBLISHED["target_cap_yuan"].value
    has = frame["payout.requested_at"].notna()
    days = (frame["payout.requested_at"] - frame["created_at"]).dt.total_seconds()[has] / 86_400
    ratio = (target / frame["medical.estimated_cost"])[~malicious].median()
    shares = frame["label.typology"][malicious].value_counts(normalize=True)
    total = sum(PUBLISHED[f"typology_{t}"].value for t in TYPOLOGIES)
    measured = " / ".join(f"{100 * shares.get(t, 0.0):.1f}" for t in TYPOLOGIES)
    published = " / ".join(f"{100 * PUBLISHED[f'typology_{t}'].value / total:.1f}" for t in TYPOLOGIES)
    per_donation = (raised / frame["activity.donation_count"].astype("float64")).median()
    return {
        "share of campaigns raising ¥10k–50k": _pct(raised.between(10_000, 50_000).mean()),
        "share raising > ¥100k": _pct((raised > 100_000).mean()),
        "mean raised per campaign": f"¥{raised.mean():,.0f} (median ¥{raised.median():,.0f})",
        "share reaching target": _pct((raised >= target).mean()),
        "target ÷ treatment cost": f"median legitimate target {ratio:.2f} × estimate",
        "target cap": (
            f"{_pct((target >= cap).mean())} ≥ cap, {_pct((target > cap).mean())} above, "
            f"{_pct(target.between(50_000, cap).mean())} within"
        ),
        "malicious share": _pct(malicious.mean(), 3),
        "flagged share": _pct(frame["label.flagged"].mean(), 2),
        "typology of malicious campaigns": f"{measured} % (vs {published})",
        "publicity before payout": f"{_pct(days.between(1, 30).mean())} within 1–30 days",
        "fees (campaigns from 2022-04)": _fees_cell(frame),
        "payout routing": _routing_cell(frame),
        "amount per donation": f"median ¥{per_donation:.1f} per donation (raised ÷ donation count)",
    }


def _fees_cell(frame: pd.DataFrame) -> str:
    """Payouts never exceed what was raised, nor, from 2022-04, what is left after the fees."""
    has = frame["payout.requested_at"].notna()
    raised, payout = frame["raised_amount"][has], frame["payout.amount"][has]
    since = frame["created_at"][has] >= pd.Timestamp("2022-04-01", tz="Asia/Shanghai")
    fee_rate, cap = PUBLISHED["service_fee_rate"].value, PUBLISHED["service_fee_cap_yuan"].value
    net = raised - np.minimum(raised * fee_rate, cap) - raised * PUBLISHED["payment_channel_fee_rate"].value
    within_net = (payout[since] <= net[since] + 0.005).mean()  # payouts are rounded to the fen
    return f"payout ≤ raised in {_pct((payout <= raised).mean())} of payouts; ≤ raised − fees in {_pct(within_net)}"


def _routing_cell(frame: pd.DataFrame) -> str:
    """Of the campaigns with a payout that Convention 2.0 says must be routed, the share routed (hospital
    account or batches), legitimate and malicious apart."""
    raised = frame["raised_amount"]
    incomplete = frame[[f"disclosure.{i}" for i in DISCLOSURE_ITEMS]].isna().any(axis=1)
    must = (raised >= PUBLISHED["payout_restriction_amount_yuan"].value) | (
        (raised >= PUBLISHED["payout_restriction_incomplete_yuan"].value) & incomplete
    )
    must &= frame["payout.requested_at"].notna()
    routed = frame["payout.payee"].eq("hospital_account").fillna(False) | frame["payout.batched"].eq(True).fillna(False)
    malicious = frame["label.malicious"]
    legit, bad = must & ~malicious, must & malicious
    return (
        f"{_pct(routed[legit].mean(), 0)} of {legit.sum():,} legitimate, {routed[bad].sum()} of {bad.sum()} "
        "malicious campaigns that must route comply"
    )


def _hot_pairs(pairs: np.ndarray) -> np.ndarray:
    """Campaigns from a hot promoter/hospital pair: the cut of tests/test_synthetic.py."""
    hot: np.ndarray = pairs >= 10 * np.median(pairs[pairs > 0])
    return hot


def prose_figures(frame: pd.DataFrame, features: pd.DataFrame) -> dict[str, str]:
    """Figures the doc's prose quotes, on the fixture (``features``: the tests' encodings of it)."""
    hot = _hot_pairs(features["pair_campaigns"].to_numpy())
    pair = frame["promoter_id"].astype(object) + "|" + frame["medical.hospital_id"].astype(object)
    per_hot_pair = len(pair[hot]) / pair[hot].nunique()
    ordinary = frame["promoter_id"][~hot].dropna()
    return {
        "mean-estimate": f"≈ ¥{frame['medical.estimated_cost'].mean() / 1000:.0f}k",
        "targets-below-50k": _pct((frame["target_amount"] < 50_000).mean(), 0),
        "mean-target": f"≈ ¥{frame['target_amount'].mean() / 1000:.0f}k",
        "hot-pair-campaigns": f"≈ {round(per_hot_pair, -1):,.0f}",
        "promoter-campaigns": f"≈ {len(ordinary) / ordinary.nunique():.0f}",
    }


# -- what the signals look like, on 1,000,000 rows ------------------------------------------------------


def _where_known(values: np.ndarray, condition: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """1.0 where the condition holds, 0.0 where it does not, NaN where the value is missing."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(values), np.nan, condition(values))


def signals(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each row of the signals table: 1/0 per campaign, NaN where the signal is unknown."""
    f = encodings()._features(frame)
    num = encodings()._num
    pairs = f["pair_campaigns"].to_numpy()
    per_donation = num(frame, "activity.share_count") / num(frame, "activity.donation_count")
    edited = frame["documents.edit_traces_detected"].astype("float64").to_numpy(na_value=np.nan)
    return {
        "target > 1.5× estimate": _where_known(f["log_target_over_cost"].to_numpy(), lambda v: v > math.log(1.5)),
        "no cost estimate": frame["medical.estimated_cost"].isna().to_numpy(dtype=float),
        "0 endorsements on day 1": f["no_endorsements_first_day"].to_numpy(),
        "≥ 60 % of donations on day 1": _where_known(f["first_day_share"].to_numpy(), lambda v: v >= 0.6),
        "> 2 or < 0.3 shares per donation": _where_known(per_donation, lambda v: (v > 2) | (v < 0.3)),
        "account < 2 days old": _where_known(f["log_account_age_hours"].to_numpy(), lambda v: v < math.log1p(48)),
        "a prior rejection": _where_known(f["prior_rejections"].to_numpy(), lambda v: v >= 1),
        "an unanswered disclosure item": (f["unanswered"].to_numpy() > 0).astype(float),
        "concealed other-platform campaign": f["concealed_other_platforms"].to_numpy(),
        "a document shared with another campaign": (f["document_reuse"].to_numpy() > 0).astype(float),
        "from a hot promoter/hospital pair": _hot_pairs(pairs).astype(float),
        "payout requested < 36 h after launch": _where_known(
            f["log_hours_to_payout"].to_numpy(), lambda v: v < math.log1p(36)
        ),
        'payee "other"': f["payee_other"].to_numpy(),
        "≥ 1 complaint": _where_known(f["log_complaints"].to_numpy(), lambda v: v > 0),
        "edit traces found by the document check": edited,
        "no payout": 1.0 - f["has_payout"].to_numpy(),
    }


def groups(frame: pd.DataFrame) -> list[np.ndarray]:
    """Row masks of the table's columns, in :data:`GROUPS` order."""
    malicious, flagged = frame["label.malicious"].to_numpy(), frame["label.flagged"].to_numpy()
    typology = frame["label.typology"].to_numpy(dtype=object)
    return [~flagged, flagged & ~malicious, *(malicious & (typology == t) for t in TYPOLOGIES)]


def signals_section(frame: pd.DataFrame) -> str:
    masks = groups(frame)
    counts = " / ".join(f"{int(m.sum()):,}" for m in masks[2:])
    lines = [
        "What the signals look like in the data (percent of each group; "
        f"`generate({len(frame):_}, seed={FIXTURE_SEED})`,\nwith {counts} malicious rows by typology; "
        "missing values excluded):",
        "",
        "| signal | " + " | ".join(GROUPS) + " |",
        "|---" * (len(GROUPS) + 1) + "|",
    ]
    for name, values in signals(frame).items():
        cells = [f"{100 * np.nanmean(values[m]):.1f}" for m in masks]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- leakage: the encodings and pipeline of tests/test_synthetic.py, per seed ---------------------------


def best_single_signal(frame: pd.DataFrame, features: pd.DataFrame, y: np.ndarray) -> tuple[str, float]:
    """As ``test_no_single_signal_gives_the_label_away``: every raw numeric, boolean or datetime column and
    every derived signal, on all positives and 50,000 other rows; max(auc, 1 - auc), NaN as the median."""
    t = encodings()
    rows = t._with_all_positives(y, 50_000)
    y, sample, derived = y[rows], frame.iloc[rows], features.iloc[rows]
    aucs: dict[str, float] = {}
    for column in FLAT_COLUMNS:
        series = sample[column]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            aucs[f"`{column}`"] = t._auc(y, series.astype("float64").to_numpy(na_value=np.nan))
        elif isinstance(series.dtype, pd.DatetimeTZDtype):
            aucs[f"`{column}`"] = t._auc(y, t._num(sample, column))
    for column in derived:
        aucs[DERIVED_NAMES.get(column, f"`{column}` (derived)")] = t._auc(y, derived[column].to_numpy())
    best = max(aucs, key=lambda k: aucs[k])
    return best, aucs[best]


def leakage(frame: pd.DataFrame, features: pd.DataFrame, *, flagged: bool = False) -> dict[str, Any]:
    """The best single signal and the logistic regression for ``label.malicious`` (and, if asked, the
    logistic regression for ``label.flagged``) on ``features`` (the tests' encodings of ``frame``), as
    ``tests/test_synthetic.py`` computes them."""
    malicious = frame["label.malicious"].to_numpy()
    signal, signal_auc = best_single_signal(frame, features, malicious)
    out = {"signal": signal, "signal_auc": signal_auc, "logistic": encodings()._logistic(features, malicious)[3]}
    if flagged:
        out["flagged"] = encodings()._logistic(features, frame["label.flagged"].to_numpy())[3]
    return out


def risk_model_auc() -> float:
    model = train_synthetic(rows=MODEL_ROWS, seed=MODEL_TRAIN_SEED)
    frame = generate(MODEL_ROWS, seed=MODEL_TEST_SEED)
    scores = model.predict_proba(frame.drop(columns=list(LABEL_COLUMNS)))[:, 1]
    return float(roc_auc_score(frame["label.malicious"], scores))


def leakage_section(results: dict[int, dict[str, Any]]) -> str:
    lines = ["| seed | best single signal (AUC) | logistic regression, held-out AUC |", "|---|---|---|"]
    for seed, r in results.items():
        label = f"{seed} (test fixture)" if seed == FIXTURE_SEED else str(seed)
        lines.append(f"| {label} | {r['signal']}, {r['signal_auc']:.3f} | {r['logistic']:.3f} |")
    return "\n".join(lines)


# -- speed --------------------------------------------------------------------------------------------


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _frame_bytes(frame: pd.DataFrame) -> int:
    """``memory_usage(deep=True)``, plus the strings inside the tuple columns, which it does not count."""
    tuples = ("medical.document_hashes", "other_platform_campaign_ids")
    inner = sum(sys.getsizeof(s) for column in tuples for values in frame[column] for s in values)
    return int(frame.memory_usage(deep=True).sum()) + inner


def _child_seconds(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def speed_section(
    load: float, big_seconds: float, big_bytes: int, peak_rss: int, seconds_200k: list[float], per_row_s: float
) -> str:
    tests = _child_seconds([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST_FILE])
    imports = _child_seconds([sys.executable, "-c", TEST_IMPORTS])
    return "\n".join(
        [
            f"Measured by `python benchmarks/synthetic_report.py` on {platform.machine()} with {os.cpu_count()} "
            f"CPUs\n(Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
            f"scikit-learn {sklearn.__version__}; load average {load:.1f} when the run began):",
            "",
            "| task | time |",
            "|---|---|",
            f"| `generate({SIGNAL_ROWS:_})` | {big_seconds:.1f} s (seed {FIXTURE_SEED}); the frame holds "
            f"{big_bytes / 1e9:.1f} GB (tuples' strings included), the process peaks at {peak_rss / 1e9:.1f} GB "
            "resident |",
            f"| `generate({FIXTURE_ROWS:_})` | {min(seconds_200k):.1f}–{max(seconds_200k):.1f} s "
            f"({len(seconds_200k)} seeds) |",
            f"| `to_campaigns` | ≈ {per_row_s * 1e6:.0f} µs per row ({TO_CAMPAIGNS_ROWS:,} rows) |",
            "",
            f"`{TEST_FILE}` runs in {tests:.0f} s, of which ≈ {imports:.0f} s is importing pandas and scikit-learn.",
        ]
    )


# -- the doc ------------------------------------------------------------------------------------------


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- synthetic:{name}:start -->", f"<!-- synthetic:{name}:end -->"


def _between(text: str, name: str) -> tuple[str, str, str]:
    start, end = _markers(name)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise SystemExit(f"{DOC.name} needs one {start} … {end} pair")
    before, rest = text.split(start)
    inner, after = rest.split(end)
    return before + start, inner, end + after


def replace_section(text: str, name: str, new: str) -> str:
    """Replace what is between the markers of ``name``: a block (``new`` on lines of its own) when the
    markers stand on lines of their own, else inline."""
    before, inner, after = _between(text, name)
    return before + (f"\n{new}\n" if inner.startswith("\n") else new) + after


def fill_measured_column(text: str, name: str, cells: dict[str, str]) -> str:
    """Rewrite the "measured" column of the table between the markers of ``name``; rows are matched by their
    first cell, and every row must have a figure (and every figure a row)."""
    before, inner, after = _between(text, name)
    lines = inner.split("\n")
    table = [i for i, line in enumerate(lines) if line.startswith("|")]
    header = [c.strip() for c in lines[table[0]].split("|")]
    column = header.index("measured")
    missing = set(cells)
    for i in table[2:]:
        parts = lines[i].split("|")
        key = parts[1].strip()
        if key not in cells:
            raise SystemExit(f"{DOC.name}: no measurement for the row {key!r}")
        parts[column] = f" {cells[key]} "
        lines[i] = "|".join(parts)
        missing.discard(key)
    if missing:
        raise SystemExit(f"{DOC.name}: no row for {sorted(missing)}")
    return before + "\n".join(lines) + after


def _timed(make: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    out = make()
    return out, time.perf_counter() - started


def measure(timing: bool) -> tuple[dict[str, str], dict[str, str]]:
    """The doc's sections (name → text between its markers) and the published table's measured cells."""
    load, started = os.getloadavg()[0], time.perf_counter()
    big, big_seconds = _timed(lambda: generate(SIGNAL_ROWS, seed=FIXTURE_SEED))
    peak_rss, big_bytes = _peak_rss_bytes(), _frame_bytes(big)
    sections = {"signals": signals_section(big)}
    del big
    print(f"signals: {time.perf_counter() - started:.0f} s", file=sys.stderr)

    results: dict[int, dict[str, Any]] = {}
    seconds_200k = []
    for seed in LEAKAGE_SEEDS:
        frame, seconds = _timed(lambda seed=seed: generate(FIXTURE_ROWS, seed=seed))
        seconds_200k.append(seconds)
        features = encodings()._features(frame)
        results[seed] = leakage(frame, features, flagged=seed == FIXTURE_SEED)
        if seed == FIXTURE_SEED:  # kept for the published figures
            fixture, fixture_features = frame, features
        print(f"seed {seed}: {results[seed]}", file=sys.stderr)
    cells = published_column(fixture)
    sections.update(prose_figures(fixture, fixture_features))
    logistic = [r["logistic"] for r in results.values()]
    sections["leakage"] = leakage_section(results)
    sections["logistic-range"] = f"{min(logistic):.2f}–{max(logistic):.2f}"
    sections["flagged-auc"] = f"≈ {results[FIXTURE_SEED]['flagged']:.2f}"
    sections["risk-model-auc"] = f"{risk_model_auc():.3f}"
    if timing:
        _, seconds = _timed(lambda: to_campaigns(fixture.head(TO_CAMPAIGNS_ROWS)))
        per_row = seconds / TO_CAMPAIGNS_ROWS
        sections["speed"] = speed_section(load, big_seconds, big_bytes, peak_rss, seconds_200k, per_row)
    print(f"all: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return sections, cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=str(DOC), help="the doc to rewrite, or - to print the figures")
    parser.add_argument("--no-timing", action="store_true", help="skip the speed section (keep the doc's)")
    args = parser.parse_args()
    sections, cells = measure(timing=not args.no_timing)
    if args.output == "-":
        for name, text in sections.items():
            print(f"{name}:\n{text}\n")
        print("\n".join(f"{key}: {value}" for key, value in cells.items()))
        return
    path = Path(args.output)
    text = fill_measured_column(path.read_text(encoding="utf-8"), "published", cells)
    for name, section in sections.items():
        text = replace_section(text, name, section)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
