"""Filling a lake with simulated AsyncTasQ events, fast, through the real storage path.

simulator (:func:`tasqlake.simulator.iter_events`) → :func:`tasqlake.schemas.decode.decode` →
:class:`tasqlake.schemas.batch.EventColumns` → :meth:`tasqlake.lake.storage.Lake.commit_parquet`,
one file per event hour per batch, named like an ingester's files. ``received_at`` is the simulated
emit time plus a small delivery latency, so the data looks like what ``tasqlake ingest`` stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from tasqlake.lake import layout
from tasqlake.lake.storage import Lake
from tasqlake.schemas import constants
from tasqlake.schemas.batch import EventColumns
from tasqlake.schemas.decode import decode, to_epoch_us
from tasqlake.schemas.errors import PayloadError
from tasqlake.simulator import SimulationSpec, iter_events

#: Events per second of simulated time used by the benchmark's data sets: low enough that a
#: 5 M-event lake spans several closed hours (so compaction and snapshots have history to work on).
DEFAULT_RATE = 200.0
DELIVERY_LATENCY_US = 350


@dataclass(frozen=True)
class Generated:
    events: int
    files: int
    bytes: int
    quarantined: int
    first_us: int
    last_us: int


def spec_for(events: int, rate: float = DEFAULT_RATE, seed: int = 6) -> SimulationSpec:
    """A simulation expected to emit about ``events`` events at ``rate`` events/s."""
    return SimulationSpec(seed=seed, rate=rate, duration=max(events / rate, 1.0))


def payloads(spec: SimulationSpec, limit: int) -> Iterator[tuple[int, bytes]]:
    """``(received_us, payload)`` of the first ``limit`` events of ``spec``."""
    start_us = to_epoch_us(spec.start)
    for count, (emit_at, payload) in enumerate(iter_events(spec)):
        if count >= limit:
            return
        yield start_us + int(emit_at * 1_000_000) + DELIVERY_LATENCY_US, payload


def fill_lake(
    lake: Lake,
    events: int,
    *,
    rate: float = DEFAULT_RATE,
    seed: int = 6,
    batch_events: int = 50_000,
    ingester_id: str = "bench",
    progress: object = None,
) -> Generated:
    """Store about ``events`` simulated events into ``lake`` as small ingest-sized files."""
    spec = spec_for(events, rate, seed)
    columns = EventColumns()
    stored = files = size = quarantined = 0
    sequence = 0
    first_us = last_us = 0

    def flush() -> None:
        nonlocal columns, files, size, sequence
        for partition, table in columns.to_partitions():
            sequence += 1
            rel = f"{layout.EVENTS_DIR}/{partition.path}/{ingester_id}-{sequence:08d}.parquet"
            size += lake.commit_parquet(rel, table)
            files += 1
        columns = EventColumns()

    channel = constants.DEFAULT_CHANNEL
    for received_us, raw in payloads(spec, events):
        try:
            event = decode(raw, received_us)
        except PayloadError:
            quarantined += 1
            continue
        columns.append(raw, event, received_us, channel, ingester_id)
        stored += 1
        first_us = first_us or received_us
        last_us = received_us
        if len(columns) >= batch_events:
            flush()
            if callable(progress):
                progress(stored)
    if len(columns):
        flush()
    return Generated(stored, files, size, quarantined, first_us, last_us)


def hours_spanned(generated: Generated) -> float:
    return timedelta(microseconds=generated.last_us - generated.first_us).total_seconds() / 3600
