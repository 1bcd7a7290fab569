"""Ingest figures, each on a private redis-server (never the shared one), side by side.

* **drain**: the consumer is frozen (SIGSTOP on its process group), N events are published into
  Redis (output-buffer limit lifted for this figure only, so Redis holds the whole backlog), the
  consumer is resumed and timed until it has all N: ``tasqlake ingest`` until N are *stored*
  (status line), a bare redis-py ``listen()`` loop until N are merely *received*. The ingester's
  peak RSS (all its processes) through that 1 M burst is the memory figure.
* **live**: a publisher paced at R events/s for D s under Redis's default pubsub output-buffer
  limit; the ingester must store every row and never be disconnected; peak ``omem`` of its
  connection from ``CLIENT LIST``.
* **freshness**: probes published among a steady stream; a reader polls the ``events`` view;
  PUBLISH → first visible, p50/p99.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
import redis

from bench.figures import Figure
from tasqlake import queries
from tasqlake.lake.storage import Lake
from tasqlake.local_redis import private_redis
from tasqlake.schemas.decode import event_id
from tasqlake.simulator import SimulationSpec, iter_events

TASQLAKE = str(Path(sys.executable).with_name("tasqlake"))
CHANNEL = "asynctasq:events"
UNLIMITED = ("--client-output-buffer-limit", "pubsub 0 0 0")
#: Child processes are spawned: the parent runs threads (fork would risk deadlocks).
_MP = multiprocessing.get_context("spawn")
_STORED = re.compile(r"received=(\d+) stored=(\d+).*gaps=(\d+)")


def realistic_payloads(count: int, seed: int = 11) -> list[bytes]:
    """``count`` simulated payloads stamped around now (so the ingester accepts them)."""
    spec = SimulationSpec(
        seed=seed, rate=50_000, duration=count / 50_000 * 1.1 + 1, start=datetime.now(UTC)
    )
    out: list[bytes] = []
    for _, payload in iter_events(spec):
        out.append(payload)
        if len(out) == count:
            break
    return out


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def publish(
    port: int, payloads: list[bytes], rate: float | None = None, chunk: int = 2000
) -> float:
    """Pipelined PUBLISH on a raw socket; paced to ``rate``/s when given. Returns seconds."""
    head = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n" % (len(CHANNEL), CHANNEL.encode())
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.perf_counter()
        for n, start in enumerate(range(0, len(payloads), chunk)):
            part = payloads[start : start + chunk]
            sock.sendall(b"".join(head + b"$%d\r\n%s\r\n" % (len(p), p) for p in part))
            seen = 0
            while seen < len(part):
                seen += sock.recv(1 << 20).count(b"\r\n")
            if rate:
                ahead = started + (n + 1) * chunk / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
        return time.perf_counter() - started


def _publish_proc(
    port: int, payloads: list[bytes], rate: float | None, out: multiprocessing.Queue
) -> None:
    out.put(publish(port, payloads, rate))


@dataclass
class Ingester:
    process: subprocess.Popen[bytes]
    log: Path
    lake: Lake

    def counts(self) -> tuple[int, int, int]:
        """(received, stored, gaps) from the last status line."""
        for line in reversed(self.log.read_text(errors="replace").splitlines()):
            match = _STORED.search(line)
            if match:
                return int(match.group(1)), int(match.group(2)), int(match.group(3))
        return 0, 0, 0

    def rss(self) -> int:
        try:
            root = psutil.Process(self.process.pid)
            procs = [root, *root.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs if p.is_running())
        except psutil.NoSuchProcess:
            return 0

    def signal(self, sig: int) -> None:
        os.killpg(self.process.pid, sig)


@contextlib.contextmanager
def ingester(
    url: str,
    workdir: Path,
    *,
    flush_interval: float = 1.0,
    lake_args: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Ingester]:
    """A ``tasqlake ingest`` process on ``workdir/lake`` (or on ``lake_args``, e.g. an S3 lake,
    with ``env`` added to its environment)."""
    lake = Lake(workdir / "lake")
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "ingest.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [
                TASQLAKE,
                "ingest",
                "--redis-url",
                url,
                "--channel",
                CHANNEL,
                *(lake_args or ["--lake", str(lake.root)]),
                "--status-interval",
                "0.1",
                "--flush-interval",
                str(flush_interval),
            ],
            stderr=sink,
            stdout=sink,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    running = Ingester(process, log, lake)
    try:
        _wait_subscribed(url)
        yield running
    finally:
        with contextlib.suppress(ProcessLookupError):
            running.signal(signal.SIGCONT)
            process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def timed_drain(
    url: str,
    workdir: Path,
    count: int,
    fill: Callable[[int], object],
    *,
    lake_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    settle: Callable[[], None] | None = None,
) -> float:
    """Events/s until an ingester has *stored* ``count`` events that ``fill(port)`` put into
    Redis while it was frozen (SIGSTOP); ``settle`` runs before the ingester is stopped."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with ingester(url, workdir, lake_args=lake_args, env=env) as ing:
        ing.signal(signal.SIGSTOP)
        fill(port)
        resumed = time.monotonic()
        ing.signal(signal.SIGCONT)
        deadline = resumed + 600
        while ing.counts()[1] < count and time.monotonic() < deadline:
            time.sleep(0.02)
        took = time.monotonic() - resumed
        stored = ing.counts()[1]
        if settle is not None:
            settle()
    if stored < count:
        raise RuntimeError(f"the ingester stored {stored:,} of {count:,} within 600 s")
    return stored / took


