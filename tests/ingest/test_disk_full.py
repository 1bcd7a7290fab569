"""Promise 7: a full or unwritable lake, and a WAL that cannot be written either.

The lake (or the WAL) lives on a small tmpfs mounted for the test (a size-limited loop file
when tmpfs cannot be mounted; the test is skipped when neither can, e.g. without root).
"""

from __future__ import annotations

import contextlib
import errno
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import redis

from tests.ingest.helpers import (
    Ingester,
    count_events,
    events_glob,
    publish,
    query,
    simulated_payloads,
    wait_until,
)

SIZE_MB = 8


def _mount(target: Path) -> list[str]:
    """Mount a SIZE_MB file system on ``target``; returns the command that unmounts it."""
    target.mkdir(parents=True)
    tmpfs = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m,mode=0755", "tmpfs", str(target)],
        capture_output=True,
    )
    if tmpfs.returncode == 0:
        return ["umount", str(target)]
    image = target.with_suffix(".img")
    with open(image, "wb") as sink:
        sink.truncate(SIZE_MB * 1024 * 1024)
    for command in (
        ["mkfs.ext4", "-q", "-F", str(image)],
        ["mount", "-o", "loop", str(image), str(target)],
    ):
        if subprocess.run(command, capture_output=True).returncode != 0:
            pytest.skip(f"cannot mount a small file system here: {tmpfs.stderr.decode().strip()}")
    return ["umount", "-d", str(target)]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / f"small-{uuid.uuid4().hex[:6]}"
    unmount = _mount(target)
    try:
        yield target
    finally:
        subprocess.run(unmount, capture_output=True)


def fill(directory: Path) -> Path:
    """Write a file in ``directory`` until the file system is full; returns it."""
    filler = directory / "filler"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as sink:
        with contextlib.suppress(OSError):
            while True:
                sink.write(block)
        while True:  # the last few bytes
            try:
                sink.write(b"\0" * 512)
            except OSError as error:
                assert error.errno == errno.ENOSPC
                break
    return filler


def hidden_or_partial(lake: Path) -> list[Path]:
    """Files under events/ a reader could trip on: temporary names, or unreadable Parquet."""
    bad = []
    for path in (lake / "events").rglob("*"):
        if path.is_dir():
            continue
        if path.name.startswith(".") or not path.name.endswith(".parquet"):
            bad.append(path)
            continue
        try:
            pq.read_metadata(path)
        except Exception:  # any failure to read is the finding
            bad.append(path)
    return bad


def wal_bytes(wal: Path) -> int:
    return sum(p.stat().st_size for p in wal.glob("*.wal"))


def test_a_full_lake_is_retried_while_the_wal_keeps_everything_then_all_is_committed(
    redis_client: redis.Redis,
    channel: str,
    tmp_path: Path,
    small_fs: Path,
    ingesters: list[Ingester],
) -> None:
    lake, wal = small_fs / "lake", tmp_path / "wal"
    first, second = (simulated_payloads(seed=s, duration=2) for s in (91, 92))
    ingester = Ingester(lake, channel, "--flush-interval", "0.2", "--wal-dir", str(wal))
    ingester.log_path = tmp_path / "ingest.log"  # not on the file system we fill
    ingester.start()
    ingesters.append(ingester)
    publish(redis_client, channel, first)
    wait_until(lambda: count_events(lake) == len(first), 30, "the first events committed")

    filler = fill(small_fs)
    publish(redis_client, channel, second)
    wait_until(
        lambda: ingester.received() >= len(first) + len(second), 30, "the second events read"
    )
    wait_until(lambda: "cannot commit to the lake" in ingester.log(), 30, "the commit error")
    error_lines = [ln for ln in ingester.log().splitlines() if "cannot commit to the lake" in ln]
    assert len(error_lines) == 1  # logged once, not once per retry
    assert "no space left on device: free space or move the lake" in error_lines[0]
    assert str(lake) in error_lines[0]
    assert hidden_or_partial(lake) == []
    assert count_events(lake) == len(first)
    assert wal_bytes(wal) > sum(map(len, second))  # the WAL holds the batch meanwhile
    assert ingester.process is not None and ingester.process.poll() is None  # still running

    filler.unlink()  # space is back: the same batch is committed, nothing else is needed
    total = len(first) + len(second)
    wait_until(lambda: count_events(lake) == total, 60, "everything committed")
    wait_until(lambda: "committing to the lake works again" in ingester.log(), 10, "recovery")
    assert ingester.stop() == 0
    rows = query(f"SELECT count(*), count(DISTINCT event_id) FROM {events_glob(lake)}")
    assert rows == [(total, len(set(first + second)))]
    assert hidden_or_partial(lake) == []
    assert not list(wal.glob("*.wal"))


