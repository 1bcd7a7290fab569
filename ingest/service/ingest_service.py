"""The ingest service: WAL recovery, then receiver + processor until asked to stop.

Start-up order: take the WAL directory's lock, settle the ingester id, let the processor recover
whatever a previous run left in the WAL, then subscribe. Stop (:meth:`IngestService.stop`, or
SIGTERM/SIGINT via :func:`run_ingest`): unsubscribe, keep what Redis had already sent, close the
WAL, let the processor commit everything and retire the segments, exit 0.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from prometheus_client import CollectorRegistry

from tasqlake.ingest.processing.processor_config import ProcessorConfig
from tasqlake.ingest.processing.processor_runner import ProcessorRunner, ProcessRunner, ThreadRunner
from tasqlake.ingest.receiving.receiver import Receiver, ReceiverConfig, now_us
from tasqlake.ingest.receiving.redis_options import RedisOptions
from tasqlake.ingest.receiving.stream_receiver import StreamConfig, StreamReceiver
from tasqlake.ingest.service.counters import Counters, StatusLine
from tasqlake.ingest.service.maintenance import MaintenancePlan, MaintenanceScheduler
from tasqlake.ingest.service.metrics import MetricsServer
from tasqlake.ingest.wal.state import WalState
from tasqlake.ingest.wal.writer import WalSyncer, WalWriter
from tasqlake.lake import layout
from tasqlake.lake.storage import Lake
from tasqlake.schemas.constants import SUBSCRIBED_MARK_INTERVAL_S
from tasqlake.schemas.errors import ConfigError, TasqlakeError
from tasqlake.schemas.settings import Settings

log = logging.getLogger(__name__)


def wal_directory(settings: Settings, lake: Lake) -> Path:
    """The ingester's write-ahead log: ``wal_dir``, else inside a local lake, else (the WAL never
    lives on object storage) under the local ``state_dir``, one per lake and ingester id."""
    if settings.wal_dir:
        return Path(settings.wal_dir).expanduser().absolute()
    if lake.is_local:
        return lake.path(layout.WAL_DIR)
    digest = hashlib.sha256(lake.location.encode()).hexdigest()[:12]
    name = f"{settings.ingester_id or 'ingester'}-{digest}"
    state = settings.state_dir or "~/.local/state/tasqlake"
    return Path(state).expanduser().absolute() / "wal" / name


class IngestService:
    """One ingester. ``run()`` blocks until ``stop()`` (from any thread or a signal handler)."""

    def __init__(self, settings: Settings, processor_in_process: bool = True) -> None:
        self.settings = settings
        self.counters = Counters()
        self.ingester_id = ""
        self.ready = threading.Event()  # set once subscribed for the first time
        self._stop = threading.Event()
        self._processor_in_process = processor_in_process
        self.started = time.monotonic()
        # set while running; health and metrics read them through the methods below
        self.receiver: Receiver | None = None  # Pub/Sub (None when only streams are read)
        self.stream_receiver: StreamReceiver | None = None
        self.writer: WalWriter | None = None
        self.runner: ProcessorRunner | None = None
        self.redis_options = RedisOptions.from_settings(settings)

    def __repr__(self) -> str:
        return f"IngestService(ingester_id={self.ingester_id!r}, settings={self.settings!r})"

    def stop(self) -> None:
        self._stop.set()

    # ObservedIngester (tasqlake.ingest.service.observed): what /metrics and /healthz read.
    def unsubscribed_seconds(self, now: float | None = None) -> float:
        """The longest any source (Pub/Sub subscription, stream reading) has been down."""
        now = time.monotonic() if now is None else now
        sources = [r for r in (self.receiver, self.stream_receiver) if r is not None]
        if not sources:
            return max(now - self.started, 0.0)
        downs = [r.unsubscribed_since for r in sources]
        return max((max(now - d, 0.0) for d in downs if d is not None), default=0.0)

    def stream_lag(self) -> int | None:
        """Entries of the stream(s) the group has not been given yet (None: no stream, or Redis
        cannot tell)."""
        return None if self.stream_receiver is None else self.stream_receiver.lag

    def stream_pending(self) -> int | None:
        """Entries given to the group and not acknowledged yet (None: no stream)."""
        return None if self.stream_receiver is None else self.stream_receiver.pending

    def wal_pending_bytes(self) -> int:
        if self.writer is None:
            return 0
        committed = WalState(self.writer.directory).committed()
        return max(self.writer.offset - committed, 0) if committed is not None else 0

    def processor_running(self) -> bool:
        return self.runner is not None and self.runner.alive()

    def processor_gone(self) -> bool:
        return self.runner is not None and not self.runner.alive()

    def run(self) -> int:
        started_us = now_us()
        lake = Lake.from_settings(self.settings).ensure()
        wal_dir = wal_directory(self.settings, lake)
        state = WalState(wal_dir).ensure()
        lock = state.lock()
        try:
            self.ingester_id = state.ingester_id(self.settings.ingester_id)
            if state.committed() is None:
                state.set_committed(time.time_ns())  # offsets never repeat across WAL dirs
            return self._run(lake, wal_dir, state, started_us)
        finally:
            os.close(lock)

    def _run(self, lake: Lake, wal_dir: Path, state: WalState, started_us: int) -> int:
        s = self.settings
        config = ProcessorConfig(
            lake.location,
            str(wal_dir),
            self.ingester_id,
            s.flush_interval,
            s.max_batch_events,
            s.max_payload_bytes,
            redact=s.redact,
            s3=lake.s3_options,
        )
        runner: ProcessorRunner = (
            ProcessRunner(config, self.counters)
            if self._processor_in_process
            else ThreadRunner(config, self.counters)
        )
        self.runner = runner
        runner.start()
        try:
            runner.wait_recovered()
        except BaseException:
            runner.finish()
            raise
        committed = state.committed()
        assert committed is not None
        writer = WalWriter(wal_dir, committed)
        self.writer = writer
        syncer = WalSyncer(writer, s.wal_fsync_interval).start()
        receivers = self._receivers(writer, state, started_us)
        try:
            for receiver in receivers:
                receiver.connect_first()
        except BaseException:
            self._shut_down(writer, syncer, runner, state)
            raise
        overall = StatusLine(self.counters)
        threads = [
            threading.Thread(target=r.run, name=f"tasqlake-{kind}", daemon=True)
            for r, kind in zip(receivers, self._kinds(), strict=True)
        ]
        for thread in threads:
            thread.start()
        log.info("ingester %s started: lake %s, WAL %s", self.ingester_id, lake.location, wal_dir)
        self._supervise(receivers, runner, state, threads)
        for receiver in receivers:
            receiver.stop()
        for thread in threads:
            thread.join()
        errors = [r.error for r in receivers if r.error is not None]
        for error in errors:  # logged now: shutting down may fail for the same cause
            log.error("receiving stopped, the service stops: %s", error)
        self._shut_down(writer, syncer, runner, state)
        log.info("ingester %s stopped: %s", self.ingester_id, overall.render())
        if errors:
            raise errors[0]
        return 0

    def _kinds(self) -> list[str]:
        return [k for k, r in (("receiver", self.receiver), ("streams", self.stream_receiver)) if r]

    def _receivers(
        self, writer: WalWriter, state: WalState, started_us: int
    ) -> list[Receiver | StreamReceiver]:
        s = self.settings
        if s.pubsub_channels:
            self.receiver = Receiver(
                ReceiverConfig(
                    s.redis_url,
                    s.pubsub_channels,
                    s.health_check_interval,
                    reconnect_max_delay=s.reconnect_max_delay,
                    options=self.redis_options,
                ),
                writer,
                self.counters,
                self._gap_start(state, started_us),
            )
        if s.streams:
            self.stream_receiver = StreamReceiver(
                StreamConfig(
                    s.redis_url,
                    s.streams,
                    s.consumer_group,
                    self.ingester_id,
                    batch=s.stream_batch,
                    claim_idle=s.stream_claim_idle,
                    reconnect_max_delay=s.reconnect_max_delay,
                    options=self.redis_options,
                ),
                writer,
                self.counters,
            )
        receivers = [r for r in (self.receiver, self.stream_receiver) if r is not None]
        if not receivers:
            raise ConfigError("nothing to read: give --channel and/or --stream")
        return receivers

    @staticmethod
    def _gap_start(state: WalState, started_us: int) -> int:
        """Where the start-up gap record begins: when the last incarnation last knew it was
        subscribed; the first one saves its own start at once, so a kill before it subscribes
        leaves that window to the next one's record."""
        saved = state.last_subscribed_us()
        if saved is None:
            state.set_last_subscribed_us(started_us)
            return started_us
        return saved

    def _supervise(
        self,
        receivers: list[Receiver | StreamReceiver],
        runner: ProcessorRunner,
        state: WalState,
        threads: list[threading.Thread],
    ) -> None:
        status = StatusLine(self.counters)
        next_status = time.monotonic() + self.settings.status_interval
        mark = _SubscribedMark(state)
        while not self._stop.wait(0.05):
            if all(r.subscribed.is_set() for r in receivers):
                self.ready.set()
            if not all(t.is_alive() for t in threads):
                break
            if not runner.alive():
                log.error("the ingest processor stopped unexpectedly: stopping the service")
                break
            if time.monotonic() >= next_status:
                next_status += self.settings.status_interval
                snapshot = self.counters.snapshot()
                log.info("%s", status.render(), extra={"event": "status", "counters": snapshot})
            mark.update(self.receiver)

    def _shut_down(
        self, writer: WalWriter, syncer: WalSyncer, runner: ProcessorRunner, state: WalState
    ) -> None:
        syncer.stop()
        writer.close()
        try:
            if self.receiver is not None:
                state.set_last_subscribed_us(self.receiver.last_subscribed_us)
        finally:
            runner.finish()


