"""The snapshot chain: every view computed from the last valid link plus the rows after it
equals the full replay of the uncompacted lake, whatever the chain's state.

Histories (tests/queries/history.py, stretched over several hours, stored shuffled with
duplicates and losses) go into two lakes; one is compacted at random instants, with or without a
grace period, with late files landing in compacted hours, with a crash between any two writes of
a link, with parts deleted or damaged. Every view (helpers over storage excluded) must equal the
other lake's at random instants. Logs that break the lateness bound must show every violation in
late_events and be exact again after the next compaction.
"""

from __future__ import annotations

import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasqlake import queries
from tasqlake.derived_metrics import DerivedCollector
from tasqlake.lake import layout
from tasqlake.lake.compaction import compact
from tasqlake.lake.storage import Lake
from tasqlake.schemas.errors import StorageError
from tests.queries.helpers import write_events
from tests.queries.history import task_event
from tests.queries.test_task_snapshots import (
    B,
    compact_all,
    fill,
    plan_of,
    snapshot_of_views,
    stored_history,
)

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

DAY = timedelta(days=1)


def head_end(con: Any) -> Any:
    row = con.execute("SELECT hour_end FROM chain_head").fetchall()
    return row[0][0] if row else None


def assert_views_equal(
    full: Lake, chained: Lake, instants: list[Any], *, besides: frozenset[str] = frozenset()
) -> None:
    """Every view but ``besides`` gives the same rows over both lakes at each instant."""
    with queries.connect(full) as a, queries.connect(chained) as b:
        for at in instants:
            expected, got = snapshot_of_views(a, at), snapshot_of_views(b, at)
            for view, rows in expected.items():
                if view not in besides:
                    assert got[view] == rows, f"{view} differs as of {at}"


def instants_of(events: list[dict[str, Any]], fractions: list[float]) -> list[Any]:
    lo = min(e["timestamp"] for e in events)
    hi = max(e["timestamp"] for e in events) + timedelta(hours=2)
    return [lo + (hi - lo) * f for f in fractions]


class Crash(StorageError):
    pass


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 10_000),
    n_tasks=st.integers(1, 40),
    drop=st.sampled_from([0.0, 0.05]),
    duplicate=st.sampled_from([0.0, 0.1]),
    compactions=st.lists(st.floats(0.2, 1.6), min_size=1, max_size=3),
    grace=st.booleans(),
    late=st.booleans(),
    crash_after=st.none() | st.integers(0, 12),
    instants=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3),
)
def test_views_over_the_chain_equal_a_full_replay(
    seed: int,
    n_tasks: int,
    drop: float,
    duplicate: float,
    compactions: list[float],
    grace: bool,
    late: bool,
    crash_after: int | None,
    instants: list[float],
) -> None:
    events = stored_history(seed, n_tasks, drop, duplicate)
    with tempfile.TemporaryDirectory() as tmp:
        full, chained = Lake(Path(tmp, "full")).ensure(), Lake(Path(tmp, "chained")).ensure()
        fill(full, events, 3)
        fill(chained, events, 3)
        lo = min(e["timestamp"] for e in events)
        hi = max(e["timestamp"] for e in events)
        for fraction in sorted(compactions):  # compaction at random points of the history
            at = lo + (hi - lo) * fraction
            wait = timedelta(minutes=10) if grace else timedelta(0)
            compact(chained, timedelta(0), now=at, grace=wait)
        if late:  # a copy of some events lands in compacted hours (a WAL replayed late)
            write_events(chained, events[::5], ingester_id="late")
            write_events(full, events[::5], ingester_id="late")
            assert_views_equal(full, chained, instants_of(events, instants))
        if crash_after is not None:  # a crash between two writes of the chain
            real = Lake.commit_parquet
            writes = 0

            def crashing(self: Lake, relpath: str, table: Any, **options: Any) -> int:
                nonlocal writes
                if relpath.startswith(layout.CHAIN_DIR):
                    writes += 1
                    if writes > crash_after:
                        raise Crash("simulated crash")
                return real(self, relpath, table, **options)

            Lake.commit_parquet = crashing  # type: ignore[method-assign]
            try:
                compact(chained, timedelta(0), now=hi + DAY, grace=timedelta(0))
            except Crash:
                pass
            finally:
                Lake.commit_parquet = real  # type: ignore[method-assign]
            assert_views_equal(full, chained, instants_of(events, instants))
        compact_all(chained)
        assert_views_equal(full, chained, instants_of(events, [*instants, 1.0]))


