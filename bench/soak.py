"""Soak: one ``tasqlake ingest`` reading a Pub/Sub channel AND a Redis Stream at a steady rate
each, for a long time, sampled every few seconds (issue 16, a ``bench/`` figure, not a CI test).

Two publisher processes pace realistic payloads (cycled from a pool) into a private Redis: one
``PUBLISH``es to the channel, one ``XADD``s to the stream (``MAXLEN ~``, as the emitter does).
Every ``--sample`` seconds: RSS, open file descriptors and threads of the ingester's processes,
the WAL's bytes, the lake's file count, and the events stored per source. At the end: every
event published on each source is stored (rows per channel), nothing pending in the group, and
after the warm-up (``--warmup``) RSS and FDs stay within ±10 % and the WAL does not grow.

    .venv/bin/python -m bench.soak --minutes 30 --rate 20000 --out bench/soak
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import redis

from bench.ingest_figures import UNLIMITED, realistic_payloads
from tasqlake import queries
from tasqlake.ingest.receiving.connection import encode_command
from tasqlake.local_redis import private_redis
from tasqlake.schemas.constants import STREAM_PAYLOAD_FIELD

CHANNEL = "soak:events"
STREAM = "soak:stream"
TASQLAKE = str(Path(sys.executable).with_name("tasqlake"))
_MP = multiprocessing.get_context("spawn")


def _pace(port: int, command: Any, rate: float, seconds: float, sent: Any, pool: int) -> None:
    """Send ``command(payload)`` at ``rate``/s for ``seconds`` (payloads cycled from a pool)."""
    payloads = realistic_payloads(pool)
    chunk = max(int(rate / 50), 1)  # 50 pipelined bursts a second
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.perf_counter()
        index = 0
        while time.perf_counter() - started < seconds:
            part = [payloads[(index + i) % pool] for i in range(chunk)]
            sock.sendall(b"".join(command(p) for p in part))
            seen = 0
            while seen < len(part):
                data = sock.recv(1 << 20)
                seen += data.count(b"\r\n") // (2 if data[:1] == b"$" else 1)
            index += chunk
            sent.value = index
            ahead = started + index / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)


def _publish_cmd(payload: bytes) -> bytes:
    return encode_command("PUBLISH", CHANNEL, payload)


def _xadd_cmd(payload: bytes) -> bytes:
    return encode_command(
        "XADD", STREAM, "MAXLEN", "~", "1000000", "*", STREAM_PAYLOAD_FIELD, payload
    )


def _publisher(port: int, kind: str, rate: float, seconds: float, sent: Any, pool: int) -> None:
    _pace(port, _publish_cmd if kind == "pubsub" else _xadd_cmd, rate, seconds, sent, pool)


@dataclass
class Sample:
    t: float
    rss_mb: float
    fds: int
    threads: int
    wal_mb: float
    lake_files: int
    sent_pubsub: int
    sent_stream: int


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _sample(t: float, pid: int, workdir: Path, sent: dict[str, Any]) -> Sample:
    procs = _tree(pid)
    rss = fds = threads = 0
    for proc in procs:
        try:
            rss += proc.memory_info().rss
            fds += proc.num_fds()
            threads += proc.num_threads()
        except psutil.NoSuchProcess:
            continue
    wal = sum(f.stat().st_size for f in (workdir / "lake" / "wal").glob("*") if f.is_file())
    files = sum(1 for _ in (workdir / "lake").glob("events/*/*/*.parquet"))
    return Sample(
        t, rss / 1e6, fds, threads, wal / 1e6, files, sent["pubsub"].value, sent["stream"].value
    )


def soak(minutes: float, rate: float, sample_s: float, warmup_s: float, out: Path) -> int:
    seconds = minutes * 60
    samples: list[Sample] = []
    with (
        private_redis(extra_args=UNLIMITED) as url,
        tempfile.TemporaryDirectory(prefix="tasqlake-soak-") as tmp,
    ):
        port = int(url.rsplit(":", 1)[1])
        workdir = Path(tmp)
        log = open(workdir / "ingest.log", "wb")  # noqa: SIM115
        ingester = subprocess.Popen(
            [TASQLAKE, "ingest", "--redis-url", url, "--channel", CHANNEL, "--stream", STREAM,
             "--lake", str(workdir / "lake"), "--status-interval", "10"],
            stderr=log, stdout=log, start_new_session=True,
        )  # fmt: skip
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 30
        while client.pubsub_numsub(CHANNEL)[0][1] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        sent = {k: _MP.Value("q", 0) for k in ("pubsub", "stream")}
        publishers = [
            _MP.Process(target=_publisher, args=(port, kind, rate, seconds, sent[kind], 200_000))
            for kind in ("pubsub", "stream")
        ]
        for proc in publishers:
            proc.start()
        started = time.monotonic()
        try:
            while any(p.is_alive() for p in publishers):
                time.sleep(sample_s)
                samples.append(_sample(time.monotonic() - started, ingester.pid, workdir, sent))
                print(samples[-1], flush=True)
            settle = time.monotonic() + 120
            while time.monotonic() < settle:  # let it store and acknowledge what is in flight
                info = client.xinfo_groups(STREAM)
                if info and info[0]["pending"] == 0 and info[0]["lag"] == 0:
                    break
                time.sleep(1)
            time.sleep(3)  # one flush interval and more: the last batch committed
        finally:
            os.killpg(ingester.pid, signal.SIGTERM)
            ingester.wait(120)
            log.close()
        with queries.connect(workdir / "lake") as con:
            stored = dict(
                con.execute("SELECT channel, count(*) FROM stored_events GROUP BY 1").fetchall()
            )
        pending = client.xinfo_groups(STREAM)[0]["pending"]
        client.close()
    published = {CHANNEL: sent["pubsub"].value, STREAM: sent["stream"].value}
    return _report(samples, published, stored, pending, warmup_s, out)


def _report(
    samples: list[Sample],
    published: dict[str, int],
    stored: dict[str, int],
    pending: int,
    warmup_s: float,
    out: Path,
) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(Sample.__dataclass_fields__))
        writer.writerows([list(vars(s).values()) for s in samples])
    after = [s for s in samples if s.t >= warmup_s] or samples
    verdicts = []
    for name in ("rss_mb", "fds"):
        values = [getattr(s, name) for s in after]
        median = statistics.median(values)
        spread = max(abs(v - median) / median for v in values) if median else 0.0
        verdicts.append((f"{name} within ±10 % of its median after warm-up", spread <= 0.10,
                         f"median {median:.1f}, widest {spread * 100:.1f} %"))  # fmt: skip
    wal = [s.wal_mb for s in after]
    grows = wal[-1] > max(wal[: max(len(wal) // 4, 1)]) * 1.5 + 1 if wal else False
    verdicts.append(("WAL does not grow", not grows, f"{wal[0]:.1f} -> {wal[-1]:.1f} MB"))
    for source, count in published.items():
        verdicts.append((f"every event of {source} stored", stored.get(source, 0) >= count,
                         f"published {count:,}, stored {stored.get(source, 0):,}"))  # fmt: skip
    verdicts.append(("nothing pending in the group", pending == 0, f"{pending}"))
    for what, ok, detail in verdicts:
        print(f"{'ok ' if ok else 'NO '} {what}: {detail}")
    _plot(samples, warmup_s, out.with_suffix(".png"))
    return 0 if all(ok for _, ok, _ in verdicts) else 1


def _plot(samples: list[Sample], warmup_s: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s.t / 60 for s in samples]
    fig, axes = plt.subplots(3, 2, figsize=(11, 8), sharex=True)
    series = [
        ("RSS of the ingester's processes (MB)", [s.rss_mb for s in samples]),
        ("open file descriptors", [s.fds for s in samples]),
        ("threads", [s.threads for s in samples]),
        ("WAL (MB)", [s.wal_mb for s in samples]),
        ("event files in the lake", [s.lake_files for s in samples]),
        ("events published per source (M)", [s.sent_stream / 1e6 for s in samples]),
    ]
    for ax, (title, values) in zip(axes.flat, series, strict=True):
        ax.plot(minutes, values)
        ax.axvline(warmup_s / 60, color="grey", linestyle=":")
        ax.set_title(title, fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("minutes")
    fig.suptitle("tasqlake ingest soak: Pub/Sub + Redis Stream, one ingester")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=20_000, help="events/s per source")
    parser.add_argument("--sample", type=float, default=10, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=300, help="seconds before checking")
    parser.add_argument("--out", type=Path, default=Path("bench/soak"))
    args = parser.parse_args(argv)
    return soak(args.minutes, args.rate, args.sample, args.warmup, args.out)


if __name__ == "__main__":
    sys.exit(main())
