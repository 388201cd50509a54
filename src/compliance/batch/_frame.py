"""``evaluate_frame()``: the decisions of :func:`compliance.evaluate` for every row of a table, at once.

A table is validated column by column (``_table``), each rule is evaluated over whole columns
(``rules/_columns``), and the decisions are assembled once per distinct *pattern* of rule results: a
million campaigns typically show a few hundred patterns, so the outcome, the cited clauses and the
obligations are worked out a few hundred times, not a million. Every input row has an output row, in
the same order with the same index; a row that could not be read is ``review`` with its ``error``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from decimal import Decimal
from typing import Any, cast

import numpy as np
import pandas as pd

from compliance._evaluate import choose_ruleset, conclude, evaluate, risk_model
from compliance._flat import unflatten
from compliance._vocabulary import Stage, check_stage
from compliance.batch._rows import campaign_row, disclosure_answers
from compliance.batch._table import COLUMN_KINDS, Table, TableColumns, build_table, plain_value
from compliance.blacklist import Blacklist, Match
from compliance.campaign import Campaign
from compliance.decision import RISK_BANDS, Decision
from compliance.errors import RulesetNotFound
from compliance.rules._catalog import Catalog
from compliance.rules._columns import Columns, Vec
from compliance.rules._columns import status as column_status
from compliance.rules._rule import Rule
from compliance.rules._ruleset import Ruleset
from compliance.rules._schema import Facts, RiskView
from compliance.rules._semantics import STATUS_NAMES, Unsupported

__all__ = ["OUTPUT_COLUMNS", "decision_for", "evaluate_frame"]

OUTPUT_COLUMNS: Mapping[str, str] = {
    "outcome": "string",
    "ruleset": "string",
    "failed_rules": "string",
    "not_evaluable_rules": "string",
    "cited_clauses": "string",
    "obligations": "string",
    "risk_score": "float64",
    "risk_band": "string",
    "risk_reasons": "string",
    "error": "string",
}
"""The output columns of :func:`evaluate_frame` and their dtypes (lists are joined with ``;``)."""

SEPARATOR = ";"
_BANDS = np.asarray([*RISK_BANDS, None], dtype=object)  # indexed by a band's code; -1 (the last): none
_BAND_CODES = {band: code for code, band in enumerate(RISK_BANDS)}  # a band's code, as rules compare it
_RISK_BLOCK = 65_536
"""Rows scored together: each row's score is its own, so blocks only bound the memory of feature matrices."""
_OBJECTS = ("initiator", "patient", "disclosure", "documents", "medical", "activity", "blacklist")


def evaluate_frame(
    frame: pd.DataFrame,
    *,
    stage: Stage = "publish",
    ruleset: Ruleset | Catalog | str | None = None,
    blacklist: Blacklist | None = None,
    model: Any = "default",
    unknown_columns: str = "error",
    read_errors: Mapping[Any, str] | None = None,
) -> pd.DataFrame:
    """Check every campaign of a table at one stage: the decisions :func:`~compliance.evaluate` gives, as columns.

    ``frame`` holds one campaign per row in flat columns (``campaign_id``, ``disclosure.house``,
    ``payout.amount``, … see :data:`compliance.FLAT_COLUMNS`); columns it lacks are not given. Values may
    be numbers, text, booleans, timestamps or pandas' missing markers (NaN, ``pd.NA``, ``NaT``: not given).
    A column outside the schema is an error unless ``unknown_columns="ignore"``.

    Returns a DataFrame with the same index and the columns of :data:`OUTPUT_COLUMNS`: ``outcome``,
    the ``ruleset`` applied, ``failed_rules`` and ``not_evaluable_rules`` (rule ids), ``cited_clauses``,
    ``obligations`` (``code:item|item``), ``risk_score``, ``risk_band``, ``risk_reasons`` (feature
    names) and ``error``: why a row could not be read (it is then ``review``, never approved). Use
    :func:`decision_for` for the full explanation of any row. ``read_errors`` marks rows a reader could
    not read at all (they come out as ``review`` with that error).

    Risk is scored for each campaign on its own, as :func:`~compliance.evaluate` does: a decision never
    depends on which other campaigns share its table or chunk.
    """
    check_stage(stage)
    table = build_table(frame, unknown_columns=unknown_columns, read_errors=read_errors)
    error = table.error
    n = table.n
    rulesets, choice = _rulesets(table, stage, ruleset, error)
    ok = _unset(error)
    scored = _risk(table, model, ok)
    source = _RuleColumns(table, blacklist, scored, stage)
    union: list[Rule] = []
    under: list[np.ndarray] = []  # per rule of the union: the rows whose ruleset has it
    position: dict[int, int] = {}
    for index, chosen in enumerate(rulesets):
        rows = choice == index
        for rule in chosen.rules_for(stage):
            k = position.setdefault(id(rule), len(union))
            if k == len(union):
                union.append(rule)
                under.append(np.zeros(n, bool))
            under[k] |= rows
    statuses = np.zeros((n, len(union)), np.int8)
    for k, rule in enumerate(union):
        if under[k].any():
            statuses[:, k] = column_status(rule, source, stage, under[k])
    out = _assemble(statuses, choice, rulesets, union, position, stage, ok)
    out["risk_score"] = scored["risk_score"] if scored is not None else np.full(n, np.nan)
    out["risk_band"] = scored["risk_band"] if scored is not None else np.full(n, None, dtype=object)
    out["risk_reasons"] = scored["risk_reasons"] if scored is not None else np.full(n, "", dtype=object)
    out["error"] = error
    result = pd.DataFrame({name: out[name] for name in OUTPUT_COLUMNS}, index=frame.index)
    return result.astype(dict(OUTPUT_COLUMNS))


