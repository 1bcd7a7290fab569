"""A real AsyncTasQ 1.7.0 capture (tests/data/real): driver_queue_stats reproduces the driver's
numbers, queue_stats and the worker views match the scenario's ground truth."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tasqlake import queries
from tasqlake.lake.storage import Lake
from tasqlake.schemas.batch import EventColumns
from tasqlake.schemas.decode import decode
from tests.queries.compare import fetch

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def payloads(path: Path) -> list[bytes]:
    data, out, offset = path.read_bytes(), [], 0
    while offset < len(data):
        (size,) = struct.unpack_from(">I", data, offset)
        out.append(data[offset + 4 : offset + 4 + size])
        offset += 4 + size
    return out


@pytest.fixture
def real_lake(lake: Lake) -> Lake:
    if not (REAL / "stream.msgpack").exists():
        pytest.skip("no recorded capture in tests/data/real")
    columns = EventColumns()
    received = int(datetime.now(UTC).timestamp() * 1_000_000)
    for raw in payloads(REAL / "stream.msgpack"):
        columns.append(raw, decode(raw, received), received, "asynctasq:events", "capture")
    for partition, table in columns.to_partitions():
        lake.commit_parquet(f"events/{partition.path}/capture.parquet", table)
    return lake


def snapshot() -> datetime:
    truth = json.loads((REAL / "truth.json").read_text())
    return datetime.fromtimestamp(truth["snapshot_at"], UTC)


def test_driver_queue_stats_equals_the_real_driver(real_lake: Lake) -> None:
    driver: dict[str, Any] = json.loads((REAL / "driver_stats.json").read_text())
    with queries.connect(real_lake, as_of=snapshot()) as con:
        ours = {r["queue"]: r for r in fetch(con, "SELECT * FROM driver_queue_stats")}
    assert sorted(ours) == [q["name"] for q in driver["get_all_queue_stats"]]
    for name, theirs in driver["get_queue_stats"].items():
        delayed = len(driver["redis_contents"][name]["delayed"])  # the log cannot see the zset
        row = ours[name]
        assert row["depth"] == theirs["depth"] + delayed, name
        for field in ("processing", "completed_total", "failed_total"):
            assert row[field] == theirs[field], (name, field)
        assert row["avg_duration_ms"] is None and row["throughput_per_minute"] is None


def test_queue_stats_and_workers_match_the_ground_truth(real_lake: Lake) -> None:
    truth = json.loads((REAL / "truth.json").read_text())
    with queries.connect(real_lake, as_of=snapshot()) as con:
        stats = {r["queue"]: r for r in fetch(con, "SELECT * FROM queue_stats")}
        workers = {r["worker_id"]: r for r in fetch(con, "SELECT * FROM worker_stats")}
        sessions = {r["worker_id"]: r for r in fetch(con, "SELECT * FROM worker_sessions")}
    for name, q in truth["queues"].items():
        row = stats[name]
        assert row["completed_total"] == len(q["completed"]), name
        assert row["failed_total"] == len(q["failed"]), name
        assert row["depth"] == len(q["pending"]), name
        assert row["processing"] == len(q.get("running_lost", [])), name
    for w in truth["workers"]:
        expected = {"alive": {"active", "idle"}, "offline": {"offline"}, "lost": {"lost"}}
        assert workers[w["worker_id"]]["status"] in expected[w["final_state"]], w["role"]
        if w["final_state"] == "lost":
            assert sessions[w["worker_id"]]["orphaned_tasks"] == len(w["in_flight_at_signal"])
