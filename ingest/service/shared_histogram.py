"""Histograms in shared memory: observed in the processor (thread or child process), read by the
metrics server in the service's process.

Like :class:`~tasqlake.ingest.service.counters.Counters`, each histogram has exactly one writer, so
plain shared memory suffices. Observations are made per committed batch (never per event on the hot
path):
:meth:`SharedHistogram.observe_many` bins a whole NumPy array at once.
"""

from __future__ import annotations

import bisect
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # NumPy and Arrow are loaded only where batches are observed (the processor)
    import numpy as np
    import pyarrow as pa


#: Seconds a commit (all files of one batch, fsynced and renamed) takes.
COMMIT_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Seconds from an event's own timestamp (publisher's clock) to its commit to the lake.
EVENT_LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True)
class HistogramSnapshot:
    """Cumulative ``(upper bound, count)`` pairs ending with ``+Inf``, and the sum."""

    buckets: list[tuple[float, int]]
    sum: float

    @property
    def count(self) -> int:
        return self.buckets[-1][1]


class SharedHistogram:
    """Fixed upper bounds; counts per bucket (not cumulative) plus the sum, in shared memory."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(float(b) for b in bounds)
        self._counts: Any = multiprocessing.RawArray("q", len(self.bounds) + 1)
        self._sum: Any = multiprocessing.RawArray("d", 1)

    def __getstate__(self) -> dict[str, Any]:
        return {"bounds": self.bounds, "counts": self._counts, "sum": self._sum}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.bounds = state["bounds"]
        self._counts = state["counts"]
        self._sum = state["sum"]

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(self.bounds, value)
        self._counts[index] += 1
        self._sum[0] += value

    def observe_many(self, values: np.ndarray) -> None:
        """Observe every value of ``values`` (float64 seconds) with one pass of NumPy."""
        import numpy as np

        if values.size == 0:
            return
        indexes = np.searchsorted(np.asarray(self.bounds, dtype=np.float64), values, side="left")
        per_bucket = np.bincount(indexes, minlength=len(self.bounds) + 1)
        for index in np.flatnonzero(per_bucket):
            self._counts[int(index)] += int(per_bucket[index])
        self._sum[0] += float(values.sum())

    def snapshot(self) -> HistogramSnapshot:
        counts = [int(c) for c in self._counts]
        total, cumulative = 0, []
        for bound, count in zip((*self.bounds, float("inf")), counts, strict=True):
            total += count
            cumulative.append((bound, total))
        return HistogramSnapshot(cumulative, float(self._sum[0]))


def event_lags(tables: Sequence[pa.Table], now_us: int) -> np.ndarray:
    """Seconds from each row's ``timestamp`` to ``now_us`` (a publisher's clock ahead of ours
    counts as 0)."""
    import numpy as np
    import pyarrow as pa

    parts = []
    for table in tables:
        if table.num_rows == 0 or "timestamp" not in table.column_names:
            continue
        stamps = table.column("timestamp").cast(pa.int64()).to_numpy()
        parts.append(np.maximum(now_us - stamps, 0) / 1e6)
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)
