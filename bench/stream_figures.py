"""Draining a Redis Stream backlog against draining a Pub/Sub backlog, same run (issue 16).

Both sides: a ``tasqlake ingest`` process is started (subscribed, or its consumer group
created), frozen with SIGSTOP, the same N realistic payloads are published (Pub/Sub) or added
(``XADD``) meanwhile, then it is resumed and timed until its status line says all N are *stored*
in the lake. The stream side also acknowledges every entry (``XACK`` after the WAL fsync), which
is checked at the end: nothing left pending.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import time
from pathlib import Path

import redis

from bench.figures import Figure, render
from bench.ingest_figures import UNLIMITED, publish, realistic_payloads, timed_drain
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


def _all_acknowledged(url: str) -> None:
    """Every entry acknowledged too (XACK follows the WAL fsync, every second by default)."""
    client = redis.Redis.from_url(url)
    try:
        settle = time.monotonic() + 30
        while client.xpending(STREAM, "tasqlake")["pending"] and time.monotonic() < settle:
            time.sleep(0.05)
        left = client.xpending(STREAM, "tasqlake")["pending"]
    finally:
        client.close()
    if left:
        raise RuntimeError(f"{left:,} entries still pending 30 s after all were stored")


def stream_drain_figure(count: int) -> Figure:
    payloads = realistic_payloads(count)
    with (
        private_redis(extra_args=UNLIMITED) as url,
        tempfile.TemporaryDirectory(prefix="tasqlake-bench-") as tmp,
    ):
        pubsub_dir, stream_dir = Path(tmp) / "pubsub", Path(tmp) / "stream"
        pubsub = timed_drain(
            url,
            pubsub_dir,
            len(payloads),
            lambda port: publish(port, payloads),
            lake_args=["--lake", str(pubsub_dir / "lake")],
        )
        streamed = timed_drain(
            url,
            stream_dir,
            len(payloads),
            lambda port: add_entries(port, payloads),
            lake_args=["--lake", str(stream_dir / "lake"), "--stream", STREAM],
            settle=lambda: _all_acknowledged(url),
        )
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
