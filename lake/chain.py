"""The snapshot chain: the state at the end of each compacted hour, built from the hour before.

A *link* of hour H holds what a reader needs to answer "as of any instant after H" without
reading the events of H or of any hour before it (layout: :mod:`tasqlake.lake.layout`):

* ``carry`` — the partials (``schemas/sql/combine_task_partials.sql``) of every task that is not
  settled at the end of H: pending, running, or ended less than the allowed lateness ``L``
  before the end of H (``is_settled``). A later event of such a task merges with them exactly
  (in the columns the chain's readers use: :data:`CARRY_SQL`);
* ``folded`` — the counters (``task_counters_of``) of every settled task, per queue, task name
  and worker: the sum of the previous link's and those of the tasks that settled in H;
* ``deltas`` — per queue and minute of H, the changes of the pending and running counts and the
  task events (``depth_deltas_of``, continuing the series from the carry entering H): final once
  H is closed, since every later event is stamped later; ``queue_depth_series`` sums them;
* ``sessions`` — every worker session (``worker_sessions_after``), the latest ones open;
* ``late`` — violations of the bound found in H: events of a task that had settled (its task_id
  is in a task snapshot of the detection horizon before H, not in the carry), with how late
  they are. Such a task is taken back: its settled contribution is subtracted from ``folded``
  and its partials, merged with the new events, go on in the merge. So the counters are exact
  again from this link on;
* ``links`` — the head, committed last: one row describing the link. A link exists once its
  head is listed.

Link H is built from the previous valid link and the events of H, only when H is *clean*: its
files are the snapshotted output of one compaction (superseded inputs deleted). Which links are
valid is decided from file names alone (``schemas/sql/chain_validity.sql``), by this builder
and by the views alike: a file landing later in an hour, or a new compaction of it, invalidates
the chain from that hour on, and the next :func:`extend_chain` rebuilds it from there. Every
part is written with :meth:`Lake.commit_parquet` under its final name (atomic); a crash leaves
parts without a head (ignored, deleted later) or a head whose successor is missing (the chain
simply ends there).

Violations are detected for tasks whose new events in H include no ``task_enqueued`` (a task
that settled has been enqueued before; a new task's enqueue is in the hour its life begins),
against the task snapshots of the ``horizon`` before H (default 7 days).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa

from tasqlake.lake import layout
from tasqlake.lake.compaction_format import snapshot_writer_options
from tasqlake.lake.retention import partition_end
from tasqlake.lake.storage import Lake
from tasqlake.schemas import constants
from tasqlake.schemas.errors import StorageError, error_reason
from tasqlake.schemas.stored import EVENT_SCHEMA

#: Called with (partition, carried tasks) after each link; the CLI draws its progress with it.
LinkProgress = Callable[[str, int], None]


@dataclass(frozen=True)
class Link:
    """A link of the chain, as named by its files."""

    date: str
    hour: int
    name: str
    token: str
    built: int
    valid: bool

    @property
    def hour_end(self) -> datetime:
        return partition_end(self.date, self.hour)

    def path(self, part: str) -> str:
        return layout.link_path(part, self.date, self.hour, self.name)


@dataclass
class ChainReport:
    links: list[str] = field(default_factory=list)  # partitions a link was built for
    invalid_from: str | None = None  # the first hour whose link was not valid, if any
    carried: int = 0  # tasks carried by the last link built
    settled: int = 0  # tasks settled by the links built
    violations: int = 0  # late events found
    deleted_files: int = 0  # parts of superseded or unfinished links deleted


def _partition(date: str, hour: int) -> str:
    return f"{layout.EVENTS_DIR}/date={date}/hour={hour:02d}"


def _empty_events(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.register(name, EVENT_SCHEMA.empty_table())


def read_links(lake: Lake, con: duckdb.DuckDBPyConnection) -> list[Link]:
    """Every hour's newest link, in hour order, with whether it is valid."""
    parts = lake.list_files(layout.CHAIN_DIR)
    events = lake.list_files(layout.EVENTS_DIR)
    con.execute("CREATE OR REPLACE TEMP TABLE chain_part_files (file VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE chain_event_files (file VARCHAR)")
    if parts:
        con.executemany("INSERT INTO chain_part_files VALUES (?)", [[f] for f in parts])
    if events:
        con.executemany("INSERT INTO chain_event_files VALUES (?)", [[f] for f in events])
    rows = con.execute(
        'SELECT strftime("date", \'%Y-%m-%d\'), "hour", name, token, built, valid '
        "FROM chain_validity('chain_part_files', 'chain_event_files') ORDER BY \"date\", \"hour\""
    ).fetchall()
    return [Link(d, h, n, t, b, bool(v)) for d, h, n, t, b, v in rows]


