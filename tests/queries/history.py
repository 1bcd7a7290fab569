"""Wire-format payload builders and a generator of random, valid AsyncTasQ 1.7 histories.

A history is what a real deployment publishes: a dispatcher enqueues tasks; workers come online,
heartbeat every ``freq`` seconds, run attempts (success, failure then retry, permanent failure),
and stop gracefully (``worker_offline`` after their in-flight tasks) or crash (silence; their
running tasks never end); some workers come back under the same id. Every process stamps events
with its own clock (skewed by a few ms). ``task_completed`` always says attempt 1 (the quirk).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

BASE = datetime(2026, 11, 29, 10, 58, tzinfo=UTC)  # two minutes before an hour boundary

ERRORS = (
    ("ValueError", "bad value 17 for field 'amount'"),
    ("ConnectionError", "connection to 10.0.0.7:5432 refused after 3 tries"),
    ("TimeoutError", "timed out after 2.5 s waiting for 'db-3'"),
)


def task_event(
    event_type: str,
    task_id: str,
    at: datetime,
    *,
    attempt: int = 1,
    queue: str = "default",
    task_name: str = "SendEmailTask",
    worker_id: str = "dispatcher",
    duration_ms: int | None = None,
    error: str | None = None,
    traceback: str | None = None,
) -> dict[str, Any]:
    """A task event with every key, in AsyncTasQ's order."""
    return {
        "event_type": event_type,
        "task_id": task_id,
        "task_name": task_name,
        "queue": queue,
        "worker_id": worker_id,
        "timestamp": at,
        "attempt": attempt,
        "duration_ms": duration_ms,
        "result": None,
        "error": error,
        "traceback": traceback,
    }


def worker_event(
    event_type: str,
    worker_id: str,
    at: datetime,
    *,
    freq: float = 60.0,
    active: int = 0,
    processed: int = 0,
    queues: list[str] | None = None,
    hostname: str = "host-1",
    uptime_seconds: int | None = None,
) -> dict[str, Any]:
    """A worker event with every key, in AsyncTasQ's order."""
    return {
        "event_type": event_type,
        "worker_id": worker_id,
        "hostname": hostname,
        "timestamp": at,
        "freq": freq,
        "active": active,
        "processed": processed,
        "queues": list(queues or []),
        "sw_ident": "asynctasq",
        "sw_ver": "1.0.0",
        "uptime_seconds": uptime_seconds,
    }


def traceback_text(kind: str, message: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/app/tasks.py", line 42, in handle\n'
        "    raise " + kind + "(msg)\n"
        f"{kind}: {message}\n"
    )


@dataclass
class Session:
    worker_id: str
    start: datetime
    end: datetime  # offline time, crash time, or the end of the history (still running)
    how: str  # "offline" | "crash" | "running"
    freq: float
    queues: list[str]
    clock: timedelta  # this process's clock skew


@dataclass
class History:
    """All events the deployment published (true order irrelevant), plus its time span."""

    events: list[dict[str, Any]] = field(default_factory=list)
    start: datetime = BASE
    end: datetime = BASE


