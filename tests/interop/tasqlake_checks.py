"""tasqlake's views against the real AsyncTasQ 1.7.0: the driver's numbers and the ground truth.

Used twice with the same code: on a live run (``test_interop_tasqlake``, lake written by the real
``tasqlake ingest`` subprocess) and on the recorded capture in ``tests/data/real`` (lake written
by ``tasqlake import``). Nothing here imports asynctasq.

Every view is read ``as of`` the instant the scenario read ``MonitoringService``
(``truth["snapshot_at"]``):

* the driver answers for "now" at that instant, so tasqlake must answer for the same instant;
* the lake holds events stamped after it (live workers keep beating until teardown; the
  ingester is stopped a little later), which must not count;
* "lost" is decided by silence longer than 3 x freq *before T*: queried later (T = now, after the
  teardown killed the live workers) every worker would look lost, and uptimes would keep growing.

Rules of the driver's numbers as event-log formulas: ``DRIVER_SEMANTICS.md``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from tasqlake import queries

from .event_rules import driver_numbers_from_events

Row = dict[str, Any]

#: The queue fields of AsyncTasQ's QueueStats, in its field order.
QUEUE_FIELDS = (
    "depth",
    "processing",
    "completed_total",
    "failed_total",
    "avg_duration_ms",
    "throughput_per_minute",
)
#: Tolerance on wall-clock comparisons that involve process scheduling (not on counts).
SCHED_SLACK_S = 0.25
#: duration_ms is whole ms measured by the worker; the journal is written inside execute().
AVG_DURATION_SLACK_MS = 25.0


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[Row]:
    result = con.execute(sql, params or [])
    names = [d[0] for d in result.description or []]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def instant(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


@dataclass
class Observed:
    """One run: what the real system published and reported, and what tasqlake derived."""

    events: list[dict[str, Any]]
    truth: dict[str, Any]
    driver: dict[str, Any]
    lake: Path
    as_of: datetime = field(init=False)
    views: dict[str, list[Row]] = field(init=False)

    def __post_init__(self) -> None:
        self.as_of = instant(self.truth["snapshot_at"])
        with queries.connect(self.lake, as_of=self.as_of) as con:
            self.views = {
                name: fetch(con, f"SELECT * FROM {name}")
                for name in (
                    "driver_queue_stats",
                    "queue_stats",
                    "global_stats",
                    "worker_stats",
                    "worker_sessions",
                    "tasks",
                    "orphaned_tasks",
                )
            }

    # --- ground truth, derived from the harness and the task code's journal ---------------
    @property
    def freq(self) -> float:
        return float(self.truth["settings"]["heartbeat_s"])

    def queue_truth(self, q: str) -> dict[str, Any]:
        return self.truth["queues"][q]  # type: ignore[no-any-return]

    def delayed(self, q: str) -> int:
        """ZCARD queue:<q>:delayed at the snapshot (read from Redis by the harness)."""
        return len(self.driver["redis_contents"][q]["delayed"])

    def retried_attempts(self) -> int:
        return sum(t["attempts_failed_then_retried"] for t in self.truth["queues"].values())

    def by(self, view: str, key: str) -> dict[Any, Row]:
        rows = self.views[view]
        out = {r[key]: r for r in rows}
        assert len(out) == len(rows), f"{view}: duplicate {key}"
        return out

    def journal_for(self, worker_id: str) -> list[dict[str, Any]]:
        return [
            r for r in self.truth["journal"] if r.get("task_id") and r["worker_id"] == worker_id
        ]


# --- driver_queue_stats == MonitoringService.get_queue_stats, exactly --------------------------
def check_driver_queue_stats(o: Observed) -> None:
    """Field by field (what the event log can and cannot know):

    * queue list: the driver lists the queues that have any ``queue:<name>*`` key, sorted by
      name; every path leaves a key (list/zset entry or a counter), and each comes with a task
      event, so the view lists the queues of the task events, sorted the same way.
    * completed_total: the driver's counter is INCRed by every ``ack`` — a success AND every
      failed attempt that is retried (``task_completed`` + ``task_reenqueued`` events). Exact.
    * failed_total: INCRed by ``mark_failed`` (permanent failure = ``task_failed``). Exact.
    * processing: LLEN of the processing list: tasks started and not ended, including the
      SIGKILLed worker's tasks, which stay there forever (no visibility timeout). Exact.
    * depth: LLEN of the main list only. A task waiting in ``queue:<q>:delayed`` (delayed
      dispatch before its due time, a dispatch to a queue no worker consumes — only a
      consuming worker moves due tasks — or a retry serving its retry delay) is in neither
      ``depth`` nor ``processing`` for the driver. ``task_enqueued`` carries no delay/ETA and
      ``task_reenqueued`` no retry delay, so the log sees one "waiting" state: the view's
      depth is ``depth + ZCARD(queue:<q>:delayed)`` — exactly that, and nothing more.
    * avg_duration_ms, throughput_per_minute: always None with the Redis driver. Exact.
    """
    ours = o.views["driver_queue_stats"]
    assert [r["queue"] for r in ours] == [s["name"] for s in o.driver["get_all_queue_stats"]], (
        "driver_queue_stats must list the driver's queues in its order (sorted by name)"
    )
    reference = driver_numbers_from_events(o.events)  # the Python form of the same rules
    for row in ours:
        q = row["queue"]
        theirs = o.driver["get_queue_stats"][q]
        for f in ("processing", "completed_total", "failed_total"):
            assert row[f] == theirs[f], f"{q}.{f}: view {row[f]} != driver {theirs[f]}"
        assert row["depth"] == theirs["depth"] + o.delayed(q), (
            f"{q}.depth: view {row['depth']} != driver depth {theirs['depth']} + "
            f"ZCARD delayed {o.delayed(q)} (the log cannot tell the main list from the zset)"
        )
        if o.delayed(q) == 0:
            assert row["depth"] == theirs["depth"], q
        assert row["avg_duration_ms"] is None and theirs["avg_duration_ms"] is None, q
        assert row["throughput_per_minute"] is None and theirs["throughput_per_minute"] is None
        assert row["depth"] == reference[q]["waiting"], q
        assert row["completed_total"] == reference[q]["completed_total"], q


# --- queue_stats == the ground truth (plain meaning: tasks by state) --------------------------
def check_queue_stats(o: Observed) -> None:
    """Counts of TASKS by their state at T, as the scenario itself knows them (dispatch list +
    the journal the task code writes, never the events): a retried task is one task."""
    stats = o.by("queue_stats", "queue")
    assert sorted(stats) == sorted(o.truth["queues"]), "one row per queue that saw a task event"
    run_s = o.truth["snapshot_at"] - o.truth["settings"]["started_at"]
    assert run_s < 300, "throughput below assumes every completion is inside the 5-min window"
    for q, t in o.truth["queues"].items():
        row = stats[q]
        assert t["retrying"] == [] and t["running"] == [], f"{q}: not quiescent"
        expected = {
            "depth": len(t["pending"]) + len(t["retrying"]),  # delayed ones included
            "processing": len(t["running"]) + len(t["running_lost"]),
            "completed_total": len(t["completed"]),
            "failed_total": len(t["failed"]),
            "retried_total": t["attempts_failed_then_retried"],
            "cancelled_total": 0,  # 1.7.0 never emits task_cancelled
            "orphaned": len(t["running_lost"]),
        }
        got = {k: row[k] for k in expected}
        assert got == expected, f"queue_stats[{q}] (view != truth): {got} != {expected}"
        # conservation: every dispatched task is in exactly one state
        assert sum(
            got[k] for k in ("depth", "processing", "completed_total", "failed_total")
        ) == len(t["dispatched"]), q
        assert math.isclose(row["throughput_per_minute"], len(t["completed"]) / 5.0), q
        # avg duration of the completing attempt: the event's duration_ms is measured by the
        # worker around deserialisation + execute; the journal inside execute.
        want = _journal_avg_completing_ms(o, q)
        if want is None:
            assert row["avg_duration_ms"] is None, q
        else:
            assert abs(row["avg_duration_ms"] - want) <= AVG_DURATION_SLACK_MS, (
                f"{q}.avg_duration_ms {row['avg_duration_ms']} vs journal {want}"
            )
        pending_at = [
            d["t"] for d in o.truth["tasks"] if d["queue"] == q and d["outcome"] == "pending"
        ]
        if pending_at:  # dispatch() returned after task_enqueued was stamped: age >= truth age
            age = o.truth["snapshot_at"] - min(pending_at)
            assert age - 0.01 <= row["oldest_pending_age_s"] <= age + SCHED_SLACK_S * 2, (
                f"{q}.oldest_pending_age_s {row['oldest_pending_age_s']} vs truth {age:.3f}"
            )
        else:
            assert row["oldest_pending_age_s"] is None, q


def _journal_avg_completing_ms(o: Observed, q: str) -> float | None:
    starts: dict[tuple[str, int], float] = {}
    durations = []
    for r in o.truth["journal"]:
        if r.get("queue") != q:
            continue
        key = (r["task_id"], r["attempt"])
        if r["kind"] == "start":
            starts[key] = r["t"]
        elif r["kind"] == "ok":
            durations.append((r["t"] - starts[key]) * 1000)
    return sum(durations) / len(durations) if durations else None


# --- per task: tasks / orphaned_tasks == the truth --------------------------------------------
def check_tasks(o: Observed) -> None:
    tasks = o.by("tasks", "task_id")
    assert sorted(tasks) == sorted(d["task_id"] for d in o.truth["tasks"]), "one row per task"
    steps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in o.truth["journal"]:
        if r.get("task_id"):
            steps[r["task_id"]].append(r)
    state_of = {
        "completed": "completed",
        "failed": "failed",
        "pending": "pending",
        "running_lost": "running",
        "running": "running",
        "retrying": "pending",
    }
    for d in o.truth["tasks"]:
        row, recs = tasks[d["task_id"]], steps[d["task_id"]]
        where = f"task {d['task_id']} ({d['task_name']} on {d['queue']}, truth {d['outcome']})"
        assert row["state"] == state_of[d["outcome"]], f"{where}: state {row['state']}"
        assert row["orphaned"] == (d["outcome"] == "running_lost"), where
        assert row["attempts"] == sum(r["kind"] == "start" for r in recs), where
        retried = sum(r["kind"] == "fail" and r["attempt"] < r["max_attempts"] for r in recs)
        assert row["retries"] == retried, where
        if recs:
            assert row["worker_id"] == recs[-1]["worker_id"], where
        if d["outcome"] == "failed":  # str(exc) on the wire; the class comes from the traceback
            assert row["last_error"] == f"{d['task_name']} attempt {d['max_attempts']} failed"
            # the class as the traceback's last line names it: module-qualified (not builtin)
            assert row["error_class"] == "tests.interop.tasks_app.InteropFailure", where
    orphaned = sorted(r["task_id"] for r in o.views["orphaned_tasks"])
    lost = sorted(t for q in o.truth["queues"].values() for t in q["running_lost"])
    assert orphaned == lost, "orphaned_tasks == the tasks running on the SIGKILLed worker"


# --- global_stats vs get_global_stats(), each with its own meaning ----------------------------
def check_global_stats(o: Observed) -> None:
    """global_stats counts tasks by state; the driver sums its per-queue numbers:
    running and failed are the same; the driver's completed also counts every retried attempt
    (acks), and its pending (main lists) misses the tasks in the delayed zsets, so its total
    is neither a task count nor tasqlake's."""
    (g,) = o.views["global_stats"]
    d = o.driver["get_global_stats"]
    qs = o.truth["queues"].values()
    truth = {
        "pending": sum(len(q["pending"]) + len(q["retrying"]) for q in qs),
        "running": sum(len(q["running"]) + len(q["running_lost"]) for q in qs),
        "completed": sum(len(q["completed"]) for q in qs),
        "failed": sum(len(q["failed"]) for q in qs),
        "total": sum(len(q["dispatched"]) for q in qs),
    }
    assert g == truth, f"global_stats (view != truth): {g} != {truth}"
    delayed = sum(o.delayed(q) for q in o.truth["queues"])
    retried = o.retried_attempts()
    assert g["running"] == d["running"], "running: both count the processing lists (orphans)"
    assert g["failed"] == d["failed"], "failed: permanent failures for both"
    assert g["completed"] == d["completed"] - retried, "driver completed = acks (incl. retries)"
    assert g["pending"] == d["pending"] + delayed, "driver pending = main lists, no delayed zset"
    assert g["total"] == d["total"] - retried + delayed
    assert d["total"] == d["pending"] + d["running"] + d["completed"] + d["failed"]


