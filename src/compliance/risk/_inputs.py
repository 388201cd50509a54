"""The risk model's inputs: one specification, read from a single campaign or from columns.

Each input the features are computed from is one :class:`Input` record in :data:`INPUTS`: its key, the
campaign fields it reads and how it reads them (:data:`READS`). Two adapters read the records, and
nothing else knows how an input is read:

- :func:`campaign_inputs`, over one :class:`~compliance.Campaign`: plain floats, no pandas or numpy,
  so a single decision stays fast;
- :func:`column_inputs`, over an :class:`InputColumns` getter: float columns. The batch path's validated
  table provides one (``compliance.batch._table.TableColumns``), and so does a DataFrame of flat
  campaign rows (:class:`FrameColumns`, for training and evaluation).

Unknown is NaN: a missing signal is *unknown*, never zero.

    >>> campaign_inputs(Campaign.parse(data), Reference())["target"]
    200000.0
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from compliance.campaign import DISCLOSURE_ITEMS, UTC_OFFSET, Campaign

if TYPE_CHECKING:
    from compliance.risk._features import History, Reference

__all__ = ["INPUTS", "READS", "FrameColumns", "Input", "InputColumns", "campaign_inputs", "column_inputs"]

NAN = float("nan")

READS: Mapping[str, str] = {
    "money": "an amount, in yuan",
    "count": "a count",
    "time": "a time, in seconds since the Unix epoch",
    "flag": "1 where the field is true, 0 where false",
    "not_flag": "1 where the field is false, 0 where true",
    "equals": "1 where the field holds the record's ``value``, 0 where it holds another",
    "usual_target": "the usual target of campaigns for the field's kind of illness (the reference's)",
    "length": "how many items the field's list holds (0 for none: never unknown)",
    "unanswered": "how many of the fields are not given (never unknown)",
    "payout": "1 where a payout is requested, 0 where not (reads no field's value: never unknown)",
    "reuse": "the most other campaigns in the history sharing one of the field's documents",
    "pairs": "the other campaigns in the history from the same promoter at the same hospital",
}
"""How an input reads its fields, by name; a field not given reads as NaN unless said otherwise."""


@dataclass(frozen=True, slots=True)
class Input:
    """One input of the features: its key, the campaign fields it reads, and how (:data:`READS`).

    ``since`` is the feature revision in which this input took its present reading: raise it (and so
    ``FEATURE_REVISION``) whenever the reading changes, so that a model fitted on the old one is refused.
    """

    key: str
    reads: str
    fields: tuple[str, ...]
    value: str | None = None
    """For ``equals``: the value that reads as 1."""
    since: int = 1

    def __post_init__(self) -> None:
        if self.reads not in READS:
            raise ValueError(f"input {self.key}: unknown reading {self.reads!r}; known: {list(READS)}")


_DISCLOSURE_FIELDS = tuple(f"disclosure.{item}" for item in DISCLOSURE_ITEMS)

INPUTS: tuple[Input, ...] = (
    Input("target", "money", ("target_amount",)),
    Input("raised", "money", ("raised_amount",)),
    Input("estimate", "money", ("medical.estimated_cost",)),
    Input("typical_target", "usual_target", ("medical.diagnosis_category",)),
    Input("donations", "count", ("activity.donation_count",)),
    Input("donations_first_24h", "count", ("activity.donations_first_24h",)),
    Input("endorsements", "count", ("activity.endorsement_count",)),
    Input("endorsements_first_24h", "count", ("activity.endorsements_first_24h",)),
    Input("shares", "count", ("activity.share_count",)),
    Input("complaints", "count", ("activity.complaint_count",)),
    Input("created_at", "time", ("created_at",)),
    Input("account_at", "time", ("initiator.account_created_at",)),
    Input("prior_rejections", "count", ("initiator.prior_rejection_count",)),
    Input("prior_campaigns", "count", ("initiator.prior_campaign_count",)),
    Input("unanswered", "unanswered", _DISCLOSURE_FIELDS),
    Input("other_platform_ids", "length", ("other_platform_campaign_ids",)),
    Input("declared_no_other_platforms", "not_flag", ("disclosure.other_platform_fundraising",)),
    Input("has_payout", "payout", ()),
    Input("payout_at", "time", ("payout.requested_at",)),
    Input("payout_amount", "money", ("payout.amount",)),
    Input("payee_other", "equals", ("payout.payee",), value="other"),
    Input("document_reuse", "reuse", ("medical.document_hashes",)),
    Input("pair_campaigns", "pairs", ("promoter_id", "medical.hospital_id")),
    Input("no_medical_proof", "not_flag", ("documents.medical_proof",)),
    Input("edit_traces", "flag", ("documents.edit_traces_detected",)),
)
"""Every input of the features, in the order :func:`campaign_inputs` and :func:`column_inputs` give them.
``reuse`` and ``pairs`` also read the campaign's id, so that a campaign is never compared with itself."""


