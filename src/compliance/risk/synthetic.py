"""Synthetic campaigns, calibrated to published figures, for training and evaluating the risk model.

No public fraud-labelled dataset of Chinese medical crowdfunding exists (see
``shared/domain/statistics-and-cases.md`` §0, §5), so the risk model is trained and evaluated on rows
made here. :func:`generate` makes ``n`` campaigns as a :class:`pandas.DataFrame` with every column of
:data:`compliance._flat.FLAT_COLUMNS` plus three label columns; :func:`to_campaigns` turns rows into
nested dicts that :meth:`compliance.Campaign.parse` accepts.

>>> frame = generate(1_000, seed=1)
>>> frame.shape[0], frame["label.malicious"].dtype.name, str(frame["created_at"].dtype)
(1000, 'bool', 'datetime64[ns, Asia/Shanghai]')
>>> from compliance import Campaign
>>> Campaign.parse(to_campaigns(frame.head(1))[0]).platform in PLATFORMS
True

Calibration (published figures: :data:`PUBLISHED`; tolerances are the ones ``tests/test_synthetic.py``
checks on 200,000 rows):

- raised amount log-normal, ``exp(N(9.17, 1.17²))``, fitted to three figures of the BNU 2022 report on
  水滴筹 (公益时报 2022-11-01) [read]: ≈ 40 % raise ¥10k–50k (± 5 pts), ≈ 2 % raise > ¥100k (± 1 pt),
  mean ¥48.4bn / 2.511M ≈ ¥19,300 [derived] (± 15 %); median ≈ ¥9,600, half the mean. The log-normal
  shape is an assumption (no published fit).
- ≈ 10 % reach their target (iResearch 2024 survey of 1,000 fundraisers [read]; ± 3 pts).
- targets mostly ¥50k–¥500k, a few at or above the ¥500k cap (2018 convention [read]); a legitimate
  target is ≈ 0.6 × the estimated cost (iResearch 2024: mean target ¥220k vs mean cost ¥390k [read]).
- malicious ≈ 0.2 % (± 0.05 pts) and flagged ≈ 4.4 % (34,942 of > 800,000, [derived]; ± 0.6 pts), from
  水滴筹's 2019 integrity report (光明网 2020-03-31) [read]; every malicious campaign is flagged.
- typology of malicious campaigns 29 : 7 : 8 : 8 (faked own illness, faked another's, impersonation,
  misused funds), the 52 publicised cases of Zenone & Snyder 2019 [read] (± 8 pts each).
- payout requested mostly 1–30 days after creation; a 24-hour publicity period follows each request
  before money moves (DoNews ~2020 [read]; the schema records the request time only). Payees are the
  patient, a close relative or the hospital account, rarely "other".

Signals. Each campaign belongs to a latent *profile*: clean legitimate (≈ 95.6 %), flagged legitimate
look-alike (≈ 4.2 %, the flagged-but-not-malicious campaigns), or one of the four malicious typologies.
Fifteen suspicious *patterns* (inflated target, no cost estimate, no endorsements at launch, burst
of first-day donations, abnormal sharing, new account, serial/rejected applicant, unanswered
disclosure, concealed other-platform fundraising, reused medical record, hot promoter/hospital pair,
fast lump-sum payout, "other" payee, complaints, edit traces found by the platform's document check)
each fire with a probability that depends on the profile (:data:`PATTERN_PROBABILITIES`); a fired pattern shifts the distribution of its signal, which
still overlaps the normal one. 20 % of malicious campaigns use the clean profile (they look clean),
and every pattern also fires in some clean campaigns. Signals are missing at the same rate in every
class (exports are incomplete), except where absence *is* a signal: no cost estimate, unanswered
disclosure items, no payout (malicious campaigns are often stopped before one), no promoter. No sex,
age, ethnicity, region or other protected attribute is made.
On 200,000 rows (six seeds) the best single signal has a ROC AUC for ``label.malicious`` of 0.67–0.70
and a logistic regression on all signals 0.90–0.92 on held-out rows (measured by
``benchmarks/synthetic_report.py``, which writes these figures and the others to ``docs/synthetic-data.md``).

Determinism: one ``numpy.random.default_rng(seed)`` drives everything, so ``(n, seed, start, end)``
fixes the frame. Speed, measured by the same script on the project's 2-core machine (Python 3.11, numpy
2.4, pandas 3.1): 1,000,000 rows in ≈ 7.7 s, 200,000 in 1.1–1.3 s (six seeds); :func:`to_campaigns`
≈ 51 µs per row.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from compliance._flat import FLAT_COLUMNS, unflatten
from compliance.campaign import DISCLOSURE_ITEMS, DiagnosisCategory

__all__ = [
    "CATEGORY_TYPICAL_COST",
    "LABEL_COLUMNS",
    "PATTERNS",
    "PATTERN_PROBABILITIES",
    "PLATFORMS",
    "PUBLISHED",
    "TYPOLOGIES",
    "Figure",
    "generate",
    "to_campaigns",
]


@dataclass(frozen=True)
class Figure:
    """A published figure the generator is calibrated to, with where it comes from."""

    value: float
    source: str
    grade: str
    """Evidence tag as in ``shared/domain/statistics-and-cases.md``: read, derived, file, 2nd-hand."""


_BNU = "BNU 中国公益研究院 et al., 《个人大病求助互联网平台研究报告(2022)》, via 公益时报 2022-11-01 (anhei888.cn)"
_SDC_2019 = "水滴筹 2019 integrity report (风控大数据中心), 光明网 2020-03-31 (jiangsulong.com; m.googlemp3.com)"
_IRESEARCH = "iResearch 《2024年中国大病网络众筹用户调研报告》, 1,000 fundraisers (evenhosting.com copy, 2024-06-11)"
_ZENONE = "Zenone & Snyder, Policy & Internet 11(2):215-234 (2019), 52 publicised cases (marcozenone.ca)"
_DONEWS = "DoNews ~2020-01 (m.siriusstudio.cn)"

PUBLISHED: dict[str, Figure] = {
    "campaigns_2016_2021": Figure(2_511_000, _BNU, "read"),
    "raised_total_2016_2021_yuan": Figure(48.4e9, _BNU, "read"),
    "mean_raised_yuan": Figure(48.4e9 / 2_511_000, _BNU + "; ¥48.4bn / 2.511M campaigns", "derived"),
    "share_raised_10k_50k": Figure(0.40, _BNU, "read"),
    "share_raised_over_100k": Figure(0.02, _BNU, "read"),
    "share_reaching_target": Figure(0.10, _IRESEARCH, "read"),
    "mean_target_yuan": Figure(220_000, _IRESEARCH, "read"),
    "mean_treatment_cost_yuan": Figure(390_000, _IRESEARCH, "read"),
    "target_cap_yuan": Figure(
        500_000, "《自律公约》 1.0, 2018-10-19 (songfandang.com); reaffirmed 2.0, 2020-08-18", "read"
    ),
    "applications_2019": Figure(800_000, _SDC_2019 + " (a lower bound: 'more than 800,000')", "read"),
    "flagged_2019": Figure(34_942, _SDC_2019, "read"),
    "malicious_2019": Figure(1_961, _SDC_2019, "read"),
    "malicious_share": Figure(0.002, _SDC_2019 + " ('0.2% of the year's campaigns')", "read"),
    "flagged_share": Figure(34_942 / 800_000, _SDC_2019 + "; 34,942 / 800,000", "derived"),
    "typology_faked_own_illness": Figure(29, _ZENONE, "read"),
    "typology_faked_others_illness": Figure(7, _ZENONE, "read"),
    "typology_impersonation": Figure(8, _ZENONE, "read"),
    "typology_misused_funds": Figure(8, _ZENONE, "read"),
    "publicity_hours_before_payout": Figure(24, _DONEWS, "read"),
    "campaign_days_default": Figure(30, "chnfcx.com 2019", "read"),
    "service_fee_rate": Figure(0.03, "水滴筹 from 2022-04 (中新经纬 2022-08-10, sccstd.com)", "read"),
    "service_fee_cap_yuan": Figure(5_000, "水滴筹 from 2022-01-17 pilot (中新经纬 2022-08-10)", "read"),
    "payment_channel_fee_rate": Figure(0.006, "中新经纬 2022-08-10; juduo.cc 2022-08-21", "read"),
    "payout_restriction_amount_yuan": Figure(300_000, "《自律公约2.0》 via 手機鳳凰網 2020-12-27", "seed"),
    "payout_restriction_incomplete_yuan": Figure(50_000, "《自律公约2.0》 via 手機鳳凰網 2020-12-27", "seed"),
}
"""Every published figure the generator uses, with its source and evidence grade."""

PLATFORMS = ("水滴筹", "轻松筹", "爱心筹", "360大病筹")
_PLATFORM_P = (0.60, 0.25, 0.08, 0.07)  # assumption: no published market shares were found
_PLATFORM_PREFIX = ("SDC", "QSC", "AXC", "360")

TYPOLOGIES = ("faked_own_illness", "faked_others_illness", "impersonation", "misused_funds")
_TYPOLOGY_COUNTS = (29, 7, 8, 8)

LABEL_COLUMNS = ("label.malicious", "label.flagged", "label.typology")

_NONE = np.array(None, dtype=object)  # a null in an object column
_CATEGORIES: tuple[str, ...] = typing.get_args(DiagnosisCategory)  # the schema is the one list
_CATEGORY_P = (0.12, 0.06, 0.30, 0.10, 0.05, 0.12, 0.10, 0.03, 0.12)  # assumption
CATEGORY_TYPICAL_COST: dict[str, float] = {
    "leukemia": 450_000,
    "lymphoma": 300_000,
    "solid_tumor": 280_000,
    "organ_failure": 400_000,
    "congenital_heart": 150_000,
    "burn_or_trauma": 200_000,
    "stroke": 150_000,
    "rare_disease": 400_000,
    "other": 120_000,
}
"""Assumed median out-of-pocket cost estimate by diagnosis category (yuan). Not published: chosen so that
the mean estimate is ≈ ¥305k, below iResearch 2024's mean treatment cost of ¥390k."""

