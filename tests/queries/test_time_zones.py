"""Every view gives the same instants in any session TimeZone (issue 3: "any instant").

The views are created in a UTC session by ``queries.connect``, but the file written by
``tasqlake export-db`` is opened by other clients with their own TimeZone, and a user may
``SET TimeZone`` in ``tasqlake sql``. Partitions are UTC hours and buckets UTC-aligned, so the
answer must not depend on the session's zone: the lake here straddles UTC midnight (New York's
date is still the previous day) and New York's switch to daylight-saving time (2026-03-08 07:00
UTC, where a local day lasts 23 hours), and zones with half-hour offsets are tried too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from tasqlake import queries
from tasqlake.lake.storage import Lake
from tests.queries.helpers import write_events
from tests.queries.history import BASE, generate, imperfect
from tests.queries.oracle import GapRecord
from tests.queries.test_ingest_gaps import write_gaps

pytestmark = pytest.mark.clock  # compares with the clock: also run a year ahead (test_moved_clock)

ZONES = ("America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Kiritimati")
#: Two histories: one across UTC midnight on the day New York enters DST, one two days later.
STARTS = (datetime(2026, 3, 7, 23, 57, tzinfo=UTC), datetime(2026, 3, 10, 6, 58, tzinfo=UTC))
WIDTHS = ("INTERVAL 30 SECOND", "INTERVAL 1 HOUR", "INTERVAL 1 DAY", "INTERVAL 1 MONTH")


def shifted(seed: int, start: datetime) -> list[dict[str, Any]]:
    history = generate(seed, n_tasks=25, n_workers=3)
    stored, _ = imperfect(history, seed, drop=0.0, duplicate=0.1)
    return [{**e, "timestamp": e["timestamp"] - BASE + start} for e in stored]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("zones") / "lake").ensure()
    for seed, start in enumerate(STARTS, start=11):
        write_events(lake, shifted(seed, start), ingester_id=f"ing-{seed}")
    first = STARTS[0]  # gaps across UTC midnight (ingest_gaps, the buckets' complete flags)
    write_gaps(
        lake,
        [
            GapRecord("ing-11", first - timedelta(seconds=1), first, "start-up"),
            GapRecord(
                "ing-11", first + timedelta(seconds=170), first + timedelta(seconds=200), "x"
            ),
        ],
    )
    return lake


def normalised(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows with every aware datetime in UTC (the same instant compares equal anyway; this
    makes the sort order, and failure messages, zone-independent)."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC)
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return sorted((tuple(plain(v) for v in row) for row in rows), key=repr)


def answers(con: duckdb.DuckDBPyConnection, zone: str, queries_sql: list[str]) -> list[Any]:
    con.execute(f"SET TimeZone = '{zone}'")
    return [normalised(con.execute(sql).fetchall()) for sql in queries_sql]


def catalogue_queries() -> list[str]:
    views = [f'SELECT * FROM "{name}"' for name in queries.view_names()]
    series = [
        f"SELECT * FROM {macro}({width})"
        for macro in ("queue_depth_series", "throughput_series")
        for width in WIDTHS
    ]
    return views + series


@pytest.mark.parametrize(
    "as_of",
    [
        datetime(2026, 3, 8, 0, 1, 30, tzinfo=UTC),  # New York: still 2026-03-07, 19:01
        datetime(2026, 3, 10, 7, 1, 0, tzinfo=UTC),  # after both histories' busiest minutes
    ],
)
def test_every_view_gives_the_utc_answer_in_other_session_time_zones(
    lake: Lake, as_of: datetime
) -> None:
    sql = catalogue_queries()
    with queries.connect(lake, as_of=as_of) as con:
        expected = answers(con, "UTC", sql)
        (stamped,) = con.execute("SELECT count(*) FROM event_log").fetchone() or (0,)
        for zone in ZONES:
            got = answers(con, zone, sql)
            for statement, want, have in zip(sql, expected, got, strict=True):
                assert have == want, f"{statement} differs in TimeZone {zone}"
    every = [e for seed, s in enumerate(STARTS, start=11) for e in shifted(seed, s)]
    assert stamped == sum(e["timestamp"] <= as_of for e in every) > 0
    assert len(expected[sql.index('SELECT * FROM "ingest_gaps"')]) == 2


def test_day_buckets_are_utc_days_even_across_a_daylight_saving_change(lake: Lake) -> None:
    with queries.connect(lake, as_of=datetime(2026, 3, 11, tzinfo=UTC)) as con:
        con.execute("SET TimeZone = 'America/New_York'")
        buckets = con.execute(
            "SELECT DISTINCT epoch_us(bucket_start), epoch_us(bucket_end) "
            "FROM queue_depth_series(INTERVAL 1 DAY) ORDER BY 1"
        ).fetchall()
    day_us = 86_400_000_000
    first = int(datetime(2026, 3, 7, tzinfo=UTC).timestamp()) * 1_000_000
    assert buckets == [(first + n * day_us, first + (n + 1) * day_us) for n in range(4)]


def test_as_of_given_as_a_timestamp_without_zone_is_utc_in_any_session(lake: Lake) -> None:
    instant = datetime(2026, 3, 8, 0, 1, 30, tzinfo=UTC)
    with queries.connect(lake) as con:
        con.execute("SET TimeZone = 'America/New_York'")
        con.execute("SET VARIABLE as_of = TIMESTAMP '2026-03-08 00:01:30'")
        naive = con.execute("SELECT as_of(), log_horizon(), count(*) FROM event_log").fetchone()
        con.execute("SET VARIABLE as_of = DATE '2026-03-08'")
        (midnight,) = con.execute("SELECT as_of()").fetchone() or (None,)
        con.execute("SET TimeZone = 'UTC'")
        queries.set_as_of(con, instant)
        aware = con.execute("SELECT as_of(), log_horizon(), count(*) FROM event_log").fetchone()
    assert naive == aware
    assert naive is not None and naive[0] == instant and naive[2] > 0
    assert midnight == datetime(2026, 3, 8, tzinfo=UTC)


def test_partitions_after_t_are_still_skipped_in_zones_ahead_of_and_behind_utc(
    lake: Lake,
) -> None:
    """The partition filter prunes exactly the UTC hours after T, in every session zone."""
    as_of = datetime(2026, 3, 10, 5, 59, tzinfo=UTC)  # Kolkata: 11:29, New York: 00:59
    horizon = (as_of.date().isoformat(), as_of.hour)
    files = [p.relative_to(lake.root / "events") for p in lake.root.glob("events/*/*/*.parquet")]
    hours = [
        (f.parts[0].removeprefix("date="), int(f.parts[1].removeprefix("hour="))) for f in files
    ]
    wanted = f"Scanning Files: {sum(h <= horizon for h in hours)}/{len(files)}"
    assert 0 < sum(h <= horizon for h in hours) < len(files)
    with queries.connect(lake, as_of=as_of) as con:
        for zone in ("UTC", *ZONES):
            con.execute(f"SET TimeZone = '{zone}'")
            (plan,) = [row[1] for row in con.execute("EXPLAIN SELECT * FROM event_log").fetchall()]
            assert wanted in plan, f"TimeZone {zone}: {plan}"
            (n,) = con.execute("SELECT count(*) FROM event_log").fetchone() or (0,)
            assert n == len(shifted(11, STARTS[0]))  # the first history only