# -- one campaign ------------------------------------------------------------------------------------------

_Reader = Callable[[Campaign, "Reference"], float]
_OPTIONAL = frozenset(name for name, f in Campaign.model_fields.items() if f.default is None)


def _getter(path: str) -> Callable[[Any], Any]:
    """The value at a flat path of a Campaign; ``None`` below an object that is not given (a payout)."""
    head, _, rest = path.partition(".")
    if head not in _OPTIONAL or not rest:
        return operator.attrgetter(path)
    inner = operator.attrgetter(rest)
    return lambda campaign: None if (parent := getattr(campaign, head)) is None else inner(parent)


def _campaign_reader(spec: Input) -> _Reader:
    reads = spec.reads
    if reads == "unanswered":
        answers = operator.attrgetter(*spec.fields)
        return lambda c, r: float(answers(c).count(None))
    if reads == "payout":
        return lambda c, r: float(c.payout is not None)
    get = _getter(spec.fields[0])
    if reads in ("money", "count"):
        return lambda c, r: NAN if (v := get(c)) is None else float(v)
    if reads == "time":
        return lambda c, r: NAN if (v := get(c)) is None else float(v.timestamp())
    if reads == "flag":
        return lambda c, r: NAN if (v := get(c)) is None else float(v)
    if reads == "not_flag":
        return lambda c, r: NAN if (v := get(c)) is None else float(not v)
    if reads == "equals":
        return lambda c, r: NAN if (v := get(c)) is None else float(v == spec.value)
    if reads == "usual_target":
        return lambda c, r: NAN if (v := get(c)) is None else float(r.typical_target.get(v, NAN))
    if reads == "length":
        return lambda c, r: float(len(get(c)))
    if reads == "reuse":
        return lambda c, r: r.history.reuse(c.campaign_id, get(c))
    hospital = _getter(spec.fields[1])  # pairs
    return lambda c, r: r.history.pair_count(c.campaign_id, get(c), hospital(c))


_CAMPAIGN_READERS: tuple[tuple[str, _Reader], ...] = tuple((spec.key, _campaign_reader(spec)) for spec in INPUTS)


def campaign_inputs(campaign: Campaign, reference: Reference) -> dict[str, float]:
    """The inputs of one campaign, by key (:data:`INPUTS`), as plain floats (NaN unknown)."""
    return {key: read(campaign, reference) for key, read in _CAMPAIGN_READERS}


# -- columns -------------------------------------------------------------------------------------------------


class InputColumns(Protocol):
    """Campaign fields as columns of one table, read the ways the risk model's inputs need (NaN: not given).

    The batch path's validated table and a DataFrame of flat campaign rows (:class:`FrameColumns`) provide
    it; :func:`column_inputs` reads the inputs through it, and :meth:`RiskModel.score_columns` scores them.
    """

    def __len__(self) -> int: ...

    def numbers(self, path: str) -> np.ndarray:
        """Amounts in yuan, counts, and booleans as 1/0, as floats."""
        ...

    def seconds(self, path: str) -> np.ndarray:
        """Times as seconds since the Unix epoch."""
        ...

    def given(self, path: str) -> np.ndarray:
        """Where the field is given (booleans)."""
        ...

    def lookup(self, path: str, mapping: Mapping[str, float], default: float) -> np.ndarray:
        """``mapping`` of each row's text, ``default`` for text it does not hold."""
        ...

    def lengths(self, path: str) -> np.ndarray:
        """How many items each row's list holds (0 where none), as floats."""
        ...

    def objects(self, path: str) -> np.ndarray | None:
        """The values as Python objects (None where not given); None when the table has no such column."""
        ...

    def payout_requested(self) -> np.ndarray:
        """Where a payout is requested (booleans)."""
        ...


