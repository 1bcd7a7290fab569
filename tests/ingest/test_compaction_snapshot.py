"""Snapshot prototype: snapshot + events after the boundary equals a full replay (queue_stats).

Histories come from the queries tests' generator (tests/queries/history.py: retries, permanent
failures, cancels, crashes, ms clock skew), stretched ten-fold in time around 11:00 so that they
span ~40 minutes across the snapshot boundary B = 11:00, stored shuffled in several commits with
duplicated and dropped messages. For random instants T >= B the snapshot query must equal the
``queue_stats`` view (full replay) on every counter it computes.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasqlake import queries
from tasqlake.lake.compaction import compact
from tasqlake.lake.compaction_snapshot import (
    build_snapshot,
    fast_queue_stats,
    is_current,
    list_snapshots,
)
from tasqlake.lake.storage import Lake
from tasqlake.schemas.errors import StorageError
from tests.queries.helpers import write_events
from tests.queries.history import generate, imperfect

B = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
MARGIN = timedelta(minutes=5)
STRETCH = 10
COLUMNS = (
    "depth",
    "processing",
    "completed_total",
    "failed_total",
    "avg_duration_ms",
    "throughput_per_minute",
    "retried_total",
    "cancelled_total",
    "oldest_pending_since",
)


def stretched(event: dict[str, Any]) -> dict[str, Any]:
    moment: datetime = event["timestamp"]
    return {**event, "timestamp": B + (moment - B) * STRETCH}


def full_replay(con: Any, at: datetime) -> dict[str, tuple[Any, ...]]:
    queries.set_as_of(con, at)
    rows = con.execute(
        f"""SELECT queue, {", ".join(COLUMNS[:-1])},
                   CAST(as_of() AS TIMESTAMPTZ) - to_microseconds(
                       CAST(oldest_pending_age_s * 1e6 AS BIGINT))
            FROM queue_stats"""
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def from_snapshot(lake: Lake, con: Any, snapshot: Any, at: datetime) -> dict[str, tuple[Any, ...]]:
    rel = fast_queue_stats(lake, con, snapshot, at)
    rows = rel.select(", ".join(("queue", *COLUMNS))).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def same(a: dict[str, tuple[Any, ...]], b: dict[str, tuple[Any, ...]]) -> None:
    assert a.keys() == b.keys()
    for queue, left in a.items():
        right = b[queue]
        for name, x, y in zip(COLUMNS, left, right, strict=True):
            if isinstance(x, float) or isinstance(y, float):
                assert x == pytest.approx(y, rel=1e-9, abs=1e-6), (queue, name, x, y)
            elif name == "oldest_pending_since" and x is not None and y is not None:
                assert abs((x - y).total_seconds()) < 1e-5, (queue, name, x, y)
            else:
                assert x == y, (queue, name, x, y)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n_tasks=st.integers(1, 40),
    n_workers=st.integers(1, 4),
    drop=st.sampled_from([0.0, 0.03, 0.1]),
    duplicate=st.sampled_from([0.0, 0.05, 0.2]),
    commits=st.integers(1, 4),
    compacted=st.booleans(),
    instants=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3),
)
def test_snapshot_plus_tail_equals_full_replay(
    seed: int,
    n_tasks: int,
    n_workers: int,
    drop: float,
    duplicate: float,
    commits: int,
    compacted: bool,
    instants: list[float],
) -> None:
    history = generate(seed, n_tasks, n_workers)
    stored, _ = imperfect(history, seed, drop=drop, duplicate=duplicate)
    stored = [stretched(e) for e in stored]
    end = max(e["timestamp"] for e in stored) + timedelta(minutes=6)
    with tempfile.TemporaryDirectory() as root:
        lake = Lake(root).ensure()
        size = max(1, len(stored) // commits + 1)
        for n, start in enumerate(range(0, len(stored), size)):
            write_events(lake, stored[start : start + size], ingester_id=f"ing-{n % 2}")
        if compacted:  # snapshot built over compacted files, superseded inputs still present
            compact(lake, timedelta(0), now=B)
        with queries.connect(lake) as con:
            snapshot = build_snapshot(lake, con, B, MARGIN)
            assert is_current(lake, snapshot)
            for fraction in instants:
                at = B + (end - B) * fraction
                same(from_snapshot(lake, con, snapshot, at), full_replay(con, at))


B2 = B + timedelta(hours=1)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n_tasks=st.integers(1, 40),
    duplicate=st.sampled_from([0.0, 0.2]),
    compacted=st.booleans(),
    instants=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3),
)
def test_incremental_snapshot_equals_full_build_and_full_replay(
    seed: int, n_tasks: int, duplicate: float, compacted: bool, instants: list[float]
) -> None:
    """Stretched 30-fold the histories span ~10:00-13:00: a snapshot at 11:00, then one at
    12:00 built from it and only the 11:00 partition, must answer like a full replay."""
    history = generate(seed, n_tasks, 3)
    stored, _ = imperfect(history, seed, drop=0.05, duplicate=duplicate)
    stored = [{**e, "timestamp": B + (e["timestamp"] - B) * 30} for e in stored]
    end = max(e["timestamp"] for e in stored) + timedelta(minutes=6)
    with tempfile.TemporaryDirectory() as root:
        lake = Lake(root).ensure()
        half = len(stored) // 2
        write_events(lake, stored[:half], ingester_id="ing-0")
        write_events(lake, stored[half:], ingester_id="ing-1")
        with queries.connect(lake) as con:
            first = build_snapshot(lake, con, B, MARGIN)
            if compacted:  # compaction between snapshots: the base stays current
                compact(lake, timedelta(0), now=B2, grace=timedelta(0))
                compact(lake, timedelta(0), now=B2, grace=timedelta(0))
                (first,) = [s for s in list_snapshots(lake) if s.boundary == B]
            assert is_current(lake, first)
            second = build_snapshot(lake, con, B2, MARGIN, base=first)
            meta = json.loads(lake.path(f"{second.directory}/snapshot.json").read_bytes())
            assert meta["incremental_from"] == B.isoformat()
            for fraction in instants:
                at = B2 + (max(end, B2) - B2) * fraction
                same(from_snapshot(lake, con, second, at), full_replay(con, at))


def test_snapshot_refuses_instants_before_its_boundary_and_detects_late_files(
    tmp_path: Path,
) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    history = generate(7, 20, 2)
    events = [stretched(e) for e in history.events]
    write_events(lake, events)
    with queries.connect(lake) as con:
        snapshot = build_snapshot(lake, con, B, MARGIN)
        # Both parts are exercised: tasks settled before B - margin, and tasks still open.
        settled = lake.read_table(snapshot.settled_queues)
        finished = ("completed_total", "failed_total", "cancelled_total")
        assert sum(sum(settled[c].to_pylist()) for c in finished) > 0
        assert lake.read_table(snapshot.open_tasks).num_rows > 0
        with pytest.raises(StorageError, match="full replay"):
            fast_queue_stats(lake, con, snapshot, B - timedelta(seconds=1))
    early = [e for e in events if e["timestamp"] < B][:3]
    write_events(lake, early, ingester_id="late")
    assert not is_current(lake, snapshot)