def decision_for(
    frame: pd.DataFrame,
    label: Hashable,
    *,
    stage: Stage = "publish",
    ruleset: Ruleset | Catalog | str | None = None,
    blacklist: Blacklist | None = None,
    model: Any = "default",
) -> Decision:
    """The full :class:`~compliance.Decision` for the row labelled ``label`` (as :func:`evaluate_frame`
    summarised it). Raises :class:`~compliance.CampaignError` for a row that could not be read."""
    row = frame.loc[label]  # type: ignore[call-overload]
    cells = ((str(c), plain_value(v)) for c, v in row.items() if str(c) in COLUMN_KINDS)
    values = {c: v for c, v in cells if v is not None}  # a missing cell is not given
    return evaluate(unflatten(values), stage=stage, ruleset=ruleset, blacklist=blacklist, model=model)


# -- choosing rulesets by date ----------------------------------------------------------------------


def _rulesets(
    table: Table, stage: str, ruleset: Ruleset | Catalog | str | None, error: np.ndarray
) -> tuple[list[Ruleset], np.ndarray]:
    """The rulesets in use and, per row, the index of its ruleset (-1 for rows not read)."""
    n = table.n
    choice = np.full(n, -1, np.int64)
    ok = _unset(error)
    if isinstance(ruleset, (Ruleset, str)):
        choice[ok] = 0
        return [choose_ruleset(ruleset, None)], choice
    catalog = Catalog.default() if ruleset is None else ruleset
    created, requested = table.columns["created_at"], table.columns["payout.requested_at"]
    event = np.where(table.payout, requested.values, created.values) if stage == "payout" else created.values
    days = pd.Series(pd.to_datetime(event[ok], unit="us", utc=True)).dt.tz_convert("Asia/Shanghai").dt.date
    codes, uniques = pd.factorize(days)
    found: list[Ruleset] = []
    index_of: dict[int, int] = {}
    day_choice = np.full(len(uniques), -1, np.int64)
    reasons: dict[int, str] = {}
    for u, day in enumerate(uniques):
        try:
            chosen = catalog.for_date(day)
        except RulesetNotFound as problem:
            reasons[u] = str(problem)
            continue
        day_choice[u] = index_of.setdefault(id(chosen), len(found))
        if day_choice[u] == len(found):
            found.append(chosen)
    rows = np.flatnonzero(ok)
    choice[rows] = day_choice[codes]
    for u, reason in reasons.items():
        for i in rows[codes == u]:
            error[i] = f"row {table.labels[i]}: {reason}"
    return found, choice


# -- risk -------------------------------------------------------------------------------------------