def _clean_generation(lake: Lake, date: str, hour: int) -> int | None:
    """The compaction generation of the hour when its files are exactly one compaction's
    snapshotted output, None otherwise (not compacted, or superseded files still there)."""
    generations = {
        layout.snapshotted_generation(rel) for rel in lake.list_files(_partition(date, hour))
    }
    if None in generations or len(generations) != 1:
        return None
    return generations.pop()


def extend_chain(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    *,
    cutoff: datetime,
    allowed_lateness: timedelta = timedelta(seconds=constants.DEFAULT_ALLOWED_LATENESS_S),
    horizon: timedelta = timedelta(seconds=constants.LATENESS_DETECTION_HORIZON_S),
    now: datetime | None = None,
    grace: timedelta = timedelta(minutes=10),
    progress: LinkProgress | None = None,
) -> ChainReport:
    """Build a link for every clean hour ending at or before ``cutoff`` after the last valid
    link (rebuilding from the first invalid one), then delete superseded links' parts older
    than ``grace``. ``con`` must have the task-state algebra defined."""
    moment = now or datetime.now(UTC)
    report = ChainReport()
    links = read_links(lake, con)
    while True:  # the link to build from must be readable: a damaged one is dropped, rebuilt
        last = [link for link in links if link.valid][-1:]
        if not last or _readable(lake, last[0]):
            break
        report.deleted_files += _delete_link(lake, last[0])
        links = read_links(lake, con)
    valid = [link for link in links if link.valid]
    invalid = [link for link in links if not link.valid]
    if invalid:
        report.invalid_from = _partition(invalid[0].date, invalid[0].hour)
    previous = valid[-1] if valid else None
    newest_built = {(link.date, link.hour): link.built for link in links}
    for date, hour in lake.iter_partitions(layout.EVENTS_DIR):
        if previous is not None and (date, hour) <= (previous.date, previous.hour):
            continue
        if partition_end(date, hour) > cutoff:
            break
        generation = _clean_generation(lake, date, hour)
        if generation is None:
            break  # not compacted yet, or superseded files not deleted yet: the chain waits
        built = max(int(moment.timestamp() * 1000), newest_built.get((date, hour), 0) + 1)
        previous = build_link(
            lake,
            con,
            date,
            hour,
            generation=generation,
            built=built,
            previous=previous,
            allowed_lateness=allowed_lateness,
            horizon=horizon,
            report=report,
        )
        report.links.append(_partition(date, hour))
        if progress is not None:
            progress(_partition(date, hour), report.carried)
    report.deleted_files += purge_links(lake, con, moment - grace)
    return report


def _parquet_view(con: duckdb.DuckDBPyConnection, view: str, uris: list[str]) -> None:
    """``view`` as a temporary view over the Parquet files ``uris`` (replacing any other)."""
    files = ", ".join("'" + uri.replace("'", "''") + "'" for uri in uris)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM read_parquet([{files}], "
        "union_by_name = true, hive_partitioning = false)"
    )


def _view_of(
    con: duckdb.DuckDBPyConnection, lake: Lake, relpath: str | None, view: str, empty_sql: str
) -> None:
    if relpath is not None and lake.exists(relpath):
        _parquet_view(con, view, [lake.uri(relpath)])
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {empty_sql}")


