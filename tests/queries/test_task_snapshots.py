"""Task snapshots: every view over a compacted lake (task state merged from stored per-task
partials) equals the same view over the uncompacted lake (a full replay of the event rows).

Histories come from tests/queries/history.py (retries, permanent failures, cancels, crashes,
clock skew), stretched in time so that they span several hour partitions, stored shuffled in
several commits with duplicated and dropped messages, into two lakes. One is compacted (with or
without the grace period, so superseded snapshots may sit next to their successors), and may
then receive a late file into a compacted partition; the views must agree at instants before,
inside and after the compacted hours, exactly on hour boundaries included.
"""

from __future__ import annotations

import math
import re
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasqlake import queries
from tasqlake.lake.compaction import compact
from tasqlake.lake.layout import SNAPSHOTTED_PREFIX, TASK_SNAPSHOTS_DIR, snapshot_of
from tasqlake.lake.retention import prune
from tasqlake.lake.storage import Lake
from tasqlake.queries.api import STORAGE_VIEWS, view_names
from tasqlake.schemas.errors import StorageError
from tests.queries.helpers import write_events
from tests.queries.history import generate, imperfect

B = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
STRETCH = 40


def _normal(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.9g}")
    if isinstance(value, list):
        return tuple(_normal(v) for v in value)
    return value


def snapshot_of_views(con: Any, at: datetime) -> dict[str, list[tuple[Any, ...]]]:
    queries.set_as_of(con, at)
    out = {}
    for view in view_names():
        if view in STORAGE_VIEWS:
            continue
        rows = con.execute(f"SELECT * FROM {view}").fetchall()
        out[view] = sorted((tuple(_normal(v) for v in row) for row in rows), key=repr)
    return out


def stored_history(seed: int, n_tasks: int, drop: float, duplicate: float) -> list[dict[str, Any]]:
    history = generate(seed, n_tasks, 3)
    stored, _ = imperfect(history, seed, drop=drop, duplicate=duplicate)
    return [{**e, "timestamp": B + (e["timestamp"] - B) * STRETCH} for e in stored]


