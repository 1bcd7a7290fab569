"""Byte-exact payloads of AsyncTasQ 1.7.0's Redis event emitter.

The real emitter publishes ``msgspec.msgpack.encode(dict)`` of ``dataclasses.asdict(event)``
(``event_type`` as the enum value, ``timestamp`` as ``datetime.isoformat()``, ``queues`` as a
list). msgspec encodes a Struct as a map of its fields in declaration order, exactly like that
dict, so the two Structs below mirror ``TaskEvent`` and ``WorkerEvent`` field for field and
encode to identical bytes, about twice as fast as building the dict.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

SW_IDENT = "asynctasq"
#: What 1.7.0 sends whatever the installed version.
SW_VER = "1.0.0"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


class TaskWire(msgspec.Struct):
    """``asynctasq.monitoring.TaskEvent`` as published."""

    event_type: str
    task_id: str
    task_name: str
    queue: str
    worker_id: str
    timestamp: str
    attempt: int = 1
    duration_ms: int | None = None
    result: Any = None
    error: str | None = None
    traceback: str | None = None


class WorkerWire(msgspec.Struct):
    """``asynctasq.monitoring.WorkerEvent`` as published."""

    event_type: str
    worker_id: str
    hostname: str
    timestamp: str
    freq: float = 60.0
    active: int = 0
    processed: int = 0
    queues: list[str] = msgspec.field(default_factory=list)
    sw_ident: str = SW_IDENT
    sw_ver: str = SW_VER
    uptime_seconds: int | None = None


TASK_KEYS: tuple[str, ...] = TaskWire.__struct_fields__
WORKER_KEYS: tuple[str, ...] = WorkerWire.__struct_fields__

encode = msgspec.msgpack.Encoder().encode


class Clock:
    """Turns simulated seconds into ``datetime.isoformat()`` text of an aware UTC datetime.

    ``2026-11-29T17:19:39.447117+00:00``, or ``2026-11-29T17:19:39+00:00`` when the
    microseconds are 0. The per-second prefix is cached: formatting is a dict lookup and an
    f-string instead of building a datetime.
    """

    __slots__ = ("_base_us", "_cache", "_last", "_resolution")

    def __init__(self, start: datetime, resolution_us: int = 1) -> None:
        self._base_us = (start - _EPOCH) // _MICRO
        self._resolution = resolution_us
        self._cache: dict[int, str] = {}
        self._last: tuple[int, str] = (-1, "")

    def iso(self, t: float) -> str:
        """Timestamp text of simulated time ``t`` (seconds since the start)."""
        us = self._base_us + round(t * 1_000_000)
        if self._resolution > 1:
            us -= us % self._resolution
        sec, frac = divmod(us, 1_000_000)
        last_sec, prefix = self._last
        if sec != last_sec:
            prefix = self._prefix(sec)
            self._last = (sec, prefix)
        if frac:
            return f"{prefix}.{frac:06d}+00:00"
        return f"{prefix}+00:00"

    def _prefix(self, sec: int) -> str:
        prefix = self._cache.get(sec)
        if prefix is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            prefix = (_EPOCH + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S")
            self._cache[sec] = prefix
        return prefix


def task_id(rng: random.Random) -> str:
    """A random (version 4) UUID string, drawn from ``rng``."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def worker_id(rng: random.Random) -> str:
    """``worker-`` + 8 hex digits, like ``f"worker-{uuid.uuid4().hex[:8]}"``."""
    return f"worker-{rng.getrandbits(32):08x}"
