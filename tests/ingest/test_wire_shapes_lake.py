"""Wire shapes through the write paths, on real Parquet read back by DuckDB: an older shape
stores exactly the rows the current one does, an unknown shape is quarantined, and every
events file the ingester, the importer and compaction commit records its shapes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from tasqlake import queries
from tasqlake.ingest.importer import import_files
from tasqlake.ingest.processing import committer
from tasqlake.ingest.processing.columnar import BatchBuilder
from tasqlake.lake.compaction import compact, generation_of, live_files
from tasqlake.lake.storage import Lake
from tasqlake.lake.wire_shape_record import file_wire_shapes, lake_wire_shapes
from tasqlake.schemas.batch import EventColumns
from tasqlake.schemas.constants import WIRE_SHAPES_METADATA_KEY
from tasqlake.schemas.decode import UNKNOWN_SHAPE, decode, to_epoch_us
from tasqlake.schemas.streams import write_msgpack_stream
from tasqlake.schemas.wire_shapes import OlderShape, WireShapes
from tests.ingest.helpers import simulated_payloads
from tests.ingest.test_wal import processor, write_wal
from tests.schemas.helpers import SHAPE_0, WITH_0, to_shape_0

REAL = simulated_payloads(seed=57, duration=2)
NOW_US = time.time_ns() // 1000
CURRENT = ("asynctasq-events/1",)


def older(raw: bytes) -> bytes:
    return msgspec.msgpack.encode(to_shape_0(msgspec.msgpack.decode(raw)))


def commit(lake: Lake, payloads: list[bytes], shapes: WireShapes, name: str) -> None:
    builder = BatchBuilder(name, shapes=shapes)
    builder.add(payloads, NOW_US, "ch")
    built = builder.build()
    committer.commit_tables(lake, committer.EVENTS, built.events, name, 0)
    committer.commit_tables(lake, committer.QUARANTINE, built.quarantine, name, 0)


def stored(lake: Lake, directory: str = "events") -> list[dict[str, Any]]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return (
        con.sql(
            f"SELECT * EXCLUDE (event_id, ingester_id) FROM read_parquet('{lake.root}/{directory}"
            "/*/*/*.parquet', hive_partitioning = false) ORDER BY ALL"
        )
        .to_arrow_table()
        .to_pylist()
    )


def test_an_older_shape_is_stored_as_exactly_the_rows_the_current_shape_gives(
    tmp_path: Path,
) -> None:
    current, upcast = Lake(tmp_path / "current").ensure(), Lake(tmp_path / "older").ensure()
    commit(current, REAL, WITH_0, "a")
    commit(upcast, [older(raw) for raw in REAL], WITH_0, "a")
    assert len(stored(upcast)) == len(REAL)
    assert stored(upcast) == stored(current)  # every column but the id of the raw bytes
    assert lake_wire_shapes(current) == {"asynctasq-events/1": 1}
    assert lake_wire_shapes(upcast) == {"asynctasq-events/0": 1}


def test_a_mixed_batch_records_both_shapes(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    commit(lake, [*REAL[10:], *(older(raw) for raw in REAL[:10])], WITH_0, "a")
    (path,) = lake.list_files("events")
    assert file_wire_shapes(lake, path) == ("asynctasq-events/0", "asynctasq-events/1")
    raw = pq.read_metadata(lake.root / path).metadata[WIRE_SHAPES_METADATA_KEY]
    assert raw == b"asynctasq-events/0,asynctasq-events/1"


def test_current_shape_payloads_never_reach_the_upcaster_chain() -> None:
    asked: list[object] = []

    def recognise(payload: object) -> bool:
        asked.append(payload)
        return SHAPE_0.recognise(payload)  # type: ignore[arg-type]

    builder = BatchBuilder("a", shapes=WireShapes([OlderShape(0, recognise, SHAPE_0.upcast)]))
    builder.add(REAL, NOW_US, "ch")
    assert builder.build().stored == len(REAL)
    assert asked == []  # the fast path took every one


def test_a_payload_of_an_unknown_shape_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    future = msgspec.msgpack.encode({**msgspec.msgpack.decode(REAL[0]), "wire_shape": 2})
    commit(lake, [*REAL, future], WireShapes(), "a")
    assert len(stored(lake)) == len(REAL)
    (row,) = stored(lake, "quarantine")
    assert (row["raw"], row["reason"]) == (future, UNKNOWN_SHAPE)
    assert "wire_shape=2" in row["detail"] and "upgrade tasqlake" in row["detail"]


def test_files_the_ingest_processor_commits_record_the_shape(tmp_path: Path) -> None:
    write_wal(tmp_path / "wal", [REAL[:100], REAL[100:]])
    assert processor(tmp_path, tmp_path / "wal").recover() == len(REAL)
    lake = Lake(tmp_path / "lake")
    files = lake.list_files("events")
    assert files and all(file_wire_shapes(lake, f) == CURRENT for f in files)
    assert all(
        pq.read_metadata(lake.root / f).metadata[WIRE_SHAPES_METADATA_KEY] == b"asynctasq-events/1"
        for f in files
    )


def test_files_tasqlake_import_writes_record_the_shape(tmp_path: Path) -> None:
    source = tmp_path / "events.msgpack"
    with open(source, "wb") as out:
        write_msgpack_stream(out, REAL)
    lake = Lake(tmp_path / "lake")
    assert import_files([source], lake).stored == len(REAL)
    assert lake_wire_shapes(lake) == {"asynctasq-events/1": len(lake.list_files("events"))}


# --- compaction and files written before the record -----------------------------------------

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
HOUR = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def _events(count: int, seed: int) -> list[bytes]:
    """Payloads stamped in the closed hour HOUR (``count`` of them)."""
    out = []
    for index, raw in enumerate(simulated_payloads(seed=seed, duration=1)[:count]):
        obj = msgspec.msgpack.decode(raw)
        obj["timestamp"] = (HOUR + timedelta(seconds=index)).isoformat()
        out.append(msgspec.msgpack.encode(obj))
    return out


def _table(payloads: list[bytes], shapes: WireShapes) -> pa.Table:
    columns = EventColumns()
    received = to_epoch_us(NOW)
    for raw in payloads:
        columns.append(raw, decode(raw, received, shapes=shapes), received, "ch", "ing")
    return columns.to_table()


def test_compaction_records_every_input_shape_and_old_files_still_read(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    partition = "events/date=2026-11-29/hour=08"
    legacy = _table(_events(40, seed=1), WITH_0)
    legacy = legacy.replace_schema_metadata(  # as written before the record existed
        {k: v for k, v in legacy.schema.metadata.items() if k != WIRE_SHAPES_METADATA_KEY}
    )
    lake.commit_parquet(f"{partition}/old-1.parquet", legacy)
    lake.commit_parquet(
        f"{partition}/ing-2.parquet", _table([older(r) for r in _events(30, seed=2)], WITH_0)
    )
    assert file_wire_shapes(lake, f"{partition}/old-1.parquet") == CURRENT
    with queries.connect(lake.root) as con:  # an old file reads like any other
        assert con.execute("SELECT count(*) FROM events").fetchone() == (70,)

    compact(lake, now=NOW, grace=timedelta(0))
    (output,) = live_files(lake)
    assert generation_of(output) is not None
    assert file_wire_shapes(lake, output) == ("asynctasq-events/0", "asynctasq-events/1")
    assert lake_wire_shapes(lake) == {"asynctasq-events/0": 1, "asynctasq-events/1": 1}
    with queries.connect(lake.root) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone() == (70,)