def column_inputs(columns: InputColumns, reference: Reference, *, compare_rows: bool) -> dict[str, np.ndarray]:
    """The inputs of every row of a table, by key (:data:`INPUTS`), as float columns (NaN unknown).

    ``compare_rows``: whether rows are also compared with each other (document reuse, promoter/hospital
    counts); without it each row is compared with the reference's history only, exactly as one campaign is.
    """
    counted: dict[str, np.ndarray] = {}
    inputs: dict[str, np.ndarray] = {}
    for spec in INPUTS:
        if spec.reads in ("reuse", "pairs"):
            if not counted:
                count = _cross_campaign_counts if compare_rows else _history_counts
                counted["reuse"], counted["pairs"] = count(columns, reference.history)
            inputs[spec.key] = counted[spec.reads]
        else:
            inputs[spec.key] = _column(spec, columns, reference)
    return inputs


def _column(spec: Input, columns: InputColumns, reference: Reference) -> np.ndarray:
    reads = spec.reads
    if reads == "unanswered":
        unanswered = np.zeros(len(columns))
        for path in spec.fields:
            unanswered += ~columns.given(path)
        return unanswered
    if reads == "payout":
        return columns.payout_requested().astype(float)
    path = spec.fields[0]
    if reads == "time":
        return columns.seconds(path)
    if reads in ("flag", "not_flag"):
        values = columns.numbers(path)
        truth = values != 0 if reads == "flag" else values == 0
        return np.where(np.isnan(values), np.nan, truth.astype(float))
    if reads == "equals":
        assert spec.value is not None  # an equals input names its value
        return columns.lookup(path, {spec.value: 1.0}, 0.0)
    if reads == "usual_target":
        return columns.lookup(path, reference.typical_target, np.nan)
    if reads == "length":
        return columns.lengths(path)
    return columns.numbers(path)  # money, count


def _ids(columns: InputColumns, default: Callable[[int], np.ndarray]) -> Any:
    import pandas as pd

    ids = columns.objects("campaign_id")
    return pd.Series(default(len(columns)) if ids is None else ids, dtype=object).astype(str)


def _cross_campaign_counts(columns: InputColumns, history: History) -> tuple[np.ndarray, np.ndarray]:
    """Document reuse and promoter/hospital counts for every row, vectorised. Each row is compared with
    the other rows and with ``history``; a campaign is never counted against itself, nor twice when it is
    both in the table and in the history. Strings are factorised once; all counting is on integer codes."""
    import itertools

    import pandas as pd

    n = len(columns)
    ids = _ids(columns, lambda rows: np.arange(rows).astype(str))
    known = ids.isin(history.campaigns).to_numpy() if history.campaigns else np.zeros(n, bool)

    reuse = np.full(n, np.nan)
    lists = columns.objects("medical.document_hashes")
    if lists is not None:
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
    promoters, hospitals = columns.objects("promoter_id"), columns.objects("medical.hospital_id")
    if promoters is not None and hospitals is not None:
        promoter, promoter_names = pd.factorize(promoters)
        hospital, hospital_names = pd.factorize(hospitals)
        has_promoter, has_hospital = promoter >= 0, hospital >= 0
        both = has_promoter & has_hospital
        key = np.where(both, promoter.astype(np.int64) * max(len(hospital_names), 1) + hospital, -1)
        codes, inverse = np.unique(key, return_inverse=True)
        in_table = np.bincount(inverse[both], minlength=len(codes))[inverse]
        in_both = np.bincount(inverse[both & known], minlength=len(codes))[inverse]
        stored = 0.0
        if history.pairs and both.any():  # no row with both a promoter and a hospital has a pair to look up
            labels = (
                pd.Series(promoter_names).astype(str).to_numpy(object)[np.maximum(promoter, 0)]
                + "\x1f"
                + pd.Series(hospital_names).astype(str).to_numpy(object)[np.maximum(hospital, 0)]
            )
            stored = pd.Series(labels).map(history.pairs).fillna(0).to_numpy(float)
        pair_count = np.where(both, np.maximum(in_table + stored - in_both - 1.0, 0.0), 0.0)
        pair_count[has_promoter & ~has_hospital] = np.nan
    return reuse, pair_count


