"""Metrics and /healthz of a running ``tasqlake ingest``: scraped while it ingests real events
from real Redis; health flips to 503 when Redis goes away or commits fail, and back."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import redis

from tasqlake.ingest.service import health
from tasqlake.ingest.service.ingest_service import IngestService
from tasqlake.local_redis import free_port
from tasqlake.schemas.settings import Settings
from tasqlake.simulator import SimulationSpec, iter_events
from tests.ops.helpers import (
    IngestProcess,
    RedisServer,
    clean_env,
    healthz,
    scrape,
    wait_until,
)

SHARED_REDIS = "redis://127.0.0.1:6379"


def payloads(seed: int, duration: float = 3, rate: float = 400) -> list[bytes]:
    spec = SimulationSpec(seed=seed, rate=rate, duration=duration, start=datetime.now(UTC))
    return [payload for _, payload in iter_events(spec)]


def publish(url: str, channel: str, items: list[bytes]) -> None:
    client = redis.Redis.from_url(url)
    pipe = client.pipeline(transaction=False)
    for item in items:
        pipe.publish(channel, item)
    pipe.execute()
    client.close()


def lake_files(lake: Path) -> list[Path]:
    return [p for d in ("events", "quarantine", "gaps") for p in (lake / d).glob("*/*/*.parquet")]


def test_scrape_while_ingesting_matches_what_was_published(tmp_path: Path) -> None:
    channel, lake, port = f"tasqlake-ops:{uuid.uuid4().hex}", tmp_path / "lake", free_port()
    ingest = IngestProcess(
        [
            "--redis-url",
            SHARED_REDIS,
            "--channel",
            channel,
            "--lake",
            str(lake),
            "--flush-interval",
            "0.2",
            "--status-interval",
            "0.3",
            "--metrics-port",
            str(port),
            "--log-format",
            "json",
        ],
        clean_env(),
        tmp_path,
    ).start()
    try:
        good, bad = payloads(seed=81), [b"\x00not msgpack", b"\xc1", b"plain text"]
        first = scrape(port)  # before anything was published
        assert first["tasqlake_ingest_events_received_total"] == 0
        assert first["tasqlake_ingest_subscribed"] == 1
        publish(SHARED_REDIS, channel, good[: len(good) // 2])
        mid = scrape(port)  # scraped while events arrive
        assert mid["tasqlake_ingest_events_received_total"] <= len(good) // 2
        publish(SHARED_REDIS, channel, [*good[len(good) // 2 :], *bad])
        total = len(good) + len(bad)

        def all_committed() -> bool:
            m = scrape(port)
            done = m["tasqlake_ingest_events_stored_total"]
            return done + m["tasqlake_ingest_events_quarantined_total"] == total

        wait_until(all_committed, 30, "every event committed, per the metrics")
        m = scrape(port)
        assert m["tasqlake_ingest_events_received_total"] == total
        assert m["tasqlake_ingest_events_stored_total"] == len(good)
        assert m["tasqlake_ingest_events_quarantined_total"] == len(bad)
        stored = (
            duckdb.connect()
            .execute(f"SELECT count(*) FROM read_parquet('{lake}/events/*/*/*.parquet')")
            .fetchall()
        )
        assert stored == [(len(good),)]
        files = lake_files(lake)
        assert m["tasqlake_ingest_files_committed_total"] == len(files)
        assert m["tasqlake_ingest_bytes_committed_total"] == sum(p.stat().st_size for p in files)
        assert m["tasqlake_ingest_bytes_read_total"] > sum(map(len, good))
        commits = m["tasqlake_ingest_commits_total"]
        assert commits >= 1
        assert m["tasqlake_ingest_commit_duration_seconds_count"] == commits
        assert m['tasqlake_ingest_commit_duration_seconds_bucket{le="+Inf"}'] == commits
        assert m["tasqlake_ingest_event_lag_seconds_count"] == len(good)
        # simulated events are stamped within the last few seconds: so is their lag
        assert 0 < m["tasqlake_ingest_event_lag_seconds_sum"] / len(good) < 30
        assert m["tasqlake_ingest_wal_pending_bytes"] == 0
        assert m["tasqlake_ingest_commit_failures_total"] == 0
        assert m["tasqlake_ingest_commit_failing"] == 0
        assert m["tasqlake_ingest_processor_up"] == 1
        assert m["tasqlake_ingest_gaps_total"] == 1  # the start-up gap
        assert m["tasqlake_ingest_gap_seconds_total"] > 0
        assert m["tasqlake_ingest_reconnects_total"] == 0
        status, body = healthz(port)
        assert (status, body["status"], body["subscribed"]) == (200, "ok", True)
        assert body["wal_pending_bytes"] == 0
        # the run can be shorter than one status interval: let the periodic status line come
        wait_until(lambda: '"event": "status"' in ingest.log(), 10, "a status line in the log")
    finally:
        assert ingest.stop() == 0

    # --log-format json: every line of the log is one JSON object (the processor child's too)
    lines = [json.loads(line) for line in ingest.log().splitlines()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    statuses = [line for line in lines if line.get("event") == "status"]
    assert statuses and {"received", "stored", "quarantined"} <= set(statuses[-1]["counters"])
    assert f"stored={len(good)} quarantined={len(bad)}" in lines[-1]["message"]  # the last line
    assert any("subscribed to" in line["message"] for line in lines)


@pytest.mark.slow
def test_health_flips_to_503_when_redis_goes_away_and_back(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()
    port = free_port()
    url = f"redis://127.0.0.1:{server.port}"
    ingest = IngestProcess(
        [
            "--redis-url",
            url,
            "--channel",
            "ops:health",
            "--lake",
            str(tmp_path / "lake"),
            "--metrics-port",
            str(port),
            "--unhealthy-after",
            "1",
            "--health-check-interval",
            "0.3",
            "--status-interval",
            "0.5",
        ],
        clean_env(),
        tmp_path,
    ).start()
    try:
        assert healthz(port)[0] == 200
        gap_before = scrape(port)["tasqlake_ingest_gap_seconds_total"]
        server.stop()
        wait_until(lambda: healthz(port)[0] == 503, 15, "503 once Redis is gone")
        _, body = healthz(port)
        assert body["status"] == "unhealthy" and body["subscribed"] is False
        assert "not subscribed to Redis for" in body["reasons"][0]
        m = scrape(port)
        assert m["tasqlake_ingest_subscribed"] == 0
        assert m["tasqlake_ingest_unsubscribed_seconds"] > 1
        server.start()  # same port
        wait_until(lambda: healthz(port)[0] == 200, 30, "200 once Redis is back")
        m = scrape(port)
        assert m["tasqlake_ingest_subscribed"] == 1
        assert m["tasqlake_ingest_reconnects_total"] >= 1
        assert m["tasqlake_ingest_gap_seconds_total"] > gap_before + 1
    finally:
        assert ingest.stop() == 0
        server.stop()


def test_health_is_503_while_commits_fail_and_200_when_they_work_again(tmp_path: Path) -> None:
    channel, lake, port = f"tasqlake-ops:{uuid.uuid4().hex}", tmp_path / "lake", free_port()
    ingest = IngestProcess(
        [
            "--redis-url",
            SHARED_REDIS,
            "--channel",
            channel,
            "--lake",
            str(lake),
            "--flush-interval",
            "0.1",
            "--metrics-port",
            str(port),
        ],
        clean_env(),
        tmp_path,
    ).start()
    try:
        wait_until(lambda: scrape(port)["tasqlake_ingest_commits_total"] >= 1, 10, "gap commit")
        events = lake / "events"
        shutil.rmtree(events, ignore_errors=True)
        events.write_text("not a directory: commits into events/ fail")
        publish(SHARED_REDIS, channel, payloads(seed=82, duration=1))
        wait_until(lambda: healthz(port)[0] == 503, 15, "503 while commits fail")
        _, body = healthz(port)
        assert "committing to the lake fails" in body["reasons"][0]
        m = scrape(port)
        assert m["tasqlake_ingest_commit_failing"] >= 1
        assert m["tasqlake_ingest_commit_failures_total"] >= 1
        assert m["tasqlake_ingest_wal_pending_bytes"] > 0
        events.unlink()
        wait_until(lambda: healthz(port)[0] == 200, 30, "200 once commits work again")
        m = scrape(port)
        assert m["tasqlake_ingest_commit_failing"] == 0
        assert m["tasqlake_ingest_wal_pending_bytes"] == 0
    finally:
        assert ingest.stop() == 0
    assert "cannot commit to the lake" in ingest.log()


def test_metrics_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    import socket
    import subprocess

    from tests.ops.helpers import TASQLAKE

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                TASQLAKE,
                "ingest",
                "--lake",
                str(tmp_path / "lake"),
                "--metrics-port",
                str(port),
                "--redis-url",
                SHARED_REDIS,
                "--channel",
                f"ops:{uuid.uuid4().hex}",
            ],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"tasqlake: error: cannot serve metrics on 127.0.0.1:{port}: Address already in use "
        "(choose another --metrics-port / --metrics-bind)"
    )


def test_before_start_up_only_the_missing_subscription_counts_against_health() -> None:
    """An ingester whose processor has not been started yet is not 'processor gone': during
    start-up (WAL recovery) only the unsubscribed time decides, after unhealthy_after."""
    service = IngestService(Settings.resolve({}, {}))
    assert not service.processor_running() and not service.processor_gone()
    assert health.evaluate(service, 60.0, now=service.started + 1).healthy
    late = health.evaluate(service, 60.0, now=service.started + 120)
    assert late.reasons == ["not subscribed to Redis for 120 s (unhealthy after 60 s)"]
    assert late.http_status == 503