def check_monitoring_mirror(o: Observed) -> None:
    """LakeQueries, the MonitoringService mirror: same methods, same field names."""
    import asyncio

    async def read() -> tuple[Any, Any, Any, Any]:
        with queries.LakeQueries(o.lake, as_of=o.as_of) as lq:
            return (
                await lq.get_all_queue_stats(),
                await lq.get_global_stats(),
                await lq.get_worker_stats(),
                await lq.get_queue_stats("no-such-queue"),
            )

    all_stats, glob, workers, empty = asyncio.run(read())
    from dataclasses import asdict

    assert [s.name for s in all_stats] == [s["name"] for s in o.driver["get_all_queue_stats"]]
    for s in all_stats:
        assert list(asdict(s)) == list(o.driver["get_queue_stats"][s.name])  # same fields
        row = o.by("queue_stats", "queue")[s.name]
        assert [getattr(s, f) for f in QUEUE_FIELDS] == [row[f] for f in QUEUE_FIELDS]
    assert set(glob) == set(o.driver["get_global_stats"]) and glob == o.views["global_stats"][0]
    assert o.driver["get_worker_stats"] == [], "the 1.7.0 driver knows no workers"
    assert sorted(w.worker_id for w in workers) == sorted(
        w["worker_id"] for w in o.truth["workers"]
    )
    assert (empty.depth, empty.processing, empty.completed_total) == (0, 0, 0)