def generate(seed: int, n_tasks: int, n_workers: int) -> History:
    """A random valid history (deterministic for a seed)."""
    rng = random.Random(seed)
    queues = ["default", "emails", "reports"]
    names = ["SendEmailTask", "BuildReportTask", "ChargeCardTask"]
    start = BASE + timedelta(seconds=rng.uniform(0, 60))
    horizon = start + timedelta(seconds=rng.uniform(150, 240))

    def skew() -> timedelta:
        return timedelta(microseconds=rng.randint(-3000, 3000))

    history = History(start=start, end=horizon)
    emit = history.events.append

    # --- workers and their sessions ---------------------------------------------------------
    sessions: list[Session] = []
    for w in range(n_workers):
        worker_id = f"worker-{seed % 9973:04x}{w:04x}"
        freq = rng.choice([1.0, 2.0, 5.0])
        own = rng.sample(queues, rng.randint(1, 3))
        at = start + timedelta(seconds=rng.uniform(0, 30))
        for _ in range(rng.choice([1, 1, 1, 2])):
            if at >= horizon:
                break
            length = timedelta(seconds=rng.uniform(20, 200))
            end = min(at + length, horizon)
            how = "running" if end >= horizon else rng.choice(["offline", "crash"])
            sessions.append(Session(worker_id, at, end, how, freq, own, skew()))
            at = end + timedelta(seconds=rng.uniform(1, 40))

    # --- tasks ------------------------------------------------------------------------------
    dispatcher_clock = skew()
    runs: dict[int, list[tuple[datetime, datetime]]] = {}  # session index -> busy spans
    for n in range(n_tasks):
        task_id = f"{seed:08x}-{n:04x}-4000-8000-{rng.getrandbits(48):012x}"
        queue, name = rng.choice(queues), rng.choice(names)
        meta = {"queue": queue, "task_name": name}
        at = start + timedelta(seconds=rng.uniform(0, (horizon - start).total_seconds() * 0.8))
        emit(task_event("task_enqueued", task_id, at + dispatcher_clock, **meta))
        if rng.random() < 0.05:
            cancel_at = at + timedelta(seconds=rng.uniform(0.1, 5))
            emit(task_event("task_cancelled", task_id, cancel_at + dispatcher_clock, **meta))
            continue
        max_attempts = rng.choice([1, 2, 3])
        attempt = 1
        while True:
            begin = at + timedelta(seconds=rng.uniform(0.01, 3))
            duration = timedelta(milliseconds=rng.randint(5, 4000))
            candidates = [
                i
                for i, s in enumerate(sessions)
                if queue in s.queues
                and s.start < begin < s.end
                and (s.how == "crash" or begin + duration < s.end)
            ]
            if not candidates or begin >= horizon:
                break  # nobody consumes it (yet): it stays pending
            index = rng.choice(candidates)
            session = sessions[index]
            clock = session.clock
            wmeta = {**meta, "worker_id": session.worker_id}
            emit(task_event("task_started", task_id, begin + clock, attempt=attempt, **wmeta))
            finish = begin + duration
            if finish >= session.end or finish >= horizon:
                break  # the worker crashed mid-task (orphan) or the history ends first
            runs.setdefault(index, []).append((begin, finish))
            ms = int(duration.total_seconds() * 1000)
            fails = rng.random() < 0.35
            if not fails:
                emit(task_event("task_completed", task_id, finish + clock, duration_ms=ms, **wmeta))
                break
            kind, message = rng.choice(ERRORS)
            if attempt < max_attempts:
                emit(
                    task_event(
                        "task_reenqueued",
                        task_id,
                        finish + clock,
                        attempt=attempt,
                        duration_ms=ms,
                        error=message,
                        **wmeta,
                    )
                )
                attempt += 1
                at = finish + timedelta(seconds=rng.uniform(0.5, 2))
                continue
            emit(
                task_event(
                    "task_failed",
                    task_id,
                    finish + clock,
                    attempt=attempt,
                    duration_ms=ms,
                    error=message,
                    traceback=traceback_text(kind, message) if rng.random() < 0.8 else None,
                    **wmeta,
                )
            )
            break

    # --- worker events ----------------------------------------------------------------------
    for s in sessions:
        common = {"freq": s.freq, "queues": s.queues, "hostname": f"host-{s.worker_id[-1]}"}
        emit(worker_event("worker_online", s.worker_id, s.start + s.clock, **common))
        beat = s.start + timedelta(seconds=s.freq)
        processed = 0
        while beat < s.end:
            emit(
                worker_event(
                    "worker_heartbeat",
                    s.worker_id,
                    beat + s.clock,
                    active=rng.randint(0, 3),
                    processed=processed,
                    uptime_seconds=int((beat - s.start).total_seconds()),
                    **common,
                )
            )
            processed += rng.randint(0, 2)
            beat += timedelta(seconds=s.freq)
        if s.how == "offline":
            emit(
                worker_event(
                    "worker_offline",
                    s.worker_id,
                    s.end + s.clock,
                    hostname=common["hostname"],
                    processed=processed,
                    uptime_seconds=int((s.end - s.start).total_seconds()),
                )
            )
    return history


def imperfect(
    history: History, seed: int, *, drop: float, duplicate: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(stored, distinct)``: the events as stored (shuffled, some dropped, some duplicated)
    and the distinct events that reached the lake (what the oracle sees)."""
    rng = random.Random(seed ^ 0x5EED)
    kept = [e for e in history.events if rng.random() >= drop]
    stored = kept + [e for e in kept if rng.random() < duplicate]
    rng.shuffle(stored)
    return stored, kept
