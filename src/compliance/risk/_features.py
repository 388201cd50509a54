"""Risk features: one definition, computed over a table of campaigns or for a single campaign.

Each feature is written once, in :func:`_compute`, over a small array namespace: for a table the inputs
are numpy columns and the namespace is numpy; for one campaign they are plain floats and the namespace
is :mod:`math`, so a single decision pays no DataFrame or numpy overhead. Unknown inputs are NaN and
stay NaN through the arithmetic: a missing signal is *unknown*, never zero.

No feature uses sex, age, ethnicity, region or any other protected attribute, although published fraud
profiles mention some of them (水滴筹 2019: 75 % male, aged 28–36): the schema does not carry them, and a
model must not learn them (see ``docs/model-card.md``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from compliance.campaign import DISCLOSURE_ITEMS, Campaign
from compliance.decision import Text

NAN = float("nan")
CAP = 500_000.0
"""The conventions' ¥500,000 cap per request (a target at the cap is a documented pattern: 吴鹤臣)."""


@dataclass(frozen=True, slots=True)
class Feature:
    """A model input: its name, why it signals risk, and how a reason based on it reads."""

    name: str
    why: str
    reason: Text
    """Sentence templates; ``{value}`` is the feature's value as shown to a reviewer."""
    unknown: Text
    """The sentence when the campaign's value is not known (the reason is then that it is missing)."""
    shown: str
    """How the value reads: ``flag`` (no value), ``number``, ``log_count`` (counts and amounts stored as
    log1p), ``log2_ratio`` (times as much), ``share`` (a fraction, shown as a percentage)."""

    def display(self, value: float) -> str | None:
        """The value as a reviewer reads it, e.g. ``"3"`` for log1p(3), ``"4.0"`` for log2 ratio 2."""
        if self.shown == "flag" or value != value:
            return None
        if self.shown == "log_count":
            return f"{round(math.expm1(value)):,}"
        if self.shown == "log2_ratio":
            return f"{2.0**value:.1f}"
        if self.shown == "share":
            return f"{value:.0%}"
        return f"{value:g}"


_SHOWN = {
    "log_target": "log_count",
    "target_at_cap": "flag",
    "target_over_estimate": "log2_ratio",
    "no_cost_estimate": "flag",
    "target_over_category": "log2_ratio",
    "no_endorsements_first_day": "flag",
    "log_endorsements": "log_count",
    "first_day_donation_share": "share",
    "shares_per_donation": "log_count",
    "account_age_days": "log_count",
    "prior_rejections": "log_count",
    "prior_campaigns": "log_count",
    "disclosure_unanswered": "number",
    "other_platform_campaigns": "log_count",
    "other_platforms_undisclosed": "flag",
    "fast_payout": "flag",
    "lump_sum_payout": "flag",
    "payout_to_other": "flag",
    "complaints": "log_count",
    "document_reuse": "log_count",
    "promoter_hospital_campaigns": "log_count",
    "missing_medical_proof": "flag",
    "document_edit_traces": "flag",
}


def _f(name: str, why: str, zh: str, en: str) -> Feature:
    topic_zh, topic_en = _UNKNOWN[name]
    return Feature(
        name, why, Text(zh=zh, en=en), Text(zh=f"{topic_zh}未知", en=f"{topic_en} is not known"), _SHOWN[name]
    )