# --- workers: lost / offline / active|idle, uptimes within one heartbeat --------------------
def check_workers(o: Observed) -> None:
    stats = o.by("worker_stats", "worker_id")
    sessions = o.views["worker_sessions"]
    by_session = {r["worker_id"]: r for r in sessions}
    assert len(by_session) == len(sessions), "one session per worker in this scenario"
    assert sorted(stats) == sorted(w["worker_id"] for w in o.truth["workers"])
    freq, T = o.freq, o.truth["snapshot_at"]
    orphans_by_worker = Counter(r["worker_id"] for r in o.views["orphaned_tasks"])
    for w in o.truth["workers"]:
        s, sess, role = stats[w["worker_id"]], by_session[w["worker_id"]], w["role"]
        mine = o.journal_for(w["worker_id"])
        assert s["tasks_processed"] == w["processed"], role  # completed + failed for good
        assert sess["tasks_started"] == sum(r["kind"] == "start" for r in mine), role
        assert sess["tasks_finished"] == sum(r["kind"] in ("ok", "fail") for r in mine), role
        assert sess["queues"] == w["queues"] and s["queues"] == w["queues"], role
        assert sess["hostname"] == _hostname(o), role
        assert s["sessions"] == 1 and sess["freq"] == freq, role
        started = sess["started_at"].timestamp()  # worker_online, emitted inside Worker.start()
        assert 0 <= started - w["started_at"] <= SCHED_SLACK_S * 4, role
        if w["final_state"] == "lost":  # SIGKILL while running tasks
            assert (s["status"], sess["end_reason"]) == ("lost", "lost"), role
            assert sess["orphaned_tasks"] == len(w["in_flight_at_signal"]) > 0, role
            assert orphans_by_worker[w["worker_id"]] == len(w["in_flight_at_signal"])
            assert s["running_tasks"] == len(w["in_flight_at_signal"]), role
            assert s["current_task_id"] in w["in_flight_at_signal"], role
            assert s["load_percentage"] == 0.0, f"{role}: a lost worker loads nothing"
            # it ended at its last heartbeat, at most one interval before the kill
            ended = sess["ended_at"].timestamp()
            assert 0 <= w["signal_at"] - ended <= freq + SCHED_SLACK_S, role
            true_uptime = w["signal_at"] - w["started_at"]
        elif w["final_state"] == "offline":  # SIGTERM while busy: drained, then worker_offline
            assert (s["status"], sess["end_reason"]) == ("offline", "offline"), role
            assert sess["orphaned_tasks"] == 0 and s["running_tasks"] == 0, role
            assert abs(sess["ended_at"].timestamp() - w["exited_at"]) <= SCHED_SLACK_S, role
            true_uptime = w["exited_at"] - w["started_at"]
        else:  # alive; quiescent, so nothing runs on it: idle (heartbeat `active` says no such)
            assert w["final_state"] == "alive"
            assert s["status"] in ("active", "idle"), role
            assert s["status"] == "idle", f"{role}: nothing runs at quiescence"
            assert (s["running_tasks"], s["current_task_id"], s["load_percentage"]) == (
                0,
                None,
                0.0,
            ), role
            assert sess["end_reason"] == "running" and sess["ended_at"] is None, role
            assert 0 <= T - s["last_heartbeat"].timestamp() <= freq + SCHED_SLACK_S, role
            true_uptime = w["uptime_at_snapshot_s"]
        assert abs(sess["uptime_s"] - true_uptime) <= freq, (
            f"{role}: uptime {sess['uptime_s']:.3f} s vs truth {true_uptime:.3f} s"
        )
        assert s["uptime_seconds"] == math.floor(sess["uptime_s"]), role