_DIAGNOSES = {
    "leukemia": ("急性髓系白血病", "急性淋巴细胞白血病", "慢性粒细胞白血病"),
    "lymphoma": ("弥漫大B细胞淋巴瘤", "霍奇金淋巴瘤", "T细胞淋巴瘤"),
    "solid_tumor": ("肺癌", "乳腺癌", "胃癌", "肝癌", "结直肠癌", "神经母细胞瘤"),
    "organ_failure": ("尿毒症", "肝衰竭", "扩张型心肌病"),
    "congenital_heart": ("法洛四联症", "室间隔缺损", "先天性心脏病"),
    "burn_or_trauma": ("大面积烧伤", "车祸致多发伤", "颅脑外伤"),
    "stroke": ("脑出血", "脑梗死"),
    "rare_disease": ("再生障碍性贫血", "脊髓性肌萎缩症", "湿疹血小板减少伴免疫缺陷综合征"),
    "other": ("重症肺炎", "系统性红斑狼疮", "重症胰腺炎"),
}

_RELATIONS = ("self", "spouse", "parent", "child", "sibling", "other_relative", "other")
_RELATION_P = (0.22, 0.20, 0.30, 0.18, 0.05, 0.04, 0.01)  # assumption
_RELATION_P_OTHERS = (0.00, 0.15, 0.20, 0.15, 0.10, 0.25, 0.15)  # faked another's illness: looser ties
_PAYEES = ("patient", "close_relative", "hospital_account", "other")
_PAYEE_P = (0.46, 0.41, 0.13)  # without "other", which is the payee_other pattern (assumption)

