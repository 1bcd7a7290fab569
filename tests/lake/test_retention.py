from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from tasqlake.lake.retention import partition_end, prune
from tasqlake.lake.storage import Lake

pytestmark = pytest.mark.clock  # compares with the clock: also run a year ahead (test_moved_clock)

NOW = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)


def _lake(tmp_path: Path) -> Lake:
    lake = Lake(tmp_path / "lake").ensure()
    table = pa.table({"x": [1, 2]})
    for date, hour in [
        ("2026-08-30", 23),
        ("2026-08-31", 11),
        ("2026-08-31", 12),
        ("2026-11-29", 12),
    ]:
        lake.commit_parquet(f"events/date={date}/hour={hour:02d}/a-1.parquet", table)
    lake.commit_parquet("quarantine/date=2026-08-30/hour=23/a-1.parquet", table)
    return lake


def test_partition_end() -> None:
    assert partition_end("2026-08-31", 23) == datetime(2026, 9, 1, tzinfo=UTC)


def test_prune_deletes_whole_partitions_past_retention(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    report = prune(lake, timedelta(days=90), now=NOW)  # cutoff 2026-08-31T12:30
    assert report.partitions == [
        "events/date=2026-08-30/hour=23",
        "events/date=2026-08-31/hour=11",
        "quarantine/date=2026-08-30/hour=23",
    ]
    assert report.files == 3 and report.bytes > 0
    assert list(lake.iter_partitions()) == [("2026-08-31", 12), ("2026-11-29", 12)]
    assert not lake.exists("events/date=2026-08-30")
    assert lake.list_files("quarantine") == []


def test_dry_run_deletes_nothing(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    report = prune(lake, timedelta(days=90), now=NOW, dry_run=True)
    assert len(report.partitions) == 3
    assert len(lake.list_files("events")) == 4


def _hour(moment: datetime) -> tuple[str, int]:
    return moment.strftime("%Y-%m-%d"), moment.hour


def test_prune_command(tmp_path: Path) -> None:
    """The command prunes against the clock it runs at: the lake is built relative to it."""
    lake = Lake(tmp_path / "lake").ensure()
    table = pa.table({"x": [1, 2]})
    now = datetime.now(UTC)
    old = [now - timedelta(days=3), now - timedelta(days=2), now - timedelta(days=1, hours=2)]
    for date, hour in [_hour(m) for m in old] + [_hour(now)]:
        lake.commit_parquet(f"events/date={date}/hour={hour:02d}/a-1.parquet", table)
    date, hour = _hour(old[0])
    lake.commit_parquet(f"quarantine/date={date}/hour={hour:02d}/a-1.parquet", table)
    result = _prune(lake, "1d")
    assert result.returncode == 0, result.stderr
    assert "deleted 4 partitions, 4 files" in result.stderr
    assert list(lake.iter_partitions()) == [_hour(now)]
    bad = _prune(lake, "ninety")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "tasqlake: error: --older-than must be a duration like 90d, 12h, 30m or 45s, got 'ninety'"
    )
    zero = _prune(lake, "0s")
    assert zero.returncode == 2
    assert zero.stderr.strip() == "tasqlake: error: --older-than must be greater than 0, got '0s'"
    assert list(lake.iter_partitions()) == [_hour(now)]


def _prune(lake: Lake, older_than: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tasqlake",
            "prune",
            "--older-than",
            older_than,
            "--lake",
            str(lake.root),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
