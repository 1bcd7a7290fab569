"""Ingesting into a lake on S3-compatible object storage: real Redis, a real S3 server
(SeaweedFS, tasqlake/local_s3.py), real ``tasqlake`` processes.

The ingester gets the lake as ``s3://BUCKET/lake`` with ``--s3-endpoint`` and its credentials
only in its environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); its WAL is local, under
TASQLAKE_STATE_DIR. Covered: end to end (and ``tasqlake stats``/``sql`` on the S3 lake), SIGKILL
of the whole ingester (service and processor) while it uploads, the object store going away and
coming back, two ingesters on one bucket, and the secret never showing in any output.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import obstore
import pyarrow as pa
import pyarrow.parquet as pq
import redis

from tasqlake import queries
from tasqlake.ingest.wal.state import WalState
from tasqlake.lake.storage import Lake
from tasqlake.local_s3 import SeaweedS3
from tasqlake.simulator import SimulationSpec, iter_events
from tests.ingest.helpers import REDIS_URL, TASQLAKE, Ingester, publish, wait_until


class S3Ingester(Ingester):
    """``tasqlake ingest`` on an S3 lake. Credentials and the state directory reach it through
    its environment only (nothing AWS_* or TASQLAKE_* of ours leaks in); its stdout and stderr
    both go to its log, so a secret printed on either would show there."""

    def __init__(
        self,
        server: SeaweedS3,
        url: str,
        channel: str,
        workdir: Path,
        state_dir: Path,
        *extra: str,
    ) -> None:
        super().__init__(workdir / "no-local-lake", channel, *extra)
        self.args[self.args.index("--lake") + 1] = url
        self.args += ["--s3-endpoint", server.endpoint]
        self.log_path = workdir / f"ingest-{uuid.uuid4().hex[:6]}.log"
        self.env = clean_env(server, TASQLAKE_STATE_DIR=str(state_dir))

    def start(self, wait_subscribed: bool = True) -> S3Ingester:
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        # runs in the test's directory: anything it wrote outside the state dir would show there
        self.process = subprocess.Popen(
            self.args, stdout=self._log, stderr=self._log, env=self.env, cwd=self.log_path.parent
        )
        if wait_subscribed:
            # a restart first recovers the WAL a killed run left (uploads): give it time
            wait_until(lambda: "subscribed to" in self.log(), 60, f"ingester on {self.channel}")
        return self

    def status(self, name: str) -> int:
        """Counter ``name`` (received, stored, pending…) of the last status line; 0 before one."""
        lines = [ln for ln in self.log().splitlines() if f" {name}=" in ln]
        return int(lines[-1].split(f" {name}=")[1].split()[0]) if lines else 0

    def pending(self) -> int:
        """Events read (or recovered) but not yet committed, as of the last status line."""
        return self.status("pending")


def clean_env(server: SeaweedS3, **extra: str) -> dict[str, str]:
    """Our environment without AWS_*/TASQLAKE_*, plus the server's credentials and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TASQLAKE_"))}
    return env | {
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_REGION": server.region,
        **extra,
    }


def lake_on(server: SeaweedS3, bucket: str) -> Lake:
    """The test's own view of the lake the ingesters write (``s3://bucket/lake``)."""
    return server.lake(bucket)


def past_payloads(seed: int, seconds: float, rate: float = 400) -> list[bytes]:
    """Distinct simulated payloads stamped a few minutes ago (so every view, as of now, sees
    them all)."""
    start = datetime.now(UTC) - timedelta(seconds=seconds + 120)
    spec = SimulationSpec(seed=seed, rate=rate, duration=seconds, start=start)
    return list(dict.fromkeys(payload for _, payload in iter_events(spec)))


def raw_counts(lake: Lake, by: str = "") -> list[tuple]:
    """``[(…by, rows, distinct event_ids)]`` over every stored events file (copies counted)."""
    if not lake.list_files("events"):
        return []
    con = duckdb.connect()
    try:
        lake.attach(con)
        group = f"{by}, " if by else ""
        return con.execute(
            f"SELECT {group}count(*), count(DISTINCT event_id) "
            f"FROM read_parquet('{lake.events_glob}') {'GROUP BY ALL ORDER BY ALL' if by else ''}"
        ).fetchall()
    finally:
        con.close()


def stored_rows(lake: Lake) -> int:
    counts = raw_counts(lake)
    return counts[0][0] if counts else 0