_UNKNOWN = {
    "log_target": ("目标金额", "the target"),
    "target_at_cap": ("目标金额", "the target"),
    "target_over_estimate": ("医院费用预估", "the hospital's cost estimate"),
    "no_cost_estimate": ("医院费用预估", "the hospital's cost estimate"),
    "target_over_category": ("所患疾病类别", "the kind of illness"),
    "no_endorsements_first_day": ("首日证实人数", "the number of endorsements in the first 24 hours"),
    "log_endorsements": ("证实人数", "the number of endorsements"),
    "first_day_donation_share": ("首日捐款占比", "the share of donations in the first 24 hours"),
    "shares_per_donation": ("转发与捐款之比", "sharing relative to donations"),
    "account_age_days": ("发起人账户注册时间", "the age of the initiator's account"),
    "prior_rejections": ("此前未通过审核的申请数", "the number of earlier rejected applications"),
    "prior_campaigns": ("此前发起的项目数", "the number of earlier campaigns"),
    "disclosure_unanswered": ("未公示事项数", "the number of unanswered disclosure items"),
    "other_platform_campaigns": ("其他平台的项目", "campaigns on other platforms"),
    "other_platforms_undisclosed": ("其他平台筹款的公示", "the disclosure of other platforms"),
    "fast_payout": ("提现时间", "the time of the payout request"),
    "lump_sum_payout": ("提现金额占比", "the share of the money withdrawn"),
    "payout_to_other": ("收款人", "the payee"),
    "complaints": ("举报次数", "the number of complaints"),
    "document_reuse": ("医疗材料是否与其他项目相同", "whether the medical documents appear on other campaigns"),
    "promoter_hospital_campaigns": ("同一推广人与医院的项目数", "campaigns from the same promoter and hospital"),
    "missing_medical_proof": ("是否提交医疗证明", "whether medical proof was submitted"),
    "document_edit_traces": ("材料是否有修改痕迹", "whether the documents show signs of editing"),
}