_EMPTY_PARTIALS = "SELECT * FROM task_partials_of('chain_no_events') WHERE false"
_EMPTY_FOLDED = "SELECT * FROM task_counters_of('chain_empty_tasks') WHERE false"
_EMPTY_SESSIONS = "SELECT * FROM chain_empty_sessions"
#: The carry: the tasks not settled, in the columns of task_partials_of, keeping only what the
#: views that start from the chain read (state, attempts, durations, queue and task name, the
#: worker; for tasks not terminal, since when they wait and when they started). The details of
#: a task's history (first_seen_at, enqueued_at, first_started_at, errors) are NULL: the views
#: that list tasks read the task snapshots, not the chain. Ordered by state, then task_id.
CARRY_SQL = """
SELECT
    task_id, task_name, queue, top_key, progress,
    CASE WHEN NOT is_terminal(top_key) THEN waiting_key END AS waiting_key,
    CASE WHEN NOT is_terminal(top_key) THEN waiting_since END AS waiting_since,
    CASE WHEN NOT is_terminal(top_key) THEN start_key END AS start_key,
    CASE WHEN NOT is_terminal(top_key) THEN latest_start_at END AS latest_start_at,
    completed_duration,
    CAST(NULL AS TIMESTAMPTZ) AS first_seen_at,
    CAST(NULL AS TIMESTAMPTZ) AS enqueued_at,
    CAST(NULL AS TIMESTAMPTZ) AS first_started_at,
    CAST(NULL AS BIGINT) AS error_key,
    CAST(NULL AS VARCHAR) AS last_error,
    CAST(NULL AS VARCHAR) AS last_traceback,
    worker_key,
    worker_id
FROM chain_combined
WHERE NOT coalesce(is_settled(top_key, CAST($1 AS TIMESTAMPTZ)), false)
ORDER BY is_terminal(top_key), top_key % 4, task_id
"""
CARRY_ZSTD_LEVEL = 3
_COUNTERS = (
    "tasks", "pending", "running", "completed", "failed", "cancelled", "attempts", "retries",
    "tasks_retried", "retried_then_completed", "duration_sum", "duration_count",
)  # fmt: skip


def _define_empties(con: duckdb.DuckDBPyConnection) -> None:
    _empty_events(con, "chain_no_events")
    con.execute(
        "CREATE OR REPLACE TEMP VIEW chain_no_events_partials AS "
        "SELECT * FROM task_partials_of('chain_no_events')"
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW chain_empty_tasks AS "
        "SELECT * FROM combine_task_partials('chain_no_events_partials') WHERE false"
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW chain_empty_sessions AS SELECT "
        "CAST(NULL AS VARCHAR) AS worker_id, CAST(NULL AS BIGINT) AS session_no, "
        "CAST(NULL AS VARCHAR) AS hostname, CAST(NULL AS VARCHAR[]) AS queues, "
        "CAST(NULL AS TIMESTAMPTZ) AS started_at, CAST(NULL AS TIMESTAMPTZ) AS last_seen_at, "
        "CAST(NULL AS TIMESTAMPTZ) AS last_heartbeat, CAST(NULL AS TIMESTAMPTZ) AS offline_at, "
        "CAST(NULL AS DOUBLE) AS freq, CAST(NULL AS BIGINT) AS heartbeats, "
        "CAST(NULL AS INTEGER) AS max_active, CAST(NULL AS BIGINT) AS processed, "
        "CAST(NULL AS VARCHAR) AS last_event_type WHERE false"
    )


