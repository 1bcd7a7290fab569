"""How a compacted partition file is laid out: row order, row groups, encodings, compression.

Measured on the simulator's realistic mix (716 k events in one hour, 3.1 events per task):

==========================  ==============  ======================================================
column                      bytes / event   why
==========================  ==============  ======================================================
event_id                    8.0             random 64-bit hash: incompressible; PLAIN, no codec
task_id                     6.3             a random UUID (15.3 bytes of entropy) per 3.1 events;
                                            DELTA_LENGTH_BYTE_ARRAY + zstd 16
timestamp, received_at      2.8 each        BYTE_STREAM_SPLIT + zstd 16 (beats DELTA_BINARY_PACKED
                                            3.1: the row order makes them nearly monotonic)
everything else             1.6             dictionary + zstd 9 (duration_ms 0.54, task_name,
                                            queue, worker_id ≈ 0.2 each, error/traceback 0.15)
**total**                   **21.5**        ingest files (50 k-event batches, zstd 3): 29.1
==========================  ==============  ======================================================

Row order (:data:`MERGE_SQL`): tasks in the order of their first event, each task's events
contiguous and in timestamp order; then the events without a task (worker lifecycle, a few %),
grouped per worker the same way. Worker events last means the row groups before them hold task
events only, so ``event_type IN ('worker_…')`` scans (worker sessions) skip them by min/max
statistics: on a 716 k-event hour, 225 k rows read instead of 492 k.
Per-task aggregates see a task's events together, and ``timestamp`` rises almost
monotonically through the file, so row-group min/max statistics let DuckDB skip row groups for
time-bounded filters inside a partition. (Sorting by ``task_id`` instead costs 4.2 bytes per
timestamp column: the random UUID order scatters time.)

Row groups of 245,760 rows (2 x DuckDB's own 122,880) give DuckDB several row groups to scan in
parallel per hour partition while keeping per-row-group overhead below 0.1 byte per event.
"""

from __future__ import annotations

import pyarrow as pa

from tasqlake.schemas.stored import EVENT_COLUMNS

ROW_GROUP_ROWS = 245_760
#: Largest number of rows in one compacted file; a bigger partition gets several files.
MAX_ROWS_PER_FILE = 4 * ROW_GROUP_ROWS * 2

_HEAVY_LEVEL = 16
_LIGHT_LEVEL = 9
#: zstd level of task snapshots: on a 720 k-event hour 11 encodes in 0.46 s for 13.26 B/event,
#: 16 in 3.0 s for 12.88 (+3 % bytes for a sixth of the time compaction spent per hour).
_SNAPSHOT_LEVEL = 11
_ENCODINGS: dict[str, str] = {
    "event_id": "PLAIN",
    "task_id": "DELTA_LENGTH_BYTE_ARRAY",
    "timestamp": "BYTE_STREAM_SPLIT",
    "received_at": "BYTE_STREAM_SPLIT",
}
_UNCOMPRESSED = frozenset({"event_id"})


def writer_options() -> dict[str, object]:
    """Keyword arguments for ``pyarrow.parquet.write_table`` (via ``Lake.commit_parquet``)."""
    compression = {c: ("none" if c in _UNCOMPRESSED else "zstd") for c in EVENT_COLUMNS}
    levels = {
        c: (_HEAVY_LEVEL if c in _ENCODINGS else _LIGHT_LEVEL)
        for c in EVENT_COLUMNS
        if c not in _UNCOMPRESSED
    }
    return {
        "compression": compression,
        "compression_level": levels,
        "use_dictionary": [c for c in EVENT_COLUMNS if c not in _ENCODINGS],
        "column_encoding": dict(_ENCODINGS),
        "row_group_size": ROW_GROUP_ROWS,
        "write_statistics": True,
        "data_page_size": 1 << 20,
    }


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_COLUMN_LIST = ", ".join(_quoted(c) for c in EVENT_COLUMNS)

#: Duplicates by event_id removed (the copy received first is kept, ties as the ``events``
#: view breaks them), then the storage order. ``$files`` is the list of input files.
MERGE_SQL = f"""
WITH src AS (
    SELECT {_COLUMN_LIST}
    FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
),
unique_events AS (
    SELECT *
    FROM src
    QUALIFY row_number() OVER (
        PARTITION BY event_id ORDER BY received_at, ingester_id, channel
    ) = 1
),
keyed AS (
    SELECT
        *,
        coalesce(task_id, worker_id, event_type) AS _group,
        min("timestamp") OVER (PARTITION BY coalesce(task_id, worker_id, event_type)) AS _first
    FROM unique_events
)
SELECT {_COLUMN_LIST}
FROM keyed
ORDER BY task_id IS NULL, _first, _group, "timestamp", event_id
"""


def snapshot_writer_options(schema: pa.Schema) -> dict[str, object]:
    """Write options of a task snapshot (one row per task, in the order of first events).

    Measured on one hour of the benchmark mix (232 k tasks): 52.1 bytes per task with plain zstd,
    39.8 with these at zstd 16, 41.0 at zstd 11 (task_id alone is 20.8: a random UUID). Integers
    and timestamps: byte stream split + zstd; task_id: delta lengths; the other strings:
    dictionary.
    """
    numeric = [
        f.name for f in schema if pa.types.is_integer(f.type) or pa.types.is_timestamp(f.type)
    ]
    encodings = {name: "BYTE_STREAM_SPLIT" for name in numeric}
    encodings["task_id"] = "DELTA_LENGTH_BYTE_ARRAY"
    return {
        "compression": "zstd",
        "compression_level": _SNAPSHOT_LEVEL,
        "use_dictionary": [f.name for f in schema if f.name not in encodings],
        "column_encoding": encodings,
        "write_statistics": True,
    }
