"""Helpers for the queries tests: events stored through the real write path (msgpack bytes ->
``decode`` -> ``EventColumns`` -> ``Lake.commit_parquet``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec

from tasqlake.lake.storage import Lake
from tasqlake.schemas.batch import EventColumns
from tasqlake.schemas.decode import decode

_ENCODER = msgspec.msgpack.Encoder()
_SEQUENCE = itertools.count()
RECEIVED_AT = datetime(2026, 12, 1, tzinfo=UTC)


def encode(payload: dict[str, Any]) -> bytes:
    """The payload exactly as AsyncTasQ publishes it (msgpack map; datetimes as ISO text)."""
    return _ENCODER.encode(
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in payload.items()}
    )


def write_events(
    lake: Lake,
    payloads: Iterable[dict[str, Any]],
    *,
    ingester_id: str = "test",
    received_at: datetime = RECEIVED_AT,
) -> int:
    """Store ``payloads`` (wire-format dicts) as one commit: one Parquet file per event hour.

    Goes through the real path: msgpack bytes -> ``decode`` -> ``EventColumns`` ->
    ``Lake.commit_parquet``. Returns the number of events written.
    """
    columns = EventColumns()
    received_us = int(received_at.timestamp() * 1_000_000)
    for payload in payloads:
        raw = encode(payload)
        columns.append(raw, decode(raw, received_us), received_us, "asynctasq:events", ingester_id)
    if not len(columns):
        return 0
    sequence = next(_SEQUENCE)
    for partition, table in columns.to_partitions():
        lake.commit_parquet(f"events/{partition.path}/{ingester_id}-{sequence:08d}.parquet", table)
    return len(columns)