def build_link(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    date: str,
    hour: int,
    *,
    generation: int,
    built: int,
    previous: Link | None,
    allowed_lateness: timedelta,
    horizon: timedelta,
    report: ChainReport,
) -> Link:
    """Build and commit the link of hour ``date``/``hour`` from ``previous`` and the hour's
    events; returns it."""
    _define_empties(con)
    hour_end = partition_end(date, hour)
    settle_before = hour_end - allowed_lateness
    token = uuid.uuid4().hex[:8]
    name = layout.link_name(
        generation, built, token, previous.token if previous else layout.NO_LINK
    )
    link = Link(date, hour, name, token, built, True)
    files = [lake.uri(f) for f in lake.list_files(_partition(date, hour))]
    try:
        _parquet_view(con, "chain_events", files)
        _view_of(
            con,
            lake,
            previous.path("carry") if previous else None,
            "chain_prev_carry",
            _EMPTY_PARTIALS,
        )
        _view_of(
            con,
            lake,
            previous.path("folded") if previous else None,
            "chain_prev_folded",
            _EMPTY_FOLDED,
        )
        _view_of(
            con,
            lake,
            previous.path("sessions") if previous else None,
            "chain_prev_sessions",
            _EMPTY_SESSIONS,
        )
        snapshots = {layout.snapshot_of(f) for f in lake.list_files(_partition(date, hour))}
        if None not in snapshots and all(lake.exists(f) for f in snapshots if f is not None):
            # the hour's task snapshot holds exactly these partials: read, not recomputed
            _parquet_view(con, "chain_hour_snapshot", [lake.uri(f) for f in snapshots if f])
            con.execute("CREATE OR REPLACE TEMP TABLE chain_new AS FROM chain_hour_snapshot")
        else:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE chain_new AS FROM task_partials_of('chain_events')"
            )
        _earlier_rows_of_late_tasks(lake, con, date, hour, horizon)
        con.execute(
            """CREATE OR REPLACE TEMP TABLE chain_combined AS
            WITH chain_inputs AS (
                SELECT * FROM chain_prev_carry
                UNION ALL BY NAME SELECT * FROM chain_new
                UNION ALL BY NAME SELECT * FROM chain_earlier
            )
            FROM combine_task_partials('chain_inputs')"""
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE chain_settled AS FROM chain_combined "
            "WHERE is_settled(top_key, CAST($1 AS TIMESTAMPTZ))",
            [settle_before],
        )
        carry = con.sql(CARRY_SQL, params=[settle_before]).to_arrow_table()
        sums = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in _COUNTERS)
        negated = ", ".join(f"-{c} AS {c}" for c in _COUNTERS)
        folded = con.sql(
            f"""
            WITH earlier AS (FROM combine_task_partials('chain_earlier')),
            rows AS (
                SELECT * FROM chain_prev_folded
                UNION ALL BY NAME SELECT * FROM task_counters_of('chain_settled')
                UNION ALL BY NAME
                SELECT queue, task_name, worker_id, {negated} FROM task_counters_of('earlier')
            )
            SELECT queue, task_name, worker_id, {sums}
            FROM rows
            GROUP BY queue, task_name, worker_id
            HAVING sum(tasks) <> 0
            ORDER BY queue, task_name, worker_id
            """
        ).to_arrow_table()
        sessions = con.sql(
            "FROM worker_sessions_after('chain_prev_sessions', 'chain_events') "
            "ORDER BY worker_id, session_no"
        ).to_arrow_table()
        # the states entering H order what follows of the tasks with events in H; the others
        # change nothing in H (and would only lengthen the sort)
        con.execute(
            "CREATE OR REPLACE TEMP VIEW chain_entering AS "
            "SELECT * FROM (SELECT * FROM chain_prev_carry "
            "UNION ALL BY NAME SELECT * FROM chain_earlier) SEMI JOIN chain_new USING (task_id)"
        )
        deltas = con.sql(
            """
            SELECT
                queue, bucket_start, CAST(pending_delta AS BIGINT) AS pending_delta,
                CAST(running_delta AS BIGINT) AS running_delta, events, enqueued, started,
                completed, failed, retried
            FROM depth_deltas_of(
                'chain_entering', 'chain_events', INTERVAL 1 MINUTE,
                CAST($1 AS TIMESTAMPTZ), count_entering := false)
            WHERE pending_delta <> 0 OR running_delta <> 0 OR events > 0
            ORDER BY queue, bucket_start
            """,
            params=[hour_end - timedelta(hours=1)],
        ).to_arrow_table()
        late = con.sql(
            """
            WITH earlier AS (FROM merge_task_partials('chain_earlier'))
            SELECT
                e.task_id, e.queue, e.task_name, e.event_type, e."timestamp",
                causal_finished_at(x.top_key) AS settled_finished_at,
                (epoch_us(e."timestamp") - epoch_us(causal_finished_at(x.top_key))) / 1e6
                    AS late_by_s
            FROM chain_events AS e
            JOIN earlier AS x USING (task_id)
            ORDER BY e."timestamp", e.task_id
            """
        ).to_arrow_table()
        settled = con.execute("SELECT count(*) FROM chain_settled").fetchall()[0][0]
    except duckdb.Error as error:
        raise StorageError(
            f"cannot build the snapshot chain link of {lake.describe(_partition(date, hour))}: "
            f"{error_reason(error)}; the chain ends before it until the cause is fixed "
            "and 'tasqlake compact' runs again"
        ) from None
    head = pa.table(
        {
            "hour_end": pa.array([hour_end], pa.timestamp("us", tz="UTC")),
            "generation": pa.array([generation], pa.int32()),
            "previous": pa.array([previous.name if previous else None], pa.string()),
            "allowed_lateness_s": pa.array([allowed_lateness.total_seconds()], pa.float64()),
            "carried": pa.array([carry.num_rows], pa.int64()),
            "settled": pa.array([settled], pa.int64()),
            "late_events": pa.array([late.num_rows], pa.int64()),
            "late_events_total": pa.array(
                [late.num_rows + (_late_total(lake, previous) if previous else 0)], pa.int64()
            ),
        }
    )
    parts = {"carry": carry, "folded": folded, "deltas": deltas, "sessions": sessions,
             "late": late, "links": head}  # fmt: skip
    for part, table in parts.items():
        # the carry is rewritten every hour: zstd 3 (0.1 s for 237 k tasks, +6 % bytes) rather
        # than zstd 16 (1.5 s)
        options = (
            {**snapshot_writer_options(table.schema), "compression_level": CARRY_ZSTD_LEVEL}
            if part == "carry"
            else {}
        )
        lake.commit_parquet(link.path(part), table, exclusive=True, **options)
    report.carried = carry.num_rows
    report.settled += settled
    report.violations += late.num_rows
    return link


