"""What ``/metrics`` and ``/healthz`` may read of a running ingester, and nothing more.

:class:`~tasqlake.ingest.service.ingest_service.IngestService` provides it; health and metrics
depend on this protocol instead of reaching into the service's receiver, WAL writer and
processor runner (which also kept an import cycle between them).
"""

from __future__ import annotations

from typing import Protocol

from tasqlake.ingest.service.counters import Counters


class ObservedIngester(Protocol):
    """A running ingester as its health and metrics see it."""

    @property
    def ingester_id(self) -> str: ...

    @property
    def counters(self) -> Counters: ...

    def unsubscribed_seconds(self, now: float | None = None) -> float:
        """Seconds since last subscribed (0 while subscribed); before the first subscription,
        seconds since the service started. ``now`` is a ``time.monotonic()`` reading."""
        ...

    def stream_lag(self) -> int | None:
        """Stream entries the consumer group has not been given yet (None: none read, or
        Redis cannot tell)."""
        ...

    def stream_pending(self) -> int | None:
        """Stream entries given to the group, not acknowledged yet (None: no stream read)."""
        ...

    def wal_pending_bytes(self) -> int:
        """Bytes appended to the write-ahead log and not yet committed to the lake."""
        ...

    def processor_running(self) -> bool:
        """Whether the processor (WAL to lake) is alive (False before it was started)."""
        ...

    def processor_gone(self) -> bool:
        """Whether the processor was started and is no longer alive (False before it was
        started: start-up is not a failure)."""
        ...
