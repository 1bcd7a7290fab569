"""The lake on S3-compatible object storage against the same lake on local disk (issue 15).

* drain into the S3 lake vs the local lake: the ingest drain of :mod:`bench.ingest_figures`
  (consumer frozen, N payloads published, resumed, timed until ``tasqlake ingest`` has *stored*
  all), once with ``--lake DIR`` and once with ``--lake s3://…`` on a private SeaweedFS, same run;
* "now" ``queue_stats`` over S3 vs local disk, same lake: a compacted lake is uploaded as it is
  (every object under the same key) and the view is timed on both (median of N, one connection
  each, as a dashboard keeps one).

The S3 server is the one the tests use (:mod:`tasqlake.local_s3`, SeaweedFS on loopback): the
figures measure tasqlake's S3 path (requests, listing, encoding), not a network.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.figures import Figure
from bench.ingest_figures import UNLIMITED, publish, realistic_payloads, timed_drain
from bench.query_figures import last_event_time, median_seconds
from tasqlake import queries
from tasqlake.lake.storage import Lake
from tasqlake.local_redis import private_redis
from tasqlake.local_s3 import SeaweedS3

BUCKET = "bench"


def drain_figure(count: int) -> Figure:
    """Ingest drain into an S3 lake against the local lake, same backlog, same run."""
    payloads = realistic_payloads(count)
    with (
        private_redis(extra_args=UNLIMITED) as url,
        tempfile.TemporaryDirectory(prefix="tasqlake-bench-") as tmp,
        SeaweedS3(Path(tmp) / "s3") as server,
    ):
        server.create_bucket(BUCKET)
        local_dir = Path(tmp) / "local"
        local = timed_drain(
            url,
            local_dir,
            len(payloads),
            lambda port: publish(port, payloads),
            lake_args=["--lake", str(local_dir / "lake")],
        )
        s3_dir = Path(tmp) / "remote"
        env = {
            "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": server.secret_key,
            "TASQLAKE_STATE_DIR": str(s3_dir / "state"),
        }
        lake_args = ["--lake", f"s3://{BUCKET}/drain", "--s3-endpoint", server.endpoint]
        remote = timed_drain(
            url, s3_dir, len(payloads), lambda port: publish(port, payloads), lake_args=lake_args,
            env=env,
        )  # fmt: skip
    return Figure(
        f"ingest drain into the S3 lake, {count / 1e6:g}M backlog",
        remote,
        "ev/s",
        local,
        "same into the local lake",
        limit=0.8,
        compare_ratio=True,
        higher_is_better=True,
        anchor="issue 15: >= 0.8x the local lake",
    )


def upload(lake: Lake, target: Lake) -> int:
    """Copy every file of ``lake`` to ``target`` under the same relative path; bytes copied."""
    copied = 0
    for rel in lake.list_files("", suffix=""):
        data = lake.read_bytes(rel)
        target.commit_bytes(rel, data)
        copied += len(data)
    return copied


def now_figure(lake: Lake, label: str, repeat: int) -> Figure:
    """ "now" queue_stats on ``lake`` uploaded to S3 against the same lake on local disk."""
    as_of = last_event_time(lake)
    sql = "SELECT count(*), sum(hash(COLUMNS(*))) FROM queue_stats"

    def timed(target: Lake) -> float:
        with queries.connect(target, as_of=as_of) as con:

            def run() -> object:
                return con.execute(sql).fetchall()

            run()  # the first query of a connection reads the footers it caches
            return median_seconds(run, repeat)

    with (
        tempfile.TemporaryDirectory(prefix="tasqlake-bench-") as tmp,
        SeaweedS3(Path(tmp)) as server,
    ):
        server.create_bucket(BUCKET)
        remote = server.lake(BUCKET, label.lower())
        started = time.perf_counter()
        copied = upload(lake, remote)
        took = time.perf_counter() - started
        local_s = timed(lake)
        remote_s = timed(remote)
    return Figure(
        f'"now" queue_stats on the S3 lake @{label}',
        remote_s,
        "s",
        local_s,
        "same lake on local disk",
        limit=2.0,
        compare_ratio=True,
        anchor="issue 15: <= 2x local disk",
        note=f"{copied / 1e6:,.0f} MB uploaded in {took:.0f} s",
    )
