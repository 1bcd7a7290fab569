"""Property tests: on random imperfect histories, every view equals the Python oracle at random T.

Histories (tests/queries/history.py) have many tasks, retries, permanent failures, cancels,
workers that stop gracefully, crash, or come back under the same id, clock skew of a few ms per
process. They are stored through the real write path in shuffled order, in several commits,
with duplicated messages and a few dropped events; the oracle sees the distinct events that
reached the lake.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasqlake import queries
from tasqlake.lake.storage import Lake
from tests.queries import oracle
from tests.queries.compare import assert_rows_equal, fetch
from tests.queries.helpers import write_events
from tests.queries.history import generate, imperfect

Oracle = Callable[[list[dict[str, Any]], datetime], list[dict[str, Any]]]

#: view -> (oracle, grain key)
VIEWS: dict[str, tuple[Oracle, tuple[str, ...]]] = {
    "tasks": (oracle.tasks_view, ("task_id",)),
    "task_attempts": (oracle.task_attempts, ("task_id", "attempt")),
    "queue_stats": (oracle.queue_stats, ("queue",)),
    "driver_queue_stats": (oracle.driver_queue_stats, ("queue",)),
    "global_stats": (oracle.global_stats, ()),
    "retry_rates": (oracle.retry_rates, ("queue", "task_name")),
    "failures": (oracle.failures, ("queue", "task_name", "error_class")),
    "task_latency": (oracle.task_latency, ("queue", "task_name")),
    "worker_sessions": (oracle.worker_sessions, ("worker_id", "session_no")),
    "worker_stats": (oracle.worker_stats, ("worker_id",)),
    "workers": (oracle.workers, ("worker_id",)),
    "worker_uptime": (oracle.worker_uptime, ("worker_id",)),
}


def store(lake: Lake, stored: list[dict[str, Any]], commits: int) -> None:
    size = max(1, len(stored) // commits + 1)
    for n, start in enumerate(range(0, len(stored), size)):
        write_events(lake, stored[start : start + size], ingester_id=f"ing-{n % 2}")


def check_all(con: duckdb.DuckDBPyConnection, distinct: list[dict[str, Any]], at: datetime) -> None:
    queries.set_as_of(con, at)
    for view, (reference, key) in VIEWS.items():
        assert_rows_equal(view, fetch(con, f"SELECT * FROM {view}"), reference(distinct, at), key)
    for width in (timedelta(seconds=30), timedelta(minutes=1)):
        seconds = int(width.total_seconds())
        assert_rows_equal(
            f"queue_depth_series({seconds} s)",
            fetch(con, f"SELECT * FROM queue_depth_series(INTERVAL {seconds} SECOND)"),
            oracle.queue_depth_series(distinct, at, width),
            ("queue", "bucket_start"),
        )
        assert_rows_equal(
            f"throughput_series({seconds} s)",
            fetch(con, f"SELECT * FROM throughput_series(INTERVAL {seconds} SECOND)"),
            oracle.throughput_series(distinct, at, width),
            ("queue", "task_name", "bucket_start"),
        )
    last_buckets = fetch(
        con,
        "SELECT queue, depth, processing FROM queue_depth "
        "QUALIFY bucket_start = max(bucket_start) OVER (PARTITION BY queue)",
    )
    stats = fetch(con, "SELECT queue, depth, processing FROM queue_stats")
    assert sorted(last_buckets, key=str) == sorted(stats, key=str)
    ids = {row[0] for row in con.execute("SELECT event_id FROM events").fetchall()}
    (count,) = con.execute("SELECT count(*) FROM events").fetchone() or (0,)
    expected = {queries_event_id(e) for e in distinct if e["timestamp"] <= at}
    assert count == len(expected) and ids == expected


def queries_event_id(payload: dict[str, Any]) -> int:
    from tasqlake.schemas.decode import event_id
    from tests.queries.helpers import encode

    return event_id(encode(payload))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n_tasks=st.integers(1, 40),
    n_workers=st.integers(1, 4),
    drop=st.sampled_from([0.0, 0.0, 0.03, 0.1]),
    duplicate=st.sampled_from([0.0, 0.05, 0.2]),
    commits=st.integers(1, 4),
    instants=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3),
)
def test_every_view_equals_the_oracle(
    seed: int,
    n_tasks: int,
    n_workers: int,
    drop: float,
    duplicate: float,
    commits: int,
    instants: list[float],
) -> None:
    history = generate(seed, n_tasks, n_workers)
    stored, distinct = imperfect(history, seed, drop=drop, duplicate=duplicate)
    with tempfile.TemporaryDirectory() as root:
        lake = Lake(root).ensure()
        store(lake, stored, commits)
        with queries.connect(lake) as con:
            span = history.end - history.start + timedelta(seconds=30)
            for fraction in instants:
                at = history.start - timedelta(seconds=2) + span * fraction
                check_all(con, distinct, at)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n_tasks=st.integers(1, 40), n_workers=st.integers(1, 4))
def test_counts_are_conserved_for_complete_histories(
    seed: int, n_tasks: int, n_workers: int
) -> None:
    """enqueued = pending + running + completed + failed + cancelled, per queue."""
    history = generate(seed, n_tasks, n_workers)
    stored, _ = imperfect(history, seed, drop=0.0, duplicate=0.1)
    with tempfile.TemporaryDirectory() as root:
        lake = Lake(root).ensure()
        store(lake, stored, 2)
        with queries.connect(lake, as_of=history.end + timedelta(minutes=1)) as con:
            rows = fetch(
                con,
                """
                SELECT q.depth + q.processing + q.completed_total + q.failed_total
                       + q.cancelled_total AS accounted, e.enqueued
                FROM queue_stats AS q
                JOIN (SELECT queue, count(*) AS enqueued FROM events
                      WHERE event_type = 'task_enqueued' GROUP BY queue) AS e USING (queue)
                """,
            )
    assert len(rows) == len({e["queue"] for e in history.events if "queue" in e})
    assert all(r["accounted"] == r["enqueued"] for r in rows)
