"""Query figures: the views against bare queries over the same files, and the cost of "now".

Baselines (issue 6, item 6), run over exactly the files the views read:

* latest state: ``arg_max(event_type, timestamp)`` per ``task_id`` — the bare per-task
  latest-state query; compared with ``queue_stats``, ``worker_stats`` and ``retry_rates``;
* depth: per-event deltas (+1 enqueue/reenqueue, -1 start) summed per queue and minute, then a
  running window sum — compared with the 1-minute ``queue_depth`` series.

Results are reduced to one row inside DuckDB so that no figure pays for moving rows to Python.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from bench.figures import Figure, median_seconds
from tasqlake import queries
from tasqlake.derived_metrics import DerivedCollector
from tasqlake.lake.storage import Lake

LATEST_STATE = """
SELECT count(*), sum(hash(state))
FROM (
    SELECT task_id, arg_max(event_type, "timestamp") AS state
    FROM read_parquet($glob)
    WHERE task_id IS NOT NULL
    GROUP BY task_id
)
"""

DEPTH_WINDOW = """
SELECT count(*), sum(depth)
FROM (
    SELECT queue, bucket, sum(delta) OVER (PARTITION BY queue ORDER BY bucket) AS depth
    FROM (
        SELECT queue, time_bucket(INTERVAL 1 MINUTE, "timestamp") AS bucket,
               sum(CASE event_type WHEN 'task_enqueued' THEN 1 WHEN 'task_reenqueued' THEN 1
                                   WHEN 'task_started' THEN -1 ELSE 0 END) AS delta
        FROM read_parquet($glob)
        WHERE task_id IS NOT NULL
        GROUP BY ALL
    )
)
"""

VIEW_SQL = {
    "queue_stats": "SELECT count(*), sum(hash(COLUMNS(*))) FROM queue_stats",
    "worker_stats": "SELECT count(*), sum(hash(COLUMNS(*))) FROM worker_stats",
    "retry_rates": "SELECT count(*), sum(hash(COLUMNS(*))) FROM retry_rates",
    "queue_depth": "SELECT count(*), sum(depth) FROM queue_depth",
}
#: Each view's limit on its ratio to the baseline (issue 14: the counters come from the snapshot
#: chain, so they must cost half the bare query that scans all history; the whole-history depth
#: series at most the bare delta query).
VIEW_LIMITS = {"queue_stats": 0.5, "worker_stats": 0.5, "retry_rates": 1.5, "queue_depth": 1.0}
#: The views whose "now" must not grow with history (issue 14, target 1).
NOW_VIEWS = ("queue_stats", "global_stats", "worker_stats", "retry_rates")

ANCHORS = {
    10_000_000: {"latest": "arg_max 0.76 s @10M", "depth": "depth series 0.46 s @10M"},
    50_000_000: {"latest": "arg_max 4.1 s @50M", "depth": "depth series 2.1 s @50M"},
}


def _run(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> None:
    con.execute(sql, params or None).fetchall()


def view_figures(lake: Lake, label: str, repeat: int) -> list[Figure]:
    """Each view next to its bare baseline, medians of ``repeat`` runs on one connection."""
    figures: list[Figure] = []
    with queries.connect(lake) as con:
        glob = lake.events_glob
        latest = median_seconds(lambda: _run(con, LATEST_STATE, glob=glob), repeat)
        depth = median_seconds(lambda: _run(con, DEPTH_WINDOW, glob=glob), repeat)
        anchors = next(
            (a for n, a in ANCHORS.items() if label.startswith(f"{n // 1_000_000}M")), {}
        )
        for view, sql in VIEW_SQL.items():
            took = median_seconds(functools.partial(_run, con, sql), repeat)
            is_depth = view == "queue_depth"
            figures.append(
                Figure(
                    name=f"{view} @{label}",
                    value=took,
                    unit="s",
                    baseline=depth if is_depth else latest,
                    baseline_name="delta+window sum" if is_depth else "bare arg_max",
                    limit=VIEW_LIMITS[view],
                    compare_ratio=True,
                    anchor=anchors.get("depth" if is_depth else "latest", ""),
                )
            )
    return figures


#: The windowed depth series of the history-independence figures: the last day, 1-minute buckets.
RECENT_DEPTH_SQL = """
SELECT count(*), sum(depth)
FROM queue_depth_series(INTERVAL 1 MINUTE, since := CAST($as_of AS TIMESTAMPTZ) - INTERVAL 1 DAY)
"""
#: The same for the last 6 hours: a window both lakes hold whole (at 200 events/s a 5M lake
#: spans ~7 hours, so its "last day" is its whole history, with 3.5x fewer buckets than 50M's).
RECENT_6H_DEPTH_SQL = RECENT_DEPTH_SQL.replace("INTERVAL 1 DAY", "INTERVAL 6 HOUR")


@dataclass(frozen=True)
class NowCost:
    views: dict[str, float]  # view -> seconds, as of the last event
    recent_depth_seconds: float
    recent_6h_depth_seconds: float
    derived_seconds: float  # one refresh of the --export-derived gauges
    as_of: datetime


def last_event_time(lake: Lake) -> datetime:
    con = duckdb.connect()
    row = con.execute(
        'SELECT max("timestamp") FROM read_parquet($glob)', {"glob": lake.events_glob}
    ).fetchone()
    moment = row[0] if row else None
    if not isinstance(moment, datetime):
        raise ValueError(f"lake {lake.root} holds no events")
    return moment.astimezone(UTC)


def now_cost(lake: Lake, repeat: int) -> NowCost:
    """The views "now" (as of the last event) on a compacted lake, the 1-minute depth series of
    the last day, and one refresh of the derived gauges."""
    as_of = last_event_time(lake)
    with queries.connect(lake, as_of=as_of) as con:
        views = {
            view: median_seconds(
                functools.partial(_run, con, f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {view}"),
                repeat,
            )
            for view in NOW_VIEWS
        }
        recent = median_seconds(lambda: _run(con, RECENT_DEPTH_SQL, as_of=as_of), repeat)
        recent_6h = median_seconds(lambda: _run(con, RECENT_6H_DEPTH_SQL, as_of=as_of), repeat)
    collector = DerivedCollector(str(lake.root), cache_seconds=0.0)
    try:
        derived = median_seconds(collector.sample, repeat)
        failed = collector.sample().error
    finally:
        collector.close()
    if failed:
        raise RuntimeError(f"derived gauges failed on {lake.root}: {failed}")
    return NowCost(views, recent, recent_6h, derived, as_of)


def now_figures(small: tuple[str, NowCost], big: tuple[str, NowCost]) -> list[Figure]:
    """How "now" grows with history: the same event rate, ``big`` holds more history."""
    (small_label, s), (big_label, b) = small, big
    pairs = [(f'"now" {view}', s.views[view], b.views[view]) for view in NOW_VIEWS]
    pairs.append(("queue_depth_series last day", s.recent_depth_seconds, b.recent_depth_seconds))
    pairs.append(
        ("queue_depth_series last 6 h", s.recent_6h_depth_seconds, b.recent_6h_depth_seconds)
    )
    figures = [
        Figure(
            name=f"{name} @{big_label}",
            value=big_value,
            unit="s",
            baseline=small_value,
            baseline_name=f"same @{small_label}",
            limit=1.2,
            compare_ratio=True,
            note="history-independence target (snapshot chain)",
        )
        for name, small_value, big_value in pairs
    ]
    figures.append(
        Figure(
            name=f"--export-derived gauges, one refresh @{big_label}",
            value=b.derived_seconds,
            unit="s",
            baseline=s.derived_seconds,
            baseline_name=f"same @{small_label}",
            limit=1.0,
            note="issue 14 target 5: <= 1 s",
        )
    )
    return figures


def count_rows(lake: Lake) -> int:
    """Rows stored in the lake's event files (Parquet footers only)."""
    con = duckdb.connect()
    row = con.execute(
        "SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata($glob)",
        {"glob": lake.events_glob},
    ).fetchone()
    return int(row[0]) if row else 0
