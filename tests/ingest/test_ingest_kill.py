"""Promise 1(b): an ingester SIGKILLed at random moments, a second one subscribed throughout."""

from __future__ import annotations

import random
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import redis

from tasqlake import queries
from tests.ingest.helpers import (
    Ingester,
    count_events,
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


def test_an_ingester_killed_right_after_subscribing_leaves_its_downtime_in_a_gap(
    redis_client: redis.Redis, channel: str, tmp_path: Path, ingesters: list[Ingester]
) -> None:
    """The next incarnation's start-up gap begins where the killed one last knew it was
    subscribed, which it saves as soon as it subscribes (not with the first status line: here
    none comes, at one a minute): what was published while it was down lies in that gap."""
    lake = tmp_path / "lake"

    def start() -> Ingester:
        ingester = Ingester(lake, channel, "--status-interval", "60", "--flush-interval", "0.05")
        ingesters.append(ingester.start())
        return ingester

    payloads = list(dict.fromkeys(simulated_payloads(seed=62, rate=400, duration=3)))
    before, during, after = payloads[:300], payloads[300:600], payloads[600:900]
    first = start()
    publish(redis_client, channel, before)
    wait_until(lambda: count_events(lake) >= len(before), 30, "the first incarnation's commit")
    killed_at = datetime.now(UTC)
    first.stop(signal.SIGKILL)
    publish(redis_client, channel, during)  # nobody subscribed: lost, and must be in a gap
    published_at = datetime.now(UTC)
    second = start()
    publish(redis_client, channel, after)
    wait_until(lambda: count_events(lake) >= len(before) + len(after), 30, "the second's commit")
    assert second.stop() == 0
    assert count_events(lake) == len(before) + len(after)
    with queries.connect(lake) as con:
        gaps = con.execute("SELECT gap_start, gap_end FROM ingest_gaps").fetchall()
    assert any(start <= killed_at and published_at <= end for start, end in gaps), gaps