PATTERNS = (
    "inflated_target",  # 苏州 2016 (¥300k asked, ~¥17k cost), 吴鹤臣 (¥1M), 王某 孝昌 (¥100k)
    "no_cost_estimate",  # 成都, 苏州: no itemised estimate behind the target
    "no_endorsements_at_launch",  # 罗定 2020: zero 证明人 at launch
    "first_day_burst",  # 莫某: ¥153k from 6,086 donations within ~26 h; paid promotion
    "abnormal_sharing",  # 菏泽 ring: abnormal forwarding; 2022 statement: click-farming
    "new_account",  # account opened shortly before the campaign
    "serial_applicant",  # 叶某 寿宁 (serial, several platforms); 水滴筹 2022 repeat fundraisers
    "unanswered_disclosure",  # 莫某, 吴鹤臣: finances not fully disclosed
    "concealed_other_platforms",  # 叶某, 罗定, 菏泽: same patient on several platforms
    "reused_medical_record",  # 寿宁: another patient's blood test; 罗定: dead ex-girlfriend's records
    "hot_promoter_hospital",  # 菏泽 2022: many campaigns, one clinic, brokers
    "fast_lump_sum_payout",  # 莫某: full sum requested the night the campaign ended, one transfer
    "other_payee",  # brokers asking to insert their own receiving account (2021-2022)
    "complaints",  # 莫某 (wife), 叶某 (family), 罗定 (colleagues) reported
    "edited_documents",  # 孝昌: PS traces spotted at review; 水滴筹 2019-12-10: PS'd records
)
"""The suspicious patterns a campaign may show; each shifts one signal's distribution."""

_PROFILES = ("clean", "flagged_lookalike", *TYPOLOGIES)
# Rows: profiles; columns: PATTERNS. Assumptions informed by the cases above, not published rates.
# fmt: off
PATTERN_PROBABILITIES: dict[str, tuple[float, ...]] = {
    #                        infl  nocost zero burst share  new  serial unans  conc  reuse   hot  fast  other compl  edit
    "clean":                (0.03, 0.18, 0.04, 0.05, 0.03, 0.35, 0.05, 0.10, 0.006, 0.003, 0.012, 0.05, 0.002, 0.08, 0.002),
    "flagged_lookalike":    (0.15, 0.30, 0.15, 0.15, 0.15, 0.50, 0.20, 0.25, 0.06,  0.02,  0.05,  0.15, 0.015, 0.35, 0.03),
    "faked_own_illness":    (0.45, 0.35, 0.30, 0.30, 0.20, 0.55, 0.35, 0.30, 0.35,  0.35,  0.03,  0.35, 0.05,  0.40, 0.30),
    "faked_others_illness": (0.35, 0.30, 0.35, 0.50, 0.75, 0.55, 0.20, 0.30, 0.45,  0.30,  0.45,  0.30, 0.15,  0.35, 0.20),
    "impersonation":        (0.30, 0.35, 0.55, 0.20, 0.20, 0.60, 0.30, 0.35, 0.45,  0.45,  0.03,  0.35, 0.10,  0.40, 0.35),
    "misused_funds":        (0.45, 0.30, 0.10, 0.40, 0.35, 0.35, 0.15, 0.40, 0.30,  0.05,  0.03,  0.55, 0.30,  0.55, 0.02),
}
# fmt: on
"""Probability that each pattern (columns, in :data:`PATTERNS` order) fires, per latent profile."""
_LATE_PATTERNS = 1
"""The last patterns of :data:`PATTERNS` (``edited_documents``), drawn after every other signal so that
adding them left the random stream, and so every other column, of a given seed unchanged."""
_EDIT_CHECK_MISSING = 0.40
"""Share of rows, in every class, without a document-edit check result (many platforms run none): an
assumption."""

_STEALTH = 0.20  # share of malicious campaigns drawn with the clean profile (assumption)
_MALICIOUS_P = PUBLISHED["malicious_share"].value
_FLAGGED_P = PUBLISHED["flagged_share"].value

