"""On Spark and on Dask, every campaign gets exactly the decision ``evaluate_frame`` gives it on one machine.

The campaigns span every ruleset (and the weeks before the first one), are split over several
partitions and, on Spark, over several Arrow batches per partition, under a session time zone that is
neither UTC nor Shanghai, so a time-zone slip, a lost null or a row that depended on its neighbours
would show as a difference.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from compliance import Blacklist
from compliance.batch import OUTPUT_COLUMNS, evaluate_frame
from compliance.batch._distributed import _plan, _restored, evaluate_dask, evaluate_spark
from compliance.risk._persist import default_model
from compliance.risk.synthetic import LABEL_COLUMNS, generate
from compliance.rules import Catalog, load_ruleset

# pyspark 4.x warns on every conversion that it does not yet fully support pandas 3; these tests are
# what checks that the conversions it does for us are faithful.
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

KEY = "a platform key of 16+ chars"
PLATFORM_RULES = Path(__file__).parent.parent / "examples" / "platform-rules"
OUTPUTS = list(OUTPUT_COLUMNS)
STAGES = ("publish", "payout")


def _shanghai(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="Asia/Shanghai")


def _campaigns() -> tuple[pd.DataFrame, dict[tuple[str, int], str]]:
    """Synthetic campaigns, some moved to early-morning Shanghai times on the days rulesets take effect
    (still the day before in UTC and in Los Angeles): read in the wrong zone, they would get another
    ruleset, or none. Returns the frame and, for those rows, the ruleset each must get."""
    frame = generate(300, seed=7, start=date(2018, 9, 1)).drop(columns=list(LABEL_COLUMNS))
    paid = int(frame.index[frame["payout.amount"].notna()][0])
    frame.loc[0, "created_at"] = _shanghai("2020-08-18 02:00")
    frame.loc[1, "created_at"] = _shanghai("2018-10-19 00:30")
    frame.loc[paid, "created_at"] = _shanghai("2024-08-20 09:00")
    frame.loc[paid, "payout.requested_at"] = _shanghai("2024-09-05 01:30")
    on_the_day = {
        ("publish", 0): "convention-2.0",
        ("publish", 1): "convention-1.0",
        ("payout", paid): "convention-2.0+charity-law-2024",
    }
    return frame, on_the_day


FRAME, ON_THE_DAY = _campaigns()
# some of the campaigns' own initiators and patients, so that some rows really are listed
BLACKLIST = Blacklist(
    [*FRAME["initiator.id_number_hash"].dropna().iloc[::9], *FRAME["patient.id_number_hash"].dropna().iloc[::13]],
    key=KEY,
)
PLATFORM_CATALOG = Catalog.default().with_rules(
    PLATFORM_RULES / "example-platform.yaml", clauses=[PLATFORM_RULES / "example-platform-clauses.yaml"]
)


def _expected(frame: pd.DataFrame, stage: Any, blacklist: Blacklist | None, **options: Any) -> pd.DataFrame:
    return evaluate_frame(frame, stage=stage, blacklist=blacklist, **options)


def test_the_campaigns_exercise_what_a_conversion_could_lose() -> None:
    """Nullable booleans with nulls (unanswered disclosures), tuples, listed people, rows at day boundaries."""
    assert FRAME["disclosure.house"].dtype == "boolean" and FRAME["disclosure.house"].isna().any()
    assert FRAME["medical.document_hashes"].map(len).gt(0).any()
    results = {stage: _expected(FRAME, stage, BLACKLIST, model=None) for stage in STAGES}
    assert results["payout"]["failed_rules"].str.contains("blacklist").sum() >= 10
    for (stage, row), ruleset in ON_THE_DAY.items():
        assert results[stage].loc[row, "ruleset"] == ruleset
    assert results["publish"]["error"].notna().any()  # campaigns from before the first ruleset: review


# -- Spark ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        # a developer machine without Java may skip; CI must run the Spark tests, so there it is a failure
        reason = "Spark needs Java 17: put java on PATH or set JAVA_HOME"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI runs the Spark tests)")
        pytest.skip(reason)
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYSPARK_PYTHON", sys.executable)  # workers run this interpreter, with this compliance
        session = (
            SparkSession.builder.master("local[2]")
            .appName("compliance-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", "64")  # several chunks per partition
            .config("spark.sql.session.timeZone", "America/Los_Angeles")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        try:
            yield session
        finally:
            session.stop()


@pytest.fixture(scope="module")
def campaigns_in_spark(spark: Any) -> Any:
    sdf = spark.createDataFrame(FRAME)
    assert sdf.rdd.getNumPartitions() > 1
    return sdf


def _from_spark(result: Any) -> pd.DataFrame:
    """The rows as evaluate_frame returns them (its dtypes), indexed and sorted by campaign."""
    rows = pd.DataFrame([row.asDict() for row in result.collect()], columns=result.columns)
    return rows.set_index("campaign_id").sort_index().astype(dict(OUTPUT_COLUMNS))


@pytest.mark.parametrize("listed", [False, True], ids=["no blacklist", "blacklist"])
@pytest.mark.parametrize("stage", STAGES)
def test_spark_decisions_equal_evaluate_frame(campaigns_in_spark: Any, stage: str, listed: bool) -> None:
    blacklist = BLACKLIST if listed else None
    got = _from_spark(evaluate_spark(campaigns_in_spark, stage=stage, blacklist=blacklist))
    # Spark rows have no index: error texts name a row by its campaign_id
    expected = _expected(FRAME.set_index("campaign_id", drop=False), stage, blacklist).sort_index()
    pd.testing.assert_frame_equal(got[OUTPUTS], expected[OUTPUTS], check_exact=True)


def test_spark_ships_a_platform_catalog_and_a_risk_model(campaigns_in_spark: Any) -> None:
    """Neither a Catalog nor a Blacklist can be pickled as they are: the workers rebuild them."""
    from pyspark.sql import functions as F

    catalog = PLATFORM_CATALOG.with_parameters({"max_target_amount": 400_000})
    model = default_model()
    result = evaluate_spark(
        campaigns_in_spark,
        stage="payout",
        ruleset=catalog,
        blacklist=BLACKLIST,
        model=model,
        keep=("campaign_id", "payout.requested_at"),
    )
    got = _from_spark(result)
    expected = _expected(
        FRAME.set_index("campaign_id", drop=False), "payout", BLACKLIST, ruleset=catalog, model=model
    ).sort_index()
    pd.testing.assert_frame_equal(got[OUTPUTS], expected[OUTPUTS], check_exact=True)
    assert expected["ruleset"].str.contains("example-platform").any()
    # a kept column comes back as it went in: the same instants
    kept = result.select("campaign_id", F.unix_micros(F.col("`payout.requested_at`")).alias("micros")).collect()
    micros = pd.Series({row.campaign_id: row.micros for row in kept}, dtype="Int64").sort_index()
    original = FRAME.set_index("campaign_id")["payout.requested_at"].sort_index()
    assert micros.isna().tolist() == original.isna().tolist()
    assert micros.dropna().tolist() == original.dropna().astype("datetime64[us, UTC]").astype("int64").tolist()


# -- Dask -------------------------------------------------------------------------------------------------


def _in_dask(frame: pd.DataFrame, partitions: int) -> Any:
    import dask
    import dask.dataframe as dd

    with dask.config.set({"dataframe.convert-string": False}):  # keeps tuples as tuples (see evaluate_dask)
        return dd.from_pandas(frame, npartitions=partitions)


SCHEDULERS = [("synchronous", 3), ("threads", 7)]


@pytest.mark.parametrize("listed", [False, True], ids=["no blacklist", "blacklist"])
@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize(("scheduler", "partitions"), SCHEDULERS, ids=[s for s, _ in SCHEDULERS])
def test_dask_decisions_equal_evaluate_frame(scheduler: str, partitions: int, stage: str, listed: bool) -> None:
    blacklist = BLACKLIST if listed else None
    result = evaluate_dask(_in_dask(FRAME, partitions), stage=stage, blacklist=blacklist)
    got = result.compute(scheduler=scheduler)
    expected = pd.concat([FRAME[["campaign_id"]], _expected(FRAME, stage, blacklist)], axis=1)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    pd.testing.assert_series_equal(got.dtypes, result.dtypes)  # the declared meta is what partitions return


@pytest.mark.parametrize(
    ("ruleset", "model"),
    [
        ("convention-2.0", None),
        (Catalog.default().get("convention-1.0+charity-law-2024"), "default"),
        (Catalog.default().with_parameters({"max_target_amount": 300_000}), None),
        (PLATFORM_CATALOG, default_model()),
    ],
    ids=["ruleset id", "shipped Ruleset", "catalog with parameters", "platform catalog and RiskModel"],
)
def test_dask_rebuilds_rulesets_and_models_from_what_it_ships(ruleset: Any, model: Any) -> None:
    result = evaluate_dask(_in_dask(FRAME, 4), stage="payout", ruleset=ruleset, blacklist=BLACKLIST, model=model)
    expected = _expected(FRAME, "payout", BLACKLIST, ruleset=ruleset, model=model)
    pd.testing.assert_frame_equal(result.compute(scheduler="threads")[OUTPUTS], expected, check_exact=True)


def test_dask_refuses_tuples_it_turned_into_text() -> None:
    import dask
    import dask.dataframe as dd

    with dask.config.set({"dataframe.convert-string": True}):
        ddf = dd.from_pandas(FRAME, npartitions=2)
    with pytest.raises(ValueError, match="convert-string"):
        evaluate_dask(ddf, stage="publish")


# -- what crosses to the workers, and mistakes caught before any worker starts ------------------------------


def test_what_is_shipped_pickles_and_never_holds_the_blacklist_key() -> None:
    plan = _plan("payout", PLATFORM_CATALOG, BLACKLIST, default_model())
    shipped = pickle.dumps(plan)
    assert pickle.loads(shipped) == plan
    assert KEY.encode() not in shipped
    assert _plan("payout", None, BLACKLIST, "default").token == _plan("payout", None, BLACKLIST, "default").token
    assert _plan("payout", None, BLACKLIST, "default").token != _plan("publish", None, BLACKLIST, "default").token


def test_spark_values_are_restored_as_pandas_holds_them() -> None:
    """Spark hands timestamps over here as µs since the epoch, nullable booleans as objects, arrays as numpy."""
    micros = pd.Series([1_597_687_200_000_000, None], dtype="Int64")
    assert _restored(micros, "micros").tolist() == [pd.Timestamp("2020-08-18 02:00", tz="Asia/Shanghai"), pd.NaT]
    flags = _restored(pd.Series([True, None, False], dtype=object), "boolean")
    assert flags.dtype == "boolean" and flags.isna().tolist() == [False, True, False]
    arrays = _restored(pd.Series([np.array(["a", "b"], dtype=object), None], dtype=object), "tuple")
    assert arrays.tolist() == [("a", "b"), None]


LOOSE_RULESET = load_ruleset(
    PLATFORM_RULES / "example-platform.yaml", clauses=[PLATFORM_RULES / "example-platform-clauses.yaml"]
)


@pytest.mark.parametrize(
    ("added", "options", "problem"),
    [
        ({}, {"keep": ("campaign_id", "region")}, "does not have"),
        ({"outcome": "approve"}, {"keep": ("campaign_id", "outcome")}, "output has already"),
        ({"label.malicious": False}, {}, "not in the campaign schema"),
        ({}, {"ruleset": LOOSE_RULESET}, "pass the Catalog"),
        ({}, {"ruleset": "convention-9.0"}, "convention-9.0"),
        ({}, {"model": "best"}, "model must be"),
        ({}, {"stage": "launch"}, "stage must be"),
    ],
    ids=["keep unknown", "keep clashes", "unknown column", "loose Ruleset", "unknown ruleset id", "model", "stage"],
)
def test_mistakes_are_reported_before_anything_runs(
    added: dict[str, Any], options: dict[str, Any], problem: str
) -> None:
    ddf = _in_dask(FRAME.head(20).assign(**added), 2)
    with pytest.raises((ValueError, TypeError, LookupError), match=problem):
        evaluate_dask(ddf, **{"stage": "publish", **options})


def test_kept_columns_outside_the_schema_are_carried_not_evaluated() -> None:
    frame = FRAME.assign(region="华东")
    result = evaluate_dask(_in_dask(frame, 3), stage="publish", keep=("region", "campaign_id"), model=None)
    got = result.compute(scheduler="synchronous")
    assert list(got.columns[:2]) == ["region", "campaign_id"] and (got["region"] == "华东").all()
    pd.testing.assert_frame_equal(got[OUTPUTS], _expected(FRAME, "publish", None, model=None), check_exact=True)


@pytest.mark.parametrize(("adapter", "module"), [(evaluate_spark, "pyspark"), (evaluate_dask, "dask.dataframe")])
def test_a_missing_engine_says_what_to_install(monkeypatch: pytest.MonkeyPatch, adapter: Any, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install"):
        adapter(object(), stage="publish")