def _risk(table: Table, model: Any, ok: np.ndarray) -> dict[str, np.ndarray] | None:
    if model is None:
        return None
    scorer = risk_model(model)
    n = table.n
    scores = np.full(n, np.nan)
    band_codes = np.full(n, -1, np.int64)  # the band as an index into RISK_BANDS (-1: none), as rules read it
    reasons = np.full(n, "", dtype=object)
    readable = np.flatnonzero(ok)
    for start in range(0, len(readable), _RISK_BLOCK):  # in blocks: the feature matrices stay small
        rows = readable[start : start + _RISK_BLOCK]
        if not hasattr(scorer, "score_columns"):  # a model of another kind: one campaign at a time, as evaluate()
            for i in rows:
                risk = scorer.score_campaign(table.campaign(int(i)))
                scores[i], band_codes[i] = risk.score, _BAND_CODES[risk.band]
                reasons[i] = SEPARATOR.join(r.feature for r in risk.reasons)
            continue
        scored = scorer.score_columns(TableColumns(table, rows))
        scores[rows] = scored.scores
        band_codes[rows] = scored.bands
        reasons[rows] = _reason_texts(scored.reasons, scorer.feature_names_)
    return {
        "risk_score": scores,
        "risk_band": _BANDS[band_codes],
        "band_codes": band_codes,
        "risk_reasons": reasons,
        "scored": ok.copy(),
    }


def _unset(values: np.ndarray) -> np.ndarray:
    """Where an object array holds None (its other values are text)."""
    result: np.ndarray = pd.isna(values)
    return result


def _reason_texts(reasons: np.ndarray, names: list[str]) -> np.ndarray:
    """Each row's top reasons (feature indices, -1: none) as feature names joined with ``;``, worked out once
    per distinct combination: the combination is one integer, the positions in base ``len(names) + 1``."""
    key = np.zeros(len(reasons), np.int64)
    for k in range(reasons.shape[1]):
        key = key * (len(names) + 1) + reasons[:, k] + 1
    _distinct, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    labels = np.asarray([*names, ""], dtype=object)  # position -1: no reason
    tops = reasons[first]
    columns = [labels[tops[:, k]].tolist() for k in range(tops.shape[1])]
    texts = [SEPARATOR.join(filter(None, found)) for found in zip(*columns, strict=True)]
    return np.asarray(texts, dtype=object)[inverse]


# -- the values rules read ----------------------------------------------------------------------------


class _RuleColumns(Columns):
    """A validated table as the column rule evaluator reads it (``batch._table.TableColumns`` is the same table
    as the risk model's inputs read it), with the blacklist looked up and the risk scores beside it."""

    def __init__(self, table: Table, blacklist: Blacklist | None, risk: dict[str, np.ndarray] | None, stage: str):
        self.table = table
        self.n = table.n
        self.blacklist = blacklist
        self.risk = risk
        self.stage = stage
        self._cache: dict[str, Vec] = {}

    def get(self, path: str) -> Vec:
        cached = self._cache.get(path)
        if cached is None:
            cached = self._cache[path] = self._read(path)
        return cached

    def _read(self, path: str) -> Vec:
        n, table = self.n, self.table
        if path in _OBJECTS:
            return Vec("obj", None, np.zeros(n, bool), path=path)
        if path == "payout":
            return Vec("obj", None, ~table.payout, path=path)
        if path == "risk":
            scored = np.zeros(n, bool) if self.risk is None else self.risk["scored"]
            return Vec("obj", None, ~scored, path=path)
        if path.startswith("blacklist."):
            listed, unknown = self._listed(path.removeprefix("blacklist."))
            return Vec("bool", listed, unknown)
        if path == "risk.band":
            if self.risk is None:
                return Vec("str", np.full(n, None, dtype=object), np.ones(n, bool), codes=np.full(n, -1), spellings={})
            codes = self.risk["band_codes"]
            return Vec("str", self.risk["risk_band"], codes < 0, codes=codes, spellings=_BAND_CODES)
        if path == "risk.score":
            if self.risk is None:
                return Vec("num", np.zeros(n, np.int64), np.ones(n, bool), scale=6)
            scores = self.risk["risk_score"]
            micro = np.rint(np.nan_to_num(scores) * 1e6).astype(np.int64)
            return Vec("num", micro, np.isnan(scores), scale=6)
        column = table.columns.get(path)
        if column is None:
            raise Unsupported(f"no column {path}")
        kind = {"money": "num", "count": "num"}.get(column.kind, column.kind)
        if column.codes is not None:
            return Vec(kind, column.values, column.null, codes=column.codes, spellings=column.spellings)
        return Vec(kind, column.values, column.null, scale=2 if column.kind == "money" else 0)

    def _listed(self, role: str) -> tuple[np.ndarray, np.ndarray]:
        n, table = self.n, self.table
        column = {
            "initiator": "initiator.id_number_hash",
            "patient": "patient.id_number_hash",
            "payee": "payout.payee_id_number_hash",
        }[role]
        hashes = table.columns[column]
        if self.blacklist is None:
            return np.zeros(n, bool), np.ones(n, bool)
        unknown = hashes.null.copy()
        if role == "payee":
            unknown |= ~table.payout
        listed = hashes.isin(self.blacklist.hashes) & ~unknown
        return listed, unknown

    # -- row by row, for rules the vector compiler does not translate ----------------------------------

    def facts(self, i: int) -> Facts:
        """Row ``i``'s facts, read from the table's columns (``_rows``): the values ``table.campaign(i)`` holds."""
        row = campaign_row(self.table, i)
        roles = (self.get(f"blacklist.{role}") for role in ("initiator", "patient", "payee"))
        match = Match(*(None if listed.null[i] else bool(listed.values[i]) for listed in roles))
        risk = None
        if self.risk is not None and self.risk["scored"][i]:
            risk = RiskView(Decimal(repr(float(self.risk["risk_score"][i]))), str(self.risk["risk_band"][i]))
        # The row reads as a Campaign at every path a rule can read (tests/test_row_view.py).
        return Facts(cast("Campaign", row), self.stage, match, disclosure_answers(row), risk)


