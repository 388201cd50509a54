"""Risk features: one definition, computed over a table of campaigns or for a single campaign.

Each feature is one :class:`Feature` record in :data:`FEATURES` (its name, why it signals risk, how a reason
based on it reads, and the inputs it reads: ``_inputs.INPUTS`` says how each is read from a campaign's fields)
and one line of :func:`_compute`, written once over a small array namespace: for a table the inputs are
numpy columns and the namespace is numpy; for one campaign they are plain floats and the namespace is
:mod:`math`, so a single decision pays no DataFrame or numpy overhead. Unknown inputs are NaN and stay NaN
through the arithmetic: a missing signal is *unknown*, never zero.

No feature uses sex, age, ethnicity, region or any other protected attribute, although published fraud
profiles mention some of them (水滴筹 2019: 75 % male, aged 28–36): the schema does not carry them, and a
model must not learn them (see ``docs/model-card.md``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compliance.campaign import Campaign
from compliance.decision import Text
from compliance.risk._inputs import INPUTS, FrameColumns, campaign_inputs, column_inputs

NAN = float("nan")


@functools.cache
def request_cap() -> float:
    """The conventions' ¥500,000 cap per request, as the shipped rulesets state it (``max_target_amount``
    of the newest that has one): a target at the cap is a documented pattern (吴鹤臣)."""
    from compliance.rules import Catalog

    stating = [r for r in Catalog.default().rulesets.values() if "max_target_amount" in r.parameters]
    newest = max(stating, key=lambda ruleset: ruleset.effective_from)
    return float(newest.parameters["max_target_amount"].value)


@dataclass(frozen=True, slots=True)
class Feature:
    """A model input: its name, why it signals risk, how a reason based on it reads, and what it is computed from."""

    name: str
    why: str
    reason: Text
    """Sentence templates; ``{value}`` is the feature's value as shown to a reviewer."""
    unknown: Text
    """The sentence when the campaign's value is not known (the reason is then that it is missing)."""
    shown: str
    """How the value reads: ``flag`` (no value), ``number``, ``log_count`` (counts and amounts stored as
    log1p), ``log2_ratio`` (times as much), ``share`` (a fraction, shown as a percentage)."""
    inputs: tuple[str, ...] = ()
    """The keys of the inputs its formula in :func:`_compute` reads (``compliance.risk._inputs.INPUTS``)."""
    since: int = 1
    """The feature revision in which its formula took its present form (see :data:`FEATURE_REVISION`)."""

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


def _f(
    name: str,
    shown: str,
    topic: tuple[str, str],
    inputs: tuple[str, ...],
    why: str,
    zh: str,
    en: str,
    *,
    since: int = 1,
) -> Feature:
    """A feature; ``topic`` (zh, en) names what is missing when its value is unknown."""
    unknown = Text(zh=f"{topic[0]}未知", en=f"{topic[1]} is not known")
    return Feature(name, why, Text(zh=zh, en=en), unknown, shown, inputs, since)


