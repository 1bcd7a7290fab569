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
                    limit=1.5,
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


@dataclass(frozen=True)
class NowCost:
    seconds: float
    recent_depth_seconds: float
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
    """The ``queue_stats`` view "now" (as of the last event) on a compacted lake, and the
    1-minute depth series of the last day."""
    as_of = last_event_time(lake)
    with queries.connect(lake, as_of=as_of) as con:
        seconds = median_seconds(lambda: _run(con, VIEW_SQL["queue_stats"]), repeat)
        recent = median_seconds(lambda: _run(con, RECENT_DEPTH_SQL, as_of=as_of), repeat)
    return NowCost(seconds, recent, as_of)


def now_figures(small: tuple[str, NowCost], big: tuple[str, NowCost]) -> list[Figure]:
    """How "now" grows with history: the same event rate, ``big`` holds more history."""
    (small_label, s), (big_label, b) = small, big
    return [
        Figure(
            name=f'"now" {name} @{big_label}',
            value=getattr(b, field),
            unit="s",
            baseline=getattr(s, field),
            baseline_name=f"same @{small_label}",
            limit=1.2,
            compare_ratio=True,
            note="history-independence target (snapshot chain)",
        )
        for name, field in (
            ("queue_stats", "seconds"),
            ("queue_depth_series last day", "recent_depth_seconds"),
        )
    ]


def count_rows(lake: Lake) -> int:
    """Rows stored in the lake's event files (Parquet footers only)."""
    con = duckdb.connect()
    row = con.execute(
        "SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata($glob)",
        {"glob": lake.events_glob},
    ).fetchone()
    return int(row[0]) if row else 0