class _SubscribedMark:
    """Saves the Pub/Sub receiver's ``last_subscribed_us`` (the last data read while subscribed,
    never later) as soon as it is subscribed, then at most every
    :data:`SUBSCRIBED_MARK_INTERVAL_S` when it moved: the next incarnation's start-up gap
    record begins there, so a SIGKILL can only widen that record, never leave time out."""

    def __init__(self, state: WalState) -> None:
        self._state = state
        self._next = 0.0
        self._saved: int | None = None

    def update(self, receiver: Receiver | None) -> None:
        if receiver is None or not receiver.subscribed.is_set() or time.monotonic() < self._next:
            return
        if receiver.last_subscribed_us != self._saved:
            self._next = time.monotonic() + SUBSCRIBED_MARK_INTERVAL_S
            self._saved = receiver.last_subscribed_us
            self._state.set_last_subscribed_us(self._saved)


def run_ingest(settings: Settings, registry: CollectorRegistry | None = None) -> int:
    """Run the service in the foreground until SIGTERM or SIGINT; returns the exit status.

    With ``settings.metrics_port`` set, ``/metrics`` and ``/healthz`` are served meanwhile;
    collectors already in ``registry`` (e.g. lake-derived gauges) are exported next to ours.
    """
    service = IngestService(settings)
    server: MetricsServer | None = None
    if settings.metrics_port is not None:
        server = MetricsServer(
            service,
            settings.metrics_bind,
            settings.metrics_port,
            settings.unhealthy_after,
            registry,
        )
        server.start()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        service.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    plan = MaintenancePlan.from_settings(settings, Lake.from_settings(settings))
    maintenance = MaintenanceScheduler(plan).start() if plan is not None else None
    try:
        return service.run()
    except TasqlakeError:
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if maintenance is not None:
            maintenance.stop()
        if server is not None:
            server.stop()
