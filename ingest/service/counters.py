"""Counters shared by the receiver and the processor (threads or processes) and the status line.

Each counter has exactly one writer, so plain shared memory suffices (no locks).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

from tasqlake.ingest.service.shared_histogram import (
    COMMIT_SECONDS_BUCKETS,
    EVENT_LAG_BUCKETS,
    SharedHistogram,
    event_lags,
)

_FIELDS = (
    "received",
    "recovered",
    "stored",
    "quarantined",
    "files",
    "gaps",
    "bytes_read",
    "lake_bytes",
    # metrics (tasqlake.ingest.service.metrics): totals, then gauges set by their one writer
    "commits",
    "commit_failures",
    "reconnects",
    "gap_us",
    "commit_failing",  # failed attempts of the batch being committed now (0: commits work)
    "last_commit_us",
    # the stream receiver (ingest --stream)
    "stream_acked",
    "stream_skipped",
)


class Counters:
    """Monotonic totals of one ingester run, in shared memory."""

    def __init__(self) -> None:
        self._values: Any = multiprocessing.RawArray("q", len(_FIELDS))
        self.commit_seconds = SharedHistogram(COMMIT_SECONDS_BUCKETS)
        self.event_lag_seconds = SharedHistogram(EVENT_LAG_BUCKETS)

    def add(self, name: str, amount: int = 1) -> None:
        self._values[_FIELDS.index(name)] += amount

    def set(self, name: str, value: int) -> None:
        self._values[_FIELDS.index(name)] = value

    def commit_failed(self) -> None:
        """A commit attempt failed (it will be retried)."""
        self.add("commit_failures")
        self.add("commit_failing")

    def commit_succeeded(self, seconds: float, events: Sequence[tuple[Any, pa.Table]]) -> None:
        """A batch was committed in ``seconds``; ``events`` are its (partition, table) pairs."""
        now_us = time.time_ns() // 1000
        self.commit_seconds.observe(seconds)
        self.event_lag_seconds.observe_many(event_lags([t for _, t in events], now_us))
        self.add("commits")
        self.set("commit_failing", 0)
        self.set("last_commit_us", now_us)

    def get(self, name: str) -> int:
        return int(self._values[_FIELDS.index(name)])

    def snapshot(self) -> dict[str, int]:
        return {name: int(self._values[i]) for i, name in enumerate(_FIELDS)}


@dataclass
class StatusLine:
    """Formats the periodic one-line status, with the rate since the previous line."""

    counters: Counters
    _last_stored: int = 0
    _last_time: float = field(default_factory=time.monotonic)

    def render(self) -> str:
        """The status since the previous call (the first call: since this object was made)."""
        now = time.monotonic()
        snap = self.counters.snapshot()
        elapsed = max(now - self._last_time, 1e-3)
        rate = (snap["stored"] + snap["quarantined"] - self._last_stored) / elapsed
        self._last_stored, self._last_time = snap["stored"] + snap["quarantined"], now
        pending = snap["received"] + snap["recovered"] - snap["stored"] - snap["quarantined"]
        per_event = snap["lake_bytes"] / snap["stored"] if snap["stored"] else 0.0
        return (
            f"received={snap['received']} stored={snap['stored']} "
            f"quarantined={snap['quarantined']} pending={pending} files={snap['files']} "
            f"gaps={snap['gaps']} rate={rate:,.0f}/s bytes/event={per_event:.1f}"
        )
