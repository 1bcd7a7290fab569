"""The catalogue on Spark (pyspark, local mode) returns the same rows as on DuckDB.

Two lakes:

* the real AsyncTasQ 1.7.0 capture of ``tests/data/real``, imported as a user imports it;
* a simulated deployment (retries, failures, crashed and stopped workers, four hours), stored
  by two ingesters with duplicates, compacted twice (so the snapshot chain holds links), with a
  late file that arrived between the compactions (re-folded into the chain, reported by
  late_events) and one that arrived after the last (the chain falls back to the link before it).

Every view of the contract, at three instants of the simulated lake (before the first link,
inside the chain's history, after everything) and one of the capture; every helper view at one
instant; both table macros; the scalar functions. Rows are compared as multisets, timestamps as
microseconds (DuckDB's infinities and Spark's sentinels as one value), floats within 1e-9.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tasqlake import queries
from tasqlake.lake.compaction import compact
from tasqlake.lake.storage import Lake
from tasqlake.queries.spark_sql import spark_catalogue
from tasqlake.schemas.errors import QueryError
from tasqlake.simulator import SimulationSpec, simulate
from tasqlake.spark import SparkCatalogue, register
from tests.interop.live import run_cli
from tests.queries.helpers import write_events
from tests.queries.history import task_event

pyspark_sql = pytest.importorskip("pyspark.sql", reason="pyspark is a test dependency")

DATA = Path(__file__).resolve().parents[1] / "data" / "real"
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
#: unix_micros of Spark's sentinels for DuckDB's ±infinity (see queries/spark_sql.py INFINITE).
_SPARK_INFINITY_US = 253_402_300_799_999_999
_SPARK_MINUS_INFINITY_US = -62_135_596_800_000_000


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("tasqlake-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("OFF")
    # py4j logs "Closing down clientserver connection" from __del__ at interpreter exit, after
    # pytest closed the streams ("--- Logging error ---"): not worth a line
    logging.getLogger("py4j").setLevel(logging.WARNING)
    yield session
    session.stop()


def _payloads(spec: SimulationSpec) -> list[dict[str, Any]]:
    published, _truth = simulate(spec)
    return [msgspec.msgpack.decode(raw) for _, raw in published]


@pytest.fixture(scope="module")
def simulated_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("spark-simulated") / "lake").ensure()
    spec = SimulationSpec(seed=7, rate=1.2, duration=4 * 3600, start=START, heartbeat_freq=120)
    events = _payloads(spec)

    def in_hour(n: int) -> list[dict[str, Any]]:
        lo, hi = (START + n * HOUR).timestamp(), (START + (n + 1) * HOUR).timestamp()
        return [e for e in events if lo <= _seconds(e) < hi]

    completed = next(e for e in in_hour(0) if e["event_type"] == "task_completed")
    violation = task_event(  # stamped 2.5 h after its task completed: breaks the 1 h bound
        "task_failed",
        completed["task_id"],
        START + 2 * HOUR + timedelta(minutes=30),
        attempt=2,
        queue=completed["queue"],
        task_name=completed["task_name"],
        worker_id="worker-late",
        error="ValueError: too late",
    )
    late_first = in_hour(0)[5::23]  # arrive between the two compactions
    late_last = in_hour(3)[7::29]  # arrive after the last compaction: link 3 falls
    held = {id(e) for e in late_first + late_last}
    stored = [e for e in events if id(e) not in held]
    for n, start in enumerate(range(0, len(stored), 4000)):
        write_events(lake, stored[start : start + 4000], ingester_id=f"ingester-{n % 2}")
    write_events(lake, stored[::11], ingester_id="replica")  # duplicates of another ingester
    compact(lake, timedelta(0), now=START + 2 * HOUR + timedelta(minutes=30), grace=timedelta(0))
    write_events(lake, [*late_first, violation], ingester_id="late")
    compact(lake, timedelta(0), now=START + 4 * HOUR + timedelta(minutes=30), grace=timedelta(0))
    write_events(lake, late_last, ingester_id="late")
    return lake


def _seconds(event: dict[str, Any]) -> float:
    stamp = event["timestamp"]
    return (
        float(stamp)
        if isinstance(stamp, int | float)
        else datetime.fromisoformat(stamp).timestamp()
    )


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = tmp_path_factory.mktemp("spark-real") / "lake"
    run_cli("import", str(DATA / "stream.msgpack"), "--lake", str(lake))
    return Lake(lake)


# --- comparing ---------------------------------------------------------------------------------
def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return tuple(_value(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _value(v)) for k, v in value.items()))
    if hasattr(value, "asDict"):  # a Spark struct
        return _value(value.asDict())
    if isinstance(value, int) and value >= _SPARK_INFINITY_US:
        return "+infinity"
    if isinstance(value, int) and value <= _SPARK_MINUS_INFINITY_US:
        return "-infinity"
    return value


def _order_key(row: tuple[Any, ...]) -> str:
    return repr(tuple(round(v, 3) if isinstance(v, float) else v for v in row))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return bool(a == b)


def _duckdb_rows(con: Any, relation: str) -> list[tuple[Any, ...]]:
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    columns = [
        f'CASE WHEN isinf("{name}") THEN (CASE WHEN "{name}" > TIMESTAMPTZ \'2000-01-01\' '
        f"THEN {_SPARK_INFINITY_US} ELSE {_SPARK_MINUS_INFINITY_US} END) "
        f'ELSE epoch_us("{name}") END'
        if kind.startswith("TIMESTAMP")
        else f'"{name}"'
        for name, kind, *_ in described
    ]
    rows = con.execute(f"SELECT {', '.join(columns)} FROM {relation}").fetchall()
    return [tuple(_value(v) for v in row) for row in rows]


def _spark_rows(spark: Any, relation: str) -> list[tuple[Any, ...]]:
    frame = spark.sql(f"SELECT * FROM {relation}")
    columns = [
        f"unix_micros(`{field.name}`)"
        if field.dataType.typeName() == "timestamp"
        else f"`{field.name}`"
        for field in frame.schema.fields
    ]
    rows = frame.selectExpr(*columns).collect()  # on the plan analysed for the schema
    return [tuple(_value(v) for v in row) for row in rows]


def assert_same_rows(spark: Any, con: Any, relation: str, spark_relation: str = "") -> None:
    expected = sorted(_duckdb_rows(con, relation), key=_order_key)
    got = sorted(_spark_rows(spark, spark_relation or relation), key=_order_key)
    _assert_same(relation, got, expected)


def assert_views_same(spark: Any, con: Any, views: list[str]) -> None:
    """:func:`assert_same_rows` for each of ``views``."""
    for view in views:
        assert_same_rows(spark, con, view)


def _assert_same(
    relation: str, got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]
) -> None:
    assert len(got) == len(expected), f"{relation}: {len(got)} rows on Spark, {len(expected)}"
    for spark_row, duck_row in zip(got, expected, strict=True):
        assert len(spark_row) == len(duck_row), f"{relation}: columns differ"
        assert all(_same(a, b) for a, b in zip(spark_row, duck_row, strict=True)), (
            f"{relation}: Spark {spark_row} != DuckDB {duck_row}"
        )


def _contract_views() -> list[str]:
    return [s.name for s in spark_catalogue() if s.kind == "view" and s.contract]


def _helper_views() -> list[str]:
    return [s.name for s in spark_catalogue() if s.kind == "view" and not s.contract]


# --- the tests ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def simulated(spark: Any, simulated_lake: Lake) -> SparkCatalogue:
    return register(spark, simulated_lake)


def test_the_simulated_lake_exercises_the_chain(simulated_lake: Lake) -> None:
    """The fixture holds what the comparison must cover: links, a fallback, late events."""
    with queries.connect(simulated_lake) as con:
        links = con.execute("SELECT count(*), count(*) FILTER (WHERE valid) FROM chain_links")
        total, valid = links.fetchone() or (0, 0)
        assert total >= 2 and 1 <= valid < total, (total, valid)
        late = con.execute("SELECT count(*) FROM late_events").fetchone()
        assert late is not None and late[0] > 0
        retried = con.execute("SELECT sum(retried_total) FROM queue_stats").fetchone()
        assert retried is not None and retried[0] > 0


@pytest.mark.parametrize(
    "at",
    [
        START + timedelta(minutes=40),  # before the first link: every row replayed
        START + 2 * HOUR + timedelta(minutes=17),  # inside the chain's history
        START + 6 * HOUR,  # after everything, the fallback link and the rows after it
    ],
    ids=["before-the-chain", "inside-the-chain", "after-everything"],
)
def test_every_contract_view_equals_duckdb_on_the_simulated_lake(
    spark: Any, simulated: SparkCatalogue, simulated_lake: Lake, at: datetime
) -> None:
    simulated.set_as_of(at)
    with queries.connect(simulated_lake, as_of=at) as con:
        assert_views_same(spark, con, _contract_views())


def test_every_helper_view_equals_duckdb_on_the_simulated_lake(
    spark: Any, simulated: SparkCatalogue, simulated_lake: Lake
) -> None:
    at = START + 2 * HOUR + timedelta(minutes=17)
    simulated.set_as_of(at)
    with queries.connect(simulated_lake, as_of=at) as con:
        assert_views_same(spark, con, _helper_views())


def test_the_table_macros_and_functions_equal_duckdb(
    spark: Any, simulated: SparkCatalogue, simulated_lake: Lake
) -> None:
    at = START + 2 * HOUR + timedelta(minutes=17)
    simulated.set_as_of(at)
    since, until = START + timedelta(minutes=25), START + 2 * HOUR
    cases = [
        ("queue_depth_series", timedelta(minutes=7), None, None),
        ("queue_depth_series", timedelta(minutes=1), since, until),
        ("throughput_series", timedelta(minutes=5), since, None),
    ]
    with queries.connect(simulated_lake, as_of=at) as con:
        for name, width, lo, hi in cases:
            simulated.table(name, width=width, since=lo, until=hi).createOrReplaceTempView("case")
            seconds = int(width.total_seconds())
            bounds = ", ".join(
                "NULL" if b is None else f"TIMESTAMPTZ '{b.isoformat()}'" for b in (lo, hi)
            )
            duck = f"{name}(INTERVAL {seconds} SECOND, {bounds})"
            assert_same_rows(spark, con, duck, "case")
        functions = (
            'SELECT event_id, error_class(error, traceback) AS class, covered("timestamp") AS c,'
            ' coverage_complete("timestamp", "timestamp" + INTERVAL 1 MINUTE) AS cc,'
            " as_of() AS t FROM events"
        )
        spark.sql(
            functions.replace("INTERVAL 1 MINUTE", "INTERVAL '1' MINUTE").replace('"', "`")
        ).createOrReplaceTempView("case")
        con.execute(f"CREATE TEMP VIEW case_view AS {functions}")
        assert_same_rows(spark, con, "case_view", "case")


def test_every_contract_view_equals_duckdb_on_the_real_capture(spark: Any, real_lake: Lake) -> None:
    at = datetime(2026, 11, 29, 18, 39, 5, tzinfo=UTC)  # inside the capture
    real = register(spark, real_lake, as_of=at)
    assert real.views == _contract_views()
    with queries.connect(real_lake, as_of=at) as con:
        assert_views_same(spark, con, _contract_views())


def test_an_s3_lake_without_hadoop_aws_is_a_clear_error(spark: Any, s3_lake: Lake) -> None:
    """Spark reads s3:// lakes as s3a://, which needs hadoop-aws (from Maven: not on these
    machines); without it register says so instead of a JVM trace."""
    write_events(s3_lake, [task_event("task_enqueued", "t-1", START)])
    with pytest.raises(QueryError, match=r"needs hadoop-aws and its fs\.s3a"):
        register(spark, s3_lake)
