"""The stored event: the Arrow schema of the rows kept in the lake, and its version.

The stored event is kept separate from the wire payload (as in *eventsourcing*): it carries every
wire key with a proper type, the unknown extra keys as JSON text, and ingest metadata. Files carry
``tasqlake.schema_version`` in their Parquet key-value metadata; :func:`upcast` brings an older
file's table to the current schema, so readers only ever see the current one.

Files live under ``events/date=YYYY-MM-DD/hour=HH/`` by *event* time (UTC); ``date`` and ``hour``
are Hive partition columns taken from the path, not stored inside the files.
"""

from __future__ import annotations

import pyarrow as pa

from tasqlake.schemas.errors import StorageError

SCHEMA_VERSION = 1
SCHEMA_VERSION_KEY = b"tasqlake.schema_version"

_TS = pa.timestamp("us", tz="UTC")


def _field(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={b"doc": doc.encode()})


EVENT_FIELDS: tuple[pa.Field, ...] = (
    _field("event_id", pa.int64(), "64-bit content hash of the raw payload (BLAKE2b)", False),
    _field("event_type", pa.string(), "wire event_type, e.g. task_started", False),
    _field("timestamp", _TS, "event time as sent by the publisher, UTC", False),
    _field("task_id", pa.string(), "task UUID (task events)"),
    _field("task_name", pa.string(), "task class name (task events)"),
    _field("queue", pa.string(), "queue name (task events)"),
    _field("worker_id", pa.string(), "worker id, 'dispatcher' on task_enqueued"),
    _field("attempt", pa.int32(), "1-based attempt; always 1 on task_completed in 1.7"),
    _field("duration_ms", pa.int64(), "attempt duration (completed, failed, reenqueued)"),
    _field("result", pa.string(), "task result as JSON text"),
    _field("error", pa.string(), "str(exception) (failed, reenqueued)"),
    _field("traceback", pa.string(), "full traceback text (failed)"),
    _field("hostname", pa.string(), "worker host (worker events)"),
    _field("freq", pa.float64(), "heartbeat interval in seconds (worker events)"),
    _field("active", pa.int32(), "tasks running per the worker (unreliable in 1.7)"),
    _field("processed", pa.int64(), "tasks completed or permanently failed by the worker"),
    _field("queues", pa.list_(pa.string()), "queues the worker consumes (worker events)"),
    _field("sw_ident", pa.string(), "software identifier"),
    _field("sw_ver", pa.string(), "software version as sent"),
    _field("uptime_seconds", pa.int64(), "worker uptime in seconds"),
    _field("extra", pa.string(), "unknown wire keys as a JSON object, null when none"),
    _field("received_at", _TS, "when the ingester read the payload, UTC", False),
    _field("channel", pa.string(), "Pub/Sub channel (or 'import:<file>')", False),
    _field("ingester_id", pa.string(), "id of the ingester (or importer) that stored it", False),
)

EVENT_SCHEMA = pa.schema(EVENT_FIELDS, metadata={SCHEMA_VERSION_KEY: str(SCHEMA_VERSION).encode()})
EVENT_COLUMNS: tuple[str, ...] = tuple(f.name for f in EVENT_FIELDS)

QUARANTINE_SCHEMA = pa.schema(
    (
        _field("event_id", pa.int64(), "64-bit content hash of the raw payload", False),
        _field("raw", pa.binary(), "the payload exactly as received", False),
        _field("reason", pa.string(), "why it was not stored, e.g. 'not msgpack'", False),
        _field("detail", pa.string(), "the decoder's message"),
        _field("received_at", _TS, "when the ingester read it, UTC", False),
        _field("channel", pa.string(), "Pub/Sub channel or import source", False),
        _field("ingester_id", pa.string(), "who quarantined it", False),
    ),
    metadata={SCHEMA_VERSION_KEY: str(SCHEMA_VERSION).encode()},
)


def schema_version_of(schema: pa.Schema) -> int:
    """The stored schema version a file was written with (files before versioning: 1)."""
    raw = (schema.metadata or {}).get(SCHEMA_VERSION_KEY, b"1")
    try:
        return int(raw)
    except ValueError:
        raise StorageError(f"unreadable schema version {raw!r} in a lake file") from None


def upcast(table: pa.Table) -> pa.Table:
    """Bring a table read from any supported schema version to :data:`EVENT_SCHEMA`."""
    version = schema_version_of(table.schema)
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"lake file has schema version {version}, this tasqlake reads up to "
            f"{SCHEMA_VERSION}: upgrade tasqlake"
        )
    # Version 1 is current: only reorder/add missing nullable columns.
    columns = []
    for field in EVENT_FIELDS:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)
