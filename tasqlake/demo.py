"""The end-to-end demo: a simulated AsyncTasQ workload → Redis Pub/Sub → ``tasqlake ingest`` →
lake → statistics derived from the stored log.

The ingest service runs as a real subprocess (``python -m tasqlake ingest``), exactly as an
operator runs it, and is stopped with SIGTERM, which commits everything it received.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis

from tasqlake import queries
from tasqlake.lake import layout
from tasqlake.lake.storage import Lake
from tasqlake.local_redis import ensure_redis
from tasqlake.schemas.errors import BrokerError, ConfigError, TasqlakeError
from tasqlake.schemas.settings import Settings, mask_url
from tasqlake.simulator import SimulationSpec
from tasqlake.simulator.publish import publish_to_redis

MARKER = ".tasqlake-demo"


@dataclass(frozen=True)
class DemoReport:
    published: int
    publish_seconds: float
    stored: int
    quarantined: int
    files: int
    bytes: int
    #: Timestamp of the last stored event: the end of the simulated workload.
    last_event_at: datetime | None

    @property
    def rate(self) -> float:
        return self.published / self.publish_seconds if self.publish_seconds else 0.0

    @property
    def bytes_per_event(self) -> float:
        return self.bytes / self.stored if self.stored else 0.0


def prepare_lake(path: str) -> Lake:
    """An empty lake at ``path``; a previous demo's lake there is replaced, anything else kept."""
    lake = Lake(path)
    if lake.root.exists() and any(lake.root.iterdir()):
        if not lake.exists(MARKER):
            raise ConfigError(
                f"{lake.root} already holds data the demo did not write: "
                "pass another --lake for the demo"
            )
        for name in lake.list_dirs(""):
            lake.delete_tree(name)
        for leftover in lake.root.glob(".*"):
            if leftover.is_dir():
                lake.delete_tree(leftover.name)
    lake.ensure().commit_bytes(MARKER, b"made by 'tasqlake demo'; safe to delete\n")
    return lake


def _wait_subscribed(url: str, channel: str, ingester: subprocess.Popen[bytes]) -> None:
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 30
        while True:
            subscribers = dict(client.pubsub_numsub(channel)).get(channel.encode(), 0)
            if subscribers:
                return
            if ingester.poll() is not None:
                raise TasqlakeError(
                    f"the ingest service exited with status {ingester.returncode} before "
                    "subscribing; see its messages above"
                )
            if time.monotonic() > deadline:
                raise BrokerError(f"the ingest service did not subscribe to {channel!r} in 30 s")
            time.sleep(0.05)
    finally:
        client.close()


def _stop(ingester: subprocess.Popen[bytes], timeout: float = 60) -> None:
    ingester.send_signal(signal.SIGTERM)
    try:
        code = ingester.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        ingester.kill()
        ingester.wait()
        raise TasqlakeError(
            f"the ingest service did not stop within {timeout:.0f} s of SIGTERM"
        ) from None
    if code != 0:
        raise TasqlakeError(f"the ingest service exited with status {code} after SIGTERM")


def run_demo(
    settings: Settings, *, lake_path: str, duration: float, rate: float, seed: int
) -> DemoReport:
    lake = prepare_lake(lake_path)
    channel = f"tasqlake-demo:{uuid.uuid4().hex[:8]}"
    with ensure_redis(settings.redis_url) as url:
        print(
            f"tasqlake demo: Redis {mask_url(url)}, channel {channel!r}, lake {lake.root}",
            flush=True,
        )
        ingester = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tasqlake",
                "ingest",
                "--channel",
                channel,
                "--lake",
                str(lake.root),
                "--flush-interval",
                "0.5",
            ],
            # the URL (it may hold a password) goes by environment, never on a command line
            env={**os.environ, "TASQLAKE_STATUS_INTERVAL": "5", "TASQLAKE_REDIS_URL": url},
        )
        try:
            _wait_subscribed(url, channel, ingester)
            print(
                f"tasqlake demo: publishing a simulated workload for {duration:g} s "
                f"at ~{rate:g} events/s (seed {seed})"
            )
            spec = SimulationSpec(seed=seed, rate=rate, duration=duration, heartbeat_freq=2.0)
            sent = publish_to_redis(spec, url, channel, realtime=True)
            _stop(ingester)
        finally:
            if ingester.poll() is None:
                ingester.kill()
                ingester.wait()
    files = lake.list_files(layout.EVENTS_DIR)
    with queries.connect(lake) as con:
        stored, last_event_at = con.execute(
            "SELECT count(*), max(timestamp) FROM events"
        ).fetchall()[0]
    quarantined = sum(lake.read_table(f).num_rows for f in lake.list_files(layout.QUARANTINE_DIR))
    return DemoReport(
        published=sent.events,
        publish_seconds=sent.seconds,
        stored=int(stored),
        quarantined=quarantined,
        files=len(files),
        bytes=sum(lake.size(f) for f in files),
        last_event_at=last_event_at,
    )


def describe(report: DemoReport, lake: Path) -> str:
    verdict = "all stored" if report.stored == report.published else "MISMATCH"
    return (
        f"tasqlake demo: published {report.published} events in {report.publish_seconds:.1f} s "
        f"({report.rate:,.0f} events/s); stored {report.stored} ({verdict}), quarantined "
        f"{report.quarantined}, in {report.files} Parquet files, "
        f"{report.bytes_per_event:.1f} bytes per stored event; lake: {lake}"
    )
