"""A window of queue_depth_series (since/until) gives exactly the rows of the whole series in
that window (and so does one of throughput_series, which needs no state): the state entering it
comes from the tasks not settled at the snapshot chain link before since (its carry, then rows;
every row without a chain), the stored minutes of the chain sum the buckets up to its head, and
only the events after that are ordered.

Histories from tests/queries/history.py (retries, failures, cancels, crashes, skew, duplicated
and dropped messages) span several hour partitions; a lake is compacted or not, and may receive
a late file into a compacted hour; windows start and end inside, between and outside the
history, on bucket and hour boundaries, at instants T inside and after it.
"""

from __future__ import annotations

import re
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasqlake import queries
from tasqlake.lake.compaction import compact
from tasqlake.lake.storage import Lake
from tests.queries.helpers import write_events
from tests.queries.test_task_snapshots import fill, stored_history

WIDTHS = ["INTERVAL 1 MINUTE", "INTERVAL 10 MINUTE", "INTERVAL 1 HOUR"]

WHOLE = """
SELECT * FROM queue_depth_series({width})
WHERE ($since IS NULL OR bucket_start >= time_bucket({width}, CAST($since AS TIMESTAMPTZ)))
  AND ($until IS NULL OR bucket_start <= time_bucket({width}, CAST($until AS TIMESTAMPTZ)))
"""
WINDOW = """
SELECT * FROM queue_depth_series(
    {width}, since := CAST($since AS TIMESTAMPTZ), until := CAST($until AS TIMESTAMPTZ)
)
"""
WHOLE_THROUGHPUT = WHOLE.replace("queue_depth_series", "throughput_series")
WINDOW_THROUGHPUT = WINDOW.replace("queue_depth_series", "throughput_series")


def rows(con: Any, sql: str, since: datetime | None, until: datetime | None) -> list[Any]:
    return sorted(con.execute(sql, {"since": since, "until": until}).fetchall(), key=repr)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    n_tasks=st.integers(1, 30),
    compacted=st.booleans(),
    late=st.booleans(),
    width=st.sampled_from(WIDTHS),
    bounds=st.lists(st.one_of(st.none(), st.floats(-0.2, 1.2)), min_size=2, max_size=2),
    on_hour=st.booleans(),
    as_of=st.one_of(st.none(), st.floats(0.3, 1.0)),
)
def test_a_window_equals_the_whole_series_in_it(
    seed: int,
    n_tasks: int,
    compacted: bool,
    late: bool,
    width: str,
    bounds: list[float | None],
    on_hour: bool,
    as_of: float | None,
) -> None:
    events = stored_history(seed, n_tasks, 0.05, 0.2)
    first = min(e["timestamp"] for e in events)
    end = max(e["timestamp"] for e in events)

    def instant(f: float | None) -> datetime | None:
        if f is None:
            return None
        moment = first + (end - first) * f
        return moment.replace(minute=0, second=0, microsecond=0) if on_hour else moment

    since, until = instant(bounds[0]), instant(bounds[1])
    with tempfile.TemporaryDirectory() as root:
        lake = Lake(Path(root) / "lake").ensure()
        fill(lake, events, 2)
        if compacted:
            compact(lake, timedelta(0), now=end + timedelta(hours=2), grace=timedelta(0))
        if late:
            write_events(lake, events[: max(1, len(events) // 4)], ingester_id="late")
        with queries.connect(lake, as_of=instant(as_of)) as con:
            whole = rows(con, WHOLE.format(width=width), since, until)
            window = rows(con, WINDOW.format(width=width), since, until)
            throughput = rows(con, WHOLE_THROUGHPUT.format(width=width), since, until)
            windowed_throughput = rows(con, WINDOW_THROUGHPUT.format(width=width), since, until)
    assert window == whole, (since, until, width)
    assert windowed_throughput == throughput, (since, until, width)


def test_a_recent_window_reads_no_event_file_of_the_hours_before_it(tmp_path: Path) -> None:
    """On a compacted lake, the state entering the window comes from the snapshot chain (the
    link before it, here invalid from the late file's hour on): of the event files, only those
    of the window's hours are scanned (all of one day here)."""
    lake = Lake(tmp_path / "lake").ensure()
    events = stored_history(11, 30, 0.0, 0.0)
    fill(lake, events, 1)
    end = max(e["timestamp"] for e in events)
    last_task_event = max(e["timestamp"] for e in events if e["event_type"].startswith("task_"))
    for _ in range(2):  # the second run deletes what the first superseded
        compact(lake, timedelta(0), now=end + timedelta(hours=2), grace=timedelta(0))
    since = last_task_event.replace(minute=0, second=0, microsecond=0)
    # a late file into the window's hour: event files now outnumber task snapshots
    write_events(lake, [e for e in events if e["timestamp"] >= since][:3], ingester_id="late")
    event_files = lake.list_files("events")
    hours = sorted({f.split("/")[1:3][1] for f in event_files})
    assert len(hours) >= 3 and len(event_files) > len(lake.list_files("task_snapshots")), hours
    in_window = [f for f in event_files if f.split("/")[2] >= f"hour={since:%H}"]
    assert len(in_window) < len(event_files)
    with queries.connect(lake) as con:
        plan = "".join(
            str(r[1])
            for r in con.execute(
                "EXPLAIN ANALYZE SELECT sum(depth), count(*) FROM "
                "queue_depth_series(INTERVAL 1 MINUTE, since := CAST($since AS TIMESTAMPTZ))",
                {"since": since},
            ).fetchall()
        )
    scans = [
        (int(read), int(total)) for read, total in re.findall(r"Scanning Files: (\d+)/(\d+)", plan)
    ]
    event_scans = [read for read, total in scans if total == len(event_files)]
    assert event_scans and all(read <= len(in_window) for read in event_scans), scans
    with queries.connect(lake) as con:
        depth = con.execute(
            "SELECT count(*) FROM queue_depth_series(INTERVAL 1 MINUTE, "
            "since := CAST($since AS TIMESTAMPTZ))",
            {"since": since},
        ).fetchone()
    assert depth is not None and depth[0] > 0  # the window is not empty
