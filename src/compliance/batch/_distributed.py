"""``evaluate_spark()`` and ``evaluate_dask()``: :func:`evaluate_frame` on every chunk of a distributed table.

A campaign's decision depends on its own row alone, so evaluating a table chunk by chunk gives the
decisions evaluating it whole would: these adapters only move rows to :func:`evaluate_frame` and back.

What crosses to the workers is a small, picklable :class:`_Plan`, never the live objects (a
:class:`~compliance.rules.Ruleset` holds compiled closures, a :class:`~compliance.Blacklist` an HMAC
state): the stage, the ruleset as an id or a description of its catalog, the blacklist's keyed hashes
(the key stays with the caller: tables carry only keyed hashes, so hashes are all a batch compares), and
the risk model as ``"default"`` or pickled. Each worker process rebuilds them once per plan and caches
them (:func:`_built`).

pyspark and dask are optional: they are imported only when an adapter is called.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import pickle
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from compliance._vocabulary import Stage, check_stage
from compliance.batch._frame import OUTPUT_COLUMNS, evaluate_frame
from compliance.batch._table import COLUMN_KINDS, check_columns, text_dtype
from compliance.blacklist import Blacklist
from compliance.errors import RulesetNotFound
from compliance.rules._catalog import Catalog
from compliance.rules._ruleset import Ruleset

__all__ = ["evaluate_dask", "evaluate_spark"]

_TUPLE_COLUMNS = frozenset(path for path, (kind, _allowed) in COLUMN_KINDS.items() if kind == "tuple")


def evaluate_spark(
    sdf: Any,
    *,
    stage: Stage,
    ruleset: Ruleset | Catalog | str | None = None,
    blacklist: Blacklist | None = None,
    model: Any = "default",
    keep: Sequence[str] = ("campaign_id",),
    label: str = "campaign_id",
    unknown_columns: str = "error",
) -> Any:
    """The decisions of :func:`evaluate_frame` for every row of a Spark DataFrame, as a Spark DataFrame.

    ``sdf`` has flat campaign columns (``disclosure.house``, ``payout.amount``, …); the result has the
    ``keep`` columns (as they were) followed by the columns of :data:`OUTPUT_COLUMNS`, one row per input
    row. Nothing runs until the result is used (it is lazy, like any Spark DataFrame). Spark rows have
    no index, so the ``label`` column names a row in ``error`` texts (as the index does for
    :func:`evaluate_frame`). Timestamps are handed to the workers as instants, whatever the session
    time zone; nullable booleans keep their nulls (not answered), arrays become tuples.

    >>> decisions = evaluate_spark(spark.read.parquet("campaigns/"), stage="payout")  # doctest: +SKIP
    >>> decisions.write.parquet("decisions/")  # doctest: +SKIP
    """
    _require("pyspark", "evaluate_spark", "pip install 'pyspark>=3.5' (Spark also needs Java 17)")
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    names = [str(c) for c in sdf.columns]
    evaluated, kept = _columns(names, keep, unknown_columns)
    if label not in names:
        raise ValueError(f"label names a column the table does not have: {label!r}")
    plan = _plan(stage, ruleset, blacklist, model)
    fields = {field.name: field for field in sdf.schema.fields}
    selected, restore = [], {}
    for position, name in enumerate(evaluated):
        column, kind = F.col(_quoted(name)), fields[name].dataType
        if isinstance(kind, T.TimestampType):  # an instant: as µs since the epoch, free of the session zone
            column, restore[name] = F.unix_micros(column), "micros"
        elif isinstance(kind, T.BooleanType):
            restore[name] = "boolean"
        elif isinstance(kind, T.ArrayType):
            restore[name] = "tuple"
        selected.append(column.alias(f"e{position}"))
    selected += [F.col(_quoted(name)).alias(f"k{position}") for position, name in enumerate(kept)]
    selected.append(F.col(_quoted(label)).alias("label"))
    spark_types = {"string": T.StringType(), "float64": T.DoubleType()}
    schema = T.StructType(
        [fields[name] for name in kept]
        + [T.StructField(name, spark_types[dtype], nullable=True) for name, dtype in OUTPUT_COLUMNS.items()]
    )
    chunks = functools.partial(_spark_chunks, plan=plan, evaluated=tuple(evaluated), kept=tuple(kept), restore=restore)
    # mapInPandas cannot reference dotted column names itself, so the columns travel under plain ones.
    return sdf.select(*selected).mapInPandas(chunks, schema=schema)


def evaluate_dask(
    ddf: Any,
    *,
    stage: Stage,
    ruleset: Ruleset | Catalog | str | None = None,
    blacklist: Blacklist | None = None,
    model: Any = "default",
    keep: Sequence[str] = ("campaign_id",),
    unknown_columns: str = "error",
) -> Any:
    """The decisions of :func:`evaluate_frame` for every partition of a Dask DataFrame, as a Dask DataFrame.

    The result has the partitions, index and divisions of ``ddf``, the ``keep`` columns and then the
    columns of :data:`OUTPUT_COLUMNS`; nothing runs until it is computed.

    >>> decisions = evaluate_dask(dd.read_parquet("campaigns/"), stage="payout")  # doctest: +SKIP
    >>> decisions.to_parquet("decisions/")  # doctest: +SKIP
    """
    _require("dask.dataframe", "evaluate_dask", "pip install 'dask[dataframe]>=2024.8'")
    names = [str(c) for c in ddf.columns]
    evaluated, kept = _columns(names, keep, unknown_columns)
    empty = ddf._meta
    texts = [c for c in evaluated if c in _TUPLE_COLUMNS and text_dtype(empty[c].dtype)]
    if texts:
        raise ValueError(
            f"columns {texts} hold tuples of text, but this Dask DataFrame stores them as strings (Dask's "
            "'dataframe.convert-string' turns object columns into text, so a tuple becomes its repr); build "
            "it under dask.config.set({'dataframe.convert-string': False})"
        )
    plan = _plan(stage, ruleset, blacklist, model)
    meta = pd.concat([empty[list(kept)], _empty_output(empty.index)], axis=1)
    partition = functools.partial(_dask_partition, plan=plan, evaluated=tuple(evaluated), kept=tuple(kept))
    return ddf.map_partitions(partition, meta=meta)


# -- on the driver: what to evaluate and what to ship --------------------------------------------------


def _require(module: str, caller: str, how: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as missing:
        raise ImportError(f"{caller} needs {module}, which is not installed: {how}") from missing


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _columns(names: list[str], keep: Sequence[str], unknown_columns: str) -> tuple[list[str], list[str]]:
    """(the schema columns to evaluate, the columns to carry through); misspelt columns are errors now,
    before any worker starts. ``keep`` columns outside the schema are carried, not evaluated."""
    if isinstance(keep, str):
        raise TypeError(f"keep must be a sequence of column names, not the string {keep!r}")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"duplicate columns: {duplicated}")
    missing = [c for c in keep if c not in names]
    if missing:
        raise ValueError(f"keep names columns the table does not have: {missing}")
    clash = [c for c in keep if c in OUTPUT_COLUMNS]
    if clash:
        raise ValueError(f"keep names columns that the output has already: {clash}")
    evaluated = check_columns([n for n in names if n in COLUMN_KINDS or n not in keep], unknown_columns)
    return evaluated, list(dict.fromkeys(keep))


@dataclass(frozen=True)
class _Plan:
    """Everything a worker needs, in a picklable form; ``token`` digests the rest (the worker cache key)."""

    stage: Stage
    ruleset: tuple[Any, ...]
    blacklist: tuple[str, ...] | None
    model: str | bytes | None
    token: str

    def __dask_tokenize__(self) -> str:
        return self.token


def _plan(stage: Stage, ruleset: Ruleset | Catalog | str | None, blacklist: Blacklist | None, model: Any) -> _Plan:
    check_stage(stage)
    rules = _ruleset_recipe(ruleset)
    hashes = None if blacklist is None else tuple(sorted(blacklist.hashes))
    scorer = _model_recipe(model)
    token = hashlib.sha256(pickle.dumps((stage, rules, hashes, scorer), protocol=5)).hexdigest()
    return _Plan(stage, rules, hashes, scorer, token)


def _ruleset_recipe(ruleset: Ruleset | Catalog | str | None) -> tuple[Any, ...]:
    """How a worker rebuilds the ruleset: the default catalog, a shipped ruleset's id, the default catalog
    with parameters, or (for a catalog with its own rule or clause files) the catalog's sources."""
    if ruleset is None:
        return ("default",)
    default = Catalog.default()
    if isinstance(ruleset, str):
        default.get(ruleset)  # an unknown id fails here, not on every worker
        return ("id", ruleset)
    if isinstance(ruleset, Ruleset):
        try:
            shipped = default.get(ruleset.id) is ruleset
        except RulesetNotFound:
            shipped = False
        if not shipped:
            raise TypeError(
                f"ruleset {ruleset.id!r} is not one of the shipped rulesets and a Ruleset cannot be sent to "
                "workers; pass the Catalog it belongs to (it is rebuilt on each worker)"
            )
        return ("id", ruleset.id)
    if not isinstance(ruleset, Catalog):
        raise TypeError(f"ruleset must be None, a ruleset id, a Ruleset or a Catalog, not {type(ruleset).__name__}")
    if ruleset.corpus is default.corpus and ruleset._sources == default._sources:
        return ("default",) if not ruleset.overrides else ("parameters", tuple(sorted(ruleset.overrides.items())))
    return ("catalog", pickle.dumps((ruleset._sources, ruleset.corpus, dict(ruleset.overrides)), protocol=5))