def poll_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """``wait_until`` for predicates that ask the object store: polled 4 times a second."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.25)


def bucket_keys(server: SeaweedS3, bucket: str) -> list[str]:
    return sorted(m["path"] for m in obstore.list(server.store(bucket)).collect())


def unreadable_parquet(server: SeaweedS3, bucket: str) -> list[str]:
    """Every listed ``.parquet`` object that pyarrow cannot read whole."""
    store, bad = server.store(bucket), []
    for key in bucket_keys(server, bucket):
        if not key.endswith(".parquet"):
            continue
        try:
            pq.read_table(pa.BufferReader(bytes(obstore.get(store, key).bytes())))
        except Exception:  # any failure to read is the finding
            bad.append(key)
    return bad


def parquet_bytes() -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"event_id": [1]}), sink)
    return sink.getvalue().to_pybytes()


def wal_dir_of(state_dir: Path) -> Path:
    """The one WAL directory an ingester made under ``state_dir``."""
    found = [p for p in (state_dir / "wal").iterdir() if p.is_dir()]
    assert len(found) == 1, found
    return found[0]


def wal_bytes(wal: Path) -> int:
    return sum(p.stat().st_size for p in wal.glob("*.wal"))


def process_tree(ingester: Ingester) -> list[int]:
    """The service's pid and those of every process under it (its processor)."""
    assert ingester.process is not None
    pids = [ingester.process.pid]
    for pid in pids:  # grows while walked: children, grandchildren…
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with contextlib.suppress(OSError):  # the task ended meanwhile
                pids += [int(c) for c in (task / "children").read_text().split()]
    return pids


