"""``tasqlake ingest --stream``: at-least-once ingest from a Redis Stream in a consumer group.

Real Redis (127.0.0.1:6379, a key per test, never flushed), real ``tasqlake ingest``
processes, real lakes. What is proved: SIGKILLs at random moments while entries keep coming lose
and duplicate nothing in ``events`` and leave nothing pending; ingesters of one group share the
entries, of two groups each store all; a killed ingester's unacknowledged entries are claimed
by another; entries trimmed before the group read them, and a deleted stream, are recorded as
gaps of the group (with the count when Redis can tell).
"""

from __future__ import annotations

import random
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from tasqlake import queries
from tasqlake.schemas.constants import STREAM_PAYLOAD_FIELD
from tasqlake.schemas.settings import Settings
from tests.ingest.helpers import REDIS_URL, TASQLAKE, Ingester, simulated_payloads, wait_until

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


class StreamIngester(Ingester):
    """``tasqlake ingest --stream KEY`` (no Pub/Sub) as a subprocess."""

    def __init__(
        self, lake: Path, stream: str, *extra: str, wal: Path | None = None, fsync: float = 0.1
    ) -> None:
        super().__init__(lake, stream, env={"TASQLAKE_WAL_FSYNC_INTERVAL": str(fsync)})
        self.args = [
            TASQLAKE,
            "ingest",
            "--redis-url",
            REDIS_URL,
            "--stream",
            stream,
            "--lake",
            str(lake),
            "--status-interval",
            "0.2",
            *(("--wal-dir", str(wal)) if wal else ()),
            *extra,
        ]

    def start(self, wait_subscribed: bool = True) -> StreamIngester:
        super().start(wait_subscribed=False)
        if wait_subscribed:
            wait_until(lambda: "reading " in self.log(), 30, f"ingester on {self.channel}")
        return self


@pytest.fixture
def client() -> Any:
    connection = redis.Redis.from_url(REDIS_URL)
    yield connection
    connection.close()


@pytest.fixture
def stream(client: redis.Redis) -> Any:
    key = f"tasqlake-test:stream:{uuid.uuid4().hex[:8]}"
    yield key
    client.delete(key)


def add(client: redis.Redis, key: str, payloads: list[bytes], **xadd: Any) -> None:
    pipe = client.pipeline(transaction=False)
    for index, payload in enumerate(payloads, 1):
        pipe.xadd(key, {STREAM_PAYLOAD_FIELD: payload}, **xadd)
        if index % 2000 == 0:
            pipe.execute()
    pipe.execute()


