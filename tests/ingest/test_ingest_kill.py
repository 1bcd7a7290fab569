"""Promise 1(b): an ingester SIGKILLed at random moments, a second one subscribed throughout."""

from __future__ import annotations

import random
import signal
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import redis

from tests.ingest.helpers import (
    Ingester,
    events_glob,
    publish,
    query,
    simulated_payloads,
    wait_until,
)

KILLS = 22


@pytest.mark.slow
def test_random_sigkills_never_lose_or_duplicate_and_leave_no_unreadable_file(
    redis_client: redis.Redis, channel: str, tmp_path: Path, ingesters: list[Ingester]
) -> None:
    lake = tmp_path / "lake"
    payloads = list(dict.fromkeys(simulated_payloads(seed=61, rate=1500, duration=30)))

    def ingester(name: str) -> Ingester:
        return Ingester(
            lake,
            channel,
            "--flush-interval",
            "0.05",
            "--ingester-id",
            name,
            "--wal-dir",
            str(tmp_path / f"wal-{name}"),
        )

    steady = ingester("steady").start()
    ingesters.append(steady)
    victim = ingester("victim").start()
    ingesters.append(victim)
    finished = threading.Event()

    def publish_steadily() -> None:
        for start in range(0, len(payloads), 100):
            publish(redis_client, channel, payloads[start : start + 100])
            time.sleep(0.05)
        finished.set()

    publisher = threading.Thread(target=publish_steadily)
    publisher.start()
    rng = random.Random(7)
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.2, 1.0))
        victim.stop(signal.SIGKILL)
        victim = ingester("victim").start(wait_subscribed=False)
        ingesters.append(victim)
    publisher.join()
    wait_until(lambda: steady.received() >= len(payloads), 60, "the steady ingester")
    assert steady.stop() == 0
    # recovering the WAL left by 22 kills takes a while on a loaded 2-core machine
    wait_until(lambda: "subscribed to" in victim.log(), 180, "the last victim")
    assert victim.stop() == 0

    files = sorted(lake.glob("events/*/*/*.parquet"))
    for path in files:  # every committed file is whole
        pq.read_metadata(path)
    per_ingester = dict(
        (name, (rows, distinct))
        for name, rows, distinct in query(
            f"SELECT ingester_id, count(*), count(DISTINCT event_id) FROM {events_glob(lake)} "
            "GROUP BY ALL"
        )
    )
    assert per_ingester["steady"] == (len(payloads), len(payloads))
    victim_rows, victim_distinct = per_ingester["victim"]
    assert victim_rows == victim_distinct  # replays after kills never duplicated
    total = query(f"SELECT count(DISTINCT event_id) FROM {events_glob(lake)}")[0][0]
    assert total == len(payloads)
    print(
        f"\npublished {len(payloads)}, kills {KILLS}, victim stored {victim_rows} once each, "
        f"distinct in lake {total}, files {len(files)} all readable"
    )
