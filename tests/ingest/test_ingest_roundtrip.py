"""`tasqlake ingest` as a subprocess against real Redis: counts, field round-trip, import parity."""

from __future__ import annotations

import signal
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import redis

from tasqlake.schemas.decode import decode, event_id, result_json, to_epoch_us
from tasqlake.schemas.streams import write_msgpack_stream
from tests.ingest.helpers import (
    TASQLAKE,
    Ingester,
    count_events,
    events_glob,
    publish,
    query,
    simulated_payloads,
    wait_until,
)

WIRE_COLUMNS = (
    "event_id, event_type, epoch_us(timestamp), task_id, task_name, queue, worker_id, attempt, "
    "duration_ms, result, error, traceback, hostname, freq, active, processed, queues, "
    "sw_ident, sw_ver, uptime_seconds, extra"
)


def expected_row(raw: bytes) -> tuple:
    """What a stored row must hold for ``raw``, from the canonical decoder."""
    event = decode(raw, to_epoch_us(datetime.now(UTC)))
    p = event.payload

    def v(value: object) -> object:
        return None if value.__class__.__name__ == "UnsetType" else value

    return (
        event_id(raw),
        p.event_type,
        event.timestamp_us,
        v(p.task_id),
        v(p.task_name),
        v(p.queue),
        v(p.worker_id),
        v(p.attempt),
        v(p.duration_ms),
        result_json(p.result),
        v(p.error),
        v(p.traceback),
        v(p.hostname),
        v(p.freq),
        v(p.active),
        v(p.processed),
        v(p.queues),
        v(p.sw_ident),
        v(p.sw_ver),
        v(p.uptime_seconds),
        event.extra_json,
    )


def stored_rows(lake: Path) -> list[tuple]:
    return sorted(query(f"SELECT {WIRE_COLUMNS} FROM {events_glob(lake)}"), key=lambda r: r[0])


def test_every_published_event_is_stored_once_with_every_field(
    redis_client: redis.Redis, channel: str, lake: Path, ingesters: list[Ingester]
) -> None:
    payloads = simulated_payloads(seed=11)
    ingester = Ingester(lake, channel, "--flush-interval", "0.2").start()
    ingesters.append(ingester)
    publish(redis_client, channel, payloads)
    wait_until(lambda: ingester.received() >= len(payloads), 20, "all events received")
    assert ingester.stop() == 0

    assert count_events(lake) == len(payloads)
    expected = sorted((expected_row(raw) for raw in payloads), key=lambda r: r[0])
    assert stored_rows(lake) == expected
    meta = query(f"SELECT DISTINCT channel, ingester_id FROM {events_glob(lake)}")
    assert len(meta) == 1 and meta[0][0] == channel
    assert f"stopped: received={len(payloads)} stored={len(payloads)}" in ingester.log()


def test_import_of_the_same_events_gives_identical_rows(
    redis_client: redis.Redis, channel: str, tmp_path: Path, ingesters: list[Ingester]
) -> None:
    payloads = simulated_payloads(seed=12, duration=2)
    live, imported = tmp_path / "live", tmp_path / "imported"
    ingester = Ingester(live, channel, "--flush-interval", "0.2").start()
    ingesters.append(ingester)
    publish(redis_client, channel, payloads)
    wait_until(lambda: ingester.received() >= len(payloads), 20, "all events received")
    assert ingester.stop() == 0

    stream = tmp_path / "events.bin"
    with open(stream, "wb") as out:
        write_msgpack_stream(out, payloads)
    for _ in range(2):  # importing twice must not duplicate
        done = subprocess.run(
            [TASQLAKE, "import", str(stream), "--lake", str(imported)],
            capture_output=True,
            text=True,
            check=True,
        )
    assert f"{len(payloads)} events stored, 0 quarantined" in done.stdout
    assert stored_rows(imported) == stored_rows(live)
    channels = query(f"SELECT DISTINCT channel FROM {events_glob(imported)}")
    assert channels == [("import:events.bin",)]


def test_the_same_message_published_twice_has_one_event_id(
    redis_client: redis.Redis, channel: str, lake: Path, ingesters: list[Ingester]
) -> None:
    payload = simulated_payloads(seed=13, duration=1)[0]
    ingester = Ingester(lake, channel, "--flush-interval", "0.2").start()
    ingesters.append(ingester)
    publish(redis_client, channel, [payload, payload])
    wait_until(lambda: ingester.received() >= 2, 20, "both copies received")
    assert ingester.stop(signal.SIGINT) == 0
    rows = query(f"SELECT count(*), count(DISTINCT event_id) FROM {events_glob(lake)}")
    assert rows == [(2, 1)]


def test_a_reader_querying_while_the_ingester_commits_never_fails(
    redis_client: redis.Redis, channel: str, lake: Path, ingesters: list[Ingester]
) -> None:
    payloads = simulated_payloads(seed=14, rate=2000, duration=4)
    # Small batches: several commits even when a loaded machine delays the first flush.
    ingester = Ingester(
        lake, channel, "--flush-interval", "0.05", "--max-batch-events", "1000"
    ).start()
    ingesters.append(ingester)
    errors: list[BaseException] = []
    counts: list[int] = []
    done = threading.Event()

    def read_in_a_loop() -> None:
        while not done.is_set():
            try:
                counts.append(count_events(lake))
            except BaseException as error:  # any failure is the finding
                errors.append(error)

    reader = threading.Thread(target=read_in_a_loop)
    reader.start()
    for start in range(0, len(payloads), 500):
        publish(redis_client, channel, payloads[start : start + 500])
    wait_until(lambda: ingester.received() >= len(payloads), 30, "all events received")
    assert ingester.stop() == 0
    done.set()
    reader.join()
    assert errors == []
    assert counts == sorted(counts) and len(set(counts)) > 2  # saw commits happen, never lost
    assert count_events(lake) == len(payloads)
