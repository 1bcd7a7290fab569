"""Readers of a lake on S3 (a real SeaweedFS server): the views give the rows they give on
local disk, and partition and file pruning survive the object store — DuckDB's own count of the
files it opened (EXPLAIN ANALYZE's "Total Files Read", the objects it fetched) shows that an
hour-bounded read opens only its link's parts and its hour's files."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from tasqlake import queries
from tasqlake.lake.s3_options import S3Options
from tasqlake.lake.storage import Lake
from tasqlake.local_s3 import SeaweedS3
from tests.queries.test_chain import assert_views_equal, head_end
from tests.queries.test_task_snapshots import compact_all, fill, plan_of, stored_history


@pytest.fixture
def s3_lake(s3_server: SeaweedS3, s3_bucket: str) -> Lake:
    options = S3Options(
        endpoint=s3_server.endpoint,
        region=s3_server.region,
        access_key_id=s3_server.access_key,
        secret_access_key=s3_server.secret_key,
        credentials_source="test",
    )
    return Lake(f"s3://{s3_bucket}/lake", s3=options).ensure()


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
    events = stored_history(11, 40, 0.0, 0.0)
    fill(s3_lake, events, 1)
    compact_all(s3_lake)
    hours = sorted({e["timestamp"].replace(minute=0, second=0, microsecond=0) for e in events})
    assert len(hours) >= 3
    at = hours[1] + timedelta(minutes=30)
    with queries.connect(s3_lake, as_of=at) as con:
        assert head_end(con) == hours[1]  # the link of the hour before T's
        plan = plan_of(con, "SELECT * FROM queue_stats")
    event_hours = set(re.findall(r"events/date=[0-9-]+/hour=(\d+)/[\w.-]+\.parquet", plan))
    chain_hours = set(re.findall(r"chain/\w+/date=[0-9-]+/hour=(\d+)/[\w.-]+\.parquet", plan))
    assert event_hours == {f"{hours[1].hour:02d}"}
    assert chain_hours == {f"{hours[0].hour:02d}"}
    read = [int(n) for n in re.findall(r"Total Files Read: (\d+)", plan)]
    assert read and max(read) <= 1  # each scan opened one object at most


def test_files_committed_after_connecting_are_seen_by_the_next_query(s3_lake: Lake) -> None:
    events = stored_history(3, 20, 0.0, 0.0)
    half = len(events) // 2
    fill(s3_lake, events[:half], 1)
    with queries.connect(s3_lake) as con:
        before = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        fill(s3_lake, events[half:], 1)
        after = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    assert 0 < before < after