def _late_total(lake: Lake, link: Link) -> int:
    """The late events found by ``link`` and every link before it (its head says)."""
    head = lake.read_table(link.path(layout.CHAIN_HEAD_PART))
    if "late_events_total" not in head.column_names or head.num_rows != 1:
        return 0
    value = head.column("late_events_total")[0].as_py()
    return int(value) if value is not None else 0


def _earlier_rows_of_late_tasks(
    lake: Lake, con: duckdb.DuckDBPyConnection, date: str, hour: int, horizon: timedelta
) -> None:
    """``chain_earlier``: the task snapshot rows, in the ``horizon`` before the hour, of the
    tasks the hour's events take back from settlement (empty in a lake that keeps the bound)."""
    candidates = con.execute(
        """
        SELECT n.task_id FROM chain_new AS n
        ANTI JOIN chain_prev_carry AS c USING (task_id)
        WHERE n.enqueued_at IS NULL
        """
    ).fetchall()
    snapshots: list[str] = []
    if candidates:
        start = partition_end(date, hour) - timedelta(hours=1)
        for snap_date, snap_hour in lake.iter_partitions(layout.TASK_SNAPSHOTS_DIR):
            end = partition_end(snap_date, snap_hour)
            if start - horizon < end <= start:
                directory = f"{layout.TASK_SNAPSHOTS_DIR}/date={snap_date}/hour={snap_hour:02d}"
                snapshots.extend(lake.uri(f) for f in lake.list_files(directory))
    if not snapshots:
        con.execute(f"CREATE OR REPLACE TEMP TABLE chain_earlier AS {_EMPTY_PARTIALS}")
        return
    con.execute("CREATE OR REPLACE TEMP TABLE chain_candidates (task_id VARCHAR)")
    con.executemany("INSERT INTO chain_candidates VALUES (?)", [[c[0]] for c in candidates])
    _parquet_view(con, "chain_horizon_snapshots", snapshots)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE chain_earlier AS
        SELECT * FROM ({_EMPTY_PARTIALS})
        UNION ALL BY NAME
        SELECT s.* FROM chain_horizon_snapshots AS s SEMI JOIN chain_candidates USING (task_id)
        """
    )


def _readable(lake: Lake, link: Link) -> bool:
    """Whether every part of ``link`` is a readable Parquet file."""
    try:
        for part in layout.CHAIN_PARTS:
            lake.read_metadata(link.path(part))
    except StorageError:
        return False
    return True


def _delete_link(lake: Lake, link: Link) -> int:
    """Delete every part of ``link``, its head first (the link stops existing at once)."""
    for part in (layout.CHAIN_HEAD_PART, *layout.CHAIN_PARTS):
        lake.delete(link.path(part))
    return len(layout.CHAIN_PARTS)


def purge_links(lake: Lake, con: duckdb.DuckDBPyConnection, deadline: datetime) -> int:
    """Delete the parts of links superseded by a newer link of their hour, and parts without a
    head (a build that crashed), when built before ``deadline``. Returns files deleted."""
    newest = {(link.date, link.hour): link.name for link in read_links(lake, con)}
    deadline_ms = int(deadline.timestamp() * 1000)
    deleted = 0
    for part in layout.CHAIN_PARTS:
        for rel in lake.list_files(layout.chain_dir(part)):
            date_dir, hour_dir, name = rel.rsplit("/", 3)[-3:]
            key = (date_dir.removeprefix("date="), int(hour_dir.removeprefix("hour=")))
            if newest.get(key) == name:
                continue
            if _built_of(name) >= deadline_ms:
                continue
            lake.delete(rel)
            deleted += 1
    return deleted


def _built_of(name: str) -> int:
    parts = name.removeprefix(layout.LINK_PREFIX).split("-")
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return 0


def chain_size(lake: Lake) -> dict[str, int]:
    """Bytes of each part of the chain (the benchmark's storage figure)."""
    return {
        part: sum(lake.size(f) for f in lake.list_files(layout.chain_dir(part)))
        for part in layout.CHAIN_PARTS
    }