FEATURES: tuple[Feature, ...] = (
    _f(
        "log_target",
        "log_count",
        ("目标金额", "the target"),
        ("target",),
        "A very large target invites exaggeration (苏州 2016: ¥300,000 asked, ~¥30,000 self-paid).",
        "目标金额较高（{value} 元）",
        "a high target (¥{value})",
    ),
    _f(
        "target_at_cap",
        "flag",
        ("目标金额", "the target"),
        ("target",),
        "Targets at the ¥500,000 cap (吴鹤臣 asked the platform maximum).",
        "目标金额达到单次求助上限",
        "the target is at the ¥500,000 cap",
    ),
    _f(
        "target_over_estimate",
        "log2_ratio",
        ("医院费用预估", "the hospital's cost estimate"),
        ("target", "estimate"),
        "Target far above the hospital's own estimate (log₂ ratio).",
        "目标金额为医院费用预估的 {value} 倍",
        "the target is {value}× the hospital's cost estimate",
    ),
    _f(
        "no_cost_estimate",
        "flag",
        ("医院费用预估", "the hospital's cost estimate"),
        ("estimate",),
        "No itemised estimate behind the target (成都 2023: ¥2M agreed without one).",
        "没有医院出具的费用预估",
        "no itemised cost estimate from the hospital",
    ),
    _f(
        "target_over_category",
        "log2_ratio",
        ("所患疾病类别", "the kind of illness"),
        ("target", "typical_target"),
        "Target far above what campaigns for the same kind of illness usually ask (log₂; 0 at or below the usual: "
        "asking less is not reassurance, as 水滴筹 checks targets against a disease catalogue, 2022).",
        "目标金额为同类疾病常见目标的 {value} 倍",
        "the target is {value}× the usual target for this kind of illness",
        since=2,  # one-sided since revision 2
    ),
    _f(
        "no_endorsements_first_day",
        "flag",
        ("首日证实人数", "the number of endorsements in the first 24 hours"),
        ("endorsements_first_24h",),
        "Nobody who knows the patient vouched at launch (罗定 2020: zero 证明人).",
        "上线后24小时内无人证实",
        "no endorsements (证实) in the first 24 hours",
    ),
    _f(
        "log_endorsements",
        "log_count",
        ("证实人数", "the number of endorsements"),
        ("endorsements",),
        "Few acquaintances vouch overall.",
        "证实人数少（{value} 人）",
        "few endorsements ({value})",
    ),
    _f(
        "first_day_donation_share",
        "share",
        ("首日捐款占比", "the share of donations in the first 24 hours"),
        ("donations_first_24h", "donations"),
        "Donations concentrated in the first day: bought or staged momentum.",
        "首日捐款占比 {value}",
        "{value} of donations came in the first 24 hours",
    ),
    _f(
        "shares_per_donation",
        "log_count",
        ("转发与捐款之比", "sharing relative to donations"),
        ("shares", "donations"),
        "Sharing out of proportion to giving: paid promotion (菏泽 2022; log1p of the ratio, read as 1 when lower: "
        "little sharing, as with click-farmed donations, is not reassurance).",
        "转发量相对捐款异常（每笔捐款约 {value} 次转发）",
        "unusual sharing (about {value} shares per donation)",
        since=2,  # one-sided since revision 2
    ),
    _f(
        "account_age_days",
        "log_count",
        ("发起人账户注册时间", "the age of the initiator's account"),
        ("account_at", "created_at"),
        "An account opened just before launching (log days).",
        "发起人账户注册 {value} 天",
        "the initiator's account is {value} days old",
    ),
    _f(
        "prior_rejections",
        "log_count",
        ("此前未通过审核的申请数", "the number of earlier rejected applications"),
        ("prior_rejections",),
        "Earlier applications rejected by review (水滴筹 2022: repeat applications).",
        "此前有 {value} 次申请未通过审核",
        "{value} earlier application(s) were rejected",
    ),
    _f(
        "prior_campaigns",
        "log_count",
        ("此前发起的项目数", "the number of earlier campaigns"),
        ("prior_campaigns",),
        "Many earlier campaigns by the same initiator (serial fundraising: 寿宁 2019).",
        "此前发起过 {value} 个项目",
        "{value} earlier campaign(s) by this initiator",
    ),
    _f(
        "disclosure_unanswered",
        "number",
        ("未公示事项数", "the number of unanswered disclosure items"),
        ("unanswered",),
        "Unanswered disclosure items (insurance, 低保, house, car, other aid).",
        "{value} 项信息未公示",
        "{value} disclosure item(s) unanswered",
    ),
    _f(
        "other_platform_campaigns",
        "log_count",
        ("其他平台的项目", "campaigns on other platforms"),
        ("other_platform_ids",),
        "The same patient fundraising on other platforms (寿宁 2019; 2.0: 重复筹款).",
        "在其他平台另有 {value} 个项目",
        "{value} campaign(s) for this patient on other platforms",
    ),
    _f(
        "other_platforms_undisclosed",
        "flag",
        ("其他平台筹款的公示", "the disclosure of other platforms"),
        ("other_platform_ids", "declared_no_other_platforms"),
        "Other-platform campaigns found while the disclosure says none (concealment).",
        "在其他平台另有筹款，但公示为“否”",
        "campaigns on other platforms, though the disclosure says none",
    ),
    _f(
        "fast_payout",
        "flag",
        ("提现时间", "the time of the payout request"),
        ("payout_at", "created_at", "has_payout"),
        "A withdrawal requested within 48 hours of launch (莫某 2018: all of it within two days). 0 while no "
        "payout is requested: nothing was withdrawn, which is known, not unknown.",
        "上线后48小时内即申请提现",
        "a payout requested within 48 hours of launch",
    ),
    _f(
        "lump_sum_payout",
        "flag",
        ("提现金额占比", "the share of the money withdrawn"),
        ("payout_amount", "raised", "has_payout"),
        "Almost everything withdrawn at once (莫某 2018).",
        "一次性提取几乎全部筹款",
        "almost all the money withdrawn in one payout",
    ),
    _f(
        "payout_to_other",
        "flag",
        ("收款人", "the payee"),
        ("payee_other", "has_payout"),
        "A payee who is not the patient, a close relative or the hospital.",
        "收款人不是患者、近亲属或医院",
        "the payee is not the patient, a close relative or the hospital",
    ),
    _f(
        "complaints",
        "log_count",
        ("举报次数", "the number of complaints"),
        ("complaints",),
        "Reports from the public or the family (莫某 2018: the spouse reported).",
        "收到 {value} 次举报",
        "{value} complaint(s) received",
    ),
    _f(
        "document_reuse",
        "log_count",
        ("医疗材料是否与其他项目相同", "whether the medical documents appear on other campaigns"),
        ("document_reuse",),
        "The same medical document on other campaigns (寿宁 2019: another patient's record).",
        "医疗材料与另外 {value} 个项目相同",
        "the medical documents also appear on {value} other campaign(s)",
    ),
    _f(
        "promoter_hospital_campaigns",
        "log_count",
        ("同一推广人与医院的项目数", "campaigns from the same promoter and hospital"),
        ("pair_campaigns",),
        "Many campaigns from one hospital through one promoter (菏泽 2022 ring).",
        "同一推广人在同一医院已有 {value} 个项目",
        "{value} other campaign(s) from this hospital through the same promoter",
    ),
    _f(
        "missing_medical_proof",
        "flag",
        ("是否提交医疗证明", "whether medical proof was submitted"),
        ("no_medical_proof",),
        "No medical proof submitted.",
        "未提交医疗证明",
        "no medical proof submitted",
    ),
    _f(
        "document_edit_traces",
        "flag",
        ("材料是否有修改痕迹", "whether the documents show signs of editing"),
        ("edit_traces",),
        "The platform's document check found signs of editing, e.g. PS traces (孝昌 2024; 水滴筹 2019-12-10).",
        "材料审核发现修改痕迹（如PS痕迹）",
        "the document check found signs of editing (e.g. image-editing traces)",
    ),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)

