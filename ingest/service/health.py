"""Is this ingester healthy? The answer behind ``/healthz``.

Unhealthy (HTTP 503) when it has not been subscribed for longer than ``unhealthy_after``
seconds (start-up and WAL recovery included), when committing to the lake fails (the processor
is retrying), or when the processor is gone. Otherwise healthy (HTTP 200). The reply is one JSON
object with ``status``, the ``reasons`` when unhealthy, and the figures they were decided on.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from tasqlake.ingest.service.observed import ObservedIngester


@dataclass(frozen=True)
class Health:
    healthy: bool
    reasons: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def http_status(self) -> int:
        return 200 if self.healthy else 503

    def to_json(self) -> bytes:
        body = {"status": "ok" if self.healthy else "unhealthy", "reasons": self.reasons}
        return json.dumps({**body, **self.details}).encode()


def evaluate(service: ObservedIngester, unhealthy_after: float, now: float | None = None) -> Health:
    counters = service.counters
    unsubscribed = service.unsubscribed_seconds(now)
    failing = counters.get("commit_failing")
    last_commit_us = counters.get("last_commit_us")
    reasons = []
    if unsubscribed > unhealthy_after:
        reasons.append(
            f"not subscribed to Redis for {unsubscribed:.0f} s "
            f"(unhealthy after {unhealthy_after:g} s)"
        )
    if failing:
        reasons.append(f"committing to the lake fails ({failing} attempts in a row; see the log)")
    if service.processor_gone():
        reasons.append("the ingest processor is not running")
    details = {
        "ingester_id": service.ingester_id,
        "subscribed": unsubscribed == 0.0,
        "unsubscribed_seconds": round(unsubscribed, 3),
        "commit_failures_in_a_row": failing,
        "last_commit_age_seconds": (
            round(time.time() - last_commit_us / 1e6, 3) if last_commit_us else None
        ),
        "wal_pending_bytes": service.wal_pending_bytes(),
    }
    return Health(not reasons, reasons, details)