def _wait_subscribed(url: str, timeout: float = 30) -> None:
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout
    while client.pubsub_numsub(CHANNEL)[0][1] < 1:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no subscriber on {CHANNEL} after {timeout} s")
        time.sleep(0.05)
    client.close()


def _listen_main(url: str, count: int, done: multiprocessing.Queue) -> None:
    pubsub = redis.Redis.from_url(url).pubsub()
    pubsub.subscribe(CHANNEL)
    seen = 0
    for message in pubsub.listen():
        if message["type"] == "message":
            seen += 1
            if seen == count:
                break
    done.put(time.monotonic())


def drain_figures(count: int) -> list[Figure]:
    payloads = realistic_payloads(count)
    with private_redis(extra_args=UNLIMITED) as url:
        port = _port(url)
        # Baseline: bare redis-py listen(), merely receiving.
        done: multiprocessing.Queue = _MP.Queue()
        listener = _MP.Process(target=_listen_main, args=(url, count, done))
        listener.start()
        _wait_subscribed(url)
        assert listener.pid is not None
        os.kill(listener.pid, signal.SIGSTOP)
        publish(port, payloads)
        resumed = time.monotonic()
        os.kill(listener.pid, signal.SIGCONT)
        listen_rate = count / (done.get(timeout=600) - resumed)
        listener.join()
        # tasqlake ingest: stored, not just received.
        with (
            tempfile.TemporaryDirectory(prefix="tasqlake-bench-") as tmp,
            ingester(url, Path(tmp)) as ing,
        ):
            ing.signal(signal.SIGSTOP)
            publish(port, payloads)
            resumed = time.monotonic()
            ing.signal(signal.SIGCONT)
            peak_rss = 0
            deadline = resumed + 600
            while ing.counts()[1] < count and time.monotonic() < deadline:
                peak_rss = max(peak_rss, ing.rss())
                time.sleep(0.02)
            stored_at = time.monotonic()
            stored = ing.counts()[1]
    ingest_rate = stored / (stored_at - resumed)
    label = f"{count / 1e6:g}M backlog"
    return [
        Figure(
            f"ingest drain, {label}",
            ingest_rate,
            "ev/s",
            listen_rate,
            "redis-py listen() recv",
            limit=1.3,
            compare_ratio=True,
            higher_is_better=True,
            anchor="listen() ~190k/s; raw pipeline ~265k/s",
            note=f"stored {stored:,}/{count:,}",
        ),
        Figure(
            f"ingester peak RSS through {count / 1e6:g}M burst",
            peak_rss / 1e6,
            "MB",
            limit=300,
            anchor="target 300 MB",
        ),
    ]


