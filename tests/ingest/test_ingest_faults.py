"""Faults the ingest service must survive: SIGKILL, bad input, bad configuration."""

from __future__ import annotations

import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import redis

from tests.ingest.helpers import (
    REDIS_URL,
    TASQLAKE,
    Ingester,
    count_events,
    events_glob,
    publish,
    query,
    simulated_payloads,
    wait_until,
)


def test_sigkill_after_reading_loses_nothing_and_duplicates_nothing(
    redis_client: redis.Redis, channel: str, lake: Path, ingesters: list[Ingester]
) -> None:
    payloads = simulated_payloads(seed=21)
    first = Ingester(lake, channel, "--flush-interval", "600").start()
    ingesters.append(first)
    publish(redis_client, channel, payloads)
    wait_until(lambda: first.received() >= len(payloads), 20, "all events read")
    first.stop(signal.SIGKILL)
    assert count_events(lake) == 0  # nothing was committed: it is all in the WAL

    second = Ingester(lake, channel, "--flush-interval", "600").start()
    ingesters.append(second)
    assert f"recovered {len(payloads)} events" in second.log()
    assert second.stop() == 0
    rows = query(f"SELECT count(*), count(DISTINCT event_id) FROM {events_glob(lake)}")
    assert rows == [(len(payloads), len(set(payloads)))]
    assert not list((lake / "wal").glob("*.wal"))  # every segment retired
    gaps = query(f"SELECT reason FROM read_parquet('{lake}/gaps/*/*/*.parquet') ORDER BY 1")
    assert gaps == [("start-up",), ("start-up",)]


def _bad_payloads() -> dict[str, bytes]:
    now = datetime.now(UTC)
    good = msgspec.msgpack.decode(simulated_payloads(seed=22, duration=1)[0])

    def variant(**changes: object) -> bytes:
        data = {**good, **changes}
        return msgspec.msgpack.encode({k: v for k, v in data.items() if v is not ...})

    return {
        "not msgpack": b"\xc1\xc1 definitely not msgpack",
        "not a map": msgspec.msgpack.encode(["task_started", "abc"]),
        "missing required key": variant(event_type="task_started", worker_id=...),
        "wrong type": variant(event_type="task_started", attempt="one"),
        "absurd timestamp": variant(timestamp="1990-01-01T00:00:00+00:00"),
        "absurd timestamp ": variant(timestamp="9999-12-31T23:59:59+00:00"),
        "absurd timestamp  ": variant(timestamp=(now + timedelta(days=2)).isoformat()),
        "too large": variant(error="x" * (1024 * 1024 + 1)),
        "not msgpack ": b"\xdb\xff\xff\xff\xffhuge claimed length",
    }


def test_bad_payloads_are_quarantined_and_counted_never_dropped(
    redis_client: redis.Redis, channel: str, lake: Path, ingesters: list[Ingester]
) -> None:
    good = simulated_payloads(seed=23, duration=1)
    bad = _bad_payloads()
    unknown_type = msgspec.msgpack.encode(
        {"event_type": "task_retrying", "timestamp": datetime.now(UTC).isoformat(), "x": 1}
    )
    ingester = Ingester(lake, channel, "--flush-interval", "0.2").start()
    ingesters.append(ingester)
    publish(redis_client, channel, [*good, *bad.values(), unknown_type])
    published = len(good) + len(bad) + 1
    wait_until(lambda: ingester.received() >= published, 20, "all payloads read")
    assert ingester.stop() == 0

    stored = count_events(lake)
    quarantined = query(f"SELECT reason, raw FROM read_parquet('{lake}/quarantine/*/*/*.parquet')")
    assert stored + len(quarantined) == published  # conservation
    assert stored == len(good) + 1  # the unknown event type is data, not an error
    assert sorted(reason for reason, _ in quarantined) == sorted(k.strip() for k in bad)
    assert {bytes(raw) for _, raw in quarantined} == set(bad.values())
    extra = query(f"SELECT extra FROM {events_glob(lake)} WHERE event_type = 'task_retrying'")
    assert extra == [('{"x":1}',)]
    line = f"received={published} stored={stored} quarantined={len(quarantined)}"
    assert line in ingester.log()


def _one_line_error(args: list[str], code: int) -> str:
    done = subprocess.run([TASQLAKE, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_cli_errors_are_one_clear_line(tmp_path: Path, channel: str) -> None:
    lake = str(tmp_path / "lake")
    line = _one_line_error(["ingest", "--lake", lake, "--bogus"], 2)
    assert "--bogus" in line
    line = _one_line_error(["ingest", "--lake", lake, "--flush-interval", "0"], 2)
    assert "--flush-interval" in line
    line = _one_line_error(
        [
            "ingest",
            "--lake",
            lake,
            "--channel",
            channel,
            "--redis-url",
            "redis://reader:s3cret@127.0.0.1:1",
        ],
        4,
    )
    assert "redis://reader:***@127.0.0.1:1" in line and "s3cret" not in line
    assert "start Redis or point --redis-url" in line
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    line = _one_line_error(["ingest", "--lake", str(blocker / "lake"), "--redis-url", REDIS_URL], 3)
    assert str(blocker / "lake") in line
    line = _one_line_error(["import", str(tmp_path / "missing.bin"), "--lake", lake], 3)
    assert "missing.bin" in line and "No such file" in line
