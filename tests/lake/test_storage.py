from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from tasqlake.lake.storage import Lake
from tasqlake.schemas.errors import StorageError


def _table(n: int) -> pa.Table:
    return pa.table({"x": list(range(n))})


def test_commit_is_atomic_and_restricted(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    size = lake.commit_parquet("events/date=2026-11-29/hour=17/a-1.parquet", _table(10))
    target = lake.path("events/date=2026-11-29/hour=17/a-1.parquet")
    assert size == target.stat().st_size > 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o750
    assert not list(target.parent.glob(".*"))
    assert lake.list_files("events") == ["events/date=2026-11-29/hour=17/a-1.parquet"]
    assert list(lake.iter_partitions()) == [("2026-11-29", 17)]
    count = duckdb.sql(f"select count(*) from read_parquet('{lake.events_glob}')").fetchall()
    assert count == [(10,)]


def test_temporary_files_are_never_listed_and_can_be_swept(tmp_path: Path) -> None:
    lake = Lake(tmp_path).ensure()
    lake.commit_parquet("events/date=2026-11-29/hour=17/a-1.parquet", _table(1))
    stray = lake.path("events/date=2026-11-29/hour=17/.a-2.parquet.abc.tmp")
    stray.write_bytes(b"partial")
    assert lake.list_files("events") == ["events/date=2026-11-29/hour=17/a-1.parquet"]
    assert lake.sweep_temporary("events") == 1
    assert not stray.exists()


def test_paths_cannot_escape_the_lake(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    with pytest.raises(StorageError, match="outside lake"):
        lake.path("../etc/passwd")
    with pytest.raises(StorageError, match="refusing"):
        lake.delete_tree("/")


def test_missing_lake_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist: run 'tasqlake ingest'"):
        Lake(tmp_path / "nope").require_readable()


def test_other_object_store_uris_are_refused_clearly() -> None:
    with pytest.raises(StorageError, match="a local directory or an s3://"):
        Lake("gs://bucket/lake")
    assert Lake("s3://bucket/lake").location == "s3://bucket/lake"  # nothing reached yet


def test_unwritable_lake_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot create"):
        Lake(blocker / "lake").ensure()