# -- decisions, once per pattern of results -----------------------------------------------------------


def _assemble(
    statuses: np.ndarray,
    choice: np.ndarray,
    rulesets: list[Ruleset],
    union: list[Rule],
    position: dict[int, int],
    stage: str,
    ok: np.ndarray,
) -> dict[str, Any]:
    n = len(choice)
    key = (choice + 1).astype(np.int64)  # 0: not read
    for start in range(0, statuses.shape[1], 16):  # 5**16 * rows stays within int64
        block = statuses[:, start : start + 16].astype(np.int64)
        code = np.zeros(n, np.int64)
        for k in range(block.shape[1]):
            code = code * 5 + block[:, k]
        key = pd.factorize(key * (5 ** block.shape[1]) + code)[0].astype(np.int64)
    codes = pd.factorize(key)[0]
    first = np.unique(codes, return_index=True)[1]
    columns: dict[str, list[Any]] = {
        name: []
        for name in ("outcome", "ruleset", "failed_rules", "not_evaluable_rules", "cited_clauses", "obligations")
    }
    for row in first:
        summary = _summarise(statuses[row], int(choice[row]), rulesets, position, stage) if ok[row] else _UNREAD
        for name, value in zip(columns, summary, strict=True):
            columns[name].append(value)
    return {name: np.asarray(values, dtype=object)[codes] for name, values in columns.items()}


_UNREAD = ("review", None, "", "", "", "")


def _summarise(
    row: np.ndarray, index: int, rulesets: list[Ruleset], position: dict[int, int], stage: str
) -> tuple[Any, ...]:
    chosen = rulesets[index]
    rules = chosen.rules_for(stage)
    outcome, obligations, flagged = conclude(rules, [STATUS_NAMES[row[position[id(rule)]]] for rule in rules])
    cited = dict.fromkeys(c.clause_id for rule, _status in flagged for c in rule.citations)
    return (
        outcome,
        chosen.id,
        SEPARATOR.join(rule.id for rule, status in flagged if status == "fail"),
        SEPARATOR.join(rule.id for rule, status in flagged if status == "not_evaluable"),
        SEPARATOR.join(cited),
        format_obligations(obligations),
    )


def format_obligations(obligations: Any) -> str:
    """Obligations as one text: ``code:item|item`` joined with ``;`` (as :func:`evaluate_frame` writes them)."""
    return SEPARATOR.join(f"{o.code}:{'|'.join(o.items)}" for o in obligations)
