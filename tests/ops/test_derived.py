"""``--export-derived``: lake-derived gauges on the ingester's metrics endpoint, cached."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tasqlake.derived_metrics import DerivedCollector
from tasqlake.local_redis import free_port
from tasqlake.queries import LakeQueries
from tests.ops.helpers import TASQLAKE, IngestProcess, clean_env, scrape

pytestmark = pytest.mark.clock  # compares with the clock: also run a year ahead (test_moved_clock)


@pytest.fixture(scope="module")
def imported_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake of a simulated workload (fixed past start), through the real import path."""
    root = tmp_path_factory.mktemp("derived")
    stream, lake = root / "events.msgpack", root / "lake"
    for args in (
        ["simulate", "--out", str(stream), "--rate", "300", "--duration", "20", "--seed", "7"],
        ["import", str(stream), "--lake", str(lake)],
    ):
        done = subprocess.run([TASQLAKE, *args], capture_output=True, text=True, env=clean_env())
        assert done.returncode == 0, done.stderr
    return lake


def samples(registry: CollectorRegistry) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            label = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{label}}}" if label else s.name] = s.value
    return out


def expected(lake: Path) -> dict[str, float]:
    with LakeQueries(lake) as q:
        out = {}
        for stats in q.queue_stats():
            out[f'tasqlake_queue_depth{{queue="{stats.name}"}}'] = float(stats.depth)
            out[f'tasqlake_queue_processing{{queue="{stats.name}"}}'] = float(stats.processing)
        for row in q.rows("SELECT status, count(*) AS n FROM worker_stats GROUP BY 1"):
            out[f'tasqlake_workers{{status="{row["status"]}"}}'] = float(row["n"])
    return out


def test_derived_gauges_equal_the_queries_api(imported_lake: Path) -> None:
    registry = CollectorRegistry()
    collector = DerivedCollector(str(imported_lake))
    registry.register(collector)
    got = samples(registry)
    collector.close()
    assert got["tasqlake_derived_up"] == 1
    want = expected(imported_lake)
    assert len(want) > 5
    assert {k: got[k] for k in want} == want
    # the workload is in the past: no task was attempted in the last 5 minutes
    assert not any(k.startswith("tasqlake_retry_rate_5m") for k in got)


def test_scrapes_within_the_cache_period_query_the_lake_once(imported_lake: Path) -> None:
    now = [100.0]
    collector = DerivedCollector(str(imported_lake), cache_seconds=5, clock=lambda: now[0])
    registry = CollectorRegistry()
    registry.register(collector)
    first = samples(registry)
    now[0] += 4.9
    assert samples(registry) == first
    assert collector.evaluations == 1
    now[0] += 0.2
    samples(registry)
    assert collector.evaluations == 2
    collector.close()


def test_a_lake_that_cannot_be_read_is_derived_up_0_not_a_failed_scrape(tmp_path: Path) -> None:
    collector = DerivedCollector(str(tmp_path / "missing"))
    registry = CollectorRegistry()
    registry.register(collector)
    got = samples(registry)
    assert got["tasqlake_derived_up"] == 0
    assert not any(k.startswith("tasqlake_queue_depth") for k in got)


def test_recent_retries_give_a_5_minute_retry_rate(tmp_path: Path) -> None:
    stream, lake = tmp_path / "now.msgpack", tmp_path / "lake"
    from datetime import UTC, datetime, timedelta

    start = (datetime.now(UTC) - timedelta(seconds=60)).isoformat()
    for args in (
        [
            "simulate",
            "--out",
            str(stream),
            "--rate",
            "300",
            "--duration",
            "30",
            "--seed",
            "9",
            "--start",
            start,
        ],
        ["import", str(stream), "--lake", str(lake)],
    ):
        done = subprocess.run([TASQLAKE, *args], capture_output=True, text=True, env=clean_env())
        assert done.returncode == 0, done.stderr
    registry = CollectorRegistry()
    registry.register(DerivedCollector(str(lake)))
    got = samples(registry)
    with LakeQueries(lake) as q:
        rows = q.rows(
            "SELECT queue, count(*) FILTER (WHERE event_type = 'task_started') AS a, "
            "count(*) FILTER (WHERE event_type = 'task_reenqueued') AS r FROM events "
            'WHERE "timestamp" > now() - INTERVAL 5 MINUTE '
            "AND event_type IN ('task_started', 'task_reenqueued', 'task_failed') "
            "GROUP BY queue"
        )
    assert rows
    for row in rows:
        queue = row["queue"]
        assert got[f'tasqlake_attempts_5m{{queue="{queue}"}}'] == row["a"]
        assert got[f'tasqlake_retries_5m{{queue="{queue}"}}'] == row["r"]
        if row["a"]:
            assert got[f'tasqlake_retry_rate_5m{{queue="{queue}"}}'] == row["r"] / row["a"]


def test_ingest_exports_derived_gauges_next_to_its_own(imported_lake: Path, tmp_path: Path) -> None:
    port = free_port()
    ingest = IngestProcess(
        [
            "--redis-url",
            "redis://127.0.0.1:6379",
            "--channel",
            f"ops:{uuid.uuid4().hex}",
            "--lake",
            str(imported_lake),
            "--wal-dir",
            str(tmp_path / "wal"),
            "--metrics-port",
            str(port),
            "--export-derived",
        ],
        clean_env(),
        tmp_path,
    ).start()
    try:
        got = scrape(port)
    finally:
        assert ingest.stop() == 0
    assert got["tasqlake_ingest_subscribed"] == 1
    assert got["tasqlake_derived_up"] == 1
    want = expected(imported_lake)
    assert {k: got[k] for k in want} == want


def test_export_derived_needs_a_metrics_port(tmp_path: Path) -> None:
    done = subprocess.run(
        [TASQLAKE, "ingest", "--lake", str(tmp_path / "lake"), "--export-derived"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "tasqlake: error: --export-derived needs --metrics-port (the server to export on)"
    )