def kill_tree(ingester: Ingester) -> int:
    """SIGKILL the service and every process under it (its processor) at once: a crash of the
    whole ingester, uploads in flight included, not an orphaned processor finishing them."""
    assert ingester.process is not None
    pids = process_tree(ingester)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    ingester.process.wait(10)
    ingester.close()

    def gone(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")
        except OSError:
            return True

    wait_until(lambda: all(gone(p) for p in pids[1:]), 10, "the killed ingester's processes")
    return len(pids)


def cli(server: SeaweedS3, *args: str) -> subprocess.CompletedProcess[str]:
    """A ``tasqlake`` command on the S3 lake, credentials in its environment only."""
    return subprocess.run(
        [TASQLAKE, *args, "--s3-endpoint", server.endpoint],
        env=clean_env(server),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_end_to_end_to_an_s3_lake_with_a_local_wal_then_stats_and_sql_read_it(
    redis_client: redis.Redis,
    channel: str,
    tmp_path: Path,
    s3_server: SeaweedS3,
    s3_bucket: str,
    ingesters: list[Ingester],
) -> None:
    url, state = f"s3://{s3_bucket}/lake", tmp_path / "state"
    payloads = past_payloads(seed=201, seconds=4)
    ingester = S3Ingester(
        s3_server, url, channel, tmp_path, state, "--flush-interval", "0.2", "--ingester-id", "e2e"
    ).start()
    ingesters.append(ingester)
    assert s3_server.secret_key not in " ".join(ingester.args)  # only in its environment
    wal = wal_dir_of(state)
    assert wal.is_relative_to(state) and wal.name.startswith("e2e-"), wal

    publish(redis_client, channel, payloads)
    lake = lake_on(s3_server, s3_bucket)
    poll_until(lambda: stored_rows(lake) >= len(payloads), 60, "every event in the S3 lake")
    assert ingester.stop() == 0
    assert raw_counts(lake) == [(len(payloads), len(payloads))]
    assert not list(wal.glob("*.wal"))  # committed and retired after a clean stop

    keys = bucket_keys(s3_server, s3_bucket)
    assert keys and all(k.startswith("lake/") for k in keys), keys
    # The WAL never lives on S3: no wal/_wal prefix, no segment, anywhere in the bucket.
    assert [k for k in keys if {"wal", "_wal"} & set(k.split("/")) or k.endswith(".wal")] == []
    assert unreadable_parquet(s3_server, s3_bucket) == []

    stats = cli(s3_server, "stats", "--lake", url, "--format", "json")
    assert stats.returncode == 0, stats.stderr
    document = json.loads(stats.stdout)
    assert {"queues", "global", "workers"} <= set(document)
    with queries.connect(lake) as con:
        queues = sorted(r[0] for r in con.execute("SELECT queue FROM queue_stats").fetchall())
    assert queues and sorted(q["queue"] for q in document["queues"]) == queues

    sql = cli(
        s3_server,
        "sql",
        "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events",
        "--lake",
        url,
        "--format",
        "json",
    )
    assert sql.returncode == 0, sql.stderr
    assert json.loads(sql.stdout) == [{"n": len(payloads), "d": len(payloads)}]
    # The sandbox lets it read the lake's own URIs only: not a sibling prefix that merely
    # starts like the lake's, though it is in the same bucket with the same credentials.
    outside = f"s3://{s3_bucket}/lake-other/x.parquet"
    obstore.put(s3_server.store(s3_bucket), "lake-other/x.parquet", parquet_bytes())
    refused = cli(s3_server, "sql", f"SELECT * FROM read_parquet('{outside}')", "--lake", url)
    assert refused.returncode != 0, refused
    assert "Permission Error" in refused.stderr and outside in refused.stderr, refused.stderr

    for output in (ingester.log(), stats.stdout + stats.stderr, sql.stdout + sql.stderr):
        assert s3_server.secret_key not in output
    # Locally it wrote its state directory only (besides the log we gave it), and no secret.
    assert {p.name for p in tmp_path.iterdir()} == {"state", ingester.log_path.name}
    for path in state.rglob("*"):
        assert not path.is_file() or s3_server.secret_key.encode() not in path.read_bytes()


def test_sigkills_while_uploading_lose_and_duplicate_nothing_and_leave_no_partial_object(
    redis_client: redis.Redis,
    channel: str,
    tmp_path: Path,
    s3_server: SeaweedS3,
    s3_bucket: str,
    ingesters: list[Ingester],
) -> None:
    url, state = f"s3://{s3_bucket}/lake", tmp_path / "state"
    payloads = past_payloads(seed=202, seconds=8, rate=2000)
    rounds = 8
    chunks = [payloads[i::rounds] for i in range(rounds)]

    def victim() -> S3Ingester:
        started = S3Ingester(
            s3_server,
            url,
            channel,
            tmp_path,
            state,
            "--flush-interval",
            "0.05",
            "--max-batch-events",
            "50",
            "--status-interval",  # overrides the helper's 0.2: "received" is seen sooner
            "0.05",
            "--ingester-id",
            "victim",
        ).start()
        ingesters.append(started)
        return started

    current, recovered, in_flight_kills = victim(), [], 0
    wal = WalState(wal_dir_of(state))

    def uploading() -> bool:
        """A batch is being uploaded: its intent is recorded, the checkpoint not advanced."""
        intent, committed = wal.intent(), wal.committed()
        return intent is not None and intent.start == committed and intent.end > intent.start

    frozen_rounds: list[int] = []

    def restart(killed: S3Ingester) -> S3Ingester:
        assert kill_tree(killed) >= 2  # the service and its processor
        started = victim()  # same state dir: recovers (uploads) what the WAL holds
        log = started.log()
        recovered.append(sum(int(n) for n in re.findall(r"recovered (\d+) events", log)))
        return started

    for round_no, chunk in enumerate(chunks):
        frozen = bool(round_no % 2)
        if frozen:
            # Every other round the processor is frozen first: the chunk is in the WAL and not
            # uploaded when the kill comes, whatever the machine's load.
            for pid in process_tree(current)[1:]:
                os.kill(pid, signal.SIGSTOP)
            frozen_rounds.append(len(recovered))
        struck = False
        sent = 0  # to the current ingester
        # Paced, so the WAL holds small records and the processor uploads many small batches;
        # in the other rounds the kill strikes as soon as a batch is caught uploading, once all
        # that was sent is in the WAL (Pub/Sub would not send it again), and the rest of the
        # chunk goes to the restarted ingester.
        for start in range(0, len(chunk), 100):
            part = chunk[start : start + 100]
            publish(redis_client, channel, part)
            sent += len(part)
            deadline = time.monotonic() + 0.3
            while not (frozen or struck) and time.monotonic() < deadline:
                if current.received() >= sent and uploading():
                    in_flight_kills += 1
                    current, sent, struck = restart(current), 0, True
                    break
                time.sleep(0.001)
        wait_until(lambda c=current, n=sent: c.received() >= n, 30, "the chunk read")
        if frozen:
            current = restart(current)
    replayed = sum("replaying interrupted batch" in i.log() for i in ingesters)
    assert current.stop() == 0
    assert s3_server.secret_key not in "".join(i.log() for i in ingesters)

    lake = lake_on(s3_server, s3_bucket)
    assert raw_counts(lake) == [(len(payloads), len(payloads))]  # each once, none lost
    assert unreadable_parquet(s3_server, s3_bucket) == []
    assert not list(wal.directory.glob("*.wal"))
    # Every kill of a frozen round left its whole chunk to upload after the restart, and kills
    # of the other rounds struck while a batch was being uploaded.
    assert all(recovered[k] >= len(chunks[2 * i + 1]) for i, k in enumerate(frozen_rounds)), (
        recovered,
        frozen_rounds,
    )
    assert in_flight_kills >= 1, recovered
    print(
        f"\n{len(recovered)} SIGKILLs ({in_flight_kills} with a batch in flight): restarts "
        f"recovered {recovered} events, {replayed} replayed an interrupted upload"
    )


def test_an_object_store_that_goes_away_is_retried_while_the_wal_keeps_everything(
    redis_client: redis.Redis,
    channel: str,
    tmp_path: Path,
    s3_server: SeaweedS3,
    s3_bucket: str,
    ingesters: list[Ingester],
) -> None:
    url, state = f"s3://{s3_bucket}/lake", tmp_path / "state"
    first, second, third = (past_payloads(seed=s, seconds=2) for s in (203, 204, 205))
    ingester = S3Ingester(
        s3_server, url, channel, tmp_path, state, "--flush-interval", "0.2"
    ).start()
    ingesters.append(ingester)
    wal = wal_dir_of(state)
    lake = lake_on(s3_server, s3_bucket)
    publish(redis_client, channel, first)
    poll_until(lambda: stored_rows(lake) == len(first), 30, "the first events committed")

    before = wal_bytes(wal)  # one segment, kept while running: it only grows
    try:
        s3_server.stop()
        publish(redis_client, channel, second)
        wait_until(lambda: ingester.received() >= len(first) + len(second), 30, "second read")
        wait_until(lambda: "cannot commit to the lake" in ingester.log(), 60, "the commit error")
        errors = [ln for ln in ingester.log().splitlines() if "cannot commit to the lake" in ln]
        assert len(errors) == 1  # once, not once per retry
        assert f"the object store at {s3_server.endpoint} does not answer" in errors[0]
        assert url in errors[0]
        held = wal_bytes(wal)
        assert held - before >= sum(map(len, second))  # the WAL keeps them meanwhile
        assert ingester.status("stored") == len(first)  # and nothing more is committed

        publish(redis_client, channel, third)  # still read, still kept
        total = len(first) + len(second) + len(third)
        wait_until(lambda: ingester.received() >= total, 30, "third read")
        wait_until(lambda: wal_bytes(wal) >= held + sum(map(len, third)), 10, "the WAL grows")
        assert ingester.process is not None and ingester.process.poll() is None  # still running
    finally:
        if not s3_server.running:
            s3_server.start()

    poll_until(lambda: stored_rows(lake) >= total, 60, "everything committed")
    wait_until(lambda: "committing to the lake works again" in ingester.log(), 10, "recovery")
    assert ingester.stop() == 0
    assert raw_counts(lake) == [(total, total)]
    assert unreadable_parquet(s3_server, s3_bucket) == []
    assert not list(wal.glob("*.wal"))
    assert s3_server.secret_key not in ingester.log()


def test_two_ingesters_on_one_bucket_store_everything_and_readers_see_each_event_once(
    redis_client: redis.Redis,
    channel: str,
    tmp_path: Path,
    s3_server: SeaweedS3,
    s3_bucket: str,
    ingesters: list[Ingester],
) -> None:
    url = f"s3://{s3_bucket}/lake"
    payloads = past_payloads(seed=206, seconds=4)
    pair = [
        S3Ingester(
            s3_server,
            url,
            channel,
            tmp_path,
            tmp_path / f"state-{name}",
            "--flush-interval",
            "0.2",
            "--ingester-id",
            name,
        ).start()
        for name in ("s3-a", "s3-b")
    ]
    ingesters.extend(pair)
    publish(redis_client, channel, payloads)
    for ingester in pair:
        wait_until(lambda i=ingester: i.received() >= len(payloads), 30, "both ingesters")
        assert ingester.stop() == 0
        assert s3_server.secret_key not in ingester.log()

    lake = lake_on(s3_server, s3_bucket)
    n = len(payloads)
    assert raw_counts(lake, by="ingester_id") == [("s3-a", n, n), ("s3-b", n, n)]
    with queries.connect(lake) as con:
        assert con.execute("SELECT count(*) FROM stored_events").fetchone() == (2 * n,)
        shown = con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
    assert shown == (n, n)
    assert unreadable_parquet(s3_server, s3_bucket) == []


def test_refused_credentials_are_reported_without_the_secret(
    channel: str, tmp_path: Path, s3_server: SeaweedS3, s3_bucket: str
) -> None:
    canary = f"canary-secret-{uuid.uuid4().hex}"
    env = clean_env(s3_server, TASQLAKE_STATE_DIR=str(tmp_path / "state"))
    env["AWS_SECRET_ACCESS_KEY"] = canary
    run = subprocess.run(
        [
            TASQLAKE,
            "ingest",
            "--redis-url",
            REDIS_URL,
            "--channel",
            channel,
            "--lake",
            f"s3://{s3_bucket}/lake",
            "--s3-endpoint",
            s3_server.endpoint,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "refused the credentials" in run.stderr
    assert canary not in run.stdout + run.stderr