def events_once(lake: Path) -> tuple[int, int]:
    """(events in the view, distinct event ids stored)."""
    if not (lake / "events").exists():
        return (0, 0)
    with queries.connect(lake) as con:
        row = con.execute(
            "SELECT (SELECT count(*) FROM events), count(DISTINCT event_id) FROM stored_events"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def pending(client: redis.Redis, key: str, group: str = "tasqlake") -> int:
    return int(client.xpending(key, group)["pending"])


def gaps_of(lake: Path) -> list[tuple[Any, ...]]:
    with queries.connect(lake) as con:
        return con.execute(
            "SELECT ingester_id, reason, lost_events FROM stored_gaps ORDER BY gap_start, reason"
        ).fetchall()


def test_sigkills_while_entries_arrive_lose_and_duplicate_nothing(
    tmp_path: Path, client: redis.Redis, stream: str
) -> None:
    payloads = simulated_payloads(seed=41, rate=3000, duration=6)
    lake = tmp_path / "lake"
    rng = random.Random(41)
    feeding = threading.Thread(
        target=lambda: [
            add(client, stream, payloads[i : i + 500]) for i in range(0, len(payloads), 500)
        ]
    )
    ingester = StreamIngester(lake, stream).start()
    feeding.start()
    try:
        for _ in range(5):  # killed at random moments, restarted on the same WAL
            threading.Event().wait(rng.uniform(0.2, 1.0))
            ingester.stop(signal.SIGKILL)
            ingester = StreamIngester(lake, stream).start()
        feeding.join()
        wait_until(lambda: events_once(lake)[1] == len(payloads), 60, "every entry stored")
        wait_until(lambda: pending(client, stream) == 0, 30, "every entry acknowledged")
        assert ingester.stop() == 0
    finally:
        ingester.close()
    assert events_once(lake) == (len(payloads), len(payloads))
    assert [g[1] for g in gaps_of(lake)] == ["start-up"]  # the group's creation, no loss


def test_one_group_shares_the_entries_two_groups_each_store_all(
    tmp_path: Path, client: redis.Redis, stream: str
) -> None:
    payloads = simulated_payloads(seed=42, rate=2000, duration=5)
    shared, other = tmp_path / "shared", tmp_path / "other"
    first = StreamIngester(shared, stream, "--ingester-id", "a", wal=tmp_path / "wal-a").start()
    second = StreamIngester(shared, stream, "--ingester-id", "b", wal=tmp_path / "wal-b").start()
    third = StreamIngester(other, stream, "--consumer-group", "replica").start()
    try:
        for start in range(0, len(payloads), 200):
            add(client, stream, payloads[start : start + 200])
        for lake in (shared, other):
            wait_until(lambda lake=lake: events_once(lake)[1] == len(payloads), 60, "all stored")
        for ingester in (first, second, third):
            assert ingester.stop() == 0
    finally:
        for ingester in (first, second, third):
            ingester.close()
    with queries.connect(shared) as con:
        by_ingester = dict(
            con.execute("SELECT ingester_id, count(*) FROM stored_events GROUP BY 1").fetchall()
        )
    assert set(by_ingester) == {"a", "b"} and all(n > 0 for n in by_ingester.values())
    assert sum(by_ingester.values()) == len(payloads)  # each entry stored by one of them
    assert events_once(other) == (len(payloads), len(payloads))
    assert pending(client, stream) == 0 and pending(client, stream, "replica") == 0


def test_a_dead_ingesters_unacknowledged_entries_are_claimed_by_another(
    tmp_path: Path, client: redis.Redis, stream: str
) -> None:
    payloads = simulated_payloads(seed=43, rate=1000, duration=3)
    lake = tmp_path / "lake"
    # acknowledges only after a 60 s fsync: killed before, everything stays pending on it
    slow = StreamIngester(
        lake, stream, "--ingester-id", "slow", wal=tmp_path / "w1", fsync=60
    ).start()
    try:
        add(client, stream, payloads)
        wait_until(lambda: slow.received() == len(payloads), 30, "the first ingester read all")
        slow.stop(signal.SIGKILL)
    finally:
        slow.close()
    assert pending(client, stream) == len(payloads)
    other_lake = tmp_path / "other-lake"  # the claimer stores into a lake of its own
    claimer = StreamIngester(
        other_lake, stream, "--ingester-id", "claimer", "--stream-claim-idle", "1",
        wal=tmp_path / "w2",
    ).start()  # fmt: skip
    try:
        wait_until(lambda: events_once(other_lake)[1] == len(payloads), 60, "entries claimed")
        wait_until(lambda: pending(client, stream) == 0, 30, "claimed entries acknowledged")
        assert claimer.stop() == 0
    finally:
        claimer.close()
    assert events_once(other_lake) == (len(payloads), len(payloads))


def test_trimmed_and_deleted_streams_are_recorded_as_gaps_of_the_group(
    tmp_path: Path, client: redis.Redis, stream: str
) -> None:
    lake = tmp_path / "lake"
    first = StreamIngester(lake, stream).start()  # creates the group
    assert first.stop() == 0
    first.close()
    payloads = simulated_payloads(seed=44, rate=500, duration=2)
    add(client, stream, payloads, maxlen=100, approximate=False)  # 100 left, the rest trimmed
    ingester = StreamIngester(lake, stream).start()
    try:
        wait_until(lambda: events_once(lake)[1] == 100, 30, "the entries left stored")
        client.delete(stream)  # gone, group and all
        more = simulated_payloads(seed=45, rate=500, duration=1)
        wait_until(lambda: "stream deleted" in ingester.log() or _added(client, stream, more), 30,
                   "the new stream")  # fmt: skip
        wait_until(lambda: events_once(lake)[1] == 100 + len(more), 30, "the new entries stored")
        assert ingester.stop() == 0
    finally:
        ingester.close()
    source = f"{stream}@tasqlake"
    gaps = gaps_of(lake)
    assert (source, "stream trimmed before read", len(payloads) - 100) in gaps
    assert (source, "stream deleted or recreated", None) in gaps
    assert all(g[0] == source for g in gaps)


def _added(client: redis.Redis, key: str, payloads: list[bytes]) -> bool:
    add(client, key, payloads)
    return True


def test_streams_without_a_channel_subscribe_nothing() -> None:
    only_stream = Settings.resolve({"streams": ["s"]}, {})
    assert only_stream.streams == ("s",) and only_stream.pubsub_channels == ()
    both = Settings.resolve({"streams": "s1, s2", "channels": ["c"]}, {})
    assert both.streams == ("s1", "s2") and both.pubsub_channels == ("c",)
    from_env = Settings.resolve({}, {"TASQLAKE_STREAM": "s", "TASQLAKE_CONSUMER_GROUP": "g"})
    assert from_env.streams == ("s",) and from_env.consumer_group == "g"
    assert Settings.resolve({}, {}).pubsub_channels == ("asynctasq:events",)