def test_now_reads_one_link_and_the_rows_after_it(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    events = stored_history(11, 40, 0.0, 0.0)
    fill(lake, events, 2)
    compact_all(lake)
    links = lake.list_files(layout.chain_dir("links"))
    assert len(links) >= 3
    with queries.connect(lake) as con:
        plan = plan_of(con, "SELECT * FROM queue_stats")
        assert head_end(con) is not None
        assert con.execute("SELECT count(*) FROM chain_tail").fetchall() == [(0,)]
    # every file read is one of the head link's parts; no event file (all hours are linked)
    read = re.findall(r"Total Files Read: (\d+)", plan)
    assert read and max(int(n) for n in read) <= 1
    assert not re.findall(r"events/date=[0-9-]+/hour=\d+/[\w.-]+\.parquet", plan)


def assert_as_of_reads_one_link_and_one_hour(lake: Lake) -> None:
    """On ``lake`` (empty, local or S3), an as-of read inside the history opens the link of the
    hour before T's and T's hour alone, one file per scan."""
    events = stored_history(11, 40, 0.0, 0.0)
    fill(lake, events, 1)
    compact_all(lake)
    hours = sorted({e["timestamp"].replace(minute=0, second=0, microsecond=0) for e in events})
    assert len(hours) >= 3
    at = hours[1] + timedelta(minutes=30)
    with queries.connect(lake, as_of=at) as con:
        assert head_end(con) == hours[1]  # the link of the hour before T's
        plan = plan_of(con, "SELECT * FROM queue_stats")
    event_hours = set(re.findall(r"events/date=[0-9-]+/hour=(\d+)/[\w.-]+\.parquet", plan))
    chain_hours = set(re.findall(r"chain/\w+/date=[0-9-]+/hour=(\d+)/[\w.-]+\.parquet", plan))
    assert event_hours == {f"{hours[1].hour:02d}"}
    assert chain_hours == {f"{hours[0].hour:02d}"}
    read = [int(n) for n in re.findall(r"Total Files Read: (\d+)", plan)]
    assert read and max(read) <= 1  # each scan opened one file at most


def test_as_of_inside_the_history_reads_one_link_and_one_hour(tmp_path: Path) -> None:
    assert_as_of_reads_one_link_and_one_hour(Lake(tmp_path / "lake").ensure())


def test_a_late_file_makes_readers_fall_back_and_the_next_compaction_repairs(
    tmp_path: Path,
) -> None:
    full, lake = Lake(tmp_path / "full").ensure(), Lake(tmp_path / "lake").ensure()
    events = stored_history(5, 40, 0.0, 0.0)
    fill(full, events, 2)
    fill(lake, events, 2)
    compact_all(lake)
    with queries.connect(lake) as con:
        last = head_end(con)
    first_hour = min(e["timestamp"] for e in events).replace(minute=0, second=0, microsecond=0)
    late = [e for e in events if e["timestamp"] < first_hour + timedelta(hours=1)][:3]
    write_events(lake, late, ingester_id="late")
    write_events(full, late, ingester_id="late")
    with queries.connect(lake) as con:
        assert head_end(con) is None  # the first hour's link no longer holds: full replay
        links = con.execute("SELECT bool_or(valid) FROM chain_links").fetchall()
        assert links == [(False,)]
    assert_views_equal(full, lake, instants_of(events, [0.3, 0.7, 1.0]))
    report = compact(lake, timedelta(0), now=B + DAY, grace=timedelta(minutes=10))
    assert report.chain.invalid_from is not None and not report.chain.links
    compact_all(lake)  # after the grace period: the hour is clean again, the chain rebuilt
    with queries.connect(lake) as con:
        assert head_end(con) == last
    assert_views_equal(full, lake, instants_of(events, [0.3, 0.7, 1.0]))


@pytest.mark.parametrize("damage", ["delete", "corrupt"])
def test_a_deleted_or_damaged_part_is_never_trusted_and_is_rebuilt(
    tmp_path: Path, damage: str
) -> None:
    full, lake = Lake(tmp_path / "full").ensure(), Lake(tmp_path / "lake").ensure()
    events = stored_history(9, 40, 0.0, 0.0)
    fill(full, events, 2)
    fill(lake, events, 2)
    compact_all(lake)
    with queries.connect(lake) as con:
        last = head_end(con)
    carries = lake.list_files(layout.chain_dir("carry"))
    victim = carries[-1] if damage == "corrupt" else carries[1]
    if damage == "delete":
        lake.delete(victim)
        with queries.connect(lake) as con:
            assert head_end(con) is not None and head_end(con) < last  # before the hole
        assert_views_equal(full, lake, instants_of(events, [0.5, 1.0]))
    else:
        lake.commit_bytes(victim, b"not parquet")
    report = compact(lake, timedelta(0), now=B + DAY, grace=timedelta(0))
    assert report.chain.links
    with queries.connect(lake) as con:
        assert head_end(con) == last
    assert_views_equal(full, lake, instants_of(events, [0.5, 1.0]))


def _late_history() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Tasks over four hours, and one event stamped 3 h after its task completed."""
    events = []
    start = B.replace(hour=9, minute=0)
    for n in range(40):
        at = start + timedelta(minutes=6 * n)
        task = f"00000000-0000-4000-8000-{n:012d}"
        events += [
            task_event("task_enqueued", task, at),
            task_event("task_started", task, at + timedelta(seconds=5), worker_id="w-1"),
            task_event(
                "task_completed", task, at + timedelta(seconds=9), worker_id="w-1", duration_ms=4000
            ),
        ]
    first = "00000000-0000-4000-8000-000000000000"
    late = task_event(
        "task_failed",
        first,
        start + timedelta(hours=3, minutes=30),
        attempt=2,
        worker_id="w-2",
        error="ValueError: too late",
    )
    return events, late


def test_an_event_later_than_the_bound_is_reported_and_corrected(tmp_path: Path) -> None:
    full, lake = Lake(tmp_path / "full").ensure(), Lake(tmp_path / "lake").ensure()
    events, late = _late_history()
    for target in (full, lake):
        write_events(target, events)
    compact_all(lake)
    write_events(full, [late], ingester_id="late")
    write_events(lake, [late], ingester_id="late")
    compact_all(lake)
    with queries.connect(lake) as con:
        rows = con.execute("SELECT task_id, event_type, late_by_s FROM late_events").fetchall()
        assert rows == [(late["task_id"], "task_failed", pytest.approx(3 * 3600 + 30 * 60 - 9))]
    # the chain found the violation (the uncompacted lake has no chain, so no late_events)
    assert_views_equal(
        full,
        lake,
        instants_of([*events, late], [0.5, 0.9, 1.0]),
        besides=frozenset({"late_events"}),
    )


def test_late_events_are_a_gauge_of_the_derived_metrics(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake").ensure()
    events, late = _late_history()
    write_events(lake, events)
    compact_all(lake)
    collector = DerivedCollector(str(lake.root), cache_seconds=0)
    try:
        assert collector.sample().late_events == 0
        write_events(lake, [late], ingester_id="late")
        compact_all(lake)
        sample = collector.sample()
        assert sample.error is None and sample.late_events == 1
        families = {f.name: f for f in collector.collect()}
        assert families["tasqlake_late_events"].samples[0].value == 1
    finally:
        collector.close()


def test_the_allowed_lateness_decides_what_is_late(tmp_path: Path) -> None:
    """With a bound of 4 h the same event is within it: nothing is reported, all is exact."""
    full, lake = Lake(tmp_path / "full").ensure(), Lake(tmp_path / "lake").ensure()
    events, late = _late_history()
    for target in (full, lake):
        write_events(target, [*events, late])
    for _ in range(2):
        compact(
            lake, timedelta(0), now=B + DAY, grace=timedelta(0), allowed_lateness=timedelta(hours=4)
        )
    with queries.connect(lake) as con:
        assert con.execute("SELECT count(*) FROM late_events").fetchall() == [(0,)]
        assert head_end(con) is not None
    assert_views_equal(full, lake, instants_of([*events, late], [0.5, 1.0]))