def live_figures(rate: float, seconds: float) -> list[Figure]:
    """Paced publisher; the pool of payloads is cycled (rows are counted, not distinct ids)."""
    total = int(rate * seconds)
    pool = realistic_payloads(min(total, 1_000_000), seed=12)
    payloads = (pool * (total // len(pool) + 1))[:total]
    with private_redis() as url, tempfile.TemporaryDirectory(prefix="tasqlake-bench-") as tmp:
        client = redis.Redis.from_url(url)
        with ingester(url, Path(tmp)) as ing:
            out: multiprocessing.Queue = _MP.Queue()
            publisher = _MP.Process(target=_publish_proc, args=(_port(url), payloads, rate, out))
            publisher.start()
            peak_omem = 0
            disconnected = False
            while publisher.is_alive():
                subs = [c for c in client.client_list(_type="pubsub") if c.get("sub") != "0"]
                if not subs:
                    disconnected = True
                peak_omem = max([peak_omem, *(int(c.get("omem", 0)) for c in subs)])
                time.sleep(0.1)
            took = out.get()
            publisher.join()
            deadline = time.monotonic() + 120
            while ing.counts()[1] < total and time.monotonic() < deadline:
                time.sleep(0.1)
            received, stored, gaps = ing.counts()
        client.close()
    lost = total - stored
    return [
        Figure(
            f"live {rate / 1e3:g}k/s for {seconds:g} s: events lost",
            lost,
            "events",
            limit=0,
            anchor="nothing lost",
            note=f"published at {total / took / 1e3:.0f}k/s, received {received:,}, "
            f"stored {stored:,}, gaps {gaps}, disconnected {disconnected}",
        ),
        Figure(
            "live: subscriber dropped by Redis (1 = yes)",
            float(disconnected),
            "",
            limit=0,
            anchor="never disconnected",
        ),
        Figure(
            "live: subscriber output-buffer peak (CLIENT LIST omem)",
            peak_omem / 1e6,
            "MB",
            anchor="reported; Redis drops at 32 MB, or 8 MB for 60 s",
        ),
    ]


def freshness_figure(seconds: float, rate: float = 2000, flush_interval: float = 1.0) -> Figure:
    """p99 PUBLISH -> visible in ``events``; one probe every 100 ms among a steady stream."""
    payloads = realistic_payloads(int(rate * seconds), seed=13)
    every = max(1, int(rate / 10))
    latencies: list[float] = []
    with private_redis() as url, tempfile.TemporaryDirectory(prefix="tasqlake-bench-") as tmp:
        publisher = redis.Redis.from_url(url)
        with ingester(url, Path(tmp), flush_interval=flush_interval) as ing:
            sent: dict[int, float] = {}
            seen: dict[int, float] = {}
            stop = threading.Event()

            def reader() -> None:
                while not (ing.lake.root / "events").is_dir() and not stop.is_set():
                    time.sleep(0.01)
                with queries.connect(ing.lake) as con:
                    while not stop.is_set():
                        waiting = [e for e in list(sent) if e not in seen]
                        if waiting:
                            rows = con.execute(
                                "SELECT event_id FROM events WHERE event_id IN "
                                "(SELECT unnest($ids))",
                                {"ids": waiting},
                            ).fetchall()
                            now = time.monotonic()
                            for (found,) in rows:
                                seen.setdefault(found, now)
                        time.sleep(0.02)

            thread = threading.Thread(target=reader, daemon=True)
            thread.start()
            started = time.monotonic()
            for n, payload in enumerate(payloads):
                if n % every == 0:
                    sent[event_id(payload)] = time.monotonic()
                publisher.publish(CHANNEL, payload)
                ahead = started + (n + 1) / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            deadline = time.monotonic() + 10 * flush_interval + 5
            while len(seen) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()
            thread.join()
            latencies = [seen[e] - t for e, t in sent.items() if e in seen]
        publisher.close()
    missing = len(sent) - len(latencies)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else 1e9
    return Figure(
        "freshness p99 PUBLISH -> visible in events",
        p99,
        "s",
        limit=flush_interval + 0.25,
        anchor=f"flush {flush_interval:g} s + 250 ms",
        note=f"p50 {statistics.median(latencies) if latencies else float('nan'):.3f} s, "
        f"{len(latencies)} probes, {missing} never seen",
    )
