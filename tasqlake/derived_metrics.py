"""Gauges derived from the lake, for ``tasqlake ingest --export-derived``.

The ingest service knows what it received and committed; what the queue is doing (depth,
running tasks, workers, retries) is derived from the stored log by :mod:`queries`. This collector
(part of the CLI composition layer, so :mod:`ingest` never imports :mod:`queries`) runs those
queries when Prometheus scrapes and is registered into the registry of the ingester's metrics
server. Results are cached for ``cache_seconds`` so frequent scrapes (or several Prometheus
servers) cost one DuckDB replay per period. A failing query is reported as
``tasqlake_derived_up 0`` with the error logged once, never as a broken scrape.

As of the scrape: the views answer "now", so what the lake holds up to the last commit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tasqlake.queries import LakeQueries
from tasqlake.schemas.errors import TasqlakeError, error_reason

log = logging.getLogger(__name__)

PREFIX = "tasqlake"
DEFAULT_CACHE_SECONDS = 5.0
RETRY_WINDOW_MINUTES = 5
WORKER_STATUSES = ("active", "idle", "offline", "lost")

#: Attempts and retries per queue over the last RETRY_WINDOW_MINUTES, each event once.
RETRY_SQL = f"""
WITH recent AS (
    SELECT DISTINCT ON (event_id) event_id, queue, event_type
    FROM event_log
    WHERE task_id IS NOT NULL
      AND event_type IN ('task_started', 'task_reenqueued', 'task_failed')
      AND "timestamp" > as_of() - INTERVAL {RETRY_WINDOW_MINUTES} MINUTE
      AND "timestamp" <= as_of()
      AND stamped_from(  -- reads the partitions of the window only
          "timestamp", "date", "hour", as_of() - INTERVAL {RETRY_WINDOW_MINUTES} MINUTE)
)
SELECT
    queue,
    count(*) FILTER (WHERE event_type = 'task_started') AS attempts,
    count(*) FILTER (WHERE event_type = 'task_reenqueued') AS retries,
    count(*) FILTER (WHERE event_type = 'task_failed') AS failed
FROM recent
GROUP BY queue
ORDER BY queue
"""


#: Late events (later than the allowed lateness after their task settled) found so far.
LATE_SQL = "SELECT coalesce(max(late_events_total), 0) AS n FROM chain_summary"


@dataclass
class DerivedSample:
    """One evaluation of the derived gauges."""

    queues: list[dict[str, object]] = field(default_factory=list)
    workers: dict[str, int] = field(default_factory=dict)
    retries: list[dict[str, object]] = field(default_factory=list)
    late_events: int = 0
    seconds: float = 0.0
    error: str | None = None


class DerivedCollector(Collector):
    """Queue, worker and retry gauges of the lake at ``lake``, cached ``cache_seconds``."""

    def __init__(
        self,
        lake: str,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lake = lake
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._queries: LakeQueries | None = None
        self._sample: DerivedSample | None = None
        self._taken_at = 0.0
        self._last_error: str | None = None
        self.evaluations = 0

    def close(self) -> None:
        with self._lock:
            if self._queries is not None:
                self._queries.close()
                self._queries = None

    def sample(self) -> DerivedSample:
        """The cached sample, refreshed when older than ``cache_seconds``."""
        with self._lock:
            now = self._clock()
            if self._sample is None or now - self._taken_at >= self.cache_seconds:
                self._sample = self._evaluate()
                self._taken_at = now
            return self._sample

    def _evaluate(self) -> DerivedSample:
        began = time.monotonic()
        self.evaluations += 1
        try:
            if self._queries is None:
                self._queries = LakeQueries(self.lake)
            q = self._queries
            sample = DerivedSample(
                queues=q.rows(
                    "SELECT queue, depth, processing, orphaned, oldest_pending_age_s "
                    "FROM queue_stats ORDER BY queue"
                ),
                workers={
                    str(r["status"]): int(r["n"])
                    for r in q.rows("SELECT status, count(*) AS n FROM worker_stats GROUP BY 1")
                },
                retries=q.rows(RETRY_SQL),
                late_events=int(q.rows(LATE_SQL)[0]["n"]),
            )
        except (TasqlakeError, OSError) as error:
            message = error_reason(error)
            if message != self._last_error:
                log.error("lake-derived metrics failed: %s", message)
            self._last_error = message
            return DerivedSample(seconds=time.monotonic() - began, error=message)
        if self._last_error is not None:
            log.info("lake-derived metrics work again")
            self._last_error = None
        sample.seconds = time.monotonic() - began
        return sample

    def collect(self) -> Iterator[Metric]:
        sample = self.sample()
        yield GaugeMetricFamily(
            f"{PREFIX}_derived_up",
            "1 when the lake-derived gauges were computed, 0 when the queries failed.",
            value=0.0 if sample.error else 1.0,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_derived_query_seconds",
            "Time the last evaluation of the lake-derived gauges took.",
            value=sample.seconds,
        )
        if sample.error:
            return
        gauges = {
            "depth": ("queue_depth", "Tasks pending per queue (derived from the lake)."),
            "processing": ("queue_processing", "Tasks running per queue (derived)."),
            "orphaned": ("queue_orphaned", "Running tasks whose worker was lost (derived)."),
            "oldest_pending_age_s": (
                "queue_oldest_pending_age_seconds",
                "Age of the oldest pending task per queue (derived).",
            ),
        }
        for column, (name, doc) in gauges.items():
            family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=["queue"])
            for row in sample.queues:
                value = row.get(column)
                if value is not None:
                    family.add_metric([str(row["queue"])], float(value))  # type: ignore[arg-type]
            yield family
        workers = GaugeMetricFamily(
            f"{PREFIX}_workers",
            "Workers by status (active, idle: up; lost: no heartbeat for 3 intervals; offline).",
            labels=["status"],
        )
        for status in WORKER_STATUSES:
            workers.add_metric([status], float(sample.workers.get(status, 0)))
        yield workers
        attempts = GaugeMetricFamily(
            f"{PREFIX}_attempts_5m",
            f"Attempts started per queue in the last {RETRY_WINDOW_MINUTES} minutes.",
            labels=["queue"],
        )
        retries = GaugeMetricFamily(
            f"{PREFIX}_retries_5m",
            f"Retries (task_reenqueued) per queue in the last {RETRY_WINDOW_MINUTES} minutes.",
            labels=["queue"],
        )
        rate = GaugeMetricFamily(
            f"{PREFIX}_retry_rate_5m",
            f"Retries / attempts per queue over the last {RETRY_WINDOW_MINUTES} minutes "
            "(queues with attempts only).",
            labels=["queue"],
        )
        for row in sample.retries:
            queue = str(row["queue"])
            n_attempts = int(row["attempts"])  # type: ignore[call-overload]
            n_retries = int(row["retries"])  # type: ignore[call-overload]
            attempts.add_metric([queue], float(n_attempts))
            retries.add_metric([queue], float(n_retries))
            if n_attempts:
                rate.add_metric([queue], n_retries / n_attempts)
        yield attempts
        yield retries
        yield rate
        yield GaugeMetricFamily(
            f"{PREFIX}_late_events",
            "Events stamped later than the allowed lateness after their task had settled, found "
            "by compaction (see the late_events view); each made a view count a task twice "
            "until that compaction corrected it. Raise --allowed-lateness if this grows.",
            value=float(sample.late_events),
        )
