"""What arrives on the wire: the payload AsyncTasQ 1.7 publishes, as a msgspec Struct.

One Struct covers all nine event types (and unknown future ones): the keys of task events and of
worker events are all optional here, and :mod:`tasqlake.schemas.decode` checks which ones each event
type requires. ``UNSET`` marks a key that was absent, ``None`` a key that was sent as nil.

``forbid_unknown_fields`` makes the fast path fail on extra keys, so that the slow path can keep
them (they are stored, never dropped).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from tasqlake.schemas.constants import TASK_EVENT_TYPES, WORKER_EVENT_TYPES


class WirePayload(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A decoded payload; field names are the wire keys."""

    event_type: str
    timestamp: datetime
    # task events
    task_id: str | UnsetType = UNSET
    task_name: str | UnsetType = UNSET
    queue: str | UnsetType = UNSET
    worker_id: str | UnsetType = UNSET
    attempt: int | UnsetType = UNSET
    duration_ms: int | UnsetType | None = UNSET
    result: Any = UNSET
    error: str | UnsetType | None = UNSET
    traceback: str | UnsetType | None = UNSET
    # worker events
    hostname: str | UnsetType = UNSET
    freq: float | UnsetType = UNSET
    active: int | UnsetType = UNSET
    processed: int | UnsetType = UNSET
    queues: list[str] | UnsetType = UNSET
    sw_ident: str | UnsetType = UNSET
    sw_ver: str | UnsetType = UNSET
    uptime_seconds: int | UnsetType | None = UNSET


WIRE_KEYS: frozenset[str] = frozenset(WirePayload.__struct_fields__)

#: Keys every event of a kind must carry (non-nil) to be stored; the rest may be absent or nil.
REQUIRED_TASK_KEYS = ("task_id", "task_name", "queue", "worker_id", "attempt")
REQUIRED_WORKER_KEYS = ("worker_id",)


def required_keys(event_type: str) -> tuple[str, ...]:
    """The keys an event of ``event_type`` must carry; unknown types need only the envelope."""
    if event_type in TASK_EVENT_TYPES:
        return REQUIRED_TASK_KEYS
    if event_type in WORKER_EVENT_TYPES:
        return REQUIRED_WORKER_KEYS
    return ()
