"""Reference implementation (in Python) of the rules in DRIVER_SEMANTICS.md: the
Redis driver's numbers derived from the event log alone. The DuckDB view
``driver_queue_stats`` must compute the same thing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

TASK_KEYS = [
    "event_type",
    "task_id",
    "task_name",
    "queue",
    "worker_id",
    "timestamp",
    "attempt",
    "duration_ms",
    "result",
    "error",
    "traceback",
]
WORKER_KEYS = [
    "event_type",
    "worker_id",
    "hostname",
    "timestamp",
    "freq",
    "active",
    "processed",
    "queues",
    "sw_ident",
    "sw_ver",
    "uptime_seconds",
]
TASK_EVENTS = {
    "task_enqueued",
    "task_started",
    "task_completed",
    "task_failed",
    "task_reenqueued",
    "task_cancelled",
}
WORKER_EVENTS = {"worker_online", "worker_heartbeat", "worker_offline"}
# datetime.isoformat() of an aware UTC datetime; the fraction is absent when microsecond == 0
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")


@dataclass
class TaskState:
    queue: str
    max_started: int = 0
    max_reenqueued: int = 0
    terminal: bool = False  # saw task_completed or task_failed (or task_cancelled)


def task_states(events: list[dict[str, Any]]) -> dict[str, TaskState]:
    """Per task id, order-insensitive: uses attempt numbers, never arrival order."""
    out: dict[str, TaskState] = {}
    for e in events:
        et = e.get("event_type")
        if et not in TASK_EVENTS:
            continue
        st = out.setdefault(e["task_id"], TaskState(e["queue"]))
        if et == "task_started":
            st.max_started = max(st.max_started, e["attempt"])
        elif et == "task_reenqueued":
            st.max_reenqueued = max(st.max_reenqueued, e["attempt"])
        elif et in ("task_completed", "task_failed", "task_cancelled"):
            st.terminal = True
    return out


def status(st: TaskState) -> str:
    """finished | processing | waiting (waiting = main list OR delayed zset)."""
    if st.terminal:
        return "finished"
    if st.max_started > st.max_reenqueued:
        return "processing"
    return "waiting"


def driver_numbers_from_events(events: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per queue: completed_total, failed_total, processing, waiting (= depth + delayed)."""
    q: dict[str, dict[str, int]] = defaultdict(
        lambda: {"completed_total": 0, "failed_total": 0, "processing": 0, "waiting": 0}
    )
    for e in events:
        et = e.get("event_type")
        if et in ("task_completed", "task_reenqueued"):
            q[e["queue"]]["completed_total"] += 1
        elif et == "task_failed":
            q[e["queue"]]["failed_total"] += 1
        elif et in TASK_EVENTS:
            q[e["queue"]]
    for st in task_states(events).values():
        s = status(st)
        if s != "finished":
            q[st.queue][s] += 1
    return dict(sorted(q.items()))


def global_from_events(per_queue: dict[str, dict[str, int]]) -> dict[str, int]:
    """get_global_stats() from the per-queue numbers (pending needs depth, not waiting)."""
    g = {
        "running": sum(v["processing"] for v in per_queue.values()),
        "completed": sum(v["completed_total"] for v in per_queue.values()),
        "failed": sum(v["failed_total"] for v in per_queue.values()),
        "waiting": sum(v["waiting"] for v in per_queue.values()),
    }
    return g
