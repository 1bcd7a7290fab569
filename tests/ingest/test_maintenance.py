"""Scheduled maintenance in the ingest service: compaction and retention on a schedule."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
import redis

from tasqlake.ingest.service.maintenance import MaintenancePlan, run_once
from tasqlake.lake.storage import Lake
from tasqlake.schemas.settings import Settings
from tests.ingest.helpers import Ingester, events_glob, publish, query, wait_until

pytestmark = pytest.mark.clock  # compares with the clock: also run a year ahead (test_moved_clock)


def _enqueued(at: datetime, n: int) -> bytes:
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


def _distinct_events(lake: Path) -> int:
    """Events in the lake, each once (superseded files stay for a grace period after compaction)."""
    if not list(lake.glob("events/*/*/*.parquet")):
        return 0
    return int(query(f"SELECT count(DISTINCT event_id) FROM {events_glob(lake)}")[0][0])


def test_plan_is_off_unless_asked(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    assert MaintenancePlan.from_settings(Settings.resolve({}, {}), lake) is None
    plan = MaintenancePlan.from_settings(Settings.resolve({"retention": "90d"}, {}), lake)
    assert plan is not None and plan.interval == 3600 and plan.compact_every is None
    plan = MaintenancePlan.from_settings(Settings.resolve({"compact_every": "10m"}, {}), lake)
    assert plan is not None and plan.interval == 600


def test_ingest_compacts_and_prunes_on_schedule(
    lake: Path, channel: str, redis_client: redis.Redis, ingesters: list[Ingester]
) -> None:
    ingester = Ingester(
        lake, channel, "--flush-interval", "0.2", "--compact-every", "1s", "--retention", "30d"
    )
    ingesters.append(ingester.start())
    now = datetime.now(UTC)
    closed_hour = (now - timedelta(hours=3)).replace(minute=10, second=0, microsecond=0)
    ancient = (now - timedelta(days=40)).replace(minute=5, second=0, microsecond=0)
    # two batches into the same closed hour, so it holds several files to compact
    for batch in range(2):
        publish(
            redis_client,
            channel,
            [_enqueued(closed_hour + timedelta(seconds=n), batch * 50 + n) for n in range(50)],
        )
        wait_until(lambda b=batch: _distinct_events(lake) == 50 * (b + 1), 30, "batch committed")
    publish(
        redis_client,
        channel,
        [_enqueued(ancient + timedelta(seconds=n), 1000 + n) for n in range(20)],
    )
    closed_dir = lake / "events" / f"date={closed_hour:%Y-%m-%d}" / f"hour={closed_hour:%H}"
    wait_until(
        lambda: (
            # 2 when the ancient hour was compacted first: its task snapshot goes with it
            re.search(r"retention: deleted [12] partitions", ingester.log()) is not None
            and any(closed_dir.glob("snapshotted-*.parquet"))
        ),
        60,
        "scheduled compaction and retention",
    )
    assert not (lake / "events" / f"date={ancient:%Y-%m-%d}").exists()
    assert ingester.stop() == 0
    # the closed hour was compacted (alone, or together with the ancient hour before retention)
    assert re.search(r"compaction: [1-9]\d* partitions", ingester.log())
    assert _distinct_events(lake) == 100  # the 20 ancient events are gone, the rest once each


def test_run_once_is_a_no_op_on_an_empty_lake(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    run_once(MaintenancePlan(str(lake.root), 1.0, 86400.0), ("text", 20))
    assert lake.list_files("events") == []
