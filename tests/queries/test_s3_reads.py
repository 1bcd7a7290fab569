"""Readers of a lake on S3 (a real SeaweedFS server): the views give the rows they give on
local disk, and partition and file pruning survive the object store — DuckDB's own count of the
files it opened (EXPLAIN ANALYZE's "Total Files Read", the objects it fetched) shows that an
hour-bounded read opens only its link's parts and its hour's files."""

from __future__ import annotations

from pathlib import Path

from tasqlake import queries
from tasqlake.lake.storage import Lake
from tests.queries.test_chain import assert_as_of_reads_one_link_and_one_hour, assert_views_equal
from tests.queries.test_task_snapshots import compact_all, fill, stored_history


def test_views_on_s3_equal_the_same_lake_on_disk(s3_lake: Lake, tmp_path: Path) -> None:
    local = Lake(tmp_path / "lake").ensure()
    events = stored_history(5, 30, 0.05, 0.1)
    for lake in (local, s3_lake):
        fill(lake, events, 2)
        compact_all(lake)
    assert s3_lake.list_files("chain") and [
        f for f in s3_lake.list_files("events") if "/snapshotted-" in f
    ]
    lo = min(e["timestamp"] for e in events)
    hi = max(e["timestamp"] for e in events)
    assert_views_equal(local, s3_lake, [lo + (hi - lo) * f for f in (0.3, 0.7, 1.0)])


def test_an_as_of_read_on_s3_opens_one_link_and_one_hour(s3_lake: Lake) -> None:
    assert_as_of_reads_one_link_and_one_hour(s3_lake)


def test_files_committed_after_connecting_are_seen_by_the_next_query(s3_lake: Lake) -> None:
    events = stored_history(3, 20, 0.0, 0.0)
    half = len(events) // 2
    fill(s3_lake, events[:half], 1)
    with queries.connect(s3_lake) as con:
        before = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        fill(s3_lake, events[half:], 1)
        after = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    assert 0 < before < after


def test_duckdb_reads_objects_larger_than_one_request(s3_lake: Lake) -> None:
    """obstore's file returns at most one buffered request (1 MiB) per read; DuckDB takes a
    short read for the end of the file, so reads of big column chunks must be completed."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    values = np.random.default_rng(7).integers(0, 2**62, 600_000)  # ~4.8 MB, incompressible
    s3_lake.commit_parquet(
        "big/x.parquet", pa.table({"v": values}), compression="none", compression_level=None
    )
    assert s3_lake.size("big/x.parquet") > 3 * 2**20
    con = duckdb.connect()
    s3_lake.attach(con)
    got = con.execute(
        "SELECT count(*), sum(v::HUGEINT) FROM read_parquet($1)", [s3_lake.uri("big/x.parquet")]
    ).fetchall()
    assert got == [(600_000, int(values.astype(object).sum()))]
