"""The catalogue on Spark (pyspark local mode, this machine's cores) against DuckDB, same lake
(issue 15, "From one box to a cluster").

* registering the catalogue (one listing, the file relations, every view created);
* "now" ``queue_stats``: the chain's head and the rows after it, as a dashboard asks;
* a whole-history scan: ``count(*)`` of ``events`` (every stored row read, duplicates collapsed),
  the cost that grows with history and that a cluster spreads; per 100 M events it sizes a job.

No target: the issue asks for the figures, so that the README can say what to run when.
"""

from __future__ import annotations

import time
from typing import Any

from bench.figures import Figure
from bench.query_figures import last_event_time, median_seconds
from tasqlake import queries
from tasqlake.lake.storage import Lake
from tasqlake.spark import register

NOW_SQL = "SELECT count(*), sum(completed_total) FROM queue_stats"
SCAN_SQL = "SELECT count(*) FROM events"


def _session() -> Any:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[*]")
        .appName("tasqlake-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_figures(lake: Lake, label: str, events: int, repeat: int) -> list[Figure]:
    as_of = last_event_time(lake)
    spark = _session()
    try:
        started = time.perf_counter()
        register(spark, lake, as_of=as_of)
        registered = time.perf_counter() - started

        def on_spark(sql: str) -> float:
            spark.sql(sql).collect()  # the first run plans and warms the JVM
            return median_seconds(lambda: spark.sql(sql).collect(), repeat)

        spark_now, spark_scan = on_spark(NOW_SQL), on_spark(SCAN_SQL)
    finally:
        spark.stop()
    with queries.connect(lake, as_of=as_of) as con:

        def on_duckdb(sql: str) -> float:
            con.execute(sql).fetchall()
            return median_seconds(lambda: con.execute(sql).fetchall(), repeat)

        duck_now, duck_scan = on_duckdb(NOW_SQL), on_duckdb(SCAN_SQL)
    per_100m = 100e6 / events
    return [
        Figure(f"Spark: register the catalogue @{label}", registered, "s", note="one listing"),
        Figure(
            f'Spark local: "now" queue_stats @{label}',
            spark_now,
            "s",
            duck_now,
            "DuckDB, same lake",
            compare_ratio=True,
            anchor="issue 15 §4: Spark vs DuckDB",
        ),
        Figure(
            f"Spark local: scan of events @{label}",
            spark_scan,
            "s",
            duck_scan,
            "DuckDB, same lake",
            compare_ratio=True,
            anchor="issue 15 §4: Spark vs DuckDB",
            note=f"per 100M events: Spark {spark_scan * per_100m:.0f} s, "
            f"DuckDB {duck_scan * per_100m:.0f} s",
        ),
    ]
