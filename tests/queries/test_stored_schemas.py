"""The typed empty branches of stored_events, stored_gaps and stored_task_snapshots (what an empty
lake gives) are pinned to the schemas the writers use: the stored event's Arrow schema
(schemas/stored.py), the gap record's (ingest/processing/gaps.py) and the task snapshot's (the
columns of task_partials_of, as compaction writes them). Same column names, order and DuckDB
types over an empty lake as over a lake holding the written files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from tasqlake import queries
from tasqlake.ingest.processing import committer
from tasqlake.ingest.processing.gaps import GAP_SCHEMA, Gap, GapColumns
from tasqlake.lake.compaction import compact
from tasqlake.lake.layout import TASK_SNAPSHOTS_DIR
from tasqlake.lake.storage import Lake
from tasqlake.schemas.stored import EVENT_SCHEMA
from tests.queries.conftest import write_events
from tests.queries.history import generate

#: The Hive columns every stored view takes from the path.
PARTITION_COLUMNS = [("date", "DATE"), ("hour", "INTEGER")]
T0 = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)

Columns = list[tuple[str, str]]


def duckdb_columns(schema: pa.Schema) -> Columns:
    """The columns DuckDB reads from files written with ``schema``, in order."""
    with duckdb.connect() as con:
        empty = schema.empty_table()  # noqa: F841 - read by DuckDB's replacement scan
        return [(r[0], r[1]) for r in con.execute("DESCRIBE SELECT * FROM empty").fetchall()]


def described(lake: Lake, view: str) -> Columns:
    with queries.connect(lake) as con:
        return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()]


def filled_lake(root: Path) -> Lake:
    """Events of two hours, compacted with their task snapshots, and one gap record."""
    lake = Lake(root).ensure()
    write_events(lake, generate(5, 8, 2).events)
    compact(lake, timedelta(0), now=T0 + timedelta(days=2), grace=timedelta(0))
    gaps = GapColumns("ing-1")
    start_us = int(T0.timestamp() * 1_000_000)
    gaps.append(Gap(start_us, start_us + 5_000_000, "start-up", ["asynctasq:events"]))
    committer.commit_tables(lake, committer.GAPS, gaps.to_partitions(), "ing-1", 1)
    return lake


def test_stored_events_has_the_stored_event_schema_empty_or_not(tmp_path: Path) -> None:
    expected = [*duckdb_columns(EVENT_SCHEMA), *PARTITION_COLUMNS, ("source_file", "VARCHAR")]
    assert expected[0] == ("event_id", "BIGINT") and expected[-1] == ("source_file", "VARCHAR")
    empty = Lake(tmp_path / "empty").ensure()
    assert described(empty, "stored_events") == expected
    assert described(filled_lake(tmp_path / "filled"), "stored_events") == expected


def test_stored_gaps_has_the_gap_record_schema_empty_or_not(tmp_path: Path) -> None:
    expected = [*duckdb_columns(GAP_SCHEMA), *PARTITION_COLUMNS]
    empty = Lake(tmp_path / "empty").ensure()
    assert described(empty, "stored_gaps") == expected
    lake = filled_lake(tmp_path / "filled")
    assert described(lake, "stored_gaps") == expected
    with queries.connect(lake) as con:
        assert con.execute("SELECT count(*) FROM stored_gaps").fetchone() == (1,)


def test_stored_task_snapshots_has_the_written_snapshot_schema_empty_or_not(
    tmp_path: Path,
) -> None:
    lake = filled_lake(tmp_path / "filled")
    written = sorted(lake.path(TASK_SNAPSHOTS_DIR).rglob("*.parquet"))
    assert written, "compaction wrote no task snapshot"
    with duckdb.connect() as con:
        in_file = [
            (r[0], r[1])
            for r in con.execute(
                "DESCRIBE SELECT * FROM read_parquet($1, hive_partitioning = false)",
                [str(written[0])],
            ).fetchall()
        ]
    expected = [*in_file, *PARTITION_COLUMNS]
    empty = Lake(tmp_path / "empty").ensure()
    assert described(empty, "stored_task_snapshots") == expected
    assert described(lake, "stored_task_snapshots") == expected
    assert in_file[:2] == [("task_id", "VARCHAR"), ("task_name", "VARCHAR")]
