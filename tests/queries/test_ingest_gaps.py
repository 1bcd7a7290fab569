"""``ingest_gaps``, ``covered(t)``, ``coverage_complete(a, b)`` and the buckets' ``complete`` flag
(issue 5, promise 3): hand-written cases by name, a property test against the plain-Python
oracle, and real ingesters on a real Redis.

Gap records are stored through the ingester's own write path
(:class:`tasqlake.ingest.processing.gaps.GapColumns`
-> :func:`tasqlake.ingest.processing.committer.commit_tables`), as the processor commits them.
"""

from __future__ import annotations

import itertools
import signal
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasqlake import queries
from tasqlake.ingest.processing import committer
from tasqlake.ingest.processing.gaps import Gap, GapColumns
from tasqlake.lake.storage import Lake
from tests.queries import oracle
from tests.queries.compare import assert_rows_equal, fetch
from tests.queries.helpers import write_events
from tests.queries.history import generate, imperfect, task_event
from tests.queries.oracle import GapRecord
from tests.queries.test_semantics import T0, at
from tests.redis_needed import no_redis

_SEQUENCE = itertools.count(1)


def us(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def write_gaps(lake: Lake, records: Iterable[GapRecord]) -> None:
    """One commit per ingester, as its processor would make it."""
    by_ingester: dict[str, GapColumns] = {}
    for r in records:
        columns = by_ingester.setdefault(r.ingester_id, GapColumns(r.ingester_id))
        columns.append(Gap(us(r.start), us(r.end), r.reason, list(r.channels)))
    for ingester_id, columns in by_ingester.items():
        parts = columns.to_partitions()
        committer.commit_tables(lake, committer.GAPS, parts, ingester_id, next(_SEQUENCE))


def gap(ingester: str, start: float, end: float, reason: str = "start-up") -> GapRecord:
    return GapRecord(ingester, at(start), at(end), reason)


def gaps_of(lake: Lake, as_of: datetime | None) -> list[tuple[Any, ...]]:
    with queries.connect(lake, as_of=as_of) as con:
        return con.execute(
            "SELECT gap_start, gap_end, duration_s, ingesters, reasons FROM ingest_gaps"
        ).fetchall()


def covered(lake: Lake, as_of: datetime | None, *seconds: float) -> list[bool]:
    with queries.connect(lake, as_of=as_of) as con:
        return [
            con.execute("SELECT covered(CAST($1 AS TIMESTAMPTZ))", [at(s)]).fetchall()[0][0]
            for s in seconds
        ]


# --- by name ----------------------------------------------------------------------------------
def test_a_lake_without_gap_records_has_no_gaps_and_every_instant_is_covered(lake: Lake) -> None:
    assert not lake.exists("gaps")
    assert gaps_of(lake, at(100)) == [] and covered(lake, at(100), 0, 50) == [True, True]
    lake.makedirs("gaps/date=2026-11-29/hour=12")  # gaps/ present, but empty
    assert gaps_of(lake, at(100)) == [] and covered(lake, None, 0) == [True]
    with queries.connect(lake) as con:
        described = {row[0]: row[1] for row in con.execute("DESCRIBE stored_gaps").fetchall()}
    assert described["gap_start"] == "TIMESTAMP WITH TIME ZONE"
    assert described["channels"] == "VARCHAR[]"


def test_a_single_ingester_has_a_gap_at_each_start_up_and_reconnection(lake: Lake) -> None:
    write_gaps(lake, [gap("a", 0, 1), gap("a", 30, 32.5, "disconnected: closed by Redis")])
    assert gaps_of(lake, at(100)) == [
        (at(0), at(1), 1.0, ["a"], ["start-up"]),
        (at(30), at(32.5), 2.5, ["a"], ["disconnected: closed by Redis"]),
    ]
    assert covered(lake, at(100), -1, 0, 0.5, 1, 31, 32.5) == [
        True,
        False,
        False,
        True,
        False,
        True,
    ]


def test_a_second_ingester_bridges_the_other_ones_windows(lake: Lake) -> None:
    write_gaps(
        lake,
        [
            gap("a", 0, 1),
            gap("b", 5, 6),  # b starts while a is subscribed: no gap
            gap("a", 30, 40, "no reply to health check"),  # b subscribed throughout
            gap("b", 35, 45, "disconnected: reset"),  # both down in [35, 40)
        ],
    )
    assert gaps_of(lake, at(100)) == [
        (at(0), at(1), 1.0, ["a"], ["start-up"]),
        (at(35), at(40), 5.0, ["a", "b"], ["disconnected: reset", "no reply to health check"]),
    ]


def test_an_ingester_that_has_not_started_yet_is_not_subscribed(lake: Lake) -> None:
    # a is down in [10, 20); b starts at 15 and subscribes at 16: nobody listens in [10, 16)
    write_gaps(lake, [gap("a", 0, 1), gap("a", 10, 20, "disconnected: x"), gap("b", 15, 16)])
    assert gaps_of(lake, at(100))[1] == (
        at(10),
        at(16),
        6.0,
        ["a", "b"],
        ["disconnected: x", "start-up"],
    )
    # as of 14, b's record does not exist yet: a alone, down from 10 to T
    assert gaps_of(lake, at(14))[1] == (at(10), at(14), 4.0, ["a"], ["disconnected: x"])


def test_a_window_open_at_t_ends_at_t_and_later_windows_do_not_exist_yet(lake: Lake) -> None:
    write_gaps(lake, [gap("a", 0, 1), gap("a", 10, 30, "disconnected: x")])
    assert gaps_of(lake, at(20))[-1] == (at(10), at(20), 10.0, ["a"], ["disconnected: x"])
    assert gaps_of(lake, at(5)) == [(at(0), at(1), 1.0, ["a"], ["start-up"])]
    assert gaps_of(lake, at(0.5)) == [(at(0), at(0.5), 0.5, ["a"], ["start-up"])]
    assert gaps_of(lake, at(-1)) == []


def test_an_ingester_down_right_now_is_not_visible_until_it_subscribes_again(
    lake: Lake,
) -> None:
    """The documented limit: a record is written when the subscription is confirmed again."""
    write_gaps(lake, [gap("a", 0, 1)])  # a then lost Redis at 50 and is still reconnecting
    assert covered(lake, at(100), 60) == [True]
    write_gaps(lake, [gap("a", 50, 120, "disconnected: refused")])  # it got back at 120
    assert covered(lake, at(130), 60) == [False]
    assert covered(lake, at(100), 60) == [False]  # as of 100 too: the record is stored now


def test_touching_and_overlapping_records_of_one_ingester_merge(lake: Lake) -> None:
    write_gaps(
        lake,
        [gap("a", 0, 1), gap("a", 10, 20, "x"), gap("a", 20, 25, "y"), gap("a", 22, 30, "z")],
    )
    write_gaps(lake, [gap("a", 10, 20, "x")])  # the same record stored again
    assert gaps_of(lake, at(100))[1] == (at(10), at(30), 20.0, ["a"], ["x", "y", "z"])


def test_buckets_overlapping_a_gap_are_not_complete(lake: Lake) -> None:
    write_gaps(lake, [gap("a", -5, -4), gap("a", 70, 75, "disconnected: x")])
    write_events(
        lake,
        [task_event("task_enqueued", f"t{n}", at(n * 30.0)) for n in range(6)]
        + [
            task_event("task_completed", f"t{n}", at(n * 30.0 + 1), worker_id="w", duration_ms=9)
            for n in range(6)
        ],
    )
    with queries.connect(lake, as_of=at(200)) as con:
        depth = fetch(con, "SELECT bucket_start, complete FROM queue_depth ORDER BY 1")
        done = fetch(con, "SELECT bucket_start, complete FROM throughput ORDER BY 1")
        (edges,) = con.execute(
            "SELECT coverage_complete(CAST($1 AS TIMESTAMPTZ), CAST($2 AS TIMESTAMPTZ)), "
            "coverage_complete(CAST($2 AS TIMESTAMPTZ), CAST($3 AS TIMESTAMPTZ)), "
            "coverage_complete(CAST($3 AS TIMESTAMPTZ), CAST($4 AS TIMESTAMPTZ))",
            [at(60), at(70), at(75), at(80)],
        ).fetchall()
    minute = timedelta(minutes=1)
    expected = [{"bucket_start": T0 + n * minute, "complete": n != 1} for n in range(3)]
    assert depth == expected and done == expected
    assert edges == (True, False, True)  # [60, 70) and [75, 80) only touch the gap [70, 75)


# --- against the oracle -----------------------------------------------------------------------
@st.composite
def gap_records(draw: st.DrawFn) -> list[GapRecord]:
    """Lives of 1-3 ingesters: a start-up, then reconnections and restarts; sometimes a stray
    overlapping or repeated record. Times in whole ms (with some exact coincidences) over ~5 min."""
    records = []
    reasons = ["start-up", "disconnected: closed by Redis", "no reply to health check"]
    for n in range(draw(st.integers(1, 3))):
        ingester = f"ing-{n}"
        t = draw(st.integers(-30_000, 120_000))
        for k in range(draw(st.integers(1, 5))):
            length = draw(st.sampled_from([0, 1, 500, 3_000, 20_000, 60_000]))
            reason = reasons[0] if k == 0 else draw(st.sampled_from(reasons))
            records.append(GapRecord(ingester, at(t / 1e3), at((t + length) / 1e3), reason))
            t += length + draw(st.sampled_from([1, 1_000, 10_000, 45_000]))
    extra = draw(st.lists(st.sampled_from(records), max_size=2))
    return records + extra


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=gap_records(),
    instants=st.lists(st.integers(-40_000, 400_000), min_size=1, max_size=3),
    seed=st.integers(0, 2**31 - 1),
)
def test_ingest_gaps_covered_and_complete_equal_the_oracle(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[GapRecord],
    instants: list[int],
    seed: int,
) -> None:
    lake = Lake(tmp_path_factory.mktemp("gaps") / "lake").ensure()
    write_gaps(lake, records)
    history = generate(seed, n_tasks=8, n_workers=2)
    stored, distinct = imperfect(history, seed, drop=0.0, duplicate=0.1)
    shift = T0 - history.start  # the histories start near 10:58; the gaps around 12:00
    write_events(lake, [{**e, "timestamp": e["timestamp"] + shift} for e in stored])
    events = [{**e, "timestamp": e["timestamp"] + shift} for e in distinct]
    boundaries = sorted({t for r in records for t in (r.start, r.end)})
    with queries.connect(lake) as con:
        for ms in instants:
            as_of = at(ms / 1e3)
            queries.set_as_of(con, as_of)
            windows = oracle.ingest_gaps(records, as_of)
            assert_rows_equal(
                "ingest_gaps",
                fetch(con, "SELECT * FROM ingest_gaps"),
                windows,
                ("gap_start",),
            )
            probes = [*boundaries, *(b - timedelta(microseconds=1) for b in boundaries), as_of]
            got = con.execute(
                "SELECT t, covered(t) FROM unnest(CAST($1 AS TIMESTAMPTZ[])) AS u(t)", [probes]
            ).fetchall()
            assert {t: c for t, c in got} == {t: oracle.covered(windows, t) for t in probes}
            ordered = sorted(set(probes))
            pairs = [*itertools.pairwise(ordered), (ordered[0], ordered[-1])]
            got_pairs = con.execute(
                "SELECT p[1], p[2], coverage_complete(p[1], p[2]) "
                "FROM unnest(CAST($1 AS TIMESTAMPTZ[][])) AS u(p)",
                [[list(p) for p in pairs]],
            ).fetchall()
            assert {(a, b): c for a, b, c in got_pairs} == {
                (a, b): oracle.complete(windows, a, b) for a, b in pairs
            }
            for width in (timedelta(seconds=30), timedelta(minutes=1)):
                seconds = int(width.total_seconds())
                assert_rows_equal(
                    f"queue_depth_series({seconds} s)",
                    fetch(con, f"SELECT * FROM queue_depth_series(INTERVAL {seconds} SECOND)"),
                    oracle.queue_depth_series(events, as_of, width, records),
                    ("queue", "bucket_start"),
                )
                assert_rows_equal(
                    f"throughput_series({seconds} s)",
                    fetch(con, f"SELECT * FROM throughput_series(INTERVAL {seconds} SECOND)"),
                    oracle.throughput_series(events, as_of, width, records),
                    ("queue", "task_name", "bucket_start"),
                )


