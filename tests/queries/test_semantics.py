"""Hand-written edge cases, one per semantic rule of issue 3 (named after it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from tasqlake import queries
from tasqlake.lake.storage import Lake
from tests.queries.compare import fetch
from tests.queries.helpers import write_events
from tests.queries.history import task_event, traceback_text, worker_event

pytestmark = pytest.mark.clock  # compares with the clock: also run a year ahead (test_moved_clock)

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TID = "00000000-0000-4000-8000-000000000001"
W1 = "worker-aaaa0001"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def view(lake: Lake, sql: str, as_of: datetime | None) -> list[dict[str, Any]]:
    with queries.connect(lake, as_of=as_of) as con:
        return fetch(con, sql)


def task(lake: Lake, as_of: datetime | None = None) -> dict[str, Any]:
    (row,) = view(lake, f"SELECT * FROM tasks WHERE task_id = '{TID}'", as_of)
    return row


def started(seconds: float, attempt: int = 1, worker: str = W1) -> dict[str, Any]:
    return task_event("task_started", TID, at(seconds), attempt=attempt, worker_id=worker)


def enqueued(seconds: float) -> dict[str, Any]:
    return task_event("task_enqueued", TID, at(seconds))


def completed(seconds: float, duration_ms: int = 100, worker: str = W1) -> dict[str, Any]:
    # task_completed.attempt is always 1 on the wire
    return task_event(
        "task_completed", TID, at(seconds), attempt=1, worker_id=worker, duration_ms=duration_ms
    )


def reenqueued(seconds: float, attempt: int, worker: str = W1) -> dict[str, Any]:
    return task_event(
        "task_reenqueued",
        TID,
        at(seconds),
        attempt=attempt,
        worker_id=worker,
        duration_ms=50,
        error=f"temporary failure {attempt}",
    )


def heartbeats(worker: str, start: float, stop: float, freq: float) -> list[dict[str, Any]]:
    beats = [worker_event("worker_online", worker, at(start), freq=freq, queues=["default"])]
    moment = start + freq
    while moment <= stop:
        beats.append(
            worker_event("worker_heartbeat", worker, at(moment), freq=freq, queues=["default"])
        )
        moment += freq
    return beats


# --- task lifecycle ---------------------------------------------------------------------------
def test_enqueued_not_started_is_pending(lake: Lake) -> None:
    write_events(lake, [enqueued(0)])
    row = task(lake, at(1))
    assert (row["state"], row["attempts"], row["retries"]) == ("pending", 0, 0)


def test_started_without_end_is_running(lake: Lake) -> None:
    write_events(lake, [enqueued(0), started(1)])
    assert task(lake, at(2))["state"] == "running"


def test_start_stamped_before_its_enqueue_is_running_not_pending(lake: Lake) -> None:
    # the dispatcher publishes after its push returns; its clock may also be ahead
    write_events(lake, [started(1.000), enqueued(1.004)])
    row = task(lake, at(2))
    assert row["state"] == "running"
    assert row["wait_ms"] == 0.0  # skew never makes a negative wait


def test_terminal_event_wins_over_a_later_stamped_event_of_the_same_attempt(lake: Lake) -> None:
    # the worker's clock said the completion came 2 ms before the start: causality wins
    write_events(lake, [enqueued(0), started(1.002), completed(1.000)])
    assert task(lake, at(5))["state"] == "completed"


def test_task_completed_attempt_is_always_1_so_the_latest_attempt_completed(lake: Lake) -> None:
    history = [enqueued(0), started(1, 1), reenqueued(2, 1), started(4, 2), reenqueued(5, 2)]
    write_events(lake, [*history, started(7, 3), completed(8)])
    row = task(lake, at(9))
    assert (row["state"], row["attempts"], row["retries"]) == ("completed", 3, 2)
    attempts = view(
        lake, f"SELECT attempt, outcome FROM task_attempts WHERE task_id = '{TID}'", at(9)
    )
    assert sorted((a["attempt"], a["outcome"]) for a in attempts) == [
        (1, "reenqueued"),
        (2, "reenqueued"),
        (3, "completed"),
    ]
    assert row["run_ms"] == 50 + 50 + 100


def test_reenqueued_task_is_pending_until_its_next_start(lake: Lake) -> None:
    write_events(lake, [enqueued(0), started(1), reenqueued(2, 1), started(4, 2)])
    assert task(lake, at(3))["state"] == "pending"
    (queue,) = view(lake, "SELECT * FROM queue_stats", at(3))
    assert queue["depth"] == 1 and queue["oldest_pending_age_s"] == pytest.approx(1.0)
    assert task(lake, at(4))["state"] == "running"


def test_missing_enqueue_a_started_task_still_counts_as_running(lake: Lake) -> None:
    write_events(lake, [started(1)])
    row = task(lake, at(2))
    assert (row["state"], row["enqueued_at"], row["wait_ms"]) == ("running", None, None)


def test_missing_start_a_completed_task_still_counts_as_completed(lake: Lake) -> None:
    write_events(lake, [enqueued(0), completed(3)])
    row = task(lake, at(4))
    assert (row["state"], row["attempts"], row["total_ms"]) == ("completed", 1, 3000.0)


def test_missing_start_after_a_retry_the_completion_is_the_next_attempt(lake: Lake) -> None:
    write_events(lake, [enqueued(0), started(1), reenqueued(2, 1), completed(5)])
    row = task(lake, at(6))
    assert (row["state"], row["attempts"], row["retries"]) == ("completed", 2, 1)


def test_duplicated_messages_are_counted_once(lake: Lake) -> None:
    payloads = [enqueued(0), started(1), completed(2)]
    write_events(lake, payloads, ingester_id="a")
    write_events(lake, payloads, ingester_id="b")  # the same messages stored again
    with queries.connect(lake, as_of=at(3)) as con:
        assert fetch(con, "SELECT count(*) AS n FROM stored_events") == [{"n": 6}]
        assert fetch(con, "SELECT count(*) AS n FROM events") == [{"n": 3}]
        (q,) = fetch(con, "SELECT * FROM driver_queue_stats")
        assert q["completed_total"] == 1
        (d,) = fetch(con, "SELECT sum(completed) AS c FROM queue_depth")
        assert d["c"] == 1


def test_cancelled_task_is_terminal(lake: Lake) -> None:
    write_events(lake, [enqueued(0), task_event("task_cancelled", TID, at(1))])
    row = task(lake, at(2))
    assert (row["state"], row["finished_at"]) == ("cancelled", at(1))
    (q,) = view(lake, "SELECT cancelled_total, depth FROM queue_stats", at(2))
    assert q == {"cancelled_total": 1, "depth": 0}


def test_unknown_event_types_are_kept_but_do_not_change_state(lake: Lake) -> None:
    write_events(lake, [enqueued(0), task_event("task_retrying", TID, at(1), attempt=1)])
    assert task(lake, at(2))["state"] == "pending"
    assert view(lake, "SELECT count(*) AS n FROM events", at(2)) == [{"n": 2}]


# --- as of T ----------------------------------------------------------------------------------
def test_as_of_answers_for_the_past(lake: Lake) -> None:
    write_events(lake, [enqueued(0), started(10), completed(20)])
    assert task(lake, at(5))["state"] == "pending"
    assert task(lake, at(15))["state"] == "running"
    assert task(lake, at(25))["state"] == "completed"
    assert view(lake, "SELECT count(*) AS n FROM tasks", at(-1)) == [{"n": 0}]


def test_as_of_set_with_set_variable_is_followed_by_every_view(lake: Lake) -> None:
    write_events(lake, [enqueued(0), started(10)])
    with queries.connect(lake) as con:
        con.execute(f"SET VARIABLE as_of = TIMESTAMP '{at(5).strftime('%Y-%m-%d %H:%M:%S')}'")
        assert fetch(con, "SELECT depth, processing FROM queue_stats") == [
            {"depth": 1, "processing": 0}
        ]
        con.execute("RESET VARIABLE as_of")
        assert fetch(con, "SELECT depth, processing FROM queue_stats") == [
            {"depth": 0, "processing": 1}
        ]


def test_without_as_of_every_stored_event_counts_and_ages_run_to_now(lake: Lake) -> None:
    write_events(lake, [enqueued(0), *heartbeats(W1, 0, 10, 1.0)])
    with queries.connect(lake) as con:
        (w,) = fetch(con, "SELECT status FROM worker_stats")
        assert w["status"] == "lost"  # 2026-11-29 12:00 is long past "now" for this lake
        (q,) = fetch(con, "SELECT depth FROM queue_stats")
        assert q["depth"] == 1


def test_time_bounded_queries_skip_later_partitions(lake: Lake) -> None:
    hours = [enqueued(0)] + [
        task_event("task_enqueued", f"t-{h}", at(h * 3600.0 + 1)) for h in range(1, 4)
    ]
    write_events(lake, hours)
    with queries.connect(lake, as_of=at(60)) as con:
        plan = "".join(
            str(r[1]) for r in con.execute("EXPLAIN ANALYZE SELECT * FROM event_log").fetchall()
        )
    assert "Total Files Read: 1" in plan.replace("  ", " ") or "Scanning Files: 1/4" in plan


def files_read(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """Parquet files DuckDB opened for ``sql`` (EXPLAIN ANALYZE's "Total Files Read")."""
    plan = "".join(str(r[1]) for r in con.execute(f"EXPLAIN ANALYZE {sql}").fetchall())
    counts = [int(n) for n in re.findall(r"Total Files Read:\s*(\d+)", plan)]
    assert counts, plan
    return sum(counts)


def test_an_hour_bounded_events_query_reads_only_that_hours_files(lake: Lake) -> None:
    # one file per hour 12..15, and hour 13 stored a second time by another ingester
    hours = [task_event("task_enqueued", f"t-{h}", at(h * 3600.0 + 1)) for h in range(4)]
    write_events(lake, hours, ingester_id="a")
    write_events(lake, hours[1:2], ingester_id="b")
    hour_13 = 'FROM events WHERE "date" = DATE \'2026-11-29\' AND "hour" = 13'
    with queries.connect(lake) as con:
        assert files_read(con, "SELECT * FROM events") == 5
        assert files_read(con, f"SELECT * {hour_13}") == 2  # the dedup no longer reads them all
        assert fetch(con, f"SELECT task_id, count(*) AS n {hour_13} GROUP BY task_id") == [
            {"task_id": "t-1", "n": 1}
        ]


# --- workers ----------------------------------------------------------------------------------
def test_worker_is_lost_after_3_x_freq_without_heartbeat(lake: Lake) -> None:
    write_events(lake, heartbeats(W1, 0, 10, 2.0))
    status = "SELECT end_reason, ended_at FROM worker_sessions"
    assert view(lake, status, at(16)) == [{"end_reason": "running", "ended_at": None}]
    assert view(lake, status, at(16.000001)) == [{"end_reason": "lost", "ended_at": at(10)}]


def test_freq_comes_from_online_and_heartbeats_not_offline(lake: Lake) -> None:
    events = heartbeats(W1, 0, 10, 1.0)
    write_events(lake, events)
    (s,) = view(lake, "SELECT freq, end_reason FROM worker_sessions", at(14))
    assert s == {"freq": 1.0, "end_reason": "lost"}  # 4 s > 3 x 1 s, not 3 x 60 s
    write_events(lake, [worker_event("worker_offline", W1, at(20), freq=60.0)])
    (s,) = view(lake, "SELECT freq, end_reason, ended_at FROM worker_sessions", at(30))
    assert s == {"freq": 1.0, "end_reason": "offline", "ended_at": at(20)}


def test_graceful_stop_is_offline(lake: Lake) -> None:
    write_events(lake, [*heartbeats(W1, 0, 4, 1.0), worker_event("worker_offline", W1, at(5))])
    (w,) = view(lake, "SELECT status, uptime_seconds FROM worker_stats", at(100))
    assert w == {"status": "offline", "uptime_seconds": 5}


def test_tasks_running_on_a_lost_worker_are_orphaned(lake: Lake) -> None:
    write_events(lake, [*heartbeats(W1, 0, 5, 1.0), enqueued(1), started(2)])
    assert task(lake, at(6))["orphaned"] is False  # still alive: 1 s since the last beat
    row = task(lake, at(9))
    assert (row["state"], row["orphaned"]) == ("running", True)
    (q,) = view(lake, "SELECT processing, orphaned FROM queue_stats", at(9))
    assert q == {"processing": 1, "orphaned": 1}
    (s,) = view(lake, "SELECT orphaned_tasks, end_reason FROM worker_sessions", at(9))
    assert s == {"orphaned_tasks": 1, "end_reason": "lost"}
    (a,) = view(lake, "SELECT outcome FROM task_attempts", at(9))
    assert a["outcome"] == "orphaned"
    # the orphan still counts as running on the lost worker, but loads it no more
    (w,) = view(lake, "SELECT status, running_tasks, load_percentage FROM worker_stats", at(9))
    assert w == {"status": "lost", "running_tasks": 1, "load_percentage": 0.0}
    (w,) = view(lake, "SELECT status, running_tasks, load_percentage FROM worker_stats", at(6))
    assert w == {"status": "active", "running_tasks": 1, "load_percentage": 100.0}


def test_a_worker_back_online_under_the_same_id_ends_its_previous_session_lost(
    lake: Lake,
) -> None:
    write_events(lake, [*heartbeats(W1, 0, 3, 1.0), *heartbeats(W1, 4, 8, 1.0)])
    sessions = view(
        lake, "SELECT session_no, end_reason, ended_at FROM worker_sessions ORDER BY 1", at(8.5)
    )
    assert sessions == [
        {"session_no": 1, "end_reason": "lost", "ended_at": at(3)},
        {"session_no": 2, "end_reason": "running", "ended_at": None},
    ]
    (u,) = view(lake, "SELECT sessions, restarts, crashes FROM worker_uptime", at(8.5))
    assert u == {"sessions": 2, "restarts": 1, "crashes": 1}


def test_worker_activity_comes_from_task_events_not_heartbeat_active(lake: Lake) -> None:
    beats = [
        worker_event("worker_online", W1, at(0), freq=1.0),
        worker_event("worker_heartbeat", W1, at(1), freq=1.0, active=3),  # the 1.7 bug
    ]
    write_events(lake, [*beats, enqueued(0), started(0.5), completed(0.9)])
    (w,) = view(lake, "SELECT status, current_task_id, tasks_processed FROM worker_stats", at(1.5))
    assert w == {"status": "idle", "current_task_id": None, "tasks_processed": 1}


# --- series, failures, conservation ----------------------------------------------------------
def test_queue_depth_is_continuous_and_its_last_bucket_equals_queue_stats(lake: Lake) -> None:
    later = task_event("task_enqueued", "00000000-0000-4000-8000-000000000002", at(300))
    write_events(lake, [enqueued(0), started(1), later])
    with queries.connect(lake, as_of=at(400)) as con:
        series = fetch(con, "SELECT bucket_start, depth, processing FROM queue_depth")
        (stats,) = fetch(con, "SELECT depth, processing FROM queue_stats")
    assert [r["bucket_start"] for r in series] == [at(60 * m) for m in range(6)]
    assert [r["depth"] for r in series] == [0, 0, 0, 0, 0, 1]
    assert series[-1]["processing"] == stats["processing"] == 1
    assert series[-1]["depth"] == stats["depth"]


def test_error_class_is_the_traceback_exception_else_the_normalised_message(lake: Lake) -> None:
    failed = task_event(
        "task_failed",
        TID,
        at(2),
        worker_id=W1,
        error="bad value 17",
        traceback=traceback_text("ValueError", "bad value 17"),
    )
    other = "00000000-0000-4000-8000-000000000002"
    retried = [
        task_event(
            "task_reenqueued",
            other,
            at(3 + n),
            attempt=n + 1,
            worker_id=W1,
            error=f"timeout after {n + 2} s talking to 'db-{n}' (job 5bc460b5{n:04d}ffff)",
        )
        for n in range(3)
    ]
    write_events(lake, [failed, *retried])
    rows = view(lake, "SELECT error_class, count, permanent, retried FROM failures", at(10))
    assert sorted(rows, key=lambda r: r["count"]) == [
        {"error_class": "ValueError", "count": 1, "permanent": 1, "retried": 0},
        {
            "error_class": "timeout after <n> s talking to '?' (job <id>)",
            "count": 3,
            "permanent": 0,
            "retried": 3,
        },
    ]


def test_counts_are_conserved_for_complete_histories(lake: Lake) -> None:
    from tests.queries.history import generate

    history = generate(11, 40, 3)
    write_events(lake, history.events)
    with queries.connect(lake, as_of=history.end) as con:
        rows = fetch(
            con,
            """
            SELECT q.queue, q.depth + q.processing + q.completed_total + q.failed_total
                   + q.cancelled_total AS accounted, e.enqueued
            FROM queue_stats AS q
            JOIN (SELECT queue, count(*) AS enqueued FROM events
                  WHERE event_type = 'task_enqueued' GROUP BY queue) AS e USING (queue)
            """,
        )
    assert rows and all(r["accounted"] == r["enqueued"] for r in rows)


def test_an_empty_lake_gives_empty_views_and_later_files_are_seen(lake: Lake) -> None:
    with queries.connect(lake) as con:
        for name in queries.view_names():
            con.execute(f"SELECT * FROM {name}").fetchall()
        assert fetch(con, "SELECT * FROM global_stats") == [
            {"pending": 0, "running": 0, "completed": 0, "failed": 0, "total": 0}
        ]
        write_events(lake, [enqueued(0)])  # committed after connect
        assert fetch(con, "SELECT depth FROM queue_stats") == [{"depth": 1}]


def test_connect_refuses_a_missing_lake_unless_not_read_only(tmp_path: Any) -> None:
    from tasqlake.schemas.errors import StorageError

    with pytest.raises(StorageError):
        queries.connect(tmp_path / "nope")
    with queries.connect(tmp_path / "new", read_only=False) as con:
        assert isinstance(con, duckdb.DuckDBPyConnection)
