"""Helpers for the schemas tests: AsyncTasQ 1.7 event dicts and their msgpack bytes."""

from __future__ import annotations

from typing import Any

import msgspec

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
