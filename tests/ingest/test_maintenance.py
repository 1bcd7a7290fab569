"""Scheduled maintenance in the ingest service: compaction and retention on a schedule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import msgspec
import redis

from ingest.maintenance import MaintenancePlan, run_once
from schemas.settings import Settings
from schemas.storage import Lake

REDIS_URL = os.environ.get("TASQLAKE_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _payload(at: datetime, n: int) -> bytes:
    return msgspec.msgpack.encode(
        {
            "event_type": "task_enqueued",
            "task_id": str(uuid.UUID(int=n)),
            "task_name": "SendEmailTask",
            "queue": "default",
            "worker_id": "dispatcher",
            "timestamp": at.isoformat(),
            "attempt": 1,
            "duration_ms": None,
            "result": None,
            "error": None,
            "traceback": None,
        }
    )


def _count(lake: Path) -> int:
    rows = duckdb.sql(
        f"SELECT count(DISTINCT event_id) FROM read_parquet('{lake}/events/*/*/*.parquet')"
    ).fetchall()
    return int(rows[0][0])


def test_plan_is_off_unless_asked(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    assert MaintenancePlan.from_settings(Settings.resolve({}, {}), lake) is None
    plan = MaintenancePlan.from_settings(Settings.resolve({"retention": "90d"}, {}), lake)
    assert plan is not None and plan.interval == 3600 and plan.compact_every is None
    plan = MaintenancePlan.from_settings(Settings.resolve({"compact_every": "10m"}, {}), lake)
    assert plan is not None and plan.interval == 600


def test_ingest_compacts_and_prunes_on_schedule(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    channel = f"test-maintenance:{uuid.uuid4().hex[:8]}"
    ingester = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tasqlake",
            "ingest",
            "--redis-url",
            REDIS_URL,
            "--channel",
            channel,
            "--lake",
            str(lake),
            "--flush-interval",
            "0.2",
            "--compact-every",
            "1s",
            "--retention",
            "30d",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: (
            lines.extend(iter(ingester.stdout.readline, "")) if ingester.stdout else None
        ),
        daemon=True,
    )
    reader.start()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        deadline = time.monotonic() + 30
        while not dict(client.pubsub_numsub(channel)).get(channel.encode()):
            assert ingester.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        now = datetime.now(UTC)
        closed_hour = (now - timedelta(hours=3)).replace(minute=10, second=0, microsecond=0)
        ancient = (now - timedelta(days=40)).replace(minute=5, second=0, microsecond=0)
        # two batches into the same closed hour, so it holds several files to compact
        for batch in range(2):
            for n in range(50):
                client.publish(
                    channel, _payload(closed_hour + timedelta(seconds=n), batch * 50 + n)
                )
            time.sleep(0.6)
        for n in range(20):
            client.publish(channel, _payload(ancient + timedelta(seconds=n), 1000 + n))
        closed_dir = lake / "events" / f"date={closed_hour:%Y-%m-%d}" / f"hour={closed_hour:%H}"
        ancient_dir = lake / "events" / f"date={ancient:%Y-%m-%d}"
        deadline = time.monotonic() + 60
        while True:
            compacted = list(closed_dir.glob("compacted-*.parquet")) if closed_dir.exists() else []
            pruned = any("retention: deleted" in line for line in lines)
            if compacted and pruned and not ancient_dir.exists() and _count(lake) == 100:
                break
            assert time.monotonic() < deadline, "maintenance did not run"
            time.sleep(0.3)
    finally:
        ingester.send_signal(signal.SIGTERM)
        ingester.wait(timeout=60)
        reader.join(timeout=10)
        client.close()
    output = "".join(lines)
    assert ingester.returncode == 0, output
    assert "compaction: 1 partitions" in output
    assert "retention: deleted 1 partitions" in output
    assert _count(lake) == 100  # the 20 ancient events are gone, the rest once each


def test_run_once_is_a_no_op_on_an_empty_lake(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    run_once(MaintenancePlan(str(lake.root), 1.0, 86400.0), ("text", 20))
    assert lake.list_files("events") == []