# --- real ingesters ---------------------------------------------------------------------------
def test_real_ingesters_record_what_ingest_gaps_reports(tmp_path: Path) -> None:
    """A starts (a gap: nobody else listens), restarts alone (a gap), B joins, A restarts
    again while B listens (no gap): ingest_gaps holds exactly A's first two records."""
    import redis

    from tests.ingest.helpers import REDIS_URL, Ingester

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        no_redis(f"no Redis at {REDIS_URL}")
    lake_dir = tmp_path / "lake"
    channel = f"tasqlake-test:gaps-{next(_SEQUENCE)}-{id(tmp_path)}"

    def ingester(name: str) -> Ingester:
        wal = ("--wal-dir", str(tmp_path / f"wal-{name}"), "--ingester-id", name)
        return Ingester(lake_dir, channel, "--flush-interval", "0.1", *wal)

    started: list[Ingester] = []

    def start(name: str) -> Ingester:
        started.append(ingester(name).start())
        return started[-1]

    try:
        assert start("a").stop(signal.SIGTERM) == 0
        second_a = start("a")
        b = start("b")
        assert second_a.stop(signal.SIGTERM) == 0
        assert start("a").stop(signal.SIGTERM) == 0
        assert b.stop(signal.SIGTERM) == 0
    finally:
        for leftover in started:
            if leftover.process is not None and leftover.process.poll() is None:
                leftover.process.kill()
                leftover.process.wait()
        client.close()
    lake = Lake(lake_dir)
    with queries.connect(lake) as con:
        stored = fetch(con, "SELECT * FROM stored_gaps ORDER BY gap_start")
        found = fetch(con, "SELECT gap_start, gap_end, ingesters, reasons FROM ingest_gaps")
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in stored:
        per[row["ingester_id"]].append(row)
    assert [len(per["a"]), len(per["b"])] == [3, 1]
    assert all(r["reason"] == "start-up" and r["gap_start"] < r["gap_end"] for r in stored)
    assert found == [
        {
            "gap_start": r["gap_start"],
            "gap_end": r["gap_end"],
            "ingesters": ["a"],
            "reasons": ["start-up"],
        }
        for r in per["a"][:2]
    ]
    b_up = per["b"][0]["gap_end"]
    assert b_up < per["a"][2]["gap_start"]  # a's last restart happened while b listened
    assert all(r["gap_start"] > datetime(2026, 1, 1, tzinfo=UTC) for r in stored)
