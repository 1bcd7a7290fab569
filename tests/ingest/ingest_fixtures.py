"""Realistic AsyncTasQ 1.7 payloads for ingest tests and benchmarks.

Payloads are built with AsyncTasQ's own event dataclasses and serialised by its own Redis
emitter (``RedisEventEmitter._serialize_event``), so they are byte-for-byte what a real
deployment publishes. The mix follows a small deployment: tasks that complete, retries that
later succeed, permanent failures with tracebacks, and worker lifecycle events.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from asynctasq.monitoring import EventType, TaskEvent, WorkerEvent
from asynctasq.monitoring.emitters import RedisEventEmitter

_EMITTER = RedisEventEmitter(redis_url="redis://unused", channel="unused")
_TASKS = ("SendEmailTask", "ResizeImageTask", "ChargeCardTask", "SyncInventoryTask")
_QUEUES = ("default", "emails", "images", "billing")
_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/tasks.py", line 42, in handle\n'
    "    await self.gateway.charge(card, amount)\n"
    "ConnectionError: gateway timed out after 30s\n"
)


def serialize(event: TaskEvent | WorkerEvent) -> bytes:
    """The bytes AsyncTasQ 1.7 publishes for ``event``."""
    return _EMITTER._serialize_event(event)


def realistic_payloads(count: int, seed: int = 7, start: datetime | None = None) -> list[bytes]:
    """``count`` payloads of a realistic stream, deterministic for ``seed``."""
    return list(_stream(count, random.Random(seed), start or datetime.now(UTC)))


def _stream(count: int, rng: random.Random, start: datetime) -> Iterator[bytes]:
    workers = [f"worker-{rng.getrandbits(32):08x}" for _ in range(4)]
    clock = start
    produced = 0
    for worker in workers:
        yield serialize(_worker(EventType.WORKER_ONLINE, worker, clock, 0))
        produced += 1
    while produced < count:
        clock += timedelta(microseconds=rng.randint(1, 4000))
        for payload in _task_lifecycle(rng, clock, workers):
            if produced >= count:
                return
            yield payload
            produced += 1
        if rng.random() < 0.05 and produced < count:
            yield serialize(
                _worker(EventType.WORKER_HEARTBEAT, rng.choice(workers), clock, produced)
            )
            produced += 1


def _task_lifecycle(rng: random.Random, clock: datetime, workers: list[str]) -> Iterator[bytes]:
    task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    name, queue = rng.choice(_TASKS), rng.choice(_QUEUES)
    worker = rng.choice(workers)

    def task(kind: EventType, at: datetime, **fields: object) -> bytes:
        base: dict = {"task_id": task_id, "task_name": name, "queue": queue}
        base["worker_id"] = fields.pop("worker_id", worker)
        return serialize(TaskEvent(event_type=kind, timestamp=at, **base, **fields))  # type: ignore[arg-type]

    yield task(EventType.TASK_ENQUEUED, clock, worker_id="dispatcher")
    at = clock + timedelta(milliseconds=rng.randint(1, 50))
    outcome = rng.random()
    attempts = 2 if 0.90 <= outcome < 0.97 else 1
    for attempt in range(1, attempts + 1):
        yield task(EventType.TASK_STARTED, at, attempt=attempt)
        duration = rng.randint(5, 900)
        at += timedelta(milliseconds=duration)
        if attempt < attempts:
            yield task(
                EventType.TASK_REENQUEUED,
                at,
                attempt=attempt,
                duration_ms=duration,
                error="gateway timed out after 30s",
            )
            at += timedelta(seconds=1)
        elif outcome >= 0.97:
            yield task(
                EventType.TASK_FAILED,
                at,
                attempt=attempt,
                duration_ms=duration,
                error="gateway timed out after 30s",
                traceback=_TRACEBACK,
            )
        else:
            yield task(EventType.TASK_COMPLETED, at, attempt=1, duration_ms=duration)


def _worker(kind: EventType, worker: str, at: datetime, processed: int) -> WorkerEvent:
    return WorkerEvent(
        event_type=kind,
        worker_id=worker,
        hostname="app-1",
        timestamp=at,
        active=1,
        processed=processed,
        queues=_QUEUES,
        uptime_seconds=None if kind is EventType.WORKER_ONLINE else 60,
    )
