"""The test oracle: every view of ``queries/`` recomputed in plain Python from the event list.

Written from the semantics (issue 3, the SQL headers), not from the SQL: loops over each task's
or worker's events, no encodings. ``events`` are the DISTINCT events that reached the lake
(wire dicts with datetime timestamps); ``at`` is the instant T.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

Event = dict[str, Any]
Row = dict[str, Any]

TASK_TYPES = {
    "task_enqueued",
    "task_started",
    "task_completed",
    "task_failed",
    "task_reenqueued",
    "task_cancelled",
}
WORKER_TYPES = {"worker_online", "worker_heartbeat", "worker_offline"}
# terminal events; on equal timestamps the higher precedence decides
TERMINAL_PRECEDENCE = {"task_completed": 2, "task_failed": 1, "task_cancelled": 0}
STATE_OF_TERMINAL = {
    "task_completed": "completed",
    "task_failed": "failed",
    "task_cancelled": "cancelled",
}
ENDS = {"task_completed", "task_failed", "task_reenqueued"}
FOREVER = datetime.max.replace(tzinfo=UTC)
NEVER = datetime.min.replace(tzinfo=UTC)
ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)  # DuckDB's time_bucket origin for sub-month widths


def visible(events: list[Event], at: datetime) -> list[Event]:
    return [e for e in events if e["timestamp"] <= at]


def seconds(a: datetime, b: datetime) -> float:
    return (b - a) / timedelta(microseconds=1) / 1e6


def elapsed_ms(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return max(0.0, (b - a) / timedelta(microseconds=1) / 1e3)


# --- tasks --------------------------------------------------------------------------------
@dataclass
class Task:
    task_id: str
    task_name: str
    queue: str
    state: str
    attempts: int
    retries: int
    first_seen_at: datetime
    enqueued_at: datetime | None
    first_started_at: datetime | None
    last_started_at: datetime | None
    pending_since: datetime | None
    finished_at: datetime | None
    completed_duration_ms: int | None
    last_error: str | None
    last_traceback: str | None
    worker_id: str | None
    events: list[Event]


def _max_attempt(events: list[Event], kind: str) -> int:
    return max((e["attempt"] for e in events if e["event_type"] == kind), default=0)


def _first_of(events: list[Event], kind: str, attempt: int | None = None) -> Event | None:
    found = [
        e
        for e in events
        if e["event_type"] == kind and (attempt is None or e["attempt"] == attempt)
    ]
    return min(found, key=lambda e: e["timestamp"]) if found else None


def task_states(events: list[Event], at: datetime) -> dict[str, Task]:
    by_task: dict[str, list[Event]] = defaultdict(list)
    for e in visible(events, at):
        if e["event_type"] in TASK_TYPES:
            by_task[e["task_id"]].append(e)
    tasks = {}
    for task_id, evs in by_task.items():
        terminals = [e for e in evs if e["event_type"] in TERMINAL_PRECEDENCE]
        deciding = (
            min(
                terminals,
                key=lambda e: (e["timestamp"], -TERMINAL_PRECEDENCE[e["event_type"]]),
            )
            if terminals
            else None
        )
        s = _max_attempt(evs, "task_started")
        r = _max_attempt(evs, "task_reenqueued")
        f = _max_attempt(evs, "task_failed")
        if deciding is not None:
            state = STATE_OF_TERMINAL[deciding["event_type"]]
        elif s > r:
            state = "running"
        else:
            state = "pending"
        attempts = max(s, r + 1) if state == "completed" else max(s, r, f)
        retries = max(r, attempts - 1, 0)
        started = _first_of(evs, "task_started", s) if s else None
        enqueued = [e["timestamp"] for e in evs if e["event_type"] == "task_enqueued"]
        starts = [e["timestamp"] for e in evs if e["event_type"] == "task_started"]
        pending_since = None
        if state == "pending":
            reenqueued = _first_of(evs, "task_reenqueued", r) if r else None
            pending_since = reenqueued["timestamp"] if reenqueued else min(enqueued)
        failures = [e for e in evs if e["event_type"] in ("task_failed", "task_reenqueued")]
        latest_failure = (
            max(failures, key=lambda e: (e["attempt"], e["event_type"] == "task_failed"))
            if failures
            else None
        )
        if deciding is not None:
            worker = deciding["worker_id"]
        elif state == "running":
            worker = started["worker_id"] if started else None
        elif r:
            worker = _first_of(evs, "task_reenqueued", r)["worker_id"]  # type: ignore[index]
        else:
            worker = None
        tasks[task_id] = Task(
            task_id=task_id,
            task_name=min(e["task_name"] for e in evs),
            queue=min(e["queue"] for e in evs),
            state=state,
            attempts=attempts,
            retries=retries,
            first_seen_at=min(e["timestamp"] for e in evs),
            enqueued_at=min(enqueued) if enqueued else None,
            first_started_at=min(starts) if starts else None,
            last_started_at=started["timestamp"] if started and state == "running" else None,
            pending_since=pending_since,
            finished_at=deciding["timestamp"] if deciding else None,
            completed_duration_ms=deciding["duration_ms"] if state == "completed" else None,
            last_error=latest_failure["error"] if latest_failure else None,
            last_traceback=latest_failure["traceback"] if latest_failure else None,
            worker_id=worker,
            events=evs,
        )
    return tasks


# --- worker sessions ----------------------------------------------------------------------
@dataclass
class Session:
    worker_id: str
    session_no: int
    events: list[Event]
    hostname: str | None
    queues: list[str] | None
    started_at: datetime
    ended_at: datetime | None
    end_reason: str
    uptime_s: float
    heartbeats: int
    last_heartbeat: datetime | None
    last_seen_at: datetime
    freq: float
    max_active: int | None
    covers_from: datetime
    covers_until: datetime
    is_latest: bool


_PHASE = {"worker_online": 0, "worker_heartbeat": 1, "worker_offline": 2}


def sessions(events: list[Event], at: datetime) -> list[Session]:
    by_worker: dict[str, list[Event]] = defaultdict(list)
    for e in visible(events, at):
        if e["event_type"] in WORKER_TYPES:
            by_worker[e["worker_id"]].append(e)
    out: list[Session] = []
    for worker_id, evs in sorted(by_worker.items()):
        evs.sort(key=lambda e: (e["timestamp"], _PHASE[e["event_type"]]))
        groups: list[list[Event]] = []
        for e in evs:
            opens = (
                not groups
                or e["event_type"] == "worker_online"
                or groups[-1][-1]["event_type"] == "worker_offline"
            )
            if opens:
                groups.append([e])
            else:
                groups[-1].append(e)
        for number, group in enumerate(groups, start=1):
            alive = [e for e in group if e["event_type"] != "worker_offline"]
            offline = [e for e in group if e["event_type"] == "worker_offline"]
            freqs = [e for e in alive if e["freq"] and e["freq"] > 0]
            freq = freqs[-1]["freq"] if freqs else 60.0
            started_at = group[0]["timestamp"]
            last_seen = group[-1]["timestamp"]
            has_next = number < len(groups)
            if offline:
                reason, ended = "offline", offline[-1]["timestamp"]
            elif has_next or seconds(last_seen, at) > 3 * freq:
                reason, ended = "lost", last_seen
            else:
                reason, ended = "running", None
            out.append(
                Session(
                    worker_id=worker_id,
                    session_no=number,
                    events=group,
                    hostname=group[-1]["hostname"],
                    queues=alive[-1]["queues"] if alive else None,
                    started_at=started_at,
                    ended_at=ended,
                    end_reason=reason,
                    uptime_s=max(0.0, seconds(started_at, ended or at)),
                    heartbeats=sum(e["event_type"] == "worker_heartbeat" for e in group),
                    last_heartbeat=alive[-1]["timestamp"] if alive else None,
                    last_seen_at=last_seen,
                    freq=freq,
                    max_active=max((e["active"] for e in alive), default=None),
                    covers_from=NEVER if number == 1 else started_at,
                    covers_until=groups[number][0]["timestamp"] if has_next else FOREVER,
                    is_latest=not has_next,
                )
            )
    return out


def session_of(
    all_sessions: list[Session], worker_id: str | None, moment: datetime
) -> Session | None:
    for s in all_sessions:
        if s.worker_id == worker_id and s.covers_from <= moment < s.covers_until:
            return s
    return None


def orphaned(task: Task, all_sessions: list[Session]) -> bool:
    if task.state != "running" or task.last_started_at is None:
        return False
    s = session_of(all_sessions, task.worker_id, task.last_started_at)
    return s is not None and s.end_reason == "lost"


# --- error classes ------------------------------------------------------------------------
def error_class(error: str | None, traceback: str | None) -> str | None:
    if traceback is not None:
        lines = [line for line in traceback.split("\n") if line.strip(" ")]
        if lines:
            match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_.]*)(:.*)?", lines[-1].strip(" "))
            if match:
                return match.group(1)
    if error is None:
        return None
    text = re.sub(r"'[^']*'", "'?'", error)
    text = re.sub(r'"[^"]*"', '"?"', text)
    text = re.sub(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        "<uuid>",
        text,
    )
    text = re.sub(r"0x[0-9a-fA-F]+", "<hex>", text)
    text = re.sub(r"\b[0-9a-fA-F]{8,}\b", "<id>", text)
    text = re.sub(r"[0-9]+(\.[0-9]+)?", "<n>", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip(" ")[:200]


# --- the views ----------------------------------------------------------------------------
def task_attempts(events: list[Event], at: datetime) -> list[Row]:
    tasks = task_states(events, at)
    all_sessions = sessions(events, at)
    rows = []
    for t in tasks.values():
        per: dict[int, list[Event]] = defaultdict(list)
        for e in t.events:
            if e["event_type"] == "task_completed":
                per[max(t.attempts, 1)].append(e)
            elif e["event_type"] in ("task_started", "task_failed", "task_reenqueued"):
                per[e["attempt"]].append(e)
        for attempt, evs in per.items():
            starts = [e for e in evs if e["event_type"] == "task_started"]
            ends = [e for e in evs if e["event_type"] in ENDS]
            start = min(starts, key=lambda e: e["timestamp"]) if starts else None
            end = min(ends, key=lambda e: e["timestamp"]) if ends else None
            if end is not None:
                outcome = {
                    "task_completed": "completed",
                    "task_failed": "failed",
                    "task_reenqueued": "reenqueued",
                }[end["event_type"]]
            elif attempt < t.attempts:
                outcome = "reenqueued"
            elif orphaned(t, all_sessions):
                outcome = "orphaned"
            else:
                outcome = t.state
            rows.append(
                {
                    "task_id": t.task_id,
                    "attempt": attempt,
                    "queue": t.queue,
                    "task_name": t.task_name,
                    "started_at": start["timestamp"] if start else None,
                    "ended_at": end["timestamp"] if end else None,
                    "outcome": outcome,
                    "duration_ms": end["duration_ms"] if end else None,
                    "worker_id": (start or end or {}).get("worker_id"),
                    "error": end["error"] if end else None,
                }
            )
    return rows


def tasks_view(events: list[Event], at: datetime) -> list[Row]:
    all_sessions = sessions(events, at)
    run: dict[str, int] = defaultdict(int)
    ran: set[str] = set()
    for a in task_attempts(events, at):
        if a["duration_ms"] is not None:
            run[a["task_id"]] += a["duration_ms"]
            ran.add(a["task_id"])
    return [
        {
            "task_id": t.task_id,
            "task_name": t.task_name,
            "queue": t.queue,
            "state": t.state,
            "attempts": t.attempts,
            "retries": t.retries,
            "enqueued_at": t.enqueued_at,
            "first_started_at": t.first_started_at,
            "finished_at": t.finished_at,
            "wait_ms": elapsed_ms(t.enqueued_at, t.first_started_at),
            "run_ms": run[t.task_id] if t.task_id in ran else None,
            "total_ms": elapsed_ms(t.enqueued_at, t.finished_at),
            "last_error": t.last_error,
            "error_class": error_class(t.last_error, t.last_traceback),
            "worker_id": t.worker_id,
            "orphaned": orphaned(t, all_sessions),
        }
        for t in task_states(events, at).values()
    ]


def queue_stats(events: list[Event], at: datetime) -> list[Row]:
    all_sessions = sessions(events, at)
    by_queue: dict[str, list[Task]] = defaultdict(list)
    for t in task_states(events, at).values():
        by_queue[t.queue].append(t)
    rows = []
    for queue, ts in by_queue.items():
        durations = [
            t.completed_duration_ms
            for t in ts
            if t.state == "completed" and t.completed_duration_ms is not None
        ]
        pending = [t.pending_since for t in ts if t.state == "pending"]
        recent = [
            t
            for t in ts
            if t.state == "completed"
            and t.finished_at is not None
            and at - timedelta(minutes=5) < t.finished_at <= at
        ]
        rows.append(
            {
                "queue": queue,
                "depth": sum(t.state == "pending" for t in ts),
                "processing": sum(t.state == "running" for t in ts),
                "completed_total": sum(t.state == "completed" for t in ts),
                "failed_total": sum(t.state == "failed" for t in ts),
                "avg_duration_ms": sum(durations) / len(durations) if durations else None,
                "throughput_per_minute": len(recent) / 5.0,
                "retried_total": sum(t.retries for t in ts),
                "cancelled_total": sum(t.state == "cancelled" for t in ts),
                "orphaned": sum(orphaned(t, all_sessions) for t in ts),
                "oldest_pending_age_s": (
                    max(0.0, seconds(min(pending), at)) if pending else None  # type: ignore[type-var]
                ),
            }
        )
    return rows


def driver_queue_stats(events: list[Event], at: datetime) -> list[Row]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in visible(events, at):
        if e["event_type"] in ("task_completed", "task_reenqueued"):
            counts[e["queue"]]["acked"] += 1
        elif e["event_type"] == "task_failed":
            counts[e["queue"]]["failed"] += 1
    by_queue: dict[str, list[Task]] = defaultdict(list)
    for t in task_states(events, at).values():
        by_queue[t.queue].append(t)
    return [
        {
            "queue": queue,
            "depth": sum(t.state == "pending" for t in ts),
            "processing": sum(t.state == "running" for t in ts),
            "completed_total": counts[queue]["acked"],
            "failed_total": counts[queue]["failed"],
            "avg_duration_ms": None,
            "throughput_per_minute": None,
        }
        for queue, ts in sorted(by_queue.items())
    ]


def global_stats(events: list[Event], at: datetime) -> list[Row]:
    states = [t.state for t in task_states(events, at).values()]
    row = {k: states.count(k) for k in ("pending", "running", "completed", "failed")}
    row = {
        "pending": row["pending"],
        "running": row["running"],
        "completed": row["completed"],
        "failed": row["failed"],
        "total": sum(row.values()),
    }
    return [row]


def bucket_of(moment: datetime, width: timedelta) -> datetime:
    return ORIGIN + width * ((moment - ORIGIN) // width)


def queue_depth_series(
    events: list[Event], at: datetime, width: timedelta, gaps: Sequence[GapRecord] = ()
) -> list[Row]:
    windows = ingest_gaps(gaps, at)
    seen = [e for e in visible(events, at) if e["event_type"] in TASK_TYPES]
    if not seen:
        return []
    queues = sorted(
        {min(e["queue"] for e in seen if e["task_id"] == t) for t in {e["task_id"] for e in seen}}
    )
    first = bucket_of(min(e["timestamp"] for e in seen), width)
    last = bucket_of(max(e["timestamp"] for e in seen), width)
    rows = []
    bucket = first
    while bucket <= last:
        end = bucket + width
        before = [e for e in seen if e["timestamp"] < end]
        states = task_states(before, at)
        inside = [e for e in seen if bucket <= e["timestamp"] < end]
        for queue in queues:
            in_queue = [t for t in states.values() if t.queue == queue]

            def instants(kind: str, queue: str = queue, inside: list[Event] = inside) -> int:
                return len(
                    {
                        (e["task_id"], e["timestamp"])
                        for e in inside
                        if e["event_type"] == kind and e["queue"] == queue
                    }
                )

            rows.append(
                {
                    "queue": queue,
                    "bucket_start": bucket,
                    "bucket_end": end,
                    "depth": sum(t.state == "pending" for t in in_queue),
                    "processing": sum(t.state == "running" for t in in_queue),
                    "enqueued": instants("task_enqueued"),
                    "started": instants("task_started"),
                    "completed": instants("task_completed"),
                    "failed": instants("task_failed"),
                    "retried": instants("task_reenqueued"),
                    "complete": complete(windows, bucket, end),
                }
            )
        bucket = end
    return rows


def throughput_series(
    events: list[Event], at: datetime, width: timedelta, gaps: Sequence[GapRecord] = ()
) -> list[Row]:
    windows = ingest_gaps(gaps, at)
    groups: dict[tuple[str, str, datetime], list[Event]] = defaultdict(list)
    for e in visible(events, at):
        if e["event_type"] in ENDS:
            groups[(e["queue"], e["task_name"], bucket_of(e["timestamp"], width))].append(e)
    rows = []
    for (queue, name, bucket), evs in groups.items():
        durations = [
            e["duration_ms"]
            for e in evs
            if e["event_type"] == "task_completed" and e["duration_ms"] is not None
        ]
        rows.append(
            {
                "queue": queue,
                "task_name": name,
                "bucket_start": bucket,
                "bucket_end": bucket + width,
                "completed": sum(e["event_type"] == "task_completed" for e in evs),
                "failed": sum(e["event_type"] == "task_failed" for e in evs),
                "retried": sum(e["event_type"] == "task_reenqueued" for e in evs),
                "avg_duration_ms": sum(durations) / len(durations) if durations else None,
                "complete": complete(windows, bucket, bucket + width),
            }
        )
    return rows


def retry_rates(events: list[Event], at: datetime) -> list[Row]:
    groups: dict[tuple[str, str], list[Task]] = defaultdict(list)
    for t in task_states(events, at).values():
        groups[(t.queue, t.task_name)].append(t)
    rows = []
    for (queue, name), ts in groups.items():
        attempts = sum(t.attempts for t in ts)
        retries = sum(t.retries for t in ts)
        retried = [t for t in ts if t.retries > 0]
        failed = sum(t.state == "failed" for t in ts)
        completed = sum(t.state == "completed" for t in ts)
        rows.append(
            {
                "queue": queue,
                "task_name": name,
                "tasks": len(ts),
                "attempts": attempts,
                "retries": retries,
                "retry_rate": retries / attempts if attempts else None,
                "tasks_retried": len(retried),
                "failed": failed,
                "failure_rate": failed / (completed + failed) if completed + failed else None,
                "eventual_success_rate": (
                    sum(t.state == "completed" for t in retried) / len(retried) if retried else None
                ),
            }
        )
    return rows


def failures(events: list[Event], at: datetime) -> list[Row]:
    groups: dict[tuple[str, str, str | None], list[Event]] = defaultdict(list)
    for e in visible(events, at):
        if e["event_type"] in ("task_failed", "task_reenqueued"):
            key = (e["queue"], e["task_name"], error_class(e["error"], e["traceback"]))
            groups[key].append(e)
    return [
        {
            "queue": queue,
            "task_name": name,
            "error_class": klass,
            "count": len(evs),
            "permanent": sum(e["event_type"] == "task_failed" for e in evs),
            "retried": sum(e["event_type"] == "task_reenqueued" for e in evs),
            "first_seen": min(e["timestamp"] for e in evs),
            "last_seen": max(e["timestamp"] for e in evs),
            "sample_error": max(evs, key=lambda e: e["timestamp"])["error"],
        }
        for (queue, name, klass), evs in groups.items()
    ]


def quantile_cont(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (DuckDB's quantile_cont)."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def task_latency(events: list[Event], at: datetime) -> list[Row]:
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for t in tasks_view(events, at):
        groups[(t["queue"], t["task_name"])].append(t)
    rows = []
    for (queue, name), ts in groups.items():
        row: Row = {"queue": queue, "task_name": name, "count": len(ts)}
        for measure in ("wait", "run", "total"):
            values = [t[f"{measure}_ms"] for t in ts if t[f"{measure}_ms"] is not None]
            for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
                row[f"{measure}_{label}"] = quantile_cont(values, q)
        rows.append(row)
    return rows


def worker_sessions(events: list[Event], at: datetime) -> list[Row]:
    all_sessions = sessions(events, at)
    tasks = task_states(events, at)
    rows = []
    for s in all_sessions:
        mine = [
            e
            for e in visible(events, at)
            if e["event_type"] in ("task_started", *ENDS)
            and e["worker_id"] == s.worker_id
            and s.covers_from <= e["timestamp"] < s.covers_until
        ]
        rows.append(
            {
                "worker_id": s.worker_id,
                "session_no": s.session_no,
                "hostname": s.hostname,
                "queues": s.queues,
                "started_at": s.started_at,
                "ended_at": s.ended_at,
                "end_reason": s.end_reason,
                "uptime_s": s.uptime_s,
                "heartbeats": s.heartbeats,
                "tasks_started": sum(e["event_type"] == "task_started" for e in mine),
                "tasks_finished": sum(e["event_type"] != "task_started" for e in mine),
                "orphaned_tasks": sum(
                    orphaned(t, all_sessions)
                    and session_of(all_sessions, t.worker_id, t.last_started_at) is s  # type: ignore[arg-type]
                    for t in tasks.values()
                ),
                "last_heartbeat": s.last_heartbeat,
                "freq": s.freq,
            }
        )
    return rows


def worker_stats(events: list[Event], at: datetime) -> list[Row]:
    tasks = list(task_states(events, at).values())
    rows = []
    for s in sessions(events, at):
        if not s.is_latest:
            continue
        running = [
            t
            for t in tasks
            if t.state == "running"
            and t.worker_id == s.worker_id
            and t.last_started_at is not None
            and t.last_started_at >= s.covers_from
        ]
        if s.end_reason in ("offline", "lost"):
            status = s.end_reason
        else:
            status = "active" if running else "idle"
        rows.append(
            {
                "worker_id": s.worker_id,
                "status": status,
                "current_task_id": (
                    max(running, key=lambda t: t.last_started_at).task_id  # type: ignore[arg-type,return-value]
                    if running
                    else None
                ),
                "tasks_processed": sum(
                    t.state in ("completed", "failed") and t.worker_id == s.worker_id for t in tasks
                ),
                "uptime_seconds": math.floor(s.uptime_s),
                "last_heartbeat": s.last_heartbeat,
                "load_percentage": (  # an offline or lost worker runs nothing: 0
                    100.0 * len(running) / max(len(running), s.max_active or 0)
                    if running and s.end_reason == "running"
                    else 0.0
                ),
                "running_tasks": len(running),
                "hostname": s.hostname,
                "queues": s.queues,
                "sessions": s.session_no,
                "started_at": s.started_at,
                "last_seen_at": s.last_seen_at,
            }
        )
    return rows


def workers(events: list[Event], at: datetime) -> list[Row]:
    all_sessions = sessions(events, at)
    return [
        {
            "worker_id": w["worker_id"],
            "hostname": w["hostname"],
            "queues": w["queues"],
            "first_seen": min(s.started_at for s in all_sessions if s.worker_id == w["worker_id"]),
            "last_seen": w["last_seen_at"],
            "status": w["status"],
            "sessions": w["sessions"],
        }
        for w in worker_stats(events, at)
    ]


def worker_uptime(events: list[Event], at: datetime) -> list[Row]:
    by_worker: dict[str, list[Session]] = defaultdict(list)
    for s in sessions(events, at):
        by_worker[s.worker_id].append(s)
    rows = []
    for worker_id, ss in by_worker.items():
        first = min(s.started_at for s in ss)
        uptime = sum(s.uptime_s for s in ss)
        window = seconds(first, at)
        rows.append(
            {
                "worker_id": worker_id,
                "sessions": len(ss),
                "restarts": len(ss) - 1,
                "crashes": sum(s.end_reason == "lost" for s in ss),
                "uptime_s": uptime,
                "window_s": max(0.0, window),
                "availability": min(1.0, uptime / window) if window > 0 else None,
                "first_started_at": first,
            }
        )
    return rows


# --- ingest gaps ----------------------------------------------------------------------------
@dataclass(frozen=True)
class GapRecord:
    """One stored gap record: ``ingester_id`` was not subscribed in [start, end)."""

    ingester_id: str
    start: datetime
    end: datetime
    reason: str
    channels: tuple[str, ...] = ("asynctasq:events",)


def ingest_gaps(records: Sequence[GapRecord], at: datetime) -> list[Row]:
    """Windows of [first record start, T] in which every ingester is not subscribed.

    An ingester is not subscribed before its first record and inside each of its records
    (records clipped at T; only those starting at or before T exist as of T), subscribed
    otherwise. Between consecutive record boundaries nothing changes, so each elementary piece
    is decided at its left end; touching gap pieces are merged.
    """
    known = [replace(r, end=min(r.end, at)) for r in records if r.start <= at]
    if not known:
        return []
    by_ingester: dict[str, list[GapRecord]] = defaultdict(list)
    for r in known:
        by_ingester[r.ingester_id].append(r)

    def not_subscribed(own: list[GapRecord], t: datetime) -> bool:
        return t < min(r.start for r in own) or any(r.start <= t < r.end for r in own)

    span_start = min(r.start for r in known)
    cuts = sorted(
        {span_start, at} | {t for r in known for t in (r.start, r.end) if span_start <= t <= at}
    )
    windows: list[tuple[datetime, datetime]] = []
    for a, b in pairwise(cuts):
        if all(not_subscribed(own, a) for own in by_ingester.values()):
            if windows and windows[-1][1] == a:
                windows[-1] = (windows[-1][0], b)
            else:
                windows.append((a, b))
    rows = []
    for a, b in windows:
        over = [r for r in known if r.start < b and r.end > a]
        rows.append(
            {
                "gap_start": a,
                "gap_end": b,
                "duration_s": seconds(a, b),
                "ingesters": sorted({r.ingester_id for r in over}),
                "reasons": sorted({r.reason for r in over}),
                "channels": sorted({c for r in over for c in r.channels}),
            }
        )
    return rows


def covered(windows: list[Row], t: datetime) -> bool:
    """``t`` outside every window of :func:`ingest_gaps`."""
    return not any(w["gap_start"] <= t < w["gap_end"] for w in windows)


def complete(windows: list[Row], start: datetime, end: datetime) -> bool:
    """[start, end) overlaps no window of :func:`ingest_gaps`."""
    return not any(w["gap_start"] < end and w["gap_end"] > start for w in windows)
