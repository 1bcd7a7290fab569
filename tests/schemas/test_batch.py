from __future__ import annotations

import msgspec
import pyarrow as pa

from tasqlake.schemas.batch import EventColumns, Partition, QuarantineColumns, sort_for_storage
from tasqlake.schemas.decode import decode, event_id
from tasqlake.schemas.stored import EVENT_SCHEMA, QUARANTINE_SCHEMA
from tests.schemas.helpers import RECEIVED_US, pack, task_event, worker_event


def _columns(*events: dict) -> EventColumns:
    cols = EventColumns()
    for event in events:
        raw = pack(event)
        cols.append(raw, decode(raw, RECEIVED_US), RECEIVED_US, "asynctasq:events", "ing-1")
    return cols


def test_every_wire_field_lands_in_its_typed_column() -> None:
    task = task_event(result={"ok": True}, extra_key="kept")
    worker = worker_event()
    table = _columns(task, worker).to_table()
    assert table.schema.equals(EVENT_SCHEMA)
    rows = table.to_pylist()
    assert rows[0]["task_id"] == task["task_id"]
    assert rows[0]["attempt"] == 1
    assert rows[0]["result"] == '{"ok":true}'
    assert msgspec.json.decode(rows[0]["extra"]) == {"extra_key": "kept"}
    assert rows[0]["event_id"] == event_id(pack(task))
    assert rows[0]["timestamp"].isoformat() == task["timestamp"]
    assert rows[1]["queues"] == ["default", "emails"]
    assert rows[1]["freq"] == 60.0 and rows[1]["task_id"] is None
    assert rows[1]["channel"] == "asynctasq:events" and rows[1]["ingester_id"] == "ing-1"


def test_events_are_split_by_event_hour() -> None:
    cols = _columns(
        task_event(timestamp="2026-11-29T23:59:59.999999+00:00"),
        task_event(timestamp="2026-11-30T00:00:00+00:00"),
        task_event(timestamp="2026-11-29T23:00:00+00:00", attempt=2),
    )
    parts = cols.to_partitions()
    assert [(p.path, t.num_rows) for p, t in parts] == [
        ("date=2026-11-29/hour=23", 2),
        ("date=2026-11-30/hour=00", 1),
    ]


def test_partition_of_hour_index() -> None:
    assert Partition.of_hour_index(0) == Partition("1970-01-01", 0)
    assert Partition("2026-01-02", 5).path == "date=2026-01-02/hour=05"


def test_quarantine_keeps_raw_bytes_and_reason() -> None:
    q = QuarantineColumns()
    q.append(b"\xc1junk", "not msgpack", "detail", RECEIVED_US, "c", "ing-1")
    table = q.to_table()
    assert table.schema.equals(QUARANTINE_SCHEMA)
    assert table.column("raw").to_pylist() == [b"\xc1junk"]
    assert len(q) == 1


def test_sort_for_storage_groups_tasks_in_time_order() -> None:
    table = _columns(
        task_event(task_id="b", timestamp="2026-11-29T17:00:02+00:00"),
        worker_event(),
        task_event(task_id="a", timestamp="2026-11-29T17:00:03+00:00"),
        task_event(task_id="b", timestamp="2026-11-29T17:00:01+00:00", attempt=2),
    ).to_table()
    ordered = sort_for_storage(table)
    assert ordered.column("task_id").to_pylist() == ["a", "b", "b", None]
    assert ordered.column("attempt").to_pylist()[1:3] == [2, 1]
    assert isinstance(ordered, pa.Table)