# Raised amount: log-normal fitted to the three BNU figures (40 % in 10k-50k, 2 % > 100k, mean 19.3k).
_RAISED_MU, _RAISED_SIGMA = 9.17, 1.17
_RAISED_MAX = 3_000_000.0  # 成都 2023: ¥2M in 5 h 18 min is the largest documented case
_INFLATED_RATIO = (2.2, 0.5)
"""Inflated target of a legitimate campaign, ÷ cost: log-normal (median, log-sd). Modest over-asking (梨视频 2019:
an offline rep advised overstating the need at ¥150k; an assumption)."""
_INFLATED_RATIO_MALICIOUS = (4.5, 0.6)
"""Inflated target of a malicious campaign, ÷ cost: ≈ 7.5× a legitimate target (0.6 × cost). The documented
inflated targets are about ten times the need: 苏州 2016 ¥300k against ≈ ¥30k lifetime self-pay, 吴鹤臣 2019
¥1M for a stroke (statistics-and-cases.md §4.9, §4.10); the value is an assumption within that."""
_INFLATED_NO_ESTIMATE = 0.5
"""Share of inflated targets with no cost estimate, on top of the no-cost-estimate pattern (assumption): a
target is inflated where no itemised estimate holds it down. None of the documented inflated targets (苏州
2016, 吴鹤臣 2019, 孝昌) reports a hospital estimate, and 水滴筹 judges targets against a disease catalogue
(2022, sources-and-clauses.md §3.3), i.e. against the usual cost of the illness."""
_HIGH_SHARING = 0.85
"""Share of abnormal-sharing campaigns whose links are spread widely (brokers: 菏泽 2022's "abnormal
forwarding"); the rest have click-farmed donations with few shares (刷单, 2022 joint statement). An
assumption: brokers spreading links is the pattern both the 菏泽 detection and the 2022 response (promoters
lose 「访问、转发、证实」 rights) are about."""
_OTHER_PLATFORMS_P = 0.02
"""Share of campaigns, in every class, whose patient is also found on another platform (an assumption, and
mostly disclosed when legitimate). Low because 重复筹款 (duplicate fundraising) is one of the problems
Convention 2.0 was written against (公益时报, sources-and-clauses.md §2.3, row 12)."""
_TARGET_COST_RATIO = 0.6  # ≈ iResearch mean target / mean cost, 220k / 390k
_EXTRA_REACH_P = 0.108  # small campaigns that set a small target and meet it (assumption, tuned to 10 %)
_PAYOUT_P = (0.85, 0.80, 0.70, 0.70, 0.70, 0.75)  # per profile: malicious are often stopped before payout
_HOUR_WEIGHTS = np.array([1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 7, 6, 6, 7, 7, 7, 7, 8, 9, 9, 8, 5, 2], dtype=float)
_PLATFORM_EPOCH = np.datetime64("2016-07-01T00:00:00", "s")  # 水滴筹 launched July 2016
_SHANGHAI_OFFSET_S = 8 * 3600  # UTC+8, no daylight saving since 1991
_DISCLOSURE_TRUE_P = {  # share answering "yes" among those who answer (assumption)
    "basic_medical_insurance": 0.92,
    "commercial_insurance": 0.15,
    "minimum_subsistence_allowance": 0.07,
    "registered_poor_household": 0.05,
    "government_medical_aid": 0.10,
    "other_platform_fundraising": None,  # follows the other-platform campaigns found (see generate)
    "house": 0.50,
    "car": 0.30,
}
_N_HOSPITALS = 3_000
_CLOSE = np.array([False, True, True, True, True, False, False])  # close relatives by _RELATIONS index

_MONEY_COLUMNS = frozenset(
    {"target_amount", "raised_amount", "payout.amount", "medical.estimated_cost", "activity.amount_first_24h"}
)
_TUPLE_COLUMNS = frozenset({"medical.document_hashes", "other_platform_campaign_ids"})


def _hex_digests(rng: np.random.Generator, k: int) -> list[str]:
    """``k`` random 256-bit values as 64 lower-case hex digits (stand-ins for SHA-256 / HMAC digests)."""
    raw = rng.bytes(32 * k)
    return [raw[i : i + 32].hex() for i in range(0, 32 * k, 32)]


def _fen(values: np.ndarray) -> np.ndarray:
    return np.round(values, 2)


def _round_target(values: np.ndarray) -> np.ndarray:
    step = np.where(values >= 50_000, 10_000.0, 1_000.0)
    return np.maximum(np.round(values / step) * step, 1_000.0)


def _bools(values: np.ndarray, missing: np.ndarray | None = None) -> pd.arrays.BooleanArray:
    mask = np.zeros(len(values), dtype=bool) if missing is None else missing
    return pd.arrays.BooleanArray(values.astype(bool), mask.copy())


