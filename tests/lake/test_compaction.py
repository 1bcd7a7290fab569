"""Compaction with real files and real DuckDB: counts, duplicates, idempotence, readers, crashes."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import tasqlake.lake.compaction as compaction
from tasqlake.lake.compaction import compact, generation_of, plan
from tasqlake.lake.compaction_format import writer_options
from tasqlake.lake.compaction_manifest import load_manifests
from tasqlake.lake.storage import Lake
from tasqlake.schemas.batch import EventColumns
from tasqlake.schemas.decode import decode, to_epoch_us
from tasqlake.schemas.errors import StorageError
from tasqlake.schemas.stored import EVENT_SCHEMA
from tasqlake.simulator import SimulationSpec, iter_events

pytestmark = pytest.mark.clock  # compares with the clock: also run a year ahead (test_moved_clock)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EVENTS = 6_000
#: The simulator's default start is 2026-11-02T08:00Z; at 2 events/s 6 000 events span ~50 min
#: of hour 08, then we add an open partition near NOW.
RATE = 2.0


def fill_lake(lake: Lake, events: int, rate: float, batch_events: int, ingester_id: str) -> None:
    """Simulated events stored the way an ingester stores them: one file per hour per batch."""
    spec = SimulationSpec(seed=3, rate=rate, duration=events / rate)
    start_us = to_epoch_us(spec.start)
    columns = EventColumns()
    sequence = 0

    def flush() -> None:
        nonlocal columns, sequence
        for partition, table in columns.to_partitions():
            sequence += 1
            name = f"{ingester_id}-{sequence:08d}.parquet"
            lake.commit_parquet(f"events/{partition.path}/{name}", table)
        columns = EventColumns()

    for emit_at, raw in iter_events(spec):
        received_us = start_us + int(emit_at * 1_000_000) + 300
        columns.append(raw, decode(raw, received_us), received_us, "asynctasq:events", ingester_id)
        if len(columns) >= batch_events:
            flush()
    flush()


def _content(lake: Lake, files: list[str] | None = None) -> pa.Table:
    """Every event once (the copy received first), sorted by event_id: what `events` shows."""
    paths = [lake.uri(f) for f in (files if files is not None else lake.list_files("events"))]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con.sql(
        """
        SELECT * FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
        QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY received_at, ingester_id) = 1
        ORDER BY event_id
        """,
        params={"files": paths},
    ).to_arrow_table()


def _compact_cli(lake: Lake, *args: str) -> subprocess.CompletedProcess[str]:
    """``tasqlake compact --lake LAKE ARGS…`` as a user runs it (a real process, real clock)."""
    command = [sys.executable, "-m", "tasqlake", "compact", "--lake", str(lake.root), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _live(lake: Lake) -> list[str]:
    dead = {p for _, m in load_manifests(lake) for p in m.superseded_paths}
    return [f for f in lake.list_files("events") if f not in dead]


def _rows(lake: Lake, files: list[str]) -> int:
    return sum(pq.read_metadata(lake.path(f)).num_rows for f in files)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """Small ingest-sized files, duplicates from a second ingester, and an open partition."""
    lake = Lake(tmp_path / "lake").ensure()
    fill_lake(lake, EVENTS, rate=RATE, batch_events=700, ingester_id="ing-a")
    first = lake.list_files("events")[0]
    copy = lake.read_table(first).slice(0, 300)
    later = pc.add(copy["received_at"], pa.scalar(5_000, pa.duration("us")))
    copy = copy.set_column(copy.schema.get_field_index("received_at"), "received_at", later)
    copy = copy.set_column(
        copy.schema.get_field_index("ingester_id"), "ingester_id", pa.array(["ing-b"] * 300)
    )
    lake.commit_parquet(first.replace("ing-a-", "ing-b-"), copy)
    open_hour = lake.read_table(first).slice(300, 50)  # other events, stamped in an open hour
    open_hour = open_hour.set_column(0, "event_id", pc.negate(open_hour["event_id"]))
    stamp = pa.array([NOW - timedelta(minutes=30)] * 50, pa.timestamp("us", tz="UTC"))
    position = open_hour.schema.get_field_index("timestamp")
    open_hour = open_hour.set_column(position, "timestamp", stamp)
    lake.commit_parquet("events/date=2026-11-29/hour=11/ing-a-99999999.parquet", open_hour)
    return lake


def test_counts_preserved_duplicates_removed_content_unchanged(lake: Lake) -> None:
    before = _content(lake)
    rows_before = _rows(lake, lake.list_files("events"))
    report = compact(lake, now=NOW)
    assert report.partitions == ["events/date=2026-11-02/hour=08"]
    assert report.rows_in == rows_before - 50  # everything but the open partition
    assert report.duplicates_removed == 300
    live = _live(lake)
    compacted = [f for f in live if generation_of(f) is not None]
    assert len(compacted) == 1
    assert "events/date=2026-11-29/hour=11/ing-a-99999999.parquet" in live  # open: untouched
    assert _rows(lake, compacted) == len(before) - 50  # one row per event, no duplicate left
    assert _content(lake, live).equals(before)  # every column of every event unchanged
    assert _content(lake).equals(before)  # also while superseded files are still there
    # The copy kept is the one received first (ingester a, not the later copy from b).
    kept = _content(lake, compacted)
    assert set(kept["ingester_id"].to_pylist()) == {"ing-a"}


def test_output_layout_schema_order_and_encodings(lake: Lake) -> None:
    compact(lake, now=NOW)
    (output,) = [f for f in _live(lake) if generation_of(f) is not None]
    table = lake.read_table(output)
    assert table.schema.remove_metadata().equals(EVENT_SCHEMA.remove_metadata())
    assert b"tasqlake.redaction" in (table.schema.metadata or {})
    # Each task's (worker's) events are contiguous; groups by first appearance; tasks first.
    con = duckdb.connect()
    con.register("t", table)
    bad = con.execute(
        """
        WITH n AS (SELECT *, row_number() OVER () AS pos FROM t),
        g AS (SELECT coalesce(task_id, worker_id, event_type) AS k, bool_or(task_id IS NULL)
                     AS no_task, min(pos) AS lo, max(pos) AS hi, count(*) AS c,
                     min("timestamp") AS first FROM n GROUP BY k)
        SELECT
            (SELECT count(*) FROM g WHERE hi - lo + 1 <> c),
            (SELECT count(*) FROM (SELECT first, lag(first) OVER (PARTITION BY no_task
                                   ORDER BY lo) AS prev FROM g) WHERE first < prev),
            (SELECT max(pos) FROM n WHERE task_id IS NOT NULL)
                < (SELECT min(pos) FROM n WHERE task_id IS NULL),
            (SELECT count(*) FROM n WHERE task_id IS NULL) > 0
        """
    ).fetchall()
    assert bad == [(0, 0, True, True)]  # contiguous, by first appearance, worker events last
    meta = pq.read_metadata(lake.path(output))
    columns = {meta.schema.column(i).name: i for i in range(meta.num_columns)}
    chunk = meta.row_group(0).column(columns["timestamp"])
    assert "BYTE_STREAM_SPLIT" in chunk.encodings
    assert meta.row_group(0).column(columns["event_id"]).compression == "UNCOMPRESSED"
    first_group = meta.row_group(0).num_rows
    assert meta.num_row_groups == 1 or first_group == writer_options()["row_group_size"]


def test_idempotent_and_late_files_merged_next_run(lake: Lake) -> None:
    compact(lake, now=NOW)
    files = lake.list_files("events")
    again = compact(lake, now=NOW)
    assert again.partitions == [] and again.rows_in == 0
    assert lake.list_files("events") == files  # nothing new written
    # A late file arrives in the compacted partition: merged by the next run, generation 2.
    late = lake.read_table(lake.list_files("events/date=2026-11-02/hour=08")[0]).slice(0, 10)
    lake.commit_parquet("events/date=2026-11-02/hour=08/ing-c-00000001.parquet", late)
    before = _content(lake)
    third = compact(lake, now=NOW)
    assert third.partitions == ["events/date=2026-11-02/hour=08"]
    assert third.duplicates_removed == 10
    gens = {generation_of(f) for f in _live(lake)} - {None}
    assert gens == {2}
    assert _content(lake, _live(lake)).equals(before)


def test_superseded_files_deleted_after_grace_only(lake: Lake) -> None:
    before = _content(lake)
    first = compact(lake, now=NOW)
    inputs = first.files_in
    early = compact(lake, now=NOW + timedelta(minutes=9))
    assert early.deleted_files == 0 and early.pending_files == inputs
    late = compact(lake, now=NOW + timedelta(minutes=11))
    assert late.deleted_files == inputs and late.pending_files == 0
    assert load_manifests(lake) == []
    assert sorted(lake.list_files("events")) == sorted(_live(lake))
    assert _content(lake).equals(before)


def test_zero_grace_deletes_superseded_files_in_the_same_run(lake: Lake) -> None:
    before = _content(lake)
    report = compact(lake, now=NOW, grace=timedelta(0))
    assert report.files_in > 0
    assert report.deleted_files == report.files_in and report.pending_files == 0
    assert load_manifests(lake) == []
    assert sorted(lake.list_files("events")) == sorted(_live(lake))
    assert _content(lake).equals(before)


def test_compact_command_takes_a_grace_of_zero(lake: Lake) -> None:
    result = _compact_cli(lake, "--grace", "0s")
    assert result.returncode == 0, result.stderr
    deleted = re.search(
        r"deleted (\d+) superseded files, 0 waiting for the 0s grace period", result.stderr
    )
    assert deleted is not None and int(deleted.group(1)) > 0, result.stderr
    assert load_manifests(lake) == []
    assert sorted(lake.list_files("events")) == sorted(_live(lake))


def test_readers_never_fail_nor_double_count_during_compaction(lake: Lake) -> None:
    expected = len(_content(lake))
    glob = lake.events_glob
    failures: list[str] = []
    counts: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        con = duckdb.connect()
        while not stop.is_set():
            try:
                row = con.execute(
                    f"SELECT count(*) FROM (SELECT event_id FROM read_parquet('{glob}') "
                    "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY received_at) = 1)"
                ).fetchone()
                counts.append(int(row[0]) if row else -1)
            except duckdb.Error as error:
                failures.append(str(error))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for step in range(3):
            late = lake.read_table(lake.list_files("events/date=2026-11-02/hour=08")[0])
            lake.commit_parquet(
                f"events/date=2026-11-02/hour=08/ing-d-{step:08d}.parquet", late.slice(0, 20)
            )
            compact(lake, now=NOW)
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert len(counts) > 3 and set(counts) == {expected}


def test_crash_before_manifest_leaves_every_event_once_and_converges(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _content(lake)

    def crash(*_: object) -> str:
        raise StorageError("simulated crash after the outputs were committed")

    monkeypatch.setattr(compaction, "write_manifest", crash)
    with pytest.raises(StorageError, match="simulated crash"):
        compact(lake, now=NOW)
    monkeypatch.undo()
    assert _content(lake).equals(before)  # outputs and inputs both live: no loss, no double
    report = compact(lake, now=NOW)  # merges the orphan output with the inputs again
    assert report.duplicates_removed == len(before) - 50 + 300
    assert _content(lake, _live(lake)).equals(before)
    assert compact(lake, now=NOW).partitions == []


def test_crash_between_output_files_and_during_deletion(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _content(lake)
    monkeypatch.setattr(compaction, "MAX_ROWS_PER_FILE", 1_000)  # several outputs
    monkeypatch.setattr(compaction, "ROWS_PER_BATCH", 500)
    real_commit = Lake.commit_parquet
    calls = {"n": 0}

    def flaky_commit(self: Lake, relpath: str, table: pa.Table, **options: object) -> int:
        if "snapshotted-" in relpath:
            calls["n"] += 1
            if calls["n"] == 3:
                raise StorageError("simulated crash while committing the third output")
        return real_commit(self, relpath, table, **options)

    monkeypatch.setattr(Lake, "commit_parquet", flaky_commit)
    with pytest.raises(StorageError):
        compact(lake, now=NOW)
    assert _content(lake).equals(before)
    compact(lake, now=NOW)
    assert _content(lake, _live(lake)).equals(before)
    # Crash half-way through deleting superseded files: the rest goes next run.
    real_delete = Lake.delete
    deleted = {"n": 0}

    def flaky_delete(self: Lake, relpath: str) -> None:
        deleted["n"] += 1
        if deleted["n"] == 4:
            raise StorageError("simulated crash while deleting")
        real_delete(self, relpath)

    monkeypatch.setattr(Lake, "delete", flaky_delete)
    with pytest.raises(StorageError):
        compact(lake, timedelta(days=1), now=NOW + timedelta(hours=1))
    monkeypatch.setattr(Lake, "delete", real_delete)
    assert _content(lake).equals(before)
    compact(lake, timedelta(days=1), now=NOW + timedelta(hours=1))
    assert load_manifests(lake) == []
    assert _content(lake).equals(before)
    assert sorted(lake.list_files("events")) == sorted(_live(lake))


def test_plan_only_closed_partitions(lake: Lake) -> None:
    assert [p.partition for p in plan(lake, NOW - timedelta(hours=1))] == [
        "events/date=2026-11-02/hour=08"
    ]
    assert [p.partition for p in plan(lake, NOW)] == [
        "events/date=2026-11-02/hour=08",
        "events/date=2026-11-29/hour=11",
    ]


def test_unreadable_input_names_the_file(lake: Lake) -> None:
    bad = "events/date=2026-11-02/hour=08/ing-z-00000001.parquet"
    lake.commit_bytes(bad, b"not parquet at all")
    with pytest.raises(StorageError, match=r"ing-z-00000001\.parquet"):
        compact(lake, now=NOW)
    assert _content(lake, [f for f in lake.list_files("events") if f != bad]).num_rows > 0


def test_compact_command(lake: Lake) -> None:
    result = _compact_cli(lake)
    assert result.returncode == 0, result.stderr
    assert "compacted events/date=2026-11-02/hour=08" in result.stdout
    assert "300 duplicates removed" in result.stderr
    assert "\x1b[" not in result.stderr  # no progress bar when piped
    again = _compact_cli(lake)
    assert again.returncode == 0, again.stderr
    assert "compacted 0 partitions" in again.stderr  # idempotent
    wrong = _compact_cli(lake, "--grace", "x")
    assert wrong.returncode == 2 and "--grace" in wrong.stderr
