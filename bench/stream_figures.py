"""Draining a Redis Stream backlog against draining a Pub/Sub backlog, same run (issue 16).

Both sides: a ``tasqlake ingest`` process is started (subscribed, or its consumer group
created), frozen with SIGSTOP, the same N realistic payloads are published (Pub/Sub) or added
(``XADD``) meanwhile, then it is resumed and timed until its status line says all N are *stored*
in the lake. The stream side also acknowledges every entry (``XACK`` after the WAL fsync), which
is checked at the end: nothing left pending.
"""

from __future__ import annotations

import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

import redis

from bench.figures import Figure, render
from bench.ingest_figures import UNLIMITED, ingester, publish, realistic_payloads
from tasqlake.ingest.receiving.connection import encode_command
from tasqlake.local_redis import private_redis
from tasqlake.schemas.constants import STREAM_PAYLOAD_FIELD

STREAM = "bench:events"


def add_entries(port: int, payloads: list[bytes], chunk: int = 2000) -> float:
    """Pipelined ``XADD`` on a raw socket; returns seconds."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.perf_counter()
        for start in range(0, len(payloads), chunk):
            part = payloads[start : start + chunk]
            sock.sendall(
                b"".join(encode_command("XADD", STREAM, "*", STREAM_PAYLOAD_FIELD, p) for p in part)
            )
            seen = 0
            while seen < len(part):  # each reply is one bulk string: two CRLFs
                seen += sock.recv(1 << 20).count(b"\r\n") // 2
        return time.perf_counter() - started


def _drain(url: str, payloads: list[bytes], workdir: Path, stream: bool) -> float:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    extra = ["--lake", str(workdir / "lake")] + (["--stream", STREAM] if stream else [])
    with ingester(url, workdir, lake_args=extra) as ing:
        time.sleep(0.5)  # the group is created (stream) right after connecting
        ing.signal(signal.SIGSTOP)
        if stream:
            add_entries(port, payloads)
        else:
            publish(port, payloads)
        resumed = time.monotonic()
        ing.signal(signal.SIGCONT)
        deadline = resumed + 600
        while ing.counts()[1] < len(payloads) and time.monotonic() < deadline:
            time.sleep(0.02)
        took = time.monotonic() - resumed
        stored = ing.counts()[1]
        if stream:  # acknowledged too (XACK follows the WAL fsync, every second by default)
            client = redis.Redis.from_url(url)
            settle = time.monotonic() + 30
            while client.xpending(STREAM, "tasqlake")["pending"] and time.monotonic() < settle:
                time.sleep(0.05)
            left = client.xpending(STREAM, "tasqlake")["pending"]
            client.close()
            if left:
                raise RuntimeError(f"{left:,} entries still pending 30 s after all were stored")
    if stored < len(payloads):
        raise RuntimeError(f"the ingester stored {stored:,} of {len(payloads):,} within 600 s")
    return stored / took


def stream_drain_figure(count: int) -> Figure:
    payloads = realistic_payloads(count)
    with (
        private_redis(extra_args=UNLIMITED) as url,
        tempfile.TemporaryDirectory(prefix="tasqlake-bench-") as tmp,
    ):
        pubsub = _drain(url, payloads, Path(tmp) / "pubsub", stream=False)
        streamed = _drain(url, payloads, Path(tmp) / "stream", stream=True)
    return Figure(
        f"drain a {count / 1e6:g}M-entry stream backlog (consumer group, XACK after fsync)",
        streamed,
        "ev/s",
        pubsub,
        "same backlog through Pub/Sub",
        limit=1.0,
        compare_ratio=True,
        higher_is_better=True,
        anchor="issue 16: >= the Pub/Sub drain",
    )


if __name__ == "__main__":
    size = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000
    print(render([stream_drain_figure(size)]))