FEATURES: tuple[Feature, ...] = (
    _f(
        "log_target",
        "A very large target invites exaggeration (苏州 2016: ¥300,000 asked, ~¥30,000 self-paid).",
        "目标金额较高（{value} 元）",
        "a high target (¥{value})",
    ),
    _f(
        "target_at_cap",
        "Targets at the ¥500,000 cap (吴鹤臣 asked the platform maximum).",
        "目标金额达到单次求助上限",
        "the target is at the ¥500,000 cap",
    ),
    _f(
        "target_over_estimate",
        "Target far above the hospital's own estimate (log₂ ratio).",
        "目标金额为医院费用预估的 {value} 倍",
        "the target is {value}× the hospital's cost estimate",
    ),
    _f(
        "no_cost_estimate",
        "No itemised estimate behind the target (成都 2023: ¥2M agreed without one).",
        "没有医院出具的费用预估",
        "no itemised cost estimate from the hospital",
    ),
    _f(
        "target_over_category",
        "Target far above what campaigns for the same kind of illness usually ask (log₂; 0 at or below the usual: "
        "asking less is not reassurance, as 水滴筹 checks targets against a disease catalogue, 2022).",
        "目标金额为同类疾病常见目标的 {value} 倍",
        "the target is {value}× the usual target for this kind of illness",
    ),
    _f(
        "no_endorsements_first_day",
        "Nobody who knows the patient vouched at launch (罗定 2020: zero 证明人).",
        "上线后24小时内无人证实",
        "no endorsements (证实) in the first 24 hours",
    ),
    _f(
        "log_endorsements", "Few acquaintances vouch overall.", "证实人数少（{value} 人）", "few endorsements ({value})"
    ),
    _f(
        "first_day_donation_share",
        "Donations concentrated in the first day: bought or staged momentum.",
        "首日捐款占比 {value}",
        "{value} of donations came in the first 24 hours",
    ),
    _f(
        "shares_per_donation",
        "Sharing out of proportion to giving: paid promotion (菏泽 2022; log1p of the ratio, read as 1 when lower: "
        "little sharing, as with click-farmed donations, is not reassurance).",
        "转发量相对捐款异常（每笔捐款约 {value} 次转发）",
        "unusual sharing (about {value} shares per donation)",
    ),
    _f(
        "account_age_days",
        "An account opened just before launching (log days).",
        "发起人账户注册 {value} 天",
        "the initiator's account is {value} days old",
    ),
    _f(
        "prior_rejections",
        "Earlier applications rejected by review (水滴筹 2022: repeat applications).",
        "此前有 {value} 次申请未通过审核",
        "{value} earlier application(s) were rejected",
    ),
    _f(
        "prior_campaigns",
        "Many earlier campaigns by the same initiator (serial fundraising: 寿宁 2019).",
        "此前发起过 {value} 个项目",
        "{value} earlier campaign(s) by this initiator",
    ),
    _f(
        "disclosure_unanswered",
        "Unanswered disclosure items (insurance, 低保, house, car, other aid).",
        "{value} 项信息未公示",
        "{value} disclosure item(s) unanswered",
    ),
    _f(
        "other_platform_campaigns",
        "The same patient fundraising on other platforms (寿宁 2019; 2.0: 重复筹款).",
        "在其他平台另有 {value} 个项目",
        "{value} campaign(s) for this patient on other platforms",
    ),
    _f(
        "other_platforms_undisclosed",
        "Other-platform campaigns found while the disclosure says none (concealment).",
        "在其他平台另有筹款，但公示为“否”",
        "campaigns on other platforms, though the disclosure says none",
    ),
    _f(
        "fast_payout",
        "A withdrawal requested within 48 hours of launch (莫某 2018: all of it within two days). 0 while no "
        "payout is requested: nothing was withdrawn, which is known, not unknown.",
        "上线后48小时内即申请提现",
        "a payout requested within 48 hours of launch",
    ),
    _f(
        "lump_sum_payout",
        "Almost everything withdrawn at once (莫某 2018).",
        "一次性提取几乎全部筹款",
        "almost all the money withdrawn in one payout",
    ),
    _f(
        "payout_to_other",
        "A payee who is not the patient, a close relative or the hospital.",
        "收款人不是患者、近亲属或医院",
        "the payee is not the patient, a close relative or the hospital",
    ),
    _f(
        "complaints",
        "Reports from the public or the family (莫某 2018: the spouse reported).",
        "收到 {value} 次举报",
        "{value} complaint(s) received",
    ),
    _f(
        "document_reuse",
        "The same medical document on other campaigns (寿宁 2019: another patient's record).",
        "医疗材料与另外 {value} 个项目相同",
        "the medical documents also appear on {value} other campaign(s)",
    ),
    _f(
        "promoter_hospital_campaigns",
        "Many campaigns from one hospital through one promoter (菏泽 2022 ring).",
        "同一推广人在同一医院已有 {value} 个项目",
        "{value} other campaign(s) from this hospital through the same promoter",
    ),
    _f("missing_medical_proof", "No medical proof submitted.", "未提交医疗证明", "no medical proof submitted"),
    _f(
        "document_edit_traces",
        "The platform's document check found signs of editing, e.g. PS traces (孝昌 2024; 水滴筹 2019-12-10).",
        "材料审核发现修改痕迹（如PS痕迹）",
        "the document check found signs of editing (e.g. image-editing traces)",
    ),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_REVISION = 2
"""Raised whenever a feature's computation changes, not only its name, so that a model fitted on features
computed the old way is refused at load instead of scored on inputs it never saw. 2: ``target_over_category``
and ``shares_per_donation`` became one-sided (asking less, sharing less, is not reassurance)."""


@dataclass(frozen=True)
class History:
    """What other campaigns a platform holds, for the features that compare across campaigns.

    ``documents``: how many campaigns carry each medical-document hash; ``pairs``: how many campaigns
    came from each (promoter, hospital) pair; ``campaigns``: the ids counted (so a campaign is never
    compared with itself). Build it from a platform's export with :meth:`from_frame`.
    """

    documents: Mapping[str, int] = field(default_factory=dict)
    pairs: Mapping[str, int] = field(default_factory=dict)
    campaigns: frozenset[str] = frozenset()

    @classmethod
    def from_frame(cls, frame: Any) -> History:
        documents: dict[str, int] = {}
        for hashes in frame.get("medical.document_hashes", []):
            for digest in set(hashes or ()):
                documents[digest] = documents.get(digest, 0) + 1
        pairs: dict[str, int] = {}
        if "promoter_id" in frame and "medical.hospital_id" in frame:
            for promoter, hospital in zip(frame["promoter_id"], frame["medical.hospital_id"], strict=True):
                if isinstance(promoter, str) and isinstance(hospital, str):
                    key = f"{promoter}\x1f{hospital}"
                    pairs[key] = pairs.get(key, 0) + 1
        return cls(documents, pairs, frozenset(str(c) for c in frame.get("campaign_id", [])))

    def merged(self, other: History) -> History:
        documents = dict(self.documents)
        for digest, count in other.documents.items():
            documents[digest] = documents.get(digest, 0) + count
        pairs = dict(self.pairs)
        for key, count in other.pairs.items():
            pairs[key] = pairs.get(key, 0) + count
        return History(documents, pairs, self.campaigns | other.campaigns)

    def reuse(self, campaign_id: Any, hashes: Iterable[str] | None) -> float:
        """Most other campaigns sharing any one of these document hashes; NaN when there are none."""
        hashes = tuple(hashes or ())
        if not hashes:
            return NAN
        own = 1 if str(campaign_id) in self.campaigns else 0
        return float(max(max(self.documents.get(h, 0) for h in hashes) - own, 0)) if self.documents else NAN

    def pair_count(self, campaign_id: Any, promoter: Any, hospital: Any) -> float:
        """Other campaigns from the same promoter at the same hospital; 0 with no promoter; NaN when unknown
        (no hospital, or no history to compare with)."""
        if not isinstance(promoter, str):
            return 0.0
        if not isinstance(hospital, str) or not self.pairs:
            return NAN
        own = 1 if str(campaign_id) in self.campaigns else 0
        return float(max(self.pairs.get(f"{promoter}\x1f{hospital}", 0) - own, 0))


@dataclass(frozen=True)
class Reference:
    """What the features compare a campaign with: usual targets by illness, and other campaigns."""

    typical_target: Mapping[str, float] = field(default_factory=dict)
    history: History = field(default_factory=History)

    @classmethod
    def from_frame(cls, frame: Any) -> Reference:
        import pandas as pd

        targets = pd.to_numeric(frame["target_amount"], errors="coerce")
        typical = targets.groupby(frame["medical.diagnosis_category"]).median().dropna()
        return cls({str(k): float(v) for k, v in typical.items()}, History.from_frame(frame))


# -- the features, written once ---------------------------------------------------------------------


class _Scalar:
    """The operations :func:`_compute` needs, on plain floats (NaN = unknown)."""

    nan = NAN

    @staticmethod
    def log1p(x: float) -> float:
        return math.log1p(x) if x == x else NAN

    @staticmethod
    def log2(x: float) -> float:
        return math.log2(x) if x == x and x > 0 else NAN

    @staticmethod
    def where(condition: float, yes: float, no: float) -> float:
        if condition != condition:
            return NAN
        return yes if condition else no

    @staticmethod
    def clip(x: float, low: float, high: float) -> float:
        return x if x != x else min(max(x, low), high)

    @staticmethod
    def divide(a: float, b: float) -> float:
        return a / b if b == b and a == a and b > 0 else NAN

    @staticmethod
    def ge(a: float, b: float) -> float:
        return NAN if a != a else float(a >= b)

    @staticmethod
    def gt(a: float, b: float) -> float:
        return NAN if a != a else float(a > b)

    @staticmethod
    def both(a: float, b: float) -> float:
        return NAN if a != a or b != b else float(bool(a) and bool(b))

    @staticmethod
    def missing(x: float) -> float:
        return 1.0 if x != x else 0.0


class _Vector:
    """The same operations on numpy columns."""

    nan = np.nan

    @staticmethod
    def log1p(x: Any) -> Any:
        return np.log1p(x)

    @staticmethod
    def log2(x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, np.log2(np.where(x > 0, x, 1.0)), np.nan)

    @staticmethod
    def where(condition: Any, yes: Any, no: Any) -> Any:
        return np.where(np.isnan(condition), np.nan, np.where(condition != 0, yes, no))

    @staticmethod
    def clip(x: Any, low: float, high: float) -> Any:
        return np.clip(x, low, high)

    @staticmethod
    def divide(a: Any, b: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)

    @staticmethod
    def ge(a: Any, b: float) -> Any:
        return np.where(np.isnan(a), np.nan, (a >= b).astype(float))

    @staticmethod
    def gt(a: Any, b: float) -> Any:
        return np.where(np.isnan(a), np.nan, (a > b).astype(float))

    @staticmethod
    def both(a: Any, b: Any) -> Any:
        return np.where(np.isnan(a) | np.isnan(b), np.nan, ((a != 0) & (b != 0)).astype(float))

    @staticmethod
    def missing(x: Any) -> Any:
        return np.isnan(x).astype(float)


def _compute(c: Mapping[str, Any], xp: Any) -> list[Any]:
    """Every feature, in FEATURES order, from the input values ``c`` (see :data:`INPUTS`)."""
    target, estimate, raised = c["target"], c["estimate"], c["raised"]
    donations, first_day = c["donations"], c["donations_first_24h"]
    hours_to_payout = (c["payout_at"] - c["created_at"]) / 3600.0
    return [
        xp.log1p(target),
        xp.ge(target, CAP),
        xp.clip(xp.log2(xp.divide(target, estimate)), -3.0, 6.0),
        xp.missing(estimate),
        xp.clip(xp.log2(xp.divide(target, c["typical_target"])), 0.0, 6.0),
        xp.where(c["endorsements_first_24h"], 0.0, 1.0),
        xp.log1p(c["endorsements"]),
        xp.divide(first_day, donations),
        xp.log1p(xp.clip(xp.divide(c["shares"], donations), 1.0, 1e6)),
        xp.log1p(xp.clip((c["created_at"] - c["account_at"]) / 86400.0, 0.0, 1e5)),
        xp.log1p(c["prior_rejections"]),
        xp.log1p(c["prior_campaigns"]),
        c["unanswered"],
        xp.log1p(c["other_platform_ids"]),
        xp.both(xp.gt(c["other_platform_ids"], 0.0), c["declared_no_other_platforms"]),
        # without a payout request nothing was withdrawn: the payout signals are 0 (known), never unknown
        xp.where(c["has_payout"], xp.ge(-hours_to_payout, -48.0), 0.0),
        xp.where(c["has_payout"], xp.ge(xp.divide(c["payout_amount"], raised), 0.95), 0.0),
        xp.where(c["has_payout"], c["payee_other"], 0.0),
        xp.log1p(c["complaints"]),
        xp.log1p(c["document_reuse"]),
        xp.log1p(c["pair_campaigns"]),
        c["no_medical_proof"],
        c["edit_traces"],
    ]


# -- inputs: from one campaign, or from a table --------------------------------------------------------


def _num(value: Any) -> float:
    if value is None:
        return NAN
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (bool, int, float, Decimal)):
        return float(value)
    return NAN


