"""Ingest throughput benchmark (run by hand, not collected by pytest).

    .venv/bin/python tests/ingest/bench_ingest.py [EVENTS] [--thread]

Publishes EVENTS realistic simulated payloads as fast as one raw Redis client can (pipelined
PUBLISH from a separate process) while ``tasqlake ingest`` runs as a subprocess, and prints:
events/s stored (first publish to last commit), publish rate, peak output-buffer memory Redis
held for the subscriber, peak RSS of the ingester processes, bytes per stored event, and whether
every event arrived.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psutil
import redis

from tasqlake.simulator import SimulationSpec, iter_events

TASQLAKE = str(Path(sys.executable).with_name("tasqlake"))


def payloads(count: int) -> list[bytes]:
    spec = SimulationSpec(
        seed=5, rate=50_000, duration=count / 50_000 * 1.3, start=datetime.now(UTC)
    )
    out = []
    for _, payload in iter_events(spec):
        out.append(payload)
        if len(out) == count:
            break
    return out


def publish_raw(channel: str, items: list[bytes], done: multiprocessing.Queue) -> None:
    sock = socket.create_connection(("127.0.0.1", 6379))
    head = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n" % (len(channel), channel.encode())
    started = time.perf_counter()
    for start in range(0, len(items), 2000):
        chunk = items[start : start + 2000]
        sock.sendall(b"".join(head + b"$%d\r\n%s\r\n" % (len(p), p) for p in chunk))
        _drain(sock, len(chunk))
    done.put(time.perf_counter() - started)


def _drain(sock: socket.socket, replies: int) -> None:
    seen = 0
    while seen < replies:
        seen += sock.recv(1 << 20).count(b"\r\n")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1_000_000
    items = payloads(count)
    count = len(items)
    channel = f"tasqlake-bench:{uuid.uuid4().hex}"
    lake = Path(tempfile.mkdtemp()) / "lake"
    log = lake.parent / "ingest.log"
    env = {**os.environ}
    ingester = subprocess.Popen(
        [TASQLAKE, "ingest", "--channel", channel, "--lake", str(lake), "--status-interval", "0.5"],
        stderr=open(log, "wb"),  # noqa: SIM115 - lives as long as the subprocess
        env=env,
    )
    client = redis.Redis()
    while client.pubsub_numsub(channel)[0][1] < 1:
        time.sleep(0.05)
    done: multiprocessing.Queue = multiprocessing.Queue()
    publisher = multiprocessing.Process(target=publish_raw, args=(channel, items, done))
    started = time.perf_counter()
    publisher.start()
    peak_omem = peak_rss = 0
    procs = [psutil.Process(ingester.pid)]
    stored, disconnected = 0, False
    while True:
        time.sleep(0.05)
        clients = [c for c in client.client_list(_type="pubsub") if c.get("sub") != "0"]
        if client.pubsub_numsub(channel)[0][1] < 1:
            disconnected = True
        peak_omem = max([peak_omem] + [int(c.get("omem", 0)) for c in clients])
        procs = [procs[0], *procs[0].children()]
        peak_rss = max(peak_rss, sum(p.memory_info().rss for p in procs if p.is_running()))
        lines = [ln for ln in log.read_text().splitlines() if " stored=" in ln]
        if lines:
            stored = int(lines[-1].split(" stored=")[1].split()[0])
        if stored >= count or time.perf_counter() - started > 300:
            break
    elapsed = time.perf_counter() - started
    publish_s = done.get()
    publisher.join()
    ingester.terminate()
    ingester.wait()
    glob = f"read_parquet('{lake}/events/*/*/*.parquet')"
    total = duckdb.connect().execute(f"SELECT count(*) FROM {glob}").fetchall()[0][0]
    size = sum(f.stat().st_size for f in lake.glob("events/*/*/*.parquet"))
    print(f"events published        {count:,}")
    print(f"publish rate            {count / publish_s:,.0f}/s")
    print(f"stored (all?)           {total:,} ({'yes' if total == count else 'NO'})")
    print(f"ingest rate             {count / elapsed:,.0f} events/s (publish start -> stored)")
    print(f"peak subscriber omem    {peak_omem / 1e6:.1f} MB, disconnected: {disconnected}")
    print(f"peak ingester RSS       {peak_rss / 1e6:.0f} MB")
    print(f"bytes per stored event  {size / max(total, 1):.1f}")


if __name__ == "__main__":
    main()