def test_a_read_only_lake_is_retried_until_it_is_writable_again(
    redis_client: redis.Redis, channel: str, tmp_path: Path, ingesters: list[Ingester]
) -> None:
    lake, wal = tmp_path / "lake", tmp_path / "wal"
    payloads = simulated_payloads(seed=93, duration=1)
    ingester = Ingester(lake, channel, "--flush-interval", "0.2", "--wal-dir", str(wal)).start()
    ingesters.append(ingester)
    (lake / "events").mkdir(parents=True, exist_ok=True)
    bound = subprocess.run(["mount", "--bind", str(lake), str(lake)], capture_output=True)
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount the lake here: {bound.stderr.decode().strip()}")
    subprocess.run(["mount", "-o", "remount,bind,ro", str(lake)], check=True)
    try:
        publish(redis_client, channel, payloads)
        wait_until(lambda: "cannot commit to the lake" in ingester.log(), 30, "the commit error")
        assert "read-only file system: mount the lake read-write" in ingester.log()
        assert count_events(lake) == 0
    finally:
        subprocess.run(["umount", str(lake)], check=True)
    wait_until(lambda: count_events(lake) == len(payloads), 60, "everything committed")
    assert ingester.stop() == 0
    assert hidden_or_partial(lake) == []


def test_when_the_wal_cannot_be_written_the_service_exits_non_zero_keeping_what_it_had(
    redis_client: redis.Redis,
    channel: str,
    tmp_path: Path,
    small_fs: Path,
    ingesters: list[Ingester],
) -> None:
    lake, wal = tmp_path / "lake", small_fs / "wal"
    first = simulated_payloads(seed=94, duration=2)
    ingester = Ingester(lake, channel, "--flush-interval", "600", "--wal-dir", str(wal)).start()
    ingesters.append(ingester)
    publish(redis_client, channel, first)
    wait_until(lambda: ingester.received() >= len(first), 30, "the first events read")

    filler = fill(small_fs)
    publish(redis_client, channel, simulated_payloads(seed=95, duration=2))
    assert ingester.process is not None
    code = ingester.process.wait(60)
    assert code == 3  # StorageError: cannot keep the WAL, so it does not pretend to ingest
    log = ingester.log()
    cause = [ln for ln in log.splitlines() if "receiving stopped" in ln]
    assert len(cause) == 1
    assert f"cannot append to the write-ahead log in {wal}: no space left on device" in cause[0]
    last = log.strip().splitlines()[-1]
    assert last.startswith("tasqlake: error:") and "write-ahead log" in last
    # The WAL's own bookkeeping (intent.json) could not be written either, so nothing was
    # committed on the way out: the WAL keeps it all for the next start.
    assert count_events(lake) == 0
    filler.unlink()
    restarted = Ingester(lake, channel, "--flush-interval", "0.2", "--wal-dir", str(wal)).start()
    ingesters.append(restarted)
    assert restarted.stop() == 0
    assert "events from the write-ahead log" in restarted.log()  # "recovered N events …"
    rows = query(f"SELECT count(*), count(DISTINCT event_id) FROM {events_glob(lake)}")
    assert rows[0][0] == rows[0][1] >= len(first)  # all read before the WAL filled, once each
    assert not list(wal.glob("*.wal"))