def campaign_inputs(campaign: Campaign, reference: Reference) -> dict[str, float]:
    """The inputs of :func:`_compute` for one campaign, as plain floats."""
    d, payout, activity, medical = campaign.disclosure, campaign.payout, campaign.activity, campaign.medical
    declared = d.other_platform_fundraising
    category = medical.diagnosis_category
    history = reference.history
    return {
        "target": float(campaign.target_amount),
        "raised": float(campaign.raised_amount),
        "estimate": _num(medical.estimated_cost),
        "typical_target": reference.typical_target.get(category, NAN) if category else NAN,
        "donations": _num(activity.donation_count),
        "donations_first_24h": _num(activity.donations_first_24h),
        "endorsements": _num(activity.endorsement_count),
        "endorsements_first_24h": _num(activity.endorsements_first_24h),
        "shares": _num(activity.share_count),
        "complaints": _num(activity.complaint_count),
        "created_at": campaign.created_at.timestamp(),
        "account_at": _num(campaign.initiator.account_created_at),
        "prior_rejections": _num(campaign.initiator.prior_rejection_count),
        "prior_campaigns": _num(campaign.initiator.prior_campaign_count),
        "unanswered": float(sum(1 for item in DISCLOSURE_ITEMS if getattr(d, item) is None)),
        "other_platform_ids": float(len(campaign.other_platform_campaign_ids)),
        "declared_no_other_platforms": NAN if declared is None else float(declared is False),
        "has_payout": float(payout is not None),
        "payout_at": NAN if payout is None else payout.requested_at.timestamp(),
        "payout_amount": NAN if payout is None else float(payout.amount),
        "payee_other": NAN if payout is None else float(payout.payee == "other"),
        "document_reuse": history.reuse(campaign.campaign_id, medical.document_hashes),
        "pair_campaigns": history.pair_count(campaign.campaign_id, campaign.promoter_id, medical.hospital_id),
        "no_medical_proof": _num(
            None if campaign.documents.medical_proof is None else not campaign.documents.medical_proof
        ),
        "edit_traces": _num(campaign.documents.edit_traces_detected),
    }