def _counts(values: np.ndarray, missing: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(values.astype(np.int64), missing.copy())


def _instants(seconds: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """Seconds since the epoch (UTC) as tz-aware Asia/Shanghai nanosecond datetimes, NaT where missing."""
    ns = seconds.astype(np.int64) * 1_000_000_000
    values = ns.view("datetime64[ns]").copy()
    if missing is not None:
        values[missing] = np.datetime64("NaT")
    index = pd.DatetimeIndex(values).tz_localize("UTC").tz_convert("Asia/Shanghai")
    return pd.Series(index.astype("datetime64[ns, Asia/Shanghai]"))


def _strings(values: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    out = values.astype(object)
    if missing is not None:
        out[missing] = None
    return pd.Series(out, dtype="str")


def _inflated_ratio(malicious: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Target ÷ cost of an inflated target: larger for malicious campaigns (see _INFLATED_RATIO_MALICIOUS)."""
    (median, sigma), (median_m, sigma_m) = _INFLATED_RATIO, _INFLATED_RATIO_MALICIOUS
    return np.where(malicious, np.exp(math.log(median_m) + sigma_m * z), np.exp(math.log(median) + sigma * z))


def _choice_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One category per row, row i drawn with probabilities[i] (rows sum to 1)."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None]
    return np.minimum((u > cumulative).sum(axis=1), probabilities.shape[1] - 1)


def generate(
    n: int,
    *,
    seed: int = 0,
    start: date = date(2021, 1, 1),
    end: date = date(2025, 12, 31),
) -> pd.DataFrame:
    """``n`` synthetic campaigns created between ``start`` and ``end`` (inclusive, Asia/Shanghai days).

    One row per campaign with every column of :data:`~compliance._flat.FLAT_COLUMNS` and the labels
    ``label.malicious`` (bool), ``label.flagged`` (bool; every malicious campaign is flagged) and
    ``label.typology`` (``None`` or one of :data:`TYPOLOGIES`). Dtypes: amounts float64 yuan rounded to
    the fen (NaN = unknown); times ``datetime64[ns, Asia/Shanghai]``; yes/no fields pandas
    ``"boolean"`` (NA = unknown or, for disclosure items, not answered); counts ``"Int64"``; text
    ``"str"`` (NaN = unknown); ``medical.document_hashes`` and ``other_platform_campaign_ids`` tuples of
    str. The same ``(n, seed, start, end)`` always gives the same frame.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    if end < start:
        raise ValueError("end must not be before start")
    rng = np.random.default_rng(seed)
    idx = np.arange(n)

    # --- labels and latent profiles --------------------------------------------------------------
    u = rng.random(n)
    malicious = u < _MALICIOUS_P
    flagged = u < _FLAGGED_P
    typology = rng.choice(4, size=n, p=np.array(_TYPOLOGY_COUNTS) / sum(_TYPOLOGY_COUNTS))
    stealth = rng.random(n) < _STEALTH
    profile = np.where(flagged, 1, 0)
    profile = np.where(malicious & ~stealth, 2 + typology, profile)
    pattern_p = np.array([PATTERN_PROBABILITIES[p] for p in _PROFILES])
    early = len(PATTERNS) - _LATE_PATTERNS
    fired = rng.random((n, early)) < pattern_p[profile][:, :early]
    (
        f_inflate,
        f_nocost,
        f_zero,
        f_burst,
        f_share,
        f_new,
        f_serial,
        f_unanswered,
        f_conceal,
        f_reuse,
        f_hot,
        f_fast,
        f_other_payee,
        f_complaints,
    ) = fired.T

    # --- when and where ----------------------------------------------------------------------------
    first_day = (np.datetime64(start, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64)
    days = (end - start).days + 1
    day = first_day + rng.integers(0, days, n)
    hour = rng.choice(24, size=n, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
    created_s = day * 86_400 - _SHANGHAI_OFFSET_S + hour * 3600 + rng.integers(0, 3600, n)
    platform = rng.choice(len(PLATFORMS), size=n, p=_PLATFORM_P)

    # --- illness, cost and target ------------------------------------------------------------------
    category = rng.choice(len(_CATEGORIES), size=n, p=_CATEGORY_P)
    typical = np.array([CATEGORY_TYPICAL_COST[c] for c in _CATEGORIES])[category]
    z_cost, z_ratio, z_inflate, z_estimate, z_raised = rng.standard_normal((5, n))
    cost = typical * np.exp(0.5 * z_cost)
    ratio = np.clip(np.exp(math.log(_TARGET_COST_RATIO) + 0.35 * z_ratio), 0.15, 1.6)
    ratio = np.where(f_inflate, _inflated_ratio(malicious, z_inflate), ratio)
    target = _round_target(cost * ratio)
    over_cap = target > 500_000
    keeps_cap = rng.random(n) < np.where(malicious, 0.6, 0.85)
    target = np.where(over_cap & keeps_cap, 500_000.0, np.where(over_cap, np.round(target, -5), target))
    estimated_cost = np.round(cost * np.exp(0.12 * z_estimate), -2)

    # raised: log-normal, mildly correlated with the (legitimate) target through a Gaussian copula
    z_target = (0.5 * z_cost + 0.35 * z_ratio) / math.sqrt(0.5**2 + 0.35**2)
    z = 0.35 * z_target + math.sqrt(1 - 0.35**2) * z_raised
    raised = _fen(np.clip(np.exp(_RAISED_MU + _RAISED_SIGMA * z), 1.0, _RAISED_MAX))
    # platforms close a campaign at its target: a campaign that raised more had a target at or below it
    reach_margin = rng.uniform(1.0, 1.1, n)
    extra_reach = (rng.random(n) < _EXTRA_REACH_P) & ~malicious & (raised >= 3_000)
    reached = (raised >= target) | extra_reach
    step = np.where(raised >= 10_000, 1_000.0, 100.0)
    target = np.where(reached, np.maximum(np.floor(raised / reach_margin / step) * step, 100.0), target)

    # --- activity ----------------------------------------------------------------------------------
    z_gift, z_share_ratio, z_amount_share = rng.standard_normal((3, n))
    gift = np.exp(math.log(38.0) + 0.35 * z_gift)  # 莫某 ¥25, 郑某君 ¥39, 苏州 ¥33, 王某 ¥47 per donation
    donations = np.maximum(1, np.round(raised / gift)).astype(np.int64)
    first_share = np.where(f_burst, rng.beta(6, 2, n), rng.beta(2, 5, n))
    donations_24h = np.round(donations * first_share).astype(np.int64)
    amount_24h = _fen(raised * np.clip(first_share * np.exp(0.1 * z_amount_share), 0.0, 1.0))
    high_sharing = rng.random(n) < _HIGH_SHARING  # abnormal: spread widely by brokers, or click-farmed donations
    share_mu = np.where(f_share, np.where(high_sharing, math.log(3.5), math.log(0.2)), math.log(0.9))
    shares = np.round(donations * np.exp(share_mu + 0.5 * z_share_ratio)).astype(np.int64)
    endorse_mu = np.where(f_zero, math.log(0.8), math.log(10.0))
    endorsements = rng.poisson(np.exp(endorse_mu + 0.8 * rng.standard_normal(n)))
    endorse_24h = rng.binomial(endorsements, np.where(f_zero, rng.beta(1, 6, n), rng.beta(5, 3, n)))
    complaints = rng.poisson(np.where(f_complaints, np.exp(math.log(2.0) + 0.6 * rng.standard_normal(n)), 0.05))

    # --- initiator -----------------------------------------------------------------------------------
    new_age_s = rng.uniform(300, 48 * 3600, n)
    old_age_s = np.maximum(np.exp(math.log(400.0) + 1.1 * rng.standard_normal(n)), 2.0) * 86_400
    account_s = created_s - np.where(f_new, new_age_s, old_age_s).astype(np.int64)
    epoch = _PLATFORM_EPOCH.astype(np.int64) - _SHANGHAI_OFFSET_S
    account_s = np.where(account_s < epoch, epoch + (created_s - epoch) * rng.random(n) * 0.5, account_s)
    prior_campaigns = np.where(
        f_serial, rng.geometric(0.45, n), np.where(rng.random(n) < 0.10, rng.geometric(0.6, n), 0)
    )
    prior_rejections = np.where(
        f_serial,
        np.where(rng.random(n) < 0.75, rng.geometric(0.55, n), 0),
        np.where(rng.random(n) < 0.02, 1, 0),
    )
    relation_p = np.where((profile == 3)[:, None], np.array(_RELATION_P_OTHERS), np.array(_RELATION_P))
    relation = _choice_rows(rng, relation_p)

    # --- disclosure --------------------------------------------------------------------------------
    items = len(DISCLOSURE_ITEMS)
    n_unanswered = np.where(f_unanswered, 1 + rng.binomial(items - 1, 0.25, n), 0)
    rank = np.argsort(np.argsort(rng.random((n, items)), axis=1), axis=1)  # a random order of the items
    unanswered = rank < n_unanswered[:, None]  # the first n_unanswered items in that order
    disclosure_u = rng.random((n, len(DISCLOSURE_ITEMS)))
    n_other = np.where(
        f_conceal | (rng.random(n) < _OTHER_PLATFORMS_P), 1 + rng.binomial(2, 0.3, n), 0
    )  # same patient found elsewhere: _OTHER_PLATFORMS_P of all campaigns (assumption)
    other_column = DISCLOSURE_ITEMS.index("other_platform_fundraising")
    other_answer = np.where(f_conceal, False, disclosure_u[:, other_column] < np.where(n_other > 0, 0.85, 0.02))

    # --- medical documents and hospitals -------------------------------------------------------------
    proof_u = rng.random(n)
    medical_proof = proof_u < 0.94
    proof_missing = proof_u >= 0.97
    n_docs = np.where(medical_proof, 1 + rng.binomial(3, 0.4, n), 0)
    n_docs = np.where(rng.random(n) < 0.12, 0, n_docs)  # documents not in the export (any class)
    n_docs = np.where(f_reuse, np.maximum(n_docs, 1), n_docs)
    pool_size = max(20, n // 1000)
    reused_pick = rng.integers(0, pool_size, n)
    hospital_weights = 1.0 / np.arange(1, _N_HOSPITALS + 1) ** 0.7
    hospital = rng.choice(_N_HOSPITALS, size=n, p=hospital_weights / hospital_weights.sum())
    n_promoters = max(10, n // 75)  # ≈ 15 campaigns per promoter on average, a few up to ≈ 10x that
    promoter_weights = np.exp(0.6 * rng.standard_normal(n_promoters))
    promoter = rng.choice(n_promoters, size=n, p=promoter_weights / promoter_weights.sum())
    promoter_home = rng.choice(_N_HOSPITALS, size=n_promoters, p=hospital_weights / hospital_weights.sum())
    has_promoter = rng.random(n) < 0.20  # assumption: offline staff bring in a fifth of campaigns
    at_home = rng.random(n) < 0.85
    hospital = np.where(has_promoter & at_home, promoter_home[promoter], hospital)
    n_hot = max(4, n // 40_000)
    hot_pair = rng.integers(0, n_hot, n)
    hot_hospital = 500 + rng.choice(_N_HOSPITALS - 500, size=n_hot, replace=False)  # smaller hospitals
    hospital = np.where(f_hot, hot_hospital[hot_pair], hospital)
    promoter_id = np.where(f_hot, n_promoters + hot_pair, promoter)  # the hot pairs' promoters
    has_promoter = has_promoter | f_hot

    # --- payout --------------------------------------------------------------------------------------
    has_payout = rng.random(n) < np.array(_PAYOUT_P)[profile]
    delay_days = np.clip(np.exp(math.log(8.0) + 0.75 * rng.standard_normal(n)), 1.0, 60.0)
    delay_s = np.where(f_fast, rng.uniform(2, 36, n) * 3600, delay_days * 86_400)
    requested_s = created_s + delay_s.astype(np.int64)
    fee = np.where(
        created_s >= (np.datetime64("2022-04-01", "s").astype(np.int64) - _SHANGHAI_OFFSET_S),
        np.minimum(raised * PUBLISHED["service_fee_rate"].value, PUBLISHED["service_fee_cap_yuan"].value)
        + raised * PUBLISHED["payment_channel_fee_rate"].value,
        0.0,
    )
    net = raised - fee
    any_unanswered = unanswered.any(axis=1)
    must_route = (raised >= 300_000) | ((raised >= 50_000) & any_unanswered)  # Convention 2.0 [seed]
    complies = rng.random(n) < np.where(malicious, 0.6, 0.92)
    routed = must_route & complies
    route_to_hospital = rng.random(n) < 0.5
    batched = (routed & ~route_to_hospital) | (~must_route & (rng.random(n) < 0.05))
    full = f_fast | (rng.random(n) < 0.6)
    fraction = np.where(batched, rng.uniform(0.2, 0.5, n), np.where(full, 1.0, rng.uniform(0.3, 0.95, n)))
    payout_amount = _fen(net * fraction)
    payee = rng.choice(3, size=n, p=np.array(_PAYEE_P) / sum(_PAYEE_P))
    payee = np.where(routed & route_to_hospital, 2, payee)
    payee = np.where(f_other_payee, 3, payee)

    # --- identity hashes -------------------------------------------------------------------------------
    initiator_hash = np.array(_hex_digests(rng, n), dtype=object)
    patient_hash = initiator_hash.copy()  # the initiator is the patient ("self")
    patient_hash[relation != 0] = _hex_digests(rng, int(np.count_nonzero(relation != 0)))
    stranger = (payee == 3) | ((payee == 1) & ~_CLOSE[relation])
    stranger_hash = np.full(n, None, dtype=object)
    stranger_hash[stranger] = _hex_digests(rng, int(np.count_nonzero(stranger)))
    payee_hash = np.where(
        payee == 0,
        patient_hash,
        np.where((payee == 1) & _CLOSE[relation], initiator_hash, np.where(payee == 2, _NONE, stranger_hash)),
    )

    # --- document hash tuples ------------------------------------------------------------------------
    flat_hashes = _hex_digests(rng, int(n_docs.sum()))
    pool = _hex_digests(rng, pool_size)
    offsets = np.concatenate([[0], np.cumsum(n_docs)])
    reuse_rows = np.flatnonzero(f_reuse)
    for row in reuse_rows:  # the reused record replaces the first document
        flat_hashes[offsets[row]] = pool[reused_pick[row]]
    document_hashes = np.empty(n, dtype=object)
    offsets_list = offsets.tolist()
    document_hashes[:] = [tuple(flat_hashes[offsets_list[i] : offsets_list[i + 1]]) for i in range(n)]

    other_ids = np.empty(n, dtype=object)
    other_ids[:] = [()] * n
    other_rows = np.flatnonzero(n_other)
    if len(other_rows):
        shifts = rng.integers(1, len(PLATFORMS), (len(other_rows), 3))
        numbers = rng.integers(10**9, 10**10, (len(other_rows), 3))
        for index, at in enumerate(other_rows.tolist()):
            count = int(n_other[at])
            own = int(platform[at])
            picks = sorted({(own + int(s)) % len(PLATFORMS) for s in shifts[index, :count]})
            other_ids[at] = tuple(
                f"{PLATFORMS[p]}:{_PLATFORM_PREFIX[p]}{int(numbers[index, m])}" for m, p in enumerate(picks)
            )

    # --- missingness (same rates in every class) --------------------------------------------------
    miss = rng.random((16, n))
    activity_block = miss[0] < 0.08
    m_account = miss[1] < 0.15
    m_prior_both = miss[2] < 0.15
    m_prior_campaigns = m_prior_both | (miss[3] < 0.03)
    m_prior_rejections = m_prior_both | (miss[4] < 0.03)
    m_category = miss[5] < 0.05
    m_hospital = miss[6] < 0.12
    m_cost = f_nocost | (f_inflate & (miss[12] < _INFLATED_NO_ESTIMATE)) | (miss[7] < 0.08)  # miss[12]: a spare draw
    m_promoter = ~has_promoter | (miss[8] < 0.10)
    m_relation = miss[9] < 0.03
    m_initiator_hash = miss[10] < 0.05
    m_patient_hash = miss[11] < 0.08
    activity_miss = rng.random((7, n)) < 0.08
    real_u = rng.random((4, n))

    # --- assemble ------------------------------------------------------------------------------------
    no_payout = ~has_payout
    cols: dict[str, Any] = {}
    cols["campaign_id"] = pd.Series([f"syn{seed}-{i:07d}" for i in idx.tolist()], dtype="str")
    cols["platform"] = _strings(np.array(PLATFORMS, dtype=object)[platform])
    cols["created_at"] = _instants(created_s)
    cols["target_amount"] = target.astype(np.float64)
    cols["raised_amount"] = raised
    cols["initiator.real_name_verified"] = _bools(real_u[0] < 0.97, real_u[0] >= 0.98)
    cols["initiator.id_number_hash"] = _strings(initiator_hash, m_initiator_hash)
    cols["initiator.relation_to_patient"] = _strings(np.array(_RELATIONS, dtype=object)[relation], m_relation)
    cols["initiator.truthfulness_acknowledged"] = _bools(np.ones(n, dtype=bool), real_u[1] >= 0.97)
    cols["initiator.account_created_at"] = _instants(account_s, m_account)
    cols["initiator.prior_campaign_count"] = _counts(prior_campaigns, m_prior_campaigns)
    cols["initiator.prior_rejection_count"] = _counts(prior_rejections, m_prior_rejections)
    patient_false = np.where(profile == 4, 0.15, 0.03)
    cols["patient.real_name_verified"] = _bools(real_u[2] >= patient_false, real_u[2] >= 0.95)
    cols["patient.id_number_hash"] = _strings(patient_hash, m_patient_hash)
    for j, item in enumerate(DISCLOSURE_ITEMS):
        yes = _DISCLOSURE_TRUE_P[item]
        answer = other_answer if yes is None else disclosure_u[:, j] < yes
        cols[f"disclosure.{item}"] = _bools(answer, unanswered[:, j])
    doc_u = rng.random((4, n))
    with_estimate = ~m_cost
    cols["documents.medical_proof"] = _bools(medical_proof, proof_missing)
    plan = doc_u[0] < np.where(must_route, 0.8, 0.35)
    cost_list = doc_u[1] < np.where(with_estimate, 0.7, 0.15)
    cols["documents.medical_plan"] = _bools(plan, doc_u[2] < 0.12)
    cols["documents.cost_list"] = _bools(cost_list, doc_u[2] < 0.12)
    published = (plan & cost_list & (doc_u[3] < 0.7)) | (batched & has_payout)
    cols["documents.plan_published"] = _bools(published, doc_u[3] >= 0.88)
    cols["payout.amount"] = np.where(no_payout, np.nan, payout_amount)
    cols["payout.payee"] = _strings(np.array(_PAYEES, dtype=object)[payee], no_payout)
    cols["payout.batched"] = _bools(batched, no_payout)
    cols["payout.requested_at"] = _instants(requested_s, no_payout)
    cols["payout.payee_id_number_hash"] = _strings(payee_hash, no_payout | pd.isna(payee_hash))
    cols["medical.diagnosis_category"] = _strings(np.array(_CATEGORIES, dtype=object)[category], m_category)
    diagnosis_pick = rng.integers(0, 6, n)
    names = np.array(
        [_DIAGNOSES[c][k % len(_DIAGNOSES[c])] for c in _CATEGORIES for k in range(6)], dtype=object
    ).reshape(len(_CATEGORIES), 6)
    cols["medical.diagnosis"] = _strings(names[category, diagnosis_pick], m_category)
    hospital_names = np.array([f"H{h:04d}" for h in range(_N_HOSPITALS)], dtype=object)
    cols["medical.hospital_id"] = _strings(hospital_names[hospital], m_hospital)
    cols["medical.estimated_cost"] = np.where(m_cost, np.nan, estimated_cost)
    cols["medical.document_hashes"] = pd.Series(document_hashes, dtype=object)
    activity = {
        "donation_count": donations,
        "donations_first_24h": donations_24h,
        "amount_first_24h": amount_24h,
        "share_count": shares,
        "endorsement_count": endorsements,
        "endorsements_first_24h": endorse_24h,
        "complaint_count": complaints,
    }
    for j, (name, values) in enumerate(activity.items()):
        missing = activity_block | activity_miss[j]
        if name == "amount_first_24h":
            cols[f"activity.{name}"] = np.where(missing, np.nan, values)
        else:
            cols[f"activity.{name}"] = _counts(values, missing)
    promoter_names = np.array([f"P{p:05d}" for p in range(n_promoters + n_hot)], dtype=object)
    cols["promoter_id"] = _strings(promoter_names[promoter_id], m_promoter)
    cols["other_platform_campaign_ids"] = pd.Series(other_ids, dtype=object)
    # --- document-edit check (drawn last: see _LATE_PATTERNS) -----------------------------------------
    f_edited = rng.random(n) < pattern_p[profile][:, early]
    cols["documents.edit_traces_detected"] = _bools(f_edited, rng.random(n) < _EDIT_CHECK_MISSING)
    cols["label.malicious"] = malicious
    cols["label.flagged"] = flagged
    typology_names = np.array(TYPOLOGIES, dtype=object)[typology]
    typology_names[~malicious] = None
    cols["label.typology"] = pd.Series(typology_names, dtype=object)

    frame = pd.DataFrame(
        {name: (value if isinstance(value, pd.Series) else pd.Series(value)) for name, value in cols.items()}
    )
    return frame[[*FLAT_COLUMNS, *LABEL_COLUMNS]]


def _python_values(column: str, series: pd.Series) -> list[Any]:
    """A column as plain Python values: None for NA/NaN/NaT, money as str with two decimals."""
    if column in _TUPLE_COLUMNS:
        return [tuple(str(x) for x in v) if isinstance(v, (tuple, list, np.ndarray)) else () for v in series]
    missing = series.isna().to_numpy()
    values: list[Any]
    if column in _MONEY_COLUMNS:
        values = [f"{v:.2f}" for v in pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)]
    elif pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = list(series.dt.to_pydatetime())
    else:  # boolean, Int64, str, object: Python bool / int / str, or NA (masked below)
        values = [v.item() if isinstance(v, np.generic) else v for v in series.astype(object).tolist()]
    return [None if m else v for v, m in zip(values, missing, strict=True)]


def to_campaigns(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a :func:`generate` frame as nested dicts for :meth:`compliance.Campaign.parse`.

    Only :data:`~compliance._flat.FLAT_COLUMNS` present in the frame are used (labels are dropped).
    Missing values become ``None``, amounts strings with two decimals, times aware ``datetime``
    objects, counts ``int``, yes/no ``bool``; a row without payout columns gets no payout.
    """
    columns = [c for c in FLAT_COLUMNS if c in frame.columns]
    converted = [_python_values(c, frame[c]) for c in columns]
    return [unflatten(dict(zip(columns, values, strict=True))) for values in zip(*converted, strict=True)]
