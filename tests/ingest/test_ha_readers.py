"""Promise 2 (two ingesters, then compaction: each event once in every view) and promise 8
(readers querying in a loop while a restarted ingester recovers a big WAL: never fail, never
count an event twice)."""

from __future__ import annotations

import shutil
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from tasqlake import queries
from tasqlake.lake.compaction import compact
from tasqlake.lake.storage import Lake
from tasqlake.queries.api import STORAGE_VIEWS, view_names
from tasqlake.simulator import SimulationSpec, iter_events
from tests.ingest.helpers import (
    Ingester,
    count_events,
    publish,
    query,
    simulated_payloads,
    wait_until,
)

pytestmark = pytest.mark.clock  # compares with the clock: also run a year ahead (test_moved_clock)

#: Columns that legitimately differ between copies of an event (who read it, when, where).
COPY_COLUMNS = {"received_at", "ingester_id", "channel", "first_received_at", "last_received_at"}
#: Views about ingesters' subscriptions (they differ with the set of ingesters), and the views of
#: how events are stored (they differ with copies and compaction).
COVERAGE_VIEWS = {"stored_gaps", "ingest_gaps"} | STORAGE_VIEWS


def past_payloads(hours_ago: float, seconds: float, seed: int) -> list[bytes]:
    """Distinct simulated payloads stamped ``hours_ago`` (their partitions are closed)."""
    start = datetime.now(UTC) - timedelta(hours=hours_ago)
    spec = SimulationSpec(seed=seed, rate=400, duration=seconds, start=start)
    return list(dict.fromkeys(payload for _, payload in iter_events(spec)))


def every_view(lake: Path, as_of: datetime) -> dict[str, list[tuple]]:
    """Each event-derived view's rows (copy-specific columns left out), sorted."""
    out = {}
    with queries.connect(lake, as_of=as_of) as con:
        for name in view_names():
            if name in COVERAGE_VIEWS:
                continue
            columns = [c[0] for c in con.execute(f'DESCRIBE "{name}"').fetchall()]
            kept = ", ".join(f'"{c}"' for c in columns if c not in COPY_COLUMNS)
            out[name] = sorted(con.execute(f'SELECT {kept} FROM "{name}"').fetchall(), key=repr)
    return out


def test_two_ingesters_then_compaction_give_each_event_once_in_every_view(
    redis_client: redis.Redis, channel: str, tmp_path: Path, ingesters: list[Ingester]
) -> None:
    lake = tmp_path / "lake"
    payloads = past_payloads(hours_ago=3, seconds=8, seed=101)
    pair = [
        Ingester(
            lake,
            channel,
            "--flush-interval",
            "0.2",
            "--ingester-id",
            name,
            "--wal-dir",
            str(tmp_path / f"wal-{name}"),
        ).start()
        for name in ("ha-a", "ha-b")
    ]
    ingesters.extend(pair)
    publish(redis_client, channel, payloads)
    for ingester in pair:
        wait_until(lambda i=ingester: i.received() >= len(payloads), 30, "both ingesters")
        assert ingester.stop() == 0
    assert count_events(lake) == 2 * len(payloads)  # two physical copies of everything

    # The reference: the same events from one ingester only.
    single = tmp_path / "single"
    for path in lake.glob("events/*/*/ha-a-*.parquet"):
        target = single / path.relative_to(lake)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    as_of = datetime.now(UTC)
    reference = every_view(single, as_of)
    assert reference["events"] and len(reference["events"]) == len(payloads)
    assert every_view(lake, as_of) == reference

    probe = "SELECT (SELECT count(*) FROM events), (SELECT sum(completed_total) FROM queue_stats)"
    with queries.connect(single, as_of=as_of) as con:
        want = con.execute(probe).fetchone()
    errors: list[BaseException] = []
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def read_in_a_loop() -> None:
        with queries.connect(lake, as_of=as_of) as con:
            while not done.is_set():
                try:
                    seen.append(con.execute(probe).fetchone())
                except BaseException as error:  # any failure is the finding
                    errors.append(error)

    reader = threading.Thread(target=read_in_a_loop)
    reader.start()
    try:
        wait_until(lambda: len(seen) >= 3, 30, "the reader's first queries")
        report = compact(Lake(lake), timedelta(hours=1))  # inputs kept for the grace period
        before = len(seen)
        wait_until(lambda: len(seen) >= before + 3, 30, "queries after compaction")
    finally:
        done.set()
        reader.join()
    assert report.partitions and report.duplicates_removed == len(payloads)
    assert errors == []
    assert set(seen) == {want}, set(seen)  # before, during and after: never twice, never less
    assert every_view(lake, as_of) == reference

    later = datetime.now(UTC) + timedelta(minutes=11)  # past the grace period: inputs deleted
    assert compact(Lake(lake), timedelta(hours=1), now=later).deleted_files > 0
    assert count_events(lake) == len(payloads)  # physically once each now
    assert every_view(lake, as_of) == reference


def test_readers_during_wal_recovery_never_fail_nor_double_count(
    redis_client: redis.Redis, channel: str, tmp_path: Path, ingesters: list[Ingester]
) -> None:
    lake = tmp_path / "lake"
    payloads = list(dict.fromkeys(simulated_payloads(seed=102, rate=10_000, duration=2)))
    first = Ingester(lake, channel, "--flush-interval", "600").start()
    ingesters.append(first)
    publish(redis_client, channel, payloads)
    wait_until(lambda: first.received() >= len(payloads), 60, "everything read")
    first.stop(signal.SIGKILL)  # a big WAL, nothing committed (less than one batch's bytes)
    assert count_events(lake) == 0
    assert sum(p.stat().st_size for p in (lake / "wal").glob("*.wal")) > 4_000_000

    errors: list[BaseException] = []
    seen: list[tuple[int, int, int]] = []
    done = threading.Event()
    glob = f"read_parquet('{lake}/events/*/*/*.parquet')"
    lake.mkdir(parents=True, exist_ok=True)  # queries.connect needs the lake to exist

    connected = threading.Event()

    def read_in_a_loop() -> None:
        with queries.connect(lake) as con:  # views read the files anew at every query
            connected.set()
            while not done.is_set():
                if not list(lake.glob("events/*/*/*.parquet")):
                    continue
                try:
                    # each statement reads one listing of the files: counts within it agree
                    view = con.execute("SELECT count(*), count(DISTINCT event_id) FROM events")
                    shown, distinct = view.fetchone() or (0, 0)
                    raw = con.execute(f"SELECT count(*) - count(DISTINCT event_id) FROM {glob}")
                    (copies,) = raw.fetchone() or (0,)
                    seen.append((shown, distinct, copies))
                except BaseException as error:  # any failure is the finding
                    errors.append(error)

    reader = threading.Thread(target=read_in_a_loop)
    reader.start()
    assert connected.wait(30)  # reading before recovery starts, not after it is half done
    try:
        # Recovery commits in batches of 250 events (~80 commits) while the reader reads.
        second = Ingester(lake, channel, "--flush-interval", "600", "--max-batch-events", "250")
        second.start()
        ingesters.append(second)
        assert second.stop() == 0
    finally:
        done.set()
        reader.join()
    assert errors == []
    counts = [row[0] for row in seen]
    assert len(set(counts)) > 2, counts  # the reader saw recovery commit batch after batch
    assert counts == sorted(counts)  # never went back
    assert [row for row in seen if row[0] != row[1] or row[2] != 0] == []  # never twice
    assert query(f"SELECT count(*), count(DISTINCT event_id) FROM {glob}") == [
        (len(payloads), len(payloads))
    ]