def _model_recipe(model: Any) -> str | bytes | None:
    if model is None or isinstance(model, str):
        if model not in (None, "default"):
            raise ValueError(f"model must be 'default', a RiskModel or None, not {model!r}")
        return model
    if not hasattr(model, "score_table"):
        raise TypeError(f"model must be 'default', a RiskModel or None, not {type(model).__name__}")
    return pickle.dumps(model, protocol=5)


# -- on the workers -------------------------------------------------------------------------------------

_BUILT: OrderedDict[str, tuple[Any, Blacklist | None, Any]] = OrderedDict()
_BUILDING = threading.Lock()
_KEEP_BUILT = 4


def _built(plan: _Plan) -> tuple[Any, Blacklist | None, Any]:
    """The plan's ruleset, blacklist and model, built once per worker process (threads share them)."""
    with _BUILDING:
        built = _BUILT.get(plan.token)
        if built is None:
            built = _BUILT[plan.token] = (_ruleset(plan.ruleset), _blacklist(plan.blacklist), _model(plan.model))
            while len(_BUILT) > _KEEP_BUILT:
                _BUILT.popitem(last=False)
        return built


def _ruleset(recipe: tuple[Any, ...]) -> Catalog | str | None:
    kind = recipe[0]
    if kind == "default":
        return None
    if kind == "id":
        return str(recipe[1])
    if kind == "parameters":
        return Catalog.default().with_parameters(dict(recipe[1]))
    # bytes this job's own driver pickled a moment ago (_ruleset_recipe), never data from outside it
    sources, corpus, overrides = pickle.loads(recipe[1])
    return Catalog(sources, corpus, overrides)


