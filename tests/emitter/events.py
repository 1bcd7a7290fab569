"""Events as AsyncTasQ builds them, stamped relative to the clock (never a fixed date)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from asynctasq.monitoring import EventType, TaskEvent, WorkerEvent


def sample_events() -> list[TaskEvent | WorkerEvent]:
    """One event of every type AsyncTasQ defines, with the values that vary the encoding: an
    error and a traceback with non-ASCII text, a result, a timestamp without microseconds (its
    ISO form has no fraction), a float ``freq``, a tuple of queues, a large duration."""
    now = datetime.now(UTC)
    task_id = str(uuid.uuid4())

    def task(kind: EventType, worker_id: str = "worker-1a2b3c4d", **extra: Any) -> TaskEvent:
        return TaskEvent(kind, task_id, "ChargeCardTask", "billing", worker_id, **extra)

    def worker(kind: EventType, **extra: Any) -> WorkerEvent:
        return WorkerEvent(kind, "worker-1a2b3c4d", "host-é", **extra)

    return [
        worker(EventType.WORKER_ONLINE, queues=("billing", "emails"), freq=0.5),
        task(EventType.TASK_ENQUEUED, worker_id="dispatcher", timestamp=now.replace(microsecond=0)),
        task(EventType.TASK_STARTED, attempt=1),
        task(EventType.TASK_REENQUEUED, attempt=1, duration_ms=52, error="card déclinée ✗"),
        task(EventType.TASK_STARTED, attempt=2, timestamp=now + timedelta(seconds=1)),
        task(EventType.TASK_COMPLETED, duration_ms=2**40, result={"ok": [1, 2.5, None]}),
        task(EventType.TASK_FAILED, attempt=3, error="boom", traceback="Traceback …\n  x\n"),
        task(EventType.TASK_CANCELLED),
        worker(EventType.WORKER_HEARTBEAT, active=2, processed=7, uptime_seconds=3),
        worker(EventType.WORKER_OFFLINE, processed=7, uptime_seconds=12),
    ]


def decoded(payload: bytes) -> dict[str, object]:
    """A payload as the dict it encodes."""
    value = msgspec.msgpack.decode(payload)
    assert isinstance(value, dict)
    return value