_FIELDS = {spec.key: spec.fields for spec in INPUTS}
FEATURE_INPUTS: dict[str, tuple[str, ...]] = {
    f.name: tuple(dict.fromkeys(path for key in f.inputs for path in _FIELDS[key])) for f in FEATURES
}
"""The campaign fields each feature is computed from, from its inputs' records: a scenario reports a feature
when it reports all of them (``tests/test_risk_evaluation.py`` checks this covers every feature)."""

FEATURE_REVISION = max([f.since for f in FEATURES] + [i.since for i in INPUTS])
"""The highest ``since`` of any feature or input record, so it rises whenever a feature's computation changes,
not only its name, and a model fitted on features computed the old way is refused at load instead of
scored on inputs it never saw. 2: ``target_over_category`` and ``shares_per_donation`` became one-sided
(asking less, sharing less, is not reassurance)."""


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


# -- the array namespaces the formulas run on ------------------------------------------------------------


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
    """Every feature, in FEATURES order, from the input values ``c`` (see ``_inputs.INPUTS``): one line per
    feature, reading only the inputs its record names (``tests/test_risk_inputs.py`` checks this). One
    function, not a formula per record: a call per feature cost a single campaign about 2 µs more."""
    target, estimate, raised = c["target"], c["estimate"], c["raised"]
    donations, first_day = c["donations"], c["donations_first_24h"]
    hours_to_payout = (c["payout_at"] - c["created_at"]) / 3600.0
    return [
        xp.log1p(target),
        xp.ge(target, request_cap()),
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


def campaign_features(campaign: Campaign, reference: Reference) -> list[float]:
    """The feature vector of one campaign, in FEATURES order, as plain floats (NaN unknown)."""
    return _compute(campaign_inputs(campaign, reference), _Scalar)


def frame_features(frame: Any, reference: Reference, *, compare_rows: bool = True) -> np.ndarray:
    """The feature matrix of a table of flat campaign rows, shape (rows, features), NaN unknown."""
    inputs = column_inputs(FrameColumns(frame), reference, compare_rows=compare_rows)
    return np.column_stack(_compute(inputs, _Vector)).astype(float)


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