def frame_inputs(frame: Any, reference: Reference, *, compare_rows: bool = True) -> dict[str, np.ndarray]:
    """The inputs of :func:`_compute` for a table of flat campaign rows, as float columns (NaN unknown).

    ``compare_rows``: whether rows are also compared with each other (document reuse, promoter/hospital
    counts); without it each row is compared with the reference's history only, exactly as one campaign is.
    """
    import pandas as pd

    n = len(frame)

    def num(column: str) -> np.ndarray:
        if column not in frame:
            return np.full(n, np.nan)
        series = frame[column]
        if column in _DATETIME_COLUMNS or pd.api.types.is_datetime64_any_dtype(series.dtype):
            return _epoch_seconds(series)
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            series = series.map(_BOOLEAN_TEXT.get, na_action="ignore").where(series.isin(_BOOLEAN_TEXT), series)
        return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy(na_value=np.nan)

    def lengths(column: str) -> np.ndarray:
        if column not in frame:
            return np.zeros(n)
        values = frame[column].to_numpy(object)
        return np.fromiter((len(v) if isinstance(v, (tuple, list)) else 0 for v in values), float, n)

    disclosure = np.column_stack(
        [
            pd.isna(frame[f"disclosure.{i}"]) if f"disclosure.{i}" in frame else np.ones(n, bool)
            for i in DISCLOSURE_ITEMS
        ]
    )
    declared = num("disclosure.other_platform_fundraising")
    payee = frame["payout.payee"] if "payout.payee" in frame else pd.Series([None] * n)
    has_payout = payee.notna().to_numpy()
    proof = num("documents.medical_proof")
    edits = num("documents.edit_traces_detected")
    if compare_rows:
        reuse, pair_campaigns = _cross_campaign_counts(frame, reference.history)
    else:
        reuse, pair_campaigns = history_counts(frame, reference.history)
    categories = frame["medical.diagnosis_category"] if "medical.diagnosis_category" in frame else pd.Series([None] * n)
    return {
        "target": num("target_amount"),
        "raised": num("raised_amount"),
        "estimate": num("medical.estimated_cost"),
        "typical_target": categories.map(dict(reference.typical_target)).astype("float64").to_numpy(na_value=np.nan),
        "donations": num("activity.donation_count"),
        "donations_first_24h": num("activity.donations_first_24h"),
        "endorsements": num("activity.endorsement_count"),
        "endorsements_first_24h": num("activity.endorsements_first_24h"),
        "shares": num("activity.share_count"),
        "complaints": num("activity.complaint_count"),
        "created_at": num("created_at"),
        "account_at": num("initiator.account_created_at"),
        "prior_rejections": num("initiator.prior_rejection_count"),
        "prior_campaigns": num("initiator.prior_campaign_count"),
        "unanswered": disclosure.sum(axis=1).astype(float),
        "other_platform_ids": lengths("other_platform_campaign_ids"),
        "declared_no_other_platforms": np.where(np.isnan(declared), np.nan, (declared == 0).astype(float)),
        "has_payout": has_payout.astype(float),
        "payout_at": num("payout.requested_at"),
        "payout_amount": num("payout.amount"),
        "payee_other": np.where(has_payout, (payee == "other").to_numpy(dtype=float), np.nan),
        "document_reuse": reuse,
        "pair_campaigns": pair_campaigns,
        "no_medical_proof": np.where(np.isnan(proof), np.nan, (proof == 0).astype(float)),
        "edit_traces": np.where(np.isnan(edits), np.nan, (edits != 0).astype(float)),
    }


