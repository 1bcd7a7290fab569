"""The write-ahead log and the processor: torn tails, roll-over, interrupted commits."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from tasqlake.ingest.processing import committer
from tasqlake.ingest.processing.columnar import BatchBuilder
from tasqlake.ingest.processing.processor import Processor, ProcessorConfig
from tasqlake.ingest.service.counters import Counters
from tasqlake.ingest.wal.format import MESSAGES
from tasqlake.ingest.wal.reader import WalReader, list_segments
from tasqlake.ingest.wal.state import Intent, WalState
from tasqlake.ingest.wal.writer import WalWriter
from tasqlake.lake.storage import Lake
from tests.ingest.helpers import count_events, events_glob, query, simulated_payloads

ENCODE = msgspec.msgpack.Encoder().encode
START = 10_000


def write_wal(wal: Path, chunks: list[list[bytes]], segment_bytes: int = 1 << 26) -> list[int]:
    state = WalState(wal).ensure()
    state.set_committed(START)
    writer = WalWriter(wal, START, segment_bytes)
    now = time.time_ns() // 1000
    offsets = [writer.append(MESSAGES, ENCODE([("ch", chunk)]), now) for chunk in chunks]
    writer.close()
    return offsets


def processor(tmp_path: Path, wal: Path, max_batch_events: int = 200_000) -> Processor:
    config = ProcessorConfig(
        str(tmp_path / "lake"), str(wal), "ing", 1.0, max_batch_events, 1 << 20
    )
    return Processor(config, Counters())


def chunks_of(payloads: list[bytes], size: int) -> list[list[bytes]]:
    return [payloads[i : i + size] for i in range(0, len(payloads), size)]


def test_records_come_back_in_order_across_segments(tmp_path: Path) -> None:
    payloads = simulated_payloads(seed=41, duration=3)
    chunks = chunks_of(payloads, 50)
    offsets = write_wal(tmp_path / "wal", chunks, segment_bytes=20_000)
    assert len(list_segments(tmp_path / "wal")) > 3
    reader = WalReader(tmp_path / "wal", START)
    records = list(reader.read_available(max_bytes=1 << 30))
    reader.close()
    assert [r.offset for r in records] == offsets
    assert [msgspec.msgpack.decode(r.body)[0][1] for r in records] == chunks


def test_a_torn_tail_is_skipped_and_everything_before_it_recovered(tmp_path: Path) -> None:
    payloads = simulated_payloads(seed=42, duration=2)
    wal = tmp_path / "wal"
    write_wal(wal, chunks_of(payloads, 40))
    segment = wal / f"{START:020d}.wal"
    with open(segment, "ab") as tail:  # a crash in the middle of the next append
        tail.write(b"TQW1\x01\x00\x00\x00\x00\x01\x00\x00garbage")
    recovered = processor(tmp_path, wal).recover()
    assert recovered == len(payloads)
    assert count_events(tmp_path / "lake") == len(payloads)
    assert list_segments(wal) == []


def test_a_batch_interrupted_half_way_is_completed_never_duplicated(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    earlier = simulated_payloads(seed=43, duration=1)
    later = [  # the same stream an hour on: the batch spans two partitions
        msgspec.msgpack.encode(
            {
                **(obj := msgspec.msgpack.decode(p)),
                "timestamp": (
                    datetime.fromisoformat(obj["timestamp"]) + timedelta(hours=1)
                ).isoformat(),
            }
        )
        for p in earlier
    ]
    payloads = earlier + later
    assert all(
        datetime.fromisoformat(msgspec.msgpack.decode(p)["timestamp"]) < now + timedelta(hours=2)
        for p in payloads
    )
    wal = tmp_path / "wal"
    offsets = write_wal(wal, chunks_of(payloads, 100))
    end = WalReader(wal, START)
    last = list(end.read_available(max_bytes=1 << 30))[-1].end
    end.close()

    # The crashed run: intent written, the later hour's file committed, then killed. A replay
    # batching differently (here: 50 events at a time) would leave that file beside new ones.
    builder = BatchBuilder("ing")
    builder.add(payloads, time.time_ns() // 1000, "ch")
    built = builder.build()
    assert len(built.events) == 2
    WalState(wal).set_intent(Intent(START, last))
    lake = Lake(tmp_path / "lake")
    committer.commit_tables(lake, committer.EVENTS, built.events[1:], "ing", START)

    processor(tmp_path, wal, max_batch_events=50).recover()
    rows = query(f"SELECT count(*), count(DISTINCT event_id) FROM {events_glob(lake.root)}")
    assert rows == [(len(payloads), len(set(payloads)))]
    names = sorted(p.name for p in lake.root.glob("events/*/*/*.parquet"))
    assert names == [f"ing-{START:020d}.parquet"] * 2  # replayed as exactly the same batch
    assert offsets[0] == START


def test_synced_offset_moves_only_with_an_fsync_and_covers_concurrent_appends(
    tmp_path: Path,
) -> None:
    """What the stream receiver acknowledges up to: records are on disk only after a sync."""
    import threading

    writer = WalWriter(tmp_path, 1000, segment_bytes=4096)
    assert writer.synced_offset == 1000
    writer.append(MESSAGES, b"x" * 100, 1)
    assert writer.synced_offset == 1000  # written to the OS, not fsynced
    writer.sync()
    assert writer.synced_offset == writer.offset
    offsets: list[int] = []

    def append_many() -> None:
        offsets.extend(writer.append(MESSAGES, b"y" * 50, 2) for _ in range(200))

    threads = [threading.Thread(target=append_many) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(offsets)) == 400  # two receivers appending: no record overwrote another
    writer.sync()
    assert writer.synced_offset == writer.offset
    writer.close()
    reader = WalReader(tmp_path, 1000)
    records = list(reader.read_available(max_bytes=1 << 30))
    reader.close()
    assert len(records) == 401 and sorted(r.offset for r in records[1:]) == sorted(offsets)