def _history_counts(columns: InputColumns, history: History) -> tuple[np.ndarray, np.ndarray]:
    """Document reuse and promoter/hospital counts against ``history`` only: :meth:`History.reuse` and
    :meth:`History.pair_count` for every row (each row scored as if it were alone)."""
    n = len(columns)
    if not history.documents and not history.pairs:  # nothing to compare with: the same answers, vectorised
        return np.full(n, np.nan), np.where(columns.given("promoter_id"), np.nan, 0.0)
    ids = _ids(columns, lambda rows: np.full(rows, "", object)).to_numpy(object)

    def values(path: str, empty: Any) -> Any:
        found = columns.objects(path)
        return [empty] * n if found is None else found

    lists = values("medical.document_hashes", ())
    promoters, hospitals = values("promoter_id", None), values("medical.hospital_id", None)
    reuse = np.fromiter(
        (history.reuse(i, h if isinstance(h, (tuple, list)) else None) for i, h in zip(ids, lists, strict=True)),
        float,
        n,
    )
    pairs = np.fromiter(
        (history.pair_count(i, p, h) for i, p, h in zip(ids, promoters, hospitals, strict=True)), float, n
    )
    return reuse, pairs


# -- a DataFrame of flat campaign rows ------------------------------------------------------------------------


class FrameColumns:
    """A DataFrame of flat campaign rows as :class:`InputColumns`; a column it lacks is not given.

    Its cells are taken as they come (numbers, booleans or ``"true"``/``"false"`` text, typed or text
    times, tuples or lists), not validated: training and evaluation frames are read this way.
    """

    def __init__(self, frame: Any) -> None:
        self.frame = frame

    def __len__(self) -> int:
        return len(self.frame)

    def numbers(self, path: str) -> np.ndarray:
        import pandas as pd

        if path not in self.frame:
            return np.full(len(self), np.nan)
        series = self.frame[path]
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return _epoch_seconds(series)
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            series = series.map(_BOOLEAN_TEXT.get, na_action="ignore").where(series.isin(_BOOLEAN_TEXT), series)
        numbers: np.ndarray = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy(na_value=np.nan)
        return numbers

    def seconds(self, path: str) -> np.ndarray:
        if path not in self.frame:
            return np.full(len(self), np.nan)
        return _epoch_seconds(self.frame[path])

    def given(self, path: str) -> np.ndarray:
        if path not in self.frame:
            return np.zeros(len(self), bool)
        given: np.ndarray = self.frame[path].notna().to_numpy(bool)
        return given

    def lookup(self, path: str, mapping: Mapping[str, float], default: float) -> np.ndarray:
        if path not in self.frame:
            return np.full(len(self), np.nan)
        series = self.frame[path]
        found = series.map(dict(mapping)).astype("float64").to_numpy(na_value=np.nan)
        values: np.ndarray = np.where(series.notna().to_numpy(bool), np.where(np.isnan(found), default, found), np.nan)
        return values

    def lengths(self, path: str) -> np.ndarray:
        values = self.objects(path)
        if values is None:
            return np.zeros(len(self))
        return np.fromiter((len(v) if isinstance(v, (tuple, list)) else 0 for v in values), float, len(self))

    def objects(self, path: str) -> np.ndarray | None:
        if path not in self.frame:
            return None
        values: np.ndarray = self.frame[path].to_numpy(object)
        return values

    def payout_requested(self) -> np.ndarray:
        return self.given("payout.payee")  # a payout request always names its payee


_BOOLEAN_TEXT = {"true": 1.0, "false": 0.0, "True": 1.0, "False": 0.0, "TRUE": 1.0, "FALSE": 0.0}


def _epoch_seconds(series: Any) -> np.ndarray:
    """Seconds since the epoch; a time without a zone is Asia/Shanghai, as for a single campaign."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = series if getattr(series.dt, "tz", None) is not None else series.dt.tz_localize("Asia/Shanghai")
    else:  # text: times with an offset are read as given, times without one as Asia/Shanghai (like one campaign)
        text = series.astype("string")
        aware = text.str.contains(f"{UTC_OFFSET}$", regex=True, na=False).to_numpy(bool)
        values = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns, UTC]")
        if aware.any():
            values[aware] = pd.to_datetime(text[aware], errors="coerce", format="mixed", utc=True)
        if (~aware).any():
            local = pd.to_datetime(text[~aware], errors="coerce", format="mixed")
            values[~aware] = local.dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
    epoch = pd.Timestamp(0, tz="UTC")
    seconds: np.ndarray = ((values.dt.tz_convert("UTC") - epoch) / np.timedelta64(1, "s")).to_numpy(
        dtype=float, na_value=np.nan
    )
    return seconds