def _blacklist(hashes: tuple[str, ...] | None) -> Blacklist | None:
    # A key is needed only to hash raw identity numbers, which tables never hold: a throwaway key
    # keeps the platform's own key off the workers.
    return None if hashes is None else Blacklist(hashes, key=secrets.token_hex(32))


def _model(recipe: str | bytes | None) -> Any:
    # bytes this job's own driver pickled from the RiskModel it was given (_model_recipe), never from outside
    return pickle.loads(recipe) if isinstance(recipe, bytes) else recipe


def _evaluate(frame: pd.DataFrame, plan: _Plan) -> pd.DataFrame:
    ruleset, blacklist, model = _built(plan)
    return evaluate_frame(frame, stage=plan.stage, ruleset=ruleset, blacklist=blacklist, model=model)


def _empty_output(index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype, index=index[:0]) for name, dtype in OUTPUT_COLUMNS.items()})


def _dask_partition(
    partition: pd.DataFrame, *, plan: _Plan, evaluated: tuple[str, ...], kept: tuple[str, ...]
) -> pd.DataFrame:
    return pd.concat([partition[list(kept)], _evaluate(partition[list(evaluated)], plan)], axis=1)


def _spark_chunks(
    chunks: Iterable[pd.DataFrame],
    *,
    plan: _Plan,
    evaluated: tuple[str, ...],
    kept: tuple[str, ...],
    restore: dict[str, str],
) -> Iterator[pd.DataFrame]:
    for chunk in chunks:
        frame = pd.DataFrame({name: _restored(chunk[f"e{i}"], restore.get(name)) for i, name in enumerate(evaluated)})
        result = _evaluate(frame.set_axis(pd.Index(chunk["label"]), axis=0), plan).set_axis(chunk.index, axis=0)
        carried = chunk[[f"k{i}" for i in range(len(kept))]].set_axis(list(kept), axis=1)
        yield pd.concat([carried, result], axis=1)


def _restored(column: pd.Series, how: str | None) -> pd.Series:
    """A column as pandas holds it, from the form Spark hands it over in."""
    if how == "micros":  # µs since the epoch (nullable integers) → UTC timestamps, nulls as NaT
        micros = column.astype("Int64")
        stamps = pd.Series(micros.to_numpy("int64", na_value=0).astype("datetime64[us]"), index=column.index)
        return stamps.dt.tz_localize("UTC").where(micros.notna().to_numpy(bool))
    if how == "boolean":  # Spark gives nullable booleans as objects (True, False, None)
        return column.astype("boolean")
    if how == "tuple":  # arrays arrive as numpy arrays
        values = [tuple(v) if isinstance(v, (list, tuple, np.ndarray)) else None for v in column]
        return pd.Series(values, index=column.index, dtype=object)
    return column