def check_lost_is_decided_by_silence(o: Observed) -> None:
    """As of T (not later, not earlier): a SIGKILLed worker is only known lost once it has
    been silent for 3 x freq; just after the kill the log still shows it active, its tasks
    running and not orphaned."""
    (doomed,) = [w for w in o.truth["workers"] if w["final_state"] == "lost"]
    last = o.by("worker_sessions", "worker_id")[doomed["worker_id"]]["last_heartbeat"]
    early = last + timedelta(seconds=o.freq * 1.5)
    late = last + timedelta(seconds=o.freq * 3 + SCHED_SLACK_S)
    with queries.connect(o.lake, as_of=early) as con:
        (row,) = fetch(
            con,
            "SELECT status, running_tasks FROM worker_stats WHERE worker_id = $1",
            [doomed["worker_id"]],
        )
        orphaned = fetch(con, "SELECT count(*) AS n FROM orphaned_tasks")[0]["n"]
    assert (row["status"], row["running_tasks"], orphaned) == (
        "active",
        len(doomed["in_flight_at_signal"]),
        0,
    )
    with queries.connect(o.lake, as_of=late) as con:
        (row,) = fetch(
            con, "SELECT status FROM worker_stats WHERE worker_id = $1", [doomed["worker_id"]]
        )
    assert row["status"] == "lost"


