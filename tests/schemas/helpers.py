"""Helpers for the schemas tests: AsyncTasQ 1.7 event dicts and their msgpack bytes, and a
hypothetical older wire shape (shape 0) with its upcaster, registered through the public API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from tasqlake.schemas.wire_shapes import SHAPES, OlderShape

RECEIVED_US = 1_796_000_000_000_000  # 2026-11-29T…


def task_event(**overrides: Any) -> dict[str, Any]:
    """A task event dict exactly as AsyncTasQ 1.7 builds it (key order of its dataclass)."""
    event: dict[str, Any] = {
        "event_type": "task_completed",
        "task_id": "0b8c5b5e-1f0c-4c1f-9d7e-2b7f3c1a9e11",
        "task_name": "SendEmailTask",
        "queue": "default",
        "worker_id": "worker-5bc460b5",
        "timestamp": "2026-11-29T17:19:39.447117+00:00",
        "attempt": 1,
        "duration_ms": 150,
        "result": None,
        "error": None,
        "traceback": None,
    }
    event.update(overrides)
    return event


def worker_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_type": "worker_heartbeat",
        "worker_id": "worker-5bc460b5",
        "hostname": "web-01",
        "timestamp": "2026-11-29T17:19:40+00:00",
        "freq": 60.0,
        "active": 2,
        "processed": 150,
        "queues": ["default", "emails"],
        "sw_ident": "asynctasq",
        "sw_ver": "1.0.0",
        "uptime_seconds": 3600,
    }
    event.update(overrides)
    return event


def pack(event: dict[str, Any]) -> bytes:
    return msgspec.msgpack.encode(event)


# A hypothetical shape 0: ``type`` for event_type, ``ts`` in epoch microseconds for the ISO
# timestamp, ``queue_name`` for queue. Recognised by ``type`` present and ``event_type`` absent.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_shape_0(event: dict[str, Any]) -> dict[str, Any]:
    renamed = {"event_type": "type", "timestamp": "ts", "queue": "queue_name"}
    old = {renamed.get(k, k): v for k, v in event.items()}
    old["ts"] = (datetime.fromisoformat(event["timestamp"]) - _EPOCH) // timedelta(microseconds=1)
    return old


def upcast_0_to_1(payload: dict[str, Any]) -> dict[str, Any]:
    names = {"type": "event_type", "queue_name": "queue", "ts": "timestamp"}
    new = {names.get(k, k): v for k, v in payload.items()}
    new["timestamp"] = _EPOCH + timedelta(microseconds=payload["ts"])
    return new


SHAPE_0 = OlderShape(
    0, lambda p: "type" in p and "event_type" not in p, upcast_0_to_1, "hypothetical"
)
WITH_0 = SHAPES.with_older(SHAPE_0)
