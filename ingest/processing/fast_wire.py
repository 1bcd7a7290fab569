"""The fast path's view of a payload: one Struct per event kind, told apart by ``event_type``.

:class:`~tasqlake.schemas.wire.WirePayload` has every key of every event type, so a batch of them
carries 18 columns per row, most of them unset. Here a msgspec tagged union decodes a task event
into :class:`TaskWire` (the task keys only) and a worker event into :class:`WorkerWire`, so the
column builder transposes about half as many fields, fills the other kind's columns with nulls
in one go, and never scans for ``UNSET`` in task columns.

These Structs only ever accept *less* than the canonical decoder: the keys an event type
requires are required here (absent or nil fails), the other keys have exactly WirePayload's
types, unknown keys, keys of the other kind and unknown event types fail. Whatever fails goes to
the canonical path, which decides; the property tests in ``tests/ingest/test_columnar.py`` hold
the two paths to the same answers.
"""

from __future__ import annotations

import functools
import operator
from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from tasqlake.schemas.constants import TASK_EVENT_TYPES, WORKER_EVENT_TYPES


class TaskWire(msgspec.Struct, forbid_unknown_fields=True, gc=False, tag_field="event_type"):
    """A task event; absent and nil optional keys are both None (both are stored as null)."""

    timestamp: datetime
    task_id: str
    task_name: str
    queue: str
    worker_id: str
    attempt: int
    duration_ms: int | None = None
    result: Any = None
    error: str | None = None
    traceback: str | None = None


class WorkerWire(msgspec.Struct, forbid_unknown_fields=True, gc=False, tag_field="event_type"):
    """A worker event; keys WirePayload refuses as nil stay UNSET-typed so nil fails here too."""

    timestamp: datetime
    worker_id: str
    hostname: str | UnsetType = UNSET
    freq: float | UnsetType = UNSET
    active: int | UnsetType = UNSET
    processed: int | UnsetType = UNSET
    queues: list[str] | UnsetType = UNSET
    sw_ident: str | UnsetType = UNSET
    sw_ver: str | UnsetType = UNSET
    uptime_seconds: int | None = None


def _kind(base: type[msgspec.Struct], event_type: str) -> type[msgspec.Struct]:
    name = "".join(part.title() for part in event_type.split("_"))
    return type(name, (base,), {}, tag=event_type)


#: The Struct class of each event type, and the event type of each class.
CLASSES: dict[str, type[msgspec.Struct]] = {
    **{t: _kind(TaskWire, t) for t in sorted(TASK_EVENT_TYPES)},
    **{t: _kind(WorkerWire, t) for t in sorted(WORKER_EVENT_TYPES)},
}
EVENT_TYPE_OF: dict[type, str] = {cls: tag for tag, cls in CLASSES.items()}
TASK_FIELDS: tuple[str, ...] = TaskWire.__struct_fields__
WORKER_FIELDS: tuple[str, ...] = WorkerWire.__struct_fields__
#: Worker columns that may hold UNSET (absent keys) to be turned into nulls.
WORKER_UNSETTABLE = frozenset(
    name for name in WORKER_FIELDS if name not in ("timestamp", "worker_id", "uptime_seconds")
)

decode = msgspec.msgpack.Decoder(functools.reduce(operator.or_, CLASSES.values())).decode

__all__ = [
    "CLASSES",
    "EVENT_TYPE_OF",
    "TASK_FIELDS",
    "WORKER_FIELDS",
    "WORKER_UNSETTABLE",
    "TaskWire",
    "WorkerWire",
    "decode",
]
