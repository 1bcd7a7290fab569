"""Helpers for ingest tests: the Redis they use, ``tasqlake ingest`` as a subprocess, simulated
payloads, plain DuckDB SQL over the lake, and waiting on a condition. Fixtures are in
conftest.py.

Redis at 127.0.0.1:6379 is shared with other engineers: every test uses its own channel and
never flushes anything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import redis

from tasqlake.simulator import SimulationSpec, iter_events

REDIS_URL = "redis://127.0.0.1:6379"
TASQLAKE = str(Path(sys.executable).with_name("tasqlake"))


def simulated_payloads(seed: int, rate: float = 400, duration: float = 5) -> list[bytes]:
    """A realistic AsyncTasQ stream from the project's simulator, stamped around now."""
    spec = SimulationSpec(seed=seed, rate=rate, duration=duration, start=datetime.now(UTC))
    return [payload for _, payload in iter_events(spec)]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def query(sql: str) -> list[tuple]:
    return duckdb.connect().execute(sql).fetchall()


def events_glob(lake: Path) -> str:
    return f"read_parquet('{lake}/events/*/*/*.parquet', hive_partitioning=true)"


def count_events(lake: Path) -> int:
    if not list(lake.glob("events/*/*/*.parquet")):
        return 0
    return query(f"SELECT count(*) FROM {events_glob(lake)}")[0][0]


class Ingester:
    """``tasqlake ingest`` as a subprocess, with its stderr kept in a file."""

    def __init__(self, lake: Path, channel: str, *extra: str, env: dict[str, str] | None = None):
        self.lake = lake
        self.channel = channel
        self.log_path = lake.parent / f"ingest-{uuid.uuid4().hex[:6]}.log"
        self.args = [
            TASQLAKE,
            "ingest",
            "--redis-url",
            REDIS_URL,
            "--channel",
            channel,
            "--lake",
            str(lake),
            "--status-interval",
            "0.2",
            *extra,
        ]
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait_subscribed: bool = True) -> Ingester:
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(self.args, stderr=self._log, env=self.env)
        if wait_subscribed:
            wait_until(lambda: "subscribed to" in self.log(), 30, f"ingester on {self.channel}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def received(self) -> int:
        lines = [ln for ln in self.log().splitlines() if " received=" in ln]
        return int(lines[-1].split(" received=")[1].split()[0]) if lines else 0

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._log.close()
        return code

    def close(self) -> None:
        """Kill the process if it still runs; close its log (whether or not it was stopped)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


def publish(client: redis.Redis, channel: str, payloads: list[bytes]) -> None:
    pipe = client.pipeline(transaction=False)
    for index, payload in enumerate(payloads, 1):
        pipe.publish(channel, payload)
        if index % 1000 == 0:
            pipe.execute()
    pipe.execute()