def _hostname(o: Observed) -> str:
    names = {e["hostname"] for e in o.events if "hostname" in e}
    assert len(names) == 1
    (name,) = names
    return name


def check_lake_holds_the_capture(o: Observed) -> None:
    """Every event published up to T is in the lake once, and nothing else is."""

    def key(e: dict[str, Any]) -> tuple[Any, ...]:
        ts = datetime.fromisoformat(e["timestamp"])
        return (e["event_type"], e.get("task_id"), e["worker_id"], e.get("attempt"), ts)

    published = Counter(
        key(e) for e in o.events if datetime.fromisoformat(e["timestamp"]) <= o.as_of
    )
    with queries.connect(o.lake, as_of=o.as_of) as con:
        stored = Counter(
            (r["event_type"], r["task_id"], r["worker_id"], r["attempt"], r["timestamp"])
            for r in fetch(
                con, "SELECT event_type, task_id, worker_id, attempt, timestamp FROM events"
            )
        )
    assert stored == published, (
        f"lake vs capture up to T: missing {list((published - stored).items())[:3]}, "
        f"extra {list((stored - published).items())[:3]}"
    )


# --- the table for the report -----------------------------------------------------------------
def results_table(o: Observed) -> str:
    """Markdown: per queue and field, the driver's number, driver_queue_stats, queue_stats and
    the ground truth; then global stats and workers."""
    dqs = o.by("driver_queue_stats", "queue")
    qs = o.by("queue_stats", "queue")
    lines = [
        f"as of {o.as_of.isoformat()} (the MonitoringService read)",
        "",
        "| queue | field | driver get_queue_stats | tasqlake driver_queue_stats | "
        "tasqlake queue_stats | truth |",
        "|---|---|---|---|---|---|",
    ]
    for q in (s["name"] for s in o.driver["get_all_queue_stats"]):
        d, t = o.driver["get_queue_stats"][q], o.queue_truth(q)
        truth = {
            "depth": f"{len(t['pending'])} pending ({o.delayed(q)} in delayed zset)",
            "processing": f"{len(t['running_lost'])} on killed worker",
            "completed_total": f"{len(t['completed'])} ok + {t['attempts_failed_then_retried']}"
            " retried attempts",
            "failed_total": f"{len(t['failed'])}",
        }
        for f in ("depth", "processing", "completed_total", "failed_total"):
            lines.append(f"| {q} | {f} | {d[f]} | {dqs[q][f]} | {qs[q][f]} | {truth[f]} |")
        lines.append(
            f"| {q} | retried / orphaned | - | - | {qs[q]['retried_total']} / "
            f"{qs[q]['orphaned']} | {t['attempts_failed_then_retried']} / "
            f"{len(t['running_lost'])} |"
        )
    g, dg = o.views["global_stats"][0], o.driver["get_global_stats"]
    lines += ["", "| global | driver get_global_stats | tasqlake global_stats |", "|---|---|---|"]
    lines += [
        f"| {k} | {dg[k]} | {g[k]} |"
        for k in ("pending", "running", "completed", "failed", "total")
    ]
    sess = o.by("worker_sessions", "worker_id")
    ws = o.by("worker_stats", "worker_id")
    last_active = {
        e["worker_id"]: e["active"]
        for e in sorted(
            (
                e
                for e in o.events
                if e["event_type"] == "worker_heartbeat"
                and datetime.fromisoformat(e["timestamp"]) <= o.as_of
            ),
            key=lambda e: e["timestamp"],
        )
    }
    lines += [
        "",
        "| worker (role) | driver | tasqlake status | uptime tasqlake / truth (s) | processed "
        "tasqlake / truth | orphaned | last heartbeat `active` |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in o.truth["workers"]:
        s, x = sess[w["worker_id"]], ws[w["worker_id"]]
        true_up = {
            "lost": (w["signal_at"] or 0) - w["started_at"],
            "offline": (w["exited_at"] or 0) - w["started_at"],
        }.get(w["final_state"], w["uptime_at_snapshot_s"])
        lines.append(
            f"| {w['worker_id']} ({w['role']}, {w['final_state']}) | - | {x['status']} | "
            f"{s['uptime_s']:.2f} / {true_up:.2f} | {x['tasks_processed']} / {w['processed']} | "
            f"{s['orphaned_tasks']} | {last_active.get(w['worker_id'])} |"
        )
    return "\n".join(lines)


def check_all(o: Observed) -> None:
    check_driver_queue_stats(o)
    check_queue_stats(o)
    check_tasks(o)
    check_global_stats(o)
    check_workers(o)
