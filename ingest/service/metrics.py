"""Prometheus metrics and ``/healthz`` of a running ingester, on one HTTP port.

Nothing is counted here: the receiver thread and the processor (a child process) already keep
their totals and histograms in shared memory (:class:`~tasqlake.ingest.service.counters.Counters`,
one writer each, histograms observed once per committed batch). :class:`IngestCollector` reads them
when Prometheus scrapes, so serving metrics adds no work per event. The server is a small threaded
HTTP server: ``/metrics`` (Prometheus text or OpenMetrics, as the scraper asks), ``/healthz``
(see :mod:`tasqlake.ingest.service.health`), anything else 404. Other collectors (the lake-derived
gauges of ``tasqlake ingest --export-derived``) are registered into the same registry by the caller.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from tasqlake.ingest.service import health
from tasqlake.ingest.service.observed import ObservedIngester
from tasqlake.ingest.service.shared_histogram import HistogramSnapshot
from tasqlake.schemas.errors import ConfigError

log = logging.getLogger(__name__)

PREFIX = "tasqlake_ingest"

#: name (without prefix and _total), counter field, help
_COUNTERS = (
    ("events_received", "received", "Events read from Redis Pub/Sub and appended to the WAL."),
    ("events_recovered", "recovered", "Events a previous run left in the WAL, committed at start."),
    ("events_stored", "stored", "Events committed to the lake's events/ tables."),
    ("events_quarantined", "quarantined", "Payloads committed to quarantine/ (not decodable)."),
    ("files_committed", "files", "Parquet files committed (events, quarantine and gaps)."),
    ("bytes_committed", "lake_bytes", "Bytes of the Parquet files committed."),
    ("bytes_read", "bytes_read", "Bytes read from the Redis subscriber socket."),
    ("commits", "commits", "Batches committed to the lake."),
    ("commit_failures", "commit_failures", "Commit attempts that failed (each is retried)."),
    ("reconnects", "reconnects", "Times the subscription was re-established after a loss."),
    ("gaps", "gaps", "Gap records committed (windows without a subscription)."),
    ("stream_acked", "stream_acked", "Stream entries acknowledged (XACK) once fsynced in the WAL."),
    ("stream_skipped", "stream_skipped", "Stream entries without a payload field (acknowledged)."),
)


def _histogram(name: str, doc: str, snap: HistogramSnapshot) -> HistogramMetricFamily:
    buckets = [("+Inf" if b == float("inf") else repr(b), c) for b, c in snap.buckets]
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=snap.sum)


class IngestCollector(Collector):
    """The metrics of one running ingester, read at scrape time."""

    def __init__(self, service: ObservedIngester) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        service = self.service
        counters = service.counters
        snap = counters.snapshot()
        info = InfoMetricFamily(PREFIX, "This ingester.")
        info.add_metric([], {"ingester_id": service.ingester_id})
        yield info
        for name, field_name, doc in _COUNTERS:
            yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=snap[field_name])
        yield CounterMetricFamily(
            f"{PREFIX}_gap_seconds",
            "Seconds without a subscription, over the gaps closed so far (start-up included).",
            value=snap["gap_us"] / 1e6,
        )
        unsubscribed = service.unsubscribed_seconds()
        yield GaugeMetricFamily(
            f"{PREFIX}_subscribed",
            "1 while subscribed to every channel, else 0.",
            value=1.0 if unsubscribed == 0.0 else 0.0,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_unsubscribed_seconds",
            "Seconds since the subscription was lost (0 while subscribed).",
            value=unsubscribed,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_wal_pending_bytes",
            "Bytes in the write-ahead log not yet committed to the lake.",
            value=service.wal_pending_bytes(),
        )
        lag, pending = service.stream_lag(), service.stream_pending()
        if pending is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_stream_lag",
                "Stream entries the consumer group has not been given yet (NaN: Redis cannot "
                "tell, e.g. after trimming).",
                value=float("nan") if lag is None else float(lag),
            )
            yield GaugeMetricFamily(
                f"{PREFIX}_stream_pending",
                "Stream entries given to the consumer group and not acknowledged yet.",
                value=pending,
            )
        yield GaugeMetricFamily(
            f"{PREFIX}_commit_failing",
            "Failed attempts in a row of the batch being committed (0: commits work).",
            value=snap["commit_failing"],
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_last_commit_timestamp_seconds",
            "Unix time of the last successful commit (0: none yet).",
            value=snap["last_commit_us"] / 1e6,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_processor_up",
            "1 while the processor (WAL to lake) is running.",
            value=1.0 if service.processor_running() else 0.0,
        )
        yield _histogram(
            f"{PREFIX}_commit_duration_seconds",
            "Time to commit one batch (write, fsync and rename every file, checkpoint).",
            counters.commit_seconds.snapshot(),
        )
        yield _histogram(
            f"{PREFIX}_event_lag_seconds",
            "Per stored event: commit time minus the event's own timestamp (publisher clock).",
            counters.event_lag_seconds.snapshot(),
        )


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            try:
                body = encoder(self.server.registry)
            except Exception as error:  # a broken collector must not kill the server
                log.error("metrics collection failed: %s", error)
                self._reply(500, "text/plain", f"metrics collection failed: {error}\n".encode())
                return
            self._reply(200, content_type, body)
        elif path == "/healthz":
            report = health.evaluate(self.server.service, self.server.unhealthy_after)
            self._reply(report.http_status, "application/json", report.to_json() + b"\n")
        else:
            self._reply(404, "text/plain", b"not found: try /metrics or /healthz\n")

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # scrapes are not news
        pass


class MetricsServer(ThreadingHTTPServer):
    """Serves ``/metrics`` and ``/healthz`` for ``service`` in a daemon thread."""

    daemon_threads = True

    def __init__(
        self,
        service: ObservedIngester,
        bind: str,
        port: int,
        unhealthy_after: float,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.service = service
        self.unhealthy_after = unhealthy_after
        self.registry = registry if registry is not None else CollectorRegistry()
        self.registry.register(IngestCollector(service))
        if ":" in bind:
            self.address_family = socket.AF_INET6
        try:
            super().__init__((bind, port), _Handler)
        except OSError as error:
            raise ConfigError(
                f"cannot serve metrics on {bind}:{port}: {error.strerror or error} "
                "(choose another --metrics-port / --metrics-bind)"
            ) from None
        self._thread = threading.Thread(
            target=self.serve_forever, name="tasqlake-metrics", daemon=True
        )

    @property
    def url(self) -> str:
        address, port = self.server_address[:2]
        host = address.decode() if isinstance(address, bytes) else str(address)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("serving metrics on %s/metrics and health on %s/healthz", self.url, self.url)
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()