_DATETIME_COLUMNS = frozenset({"created_at", "initiator.account_created_at", "payout.requested_at"})
_BOOLEAN_TEXT = {"true": 1.0, "false": 0.0, "True": 1.0, "False": 0.0, "TRUE": 1.0, "FALSE": 0.0}


def _epoch_seconds(series: Any) -> np.ndarray:
    """Seconds since the epoch; a time without a zone is Asia/Shanghai, as for a single campaign."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = series if getattr(series.dt, "tz", None) is not None else series.dt.tz_localize("Asia/Shanghai")
    else:  # text: times with an offset are read as given, times without one as Asia/Shanghai (like one campaign)
        text = series.astype("string")
        aware = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True, na=False).to_numpy(bool)
        values = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns, UTC]")
        if aware.any():
            values[aware] = pd.to_datetime(text[aware], errors="coerce", format="mixed", utc=True)
        if (~aware).any():
            local = pd.to_datetime(text[~aware], errors="coerce", format="mixed")
            values[~aware] = local.dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
    epoch = pd.Timestamp(0, tz="UTC")
    return ((values.dt.tz_convert("UTC") - epoch) / np.timedelta64(1, "s")).to_numpy(dtype=float, na_value=np.nan)


def _cross_campaign_counts(frame: Any, history: History) -> tuple[np.ndarray, np.ndarray]:
    """Document reuse and promoter/hospital counts for every row, vectorised. Each row is compared with
    the other rows and with ``history``; a campaign is never counted against itself, nor twice when it is
    both in the table and in the history. Strings are factorised once; all counting is on integer codes."""
    import itertools

    import pandas as pd

    n = len(frame)
    ids = frame["campaign_id"].astype(str) if "campaign_id" in frame else pd.Series(np.arange(n).astype(str))
    known = ids.isin(history.campaigns).to_numpy() if history.campaigns else np.zeros(n, bool)

    reuse = np.full(n, np.nan)
    if "medical.document_hashes" in frame:
        lists = frame["medical.document_hashes"].to_numpy(object)
        sizes = np.fromiter((len(v) if isinstance(v, (tuple, list)) else 0 for v in lists), np.int64, n)
        values = list(itertools.chain.from_iterable(v for v in lists if isinstance(v, (tuple, list))))
        if values:
            codes, uniques = pd.factorize(np.asarray(values, dtype=object))
            rows = np.repeat(np.arange(n), sizes)
            keep = np.unique(rows * len(uniques) + codes, return_index=True)[1]  # each hash once per row
            rows, codes = rows[keep], codes[keep]
            in_table = np.bincount(codes, minlength=len(uniques))[codes]
            in_both = np.bincount(codes[known[rows]], minlength=len(uniques))[codes]
            stored = (
                pd.Series(uniques).map(history.documents).fillna(0).to_numpy(float)[codes] if history.documents else 0.0
            )
            # at least 0, as History.reuse: a row known to the history under other documents is not counted twice
            others = np.maximum(in_table + stored - in_both - 1.0, 0.0)
            best = np.full(n, -np.inf)
            np.maximum.at(best, rows, others)
            reuse = np.where(sizes > 0, best, np.nan)

    pair_count = np.zeros(n)
    if "promoter_id" in frame and "medical.hospital_id" in frame:
        promoter, promoters = pd.factorize(frame["promoter_id"].to_numpy(object))
        hospital, hospitals = pd.factorize(frame["medical.hospital_id"].to_numpy(object))
        has_promoter, has_hospital = promoter >= 0, hospital >= 0
        both = has_promoter & has_hospital
        key = np.where(both, promoter.astype(np.int64) * max(len(hospitals), 1) + hospital, -1)
        codes, inverse = np.unique(key, return_inverse=True)
        in_table = np.bincount(inverse[both], minlength=len(codes))[inverse]
        in_both = np.bincount(inverse[both & known], minlength=len(codes))[inverse]
        stored = 0.0
        if history.pairs and both.any():  # no row with both a promoter and a hospital has a pair to look up
            labels = (
                pd.Series(promoters).astype(str).to_numpy(object)[np.maximum(promoter, 0)]
                + "\x1f"
                + pd.Series(hospitals).astype(str).to_numpy(object)[np.maximum(hospital, 0)]
            )
            stored = pd.Series(labels).map(history.pairs).fillna(0).to_numpy(float)
        pair_count = np.where(both, np.maximum(in_table + stored - in_both - 1.0, 0.0), 0.0)
        pair_count[has_promoter & ~has_hospital] = np.nan
    return reuse, pair_count


def history_counts(frame: Any, history: History) -> tuple[np.ndarray, np.ndarray]:
    """Document reuse and promoter/hospital counts against ``history`` only: :meth:`History.reuse` and
    :meth:`History.pair_count` for every row (each row scored as if it were alone)."""
    n = len(frame)
    ids = frame["campaign_id"].astype(str).to_numpy(object) if "campaign_id" in frame else np.full(n, "", object)
    lists = frame["medical.document_hashes"].to_numpy(object) if "medical.document_hashes" in frame else [()] * n
    promoters = frame["promoter_id"].to_numpy(object) if "promoter_id" in frame else [None] * n
    hospitals = frame["medical.hospital_id"].to_numpy(object) if "medical.hospital_id" in frame else [None] * n
    if not history.documents and not history.pairs:  # nothing to compare with: the same answers, vectorised
        has_promoter = np.fromiter(map(str.__instancecheck__, promoters), bool, n)
        return np.full(n, np.nan), np.where(has_promoter, np.nan, 0.0)
    reuse = np.fromiter(
        (history.reuse(i, h if isinstance(h, (tuple, list)) else None) for i, h in zip(ids, lists, strict=True)),
        float,
        n,
    )
    pairs = np.fromiter(
        (history.pair_count(i, p, h) for i, p, h in zip(ids, promoters, hospitals, strict=True)), float, n
    )
    return reuse, pairs


def campaign_features(campaign: Campaign, reference: Reference) -> list[float]:
    """The feature vector of one campaign, in FEATURES order, as plain floats (NaN unknown)."""
    return _compute(campaign_inputs(campaign, reference), _Scalar)


def frame_features(frame: Any, reference: Reference, *, compare_rows: bool = True) -> np.ndarray:
    """The feature matrix of a table of flat campaign rows, shape (rows, features), NaN unknown."""
    return np.column_stack(_compute(frame_inputs(frame, reference, compare_rows=compare_rows), _Vector)).astype(float)


def features(data: Any, reference: Reference | None = None) -> Any:
    """Risk features of campaigns: a DataFrame of flat campaign rows gives a DataFrame (same index), a
    :class:`~compliance.Campaign` (or a dict or JSON text of one) gives a dict of floats.

    ``reference`` holds usual targets by illness and the platform's other campaigns; without it, the
    features that need it are unknown (NaN). Within a table, its rows are also compared with each other.
    """
    reference = reference or Reference()
    if hasattr(data, "columns"):
        import pandas as pd

        return pd.DataFrame(frame_features(data, reference), index=data.index, columns=list(FEATURE_NAMES))
    return dict(zip(FEATURE_NAMES, campaign_features(Campaign.parse(data), reference), strict=True))