def fill(lake: Lake, events: list[dict[str, Any]], commits: int) -> None:
    size = max(1, len(events) // commits + 1)
    for n, start in enumerate(range(0, len(events), size)):
        write_events(lake, events[start : start + size], ingester_id=f"ing-{n % 2}")


def compact_all(lake: Lake) -> None:
    """Compact every hour, then delete what that superseded (no grace period)."""
    for _ in range(2):
        compact(lake, timedelta(0), now=B + timedelta(days=1), grace=timedelta(0))


def plan_of(con: Any, sql: str) -> str:
    return "".join(str(r[1]) for r in con.execute(f"EXPLAIN ANALYZE {sql}").fetchall())


#: Each example compares ~25 views on two lakes at up to 8 instants (~20 s: DuckDB binds and
#: plans each view in ~0.2 s); test_chain's property compares them over compacted lakes too.
@settings(max_examples=7, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n_tasks=st.integers(1, 40),
    drop=st.sampled_from([0.0, 0.05]),
    duplicate=st.sampled_from([0.0, 0.2]),
    commits=st.integers(1, 3),
    grace=st.booleans(),
    late=st.booleans(),
    instants=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3),
)
def test_views_over_task_snapshots_equal_a_full_replay(
    seed: int,
    n_tasks: int,
    drop: float,
    duplicate: float,
    commits: int,
    grace: bool,
    late: bool,
    instants: list[float],
) -> None:
    events = stored_history(seed, n_tasks, drop, duplicate)
    first = min(e["timestamp"] for e in events)
    end = max(e["timestamp"] for e in events) + timedelta(minutes=10)
    compact_at = end + timedelta(hours=2)
    with tempfile.TemporaryDirectory() as root:
        replay, snapshotted = Lake(Path(root) / "replay").ensure(), Lake(Path(root) / "snap")
        snapshotted.ensure()
        fill(replay, events, commits)
        fill(snapshotted, events, commits)
        compact(snapshotted, timedelta(0), now=compact_at, grace=timedelta(0))
        if not grace:  # delete what the first run superseded
            compact(snapshotted, timedelta(0), now=compact_at, grace=timedelta(0))
        assert snapshotted.list_files(TASK_SNAPSHOTS_DIR)
        if late:  # a late copy of some events, and the next compaction with its grace period
            late_events = events[: max(1, len(events) // 5)]
            write_events(replay, late_events, ingester_id="late")
            write_events(snapshotted, late_events, ingester_id="late")
            if grace:
                compact(snapshotted, timedelta(0), now=compact_at, grace=timedelta(minutes=10))
        moments = [first + (end - first) * f for f in instants]
        moments += [m.replace(minute=0, second=0, microsecond=0) for m in moments]
        with queries.connect(replay) as want, queries.connect(snapshotted) as got:
            for at in [*moments, end + timedelta(days=1)]:
                expected = snapshot_of_views(want, at)
                actual = snapshot_of_views(got, at)
                for view, rows in expected.items():
                    assert actual[view] == rows, (view, at)


def test_snapshotted_files_of_closed_hours_are_not_read(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    events = stored_history(11, 30, 0.0, 0.0)
    fill(lake, events, 2)
    compact_all(lake)
    event_files = lake.list_files("events")
    assert event_files and all(
        f.rsplit("/", 1)[1].startswith(SNAPSHOTTED_PREFIX) for f in event_files
    )
    assert {snapshot_of(f) for f in event_files} == set(lake.list_files(TASK_SNAPSHOTS_DIR))
    with queries.connect(lake) as con:
        plan = plan_of(con, "SELECT * FROM task_state")
        # the snapshots are read; no event file is (all are covered, all hours are closed)
        assert f"Scanning Files: 0/{len(event_files)}" in plan
        assert con.execute("SELECT count(*) FROM unsnapshotted_log").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM task_state").fetchone()[0] > 0


def test_as_of_inside_the_history_reads_only_the_hours_it_needs(tmp_path: Path) -> None:
    """As of T: snapshots of the hours closed at T, the rows of T's own hour, nothing later."""
    lake = Lake(tmp_path / "lake").ensure()
    events = stored_history(11, 30, 0.0, 0.0)
    fill(lake, events, 1)
    compact_all(lake)
    hours = sorted({e["timestamp"].replace(minute=0, second=0, microsecond=0) for e in events})
    assert len(hours) >= 3
    at = hours[1] + timedelta(minutes=30)
    with queries.connect(lake, as_of=at) as con:
        plan = plan_of(con, "SELECT * FROM task_state")
    scans = sorted(int(n) for n in re.findall(r"Scanning Files: (\d+)/", plan))
    assert scans == [1, 1]  # hour 0's snapshot; hour 1's events (T's hour)


def test_legacy_compacted_partitions_get_a_snapshot(tmp_path: Path) -> None:
    """A partition compacted before snapshots existed (compacted-… files) is read as rows, and
    the next compaction run gives it a snapshot, the views unchanged."""
    lake = Lake(tmp_path / "lake").ensure()
    events = stored_history(5, 20, 0.0, 0.0)
    fill(lake, events, 1)
    for rel in lake.list_files("events"):  # what an earlier version's compaction left
        directory = rel.rsplit("/", 1)[0]
        lake.path(rel).rename(lake.path(f"{directory}/compacted-000001-0123abcd.parquet"))
    at = max(e["timestamp"] for e in events) + timedelta(minutes=1)
    with queries.connect(lake) as con:
        before = snapshot_of_views(con, at)
    report = compact(lake, timedelta(0), now=B + timedelta(days=1), grace=timedelta(0))
    assert report.partitions and lake.list_files(TASK_SNAPSHOTS_DIR)
    compact(lake, timedelta(0), now=B + timedelta(days=1), grace=timedelta(0))
    with queries.connect(lake) as con:
        assert snapshot_of_views(con, at) == before


@pytest.mark.parametrize("doomed", ["events", TASK_SNAPSHOTS_DIR])
def test_prune_removes_snapshots_with_their_events(tmp_path: Path, doomed: str) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    fill(lake, stored_history(3, 20, 0.0, 0.0), 1)
    compact(lake, timedelta(0), now=B + timedelta(days=1), grace=timedelta(0))
    prune(lake, timedelta(0), now=B + timedelta(days=1))
    assert lake.list_files(doomed) == []
    with queries.connect(lake) as con:
        assert con.execute("SELECT count(*) FROM task_state").fetchone() == (0,)


def test_task_views_never_fail_nor_change_while_compaction_runs(tmp_path: Path) -> None:
    """A reader of queue_stats/tasks in a loop while compaction writes snapshots, then outputs,
    then supersedes them (late files in between): every answer equals the first."""
    lake = Lake(tmp_path / "lake").ensure()
    events = stored_history(17, 40, 0.0, 0.2)
    fill(lake, events, 3)
    at = max(e["timestamp"] for e in events) + timedelta(minutes=1)
    sql = (
        "SELECT (SELECT sum(hash(q)) FROM queue_stats AS q), (SELECT sum(hash(t)) FROM tasks AS t)"
    )
    with queries.connect(lake, as_of=at) as con:
        expected = con.execute(sql).fetchone()
    answers: list[Any] = []
    failures: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        with queries.connect(lake, as_of=at) as con:
            while not stop.is_set():
                try:
                    answers.append(con.execute(sql).fetchone())
                except Exception as error:  # any failure is the finding
                    failures.append(repr(error))

    thread = threading.Thread(target=reader)
    thread.start()

    def answered_again() -> None:  # at least one whole answer since now
        seen = len(answers) + 1
        deadline = time.monotonic() + 30
        while len(answers) <= seen and not failures and time.monotonic() < deadline:
            time.sleep(0.01)

    try:
        for step in range(3):
            answered_again()
            late = events[step::7]  # copies of stored events, into closed (compacted) hours
            write_events(lake, late, ingester_id=f"late-{step}")
            compact(lake, timedelta(0), now=B + timedelta(days=1))
        answered_again()
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert len(answers) > 3 and set(answers) == {expected}


def test_a_crash_between_snapshot_and_outputs_changes_no_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot is committed, the compacted file is not: the snapshot's rows repeat events
    still read from the inputs, and the next run converges."""
    lake = Lake(tmp_path / "lake").ensure()
    events = stored_history(23, 30, 0.05, 0.2)
    fill(lake, events, 2)
    at = max(e["timestamp"] for e in events) + timedelta(minutes=1)
    with queries.connect(lake) as con:
        before = snapshot_of_views(con, at)
    real_commit = Lake.commit_parquet

    def crash_on_outputs(self: Lake, relpath: str, table: Any, **options: object) -> int:
        if SNAPSHOTTED_PREFIX in relpath:
            raise StorageError("simulated crash before the compacted file")
        return real_commit(self, relpath, table, **options)

    monkeypatch.setattr(Lake, "commit_parquet", crash_on_outputs)
    with pytest.raises(StorageError, match="simulated crash"):
        compact(lake, timedelta(0), now=B + timedelta(days=1), grace=timedelta(0))
    monkeypatch.undo()
    assert lake.list_files(TASK_SNAPSHOTS_DIR)  # the orphan snapshot
    with queries.connect(lake) as con:
        assert snapshot_of_views(con, at) == before
    compact_all(lake)
    with queries.connect(lake) as con:
        assert snapshot_of_views(con, at) == before


def test_a_lake_directory_named_like_a_compacted_file_loses_nothing(tmp_path: Path) -> None:
    """Files are told apart by their own name, never by a directory above them."""
    lake = Lake(tmp_path / "snapshotted-000001-0123abcd" / "lake").ensure()
    events = stored_history(29, 20, 0.0, 0.0)
    fill(lake, events, 2)  # not compacted: every file must be read as rows
    with queries.connect(lake) as con:
        tasks = con.execute("SELECT count(*) FROM task_state").fetchone()
        assert tasks == (len({e["task_id"] for e in events if e.get("task_id")}),)
        assert con.execute("SELECT count(*) FROM unsnapshotted_log").fetchone() == (
            con.execute("SELECT count(*) FROM event_log").fetchone()
        )
