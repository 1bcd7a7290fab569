"""Counters shared by the receiver and the processor (threads or processes) and the status line.

Each counter has exactly one writer, so plain shared memory suffices (no locks).
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field
from typing import Any

_FIELDS = (
    "received",
    "recovered",
    "stored",
    "quarantined",
    "files",
    "gaps",
    "bytes_read",
    "lake_bytes",
)


class Counters:
    """Monotonic totals of one ingester run, in shared memory."""

    def __init__(self) -> None:
        self._values: Any = multiprocessing.RawArray("q", len(_FIELDS))

    def add(self, name: str, amount: int = 1) -> None:
        self._values[_FIELDS.index(name)] += amount

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
