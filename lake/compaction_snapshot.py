"""Snapshots (event-sourcing): per-task state of closed partitions, so "now" costs follow recent
activity instead of total history (issue 6, item 7). PROTOTYPE: the SQL here is proved equal to
a full replay of the ``queue_stats`` view (tests/ingest/test_compaction_snapshot.py); folding it
into the ``queries/`` views is a separate step.

A snapshot at boundary ``B`` (an hour boundary; every partition before it is closed) holds

* ``open_tasks.parquet`` — one row per task that is *not settled* at B: the per-task partial
  aggregates of ``task_state`` (min/max/arg_max values *and their keys*), so they merge exactly
  with the same aggregates over the events after B;
* ``settled_queues.parquet`` — one row per queue: counts, duration sums and retries of the tasks
  *settled* at B (a terminal event stamped at or before ``B - margin``), which no later event can
  change;
* ``snapshot.json`` — B, the margin, and the event files it was built from (staleness check).

A query as of ``T >= B`` reads the snapshot plus only the partitions from B on (Hive pruning on
``date``/``hour``). Exactness: a terminal event wins over anything stamped later, so a settled
task's state, finish time, completing duration and worker never change after B; its attempt count
could only change through a start/reenqueue of a higher attempt stamped more than ``margin``
after its terminal event, which needs a publisher clock off by more than the margin (default
10 min; the simulator's skew is 5 ms). ``margin`` >= 5 min also keeps the 5-minute throughput
window (T - 5 min, T] entirely in the open part. A late file in a partition before B makes the
snapshot stale (its file list differs): rebuild it.
"""

from __future__ import annotations

from tasqlake.lake import layout

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import duckdb

from tasqlake.lake.compaction_manifest import Manifest, load_manifests_only, superseded_paths
from tasqlake.schemas.errors import StorageError
from tasqlake.lake.storage import Lake
from tasqlake.schemas.stored import EVENT_SCHEMA

DEFAULT_MARGIN = timedelta(minutes=10)
MIN_MARGIN = timedelta(minutes=5)
SNAPSHOT_ROOT = layout.SNAPSHOTS_DIR

#: Per-task partial aggregates over the relation named ``{src}`` (a view or a CTE of stored
#: events): the contract's ``task_partials_of`` (schemas/sql/task_partials_of.sql), whose every
#: arg_max carries its key so that partials merge exactly (see MERGE_PARTIALS). The connection
#: must have the contract's macros (``tasqlake.schemas.task_algebra.macros()``; ``queries.connect``
#: creates them).
PARTIALS = "SELECT * FROM task_partials_of('{src}')"

#: Partials (several rows per task) merged into one row per task, exactly as one pass would.
MERGE_PARTIALS = """
SELECT
    task_id,
    min(task_name) AS task_name,
    min(queue) AS queue,
    max(top_key) AS top_key,
    max(progress) AS progress,
    max(waiting_key) AS waiting_key,
    arg_max(waiting_since, waiting_key) AS waiting_since,
    max(completed_duration) AS completed_duration,
    min(first_seen_at) AS first_seen_at
FROM ({src})
GROUP BY task_id
"""

#: One row per task with the task_state columns queue_stats needs, from merged partials.
DECODE = """
WITH d AS (
    SELECT *, causal_state(top_key) AS state,
        coalesce(progress // 4, 0) AS progress_attempt,
        coalesce(progress % 4, 0) AS progress_phase
    FROM ({src})
),
c AS (
    SELECT *,
        CASE
            WHEN state = 'completed' AND progress_phase = 2 THEN progress_attempt + 1
            WHEN state = 'completed' AND progress_phase = 0 THEN 1
            WHEN progress_phase = 0 THEN 0
            ELSE progress_attempt
        END AS attempts
    FROM d
)
SELECT
    task_id, task_name, queue, state, attempts,
    CASE WHEN progress_phase = 2 THEN progress_attempt ELSE greatest(attempts - 1, 0) END
        AS retries,
    CASE WHEN state = 'pending' THEN waiting_since END AS pending_since,
    CASE WHEN top_key >= 2305843009213693952 THEN
        make_timestamptz((4611686018427387904 - top_key + 3) // 4)
    END AS finished_at,
    CASE WHEN state = 'completed' THEN completed_duration END AS completed_duration_ms
FROM c
"""

#: Per-queue counters of a set of decoded tasks (mergeable: sums).
QUEUE_COUNTERS = """
SELECT
    queue,
    count(*) FILTER (WHERE state = 'pending') AS depth,
    count(*) FILTER (WHERE state = 'running') AS processing,
    count(*) FILTER (WHERE state = 'completed') AS completed_total,
    count(*) FILTER (WHERE state = 'failed') AS failed_total,
    count(*) FILTER (WHERE state = 'cancelled') AS cancelled_total,
    coalesce(sum(completed_duration_ms) FILTER (WHERE state = 'completed'), 0) AS duration_sum,
    count(completed_duration_ms) FILTER (WHERE state = 'completed') AS duration_count,
    coalesce(sum(retries), 0) AS retried_total,
    count(*) FILTER (
        WHERE state = 'completed' AND finished_at > {t} - INTERVAL 5 MINUTE AND finished_at <= {t}
    ) AS completed_5min,
    min(pending_since) AS oldest_pending_since
FROM ({src})
GROUP BY queue
"""

#: The "now" queue_stats core: snapshot (open tasks + settled counters) + events after B.
#: Parameters: $open, $settled (files), $glob (events), $bdate/$bhour (B), $t (TIMESTAMPTZ).
#: Only partitions from B on are read: the filter on the Hive columns prunes the others.
FAST_QUEUE_STATS = """
WITH tail AS (
    SELECT * FROM read_parquet(
        $glob, hive_partitioning = true, union_by_name = true, allow_empty = true,
        hive_types = {{'date': DATE, 'hour': INTEGER}}
    )
    WHERE ("date" > $bdate OR ("date" = $bdate AND "hour" >= $bhour)) AND "timestamp" <= $t
),
tail_partials AS ({tail_partials}),
merged AS ({merged}),
decoded AS ({decoded}),
live AS ({live}),
settled AS (SELECT * FROM read_parquet($settled)),
both_parts AS (SELECT * FROM live UNION ALL BY NAME SELECT * FROM settled)
SELECT
    queue,
    sum(depth) AS depth,
    sum(processing) AS processing,
    sum(completed_total) AS completed_total,
    sum(failed_total) AS failed_total,
    sum(duration_sum) / nullif(sum(duration_count), 0) AS avg_duration_ms,
    coalesce(sum(completed_5min), 0) / 5.0 AS throughput_per_minute,
    sum(retried_total) AS retried_total,
    sum(cancelled_total) AS cancelled_total,
    min(oldest_pending_since) AS oldest_pending_since
FROM both_parts
GROUP BY queue
"""


def fast_queue_stats_sql() -> str:
    tail_partials = PARTIALS.format(src="tail")
    merged = MERGE_PARTIALS.format(
        src="SELECT * FROM read_parquet($open) UNION ALL BY NAME SELECT * FROM tail_partials"
    )
    decoded = DECODE.format(src="SELECT * FROM merged")
    live = QUEUE_COUNTERS.format(src="SELECT * FROM decoded", t="$t")
    return FAST_QUEUE_STATS.format(
        tail_partials=tail_partials, merged=merged, decoded=decoded, live=live
    )


@dataclass(frozen=True)
class Snapshot:
    boundary: datetime
    margin: timedelta
    directory: str  # snapshots/b=…
    sources: tuple[str, ...]

    @property
    def open_tasks(self) -> str:
        return f"{self.directory}/open_tasks.parquet"

    @property
    def settled_queues(self) -> str:
        return f"{self.directory}/settled_queues.parquet"


#: The temporary view of the event files a snapshot is built from.
_EVENTS_VIEW = "_snapshot_events"


def partitions_before(lake: Lake, boundary: datetime) -> list[str]:
    """Live event files (superseded ones excluded) of the partitions starting before
    ``boundary``. Deleting superseded files after their grace period leaves this unchanged;
    a late file, or its compaction, changes it."""
    dead = superseded_paths(load_manifests_only(lake))
    files: list[str] = []
    for date, hour in lake.iter_partitions(layout.EVENTS_DIR):
        start = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(hours=hour)
        if start < boundary:
            partition = f"{layout.EVENTS_DIR}/date={date}/hour={hour:02d}"
            files.extend(f for f in lake.list_files(partition) if f not in dead)
    return files


def build_snapshot(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    boundary: datetime,
    margin: timedelta = DEFAULT_MARGIN,
    base: Snapshot | None = None,
) -> Snapshot:
    """Write the snapshot at ``boundary`` (an hour boundary).

    With a current ``base`` snapshot at an earlier boundary, only the partitions between the two
    boundaries are replayed and merged into it (incremental); otherwise every file before the
    boundary is. ``con`` must have the ``causal_key``/``causal_state`` macros
    (``queries.connect`` does).
    """
    if margin < MIN_MARGIN:
        raise StorageError(
            f"snapshot margin {margin} is below {MIN_MARGIN}: the 5-minute throughput window "
            "would reach into settled tasks; give a larger margin"
        )
    if boundary.minute or boundary.second or boundary.microsecond:
        raise StorageError(f"snapshot boundary {boundary.isoformat()} is not an hour boundary")
    if base is not None and (base.boundary >= boundary or not is_current(lake, base)):
        base = None
    sources = partitions_before(lake, boundary)
    replay = sources
    if base is not None:
        done = set(base.sources)
        replay = [f for f in sources if f not in done]
    directory = f"{SNAPSHOT_ROOT}/b={boundary.strftime('%Y-%m-%dT%H')}"
    con.execute("SET TimeZone = 'UTC'")
    if replay:
        con.read_parquet(
            [lake.uri(f) for f in replay], union_by_name=True, hive_partitioning=False
        ).to_view(_EVENTS_VIEW)
    else:
        con.register(_EVENTS_VIEW, EVENT_SCHEMA.empty_table())
    partials = PARTIALS.format(src=_EVENTS_VIEW)
    if base is not None:
        partials = f"{partials} UNION ALL BY NAME SELECT * FROM read_parquet($base_open)"
    merged = MERGE_PARTIALS.format(src=partials)
    decoded = DECODE.format(src=f"SELECT * FROM ({merged})")
    settled_if = "finished_at IS NOT NULL AND finished_at <= $settle"
    open_sql = (
        f"SELECT m.* FROM ({merged}) AS m JOIN ({decoded}) AS d USING (task_id) "
        f"WHERE NOT (d.{settled_if.replace(' AND ', ' AND d.')})"
    )
    counters = QUEUE_COUNTERS.format(
        src=f"SELECT * FROM ({decoded}) WHERE {settled_if}", t="$settle"
    )
    # Settled tasks finished at or before B - margin <= T - 5 min: never in the window.
    newly_settled = f"SELECT * REPLACE (0 AS completed_5min) FROM ({counters})"
    if base is not None:
        newly_settled = f"""
            SELECT queue, sum(depth) AS depth, sum(processing) AS processing,
                sum(completed_total) AS completed_total, sum(failed_total) AS failed_total,
                sum(cancelled_total) AS cancelled_total, sum(duration_sum) AS duration_sum,
                sum(duration_count) AS duration_count, sum(retried_total) AS retried_total,
                sum(completed_5min) AS completed_5min,
                min(oldest_pending_since) AS oldest_pending_since
            FROM ({newly_settled} UNION ALL BY NAME SELECT * FROM read_parquet($base_settled))
            GROUP BY queue"""
    params: dict[str, object] = {"settle": boundary - margin}
    if base is not None:
        params["base_open"] = lake.uri(base.open_tasks)
        params["base_settled"] = lake.uri(base.settled_queues)
    try:
        open_tasks = con.sql(open_sql, params=_used(open_sql, params)).to_arrow_table()
        settled = con.sql(newly_settled, params=_used(newly_settled, params)).to_arrow_table()
    except duckdb.Error as error:
        raise StorageError(
            f"cannot build the snapshot at {boundary.isoformat()} in {lake.path(directory)}: "
            f"{str(error).splitlines()[0]}; rerun 'tasqlake compact --snapshot'"
        ) from None
    snapshot = Snapshot(boundary, margin, directory, tuple(sources))
    lake.commit_parquet(snapshot.open_tasks, open_tasks)
    lake.commit_parquet(snapshot.settled_queues, settled)
    _write_meta(
        lake,
        snapshot,
        {
            "incremental_from": base.boundary.isoformat() if base is not None else None,
            "replayed_files": len(replay),
        },
    )
    return snapshot


def _used(sql: str, params: dict[str, object]) -> dict[str, object]:
    """The parameters ``sql`` refers to (DuckDB refuses unused named parameters)."""
    return {k: v for k, v in params.items() if f"${k}" in sql}


def _write_meta(lake: Lake, snapshot: Snapshot, extra: dict[str, object]) -> None:
    meta = {
        "boundary": snapshot.boundary.isoformat(),
        "margin_s": snapshot.margin.total_seconds(),
        "sources": list(snapshot.sources),
        **extra,
    }
    lake.commit_bytes(f"{snapshot.directory}/snapshot.json", json.dumps(meta).encode())


def follow_compaction(lake: Lake, manifest: Manifest) -> None:
    """Compaction replaced ``manifest``'s inputs by its outputs, holding the same events: a
    snapshot built from all of those inputs now names the outputs, so it stays current. (If the
    compaction also merged a file the snapshot did not see, the snapshot is left stale.)"""
    inputs = manifest.superseded_paths
    for snapshot in list_snapshots(lake):
        sources = set(snapshot.sources)
        if inputs <= sources:
            moved = tuple(sorted((sources - inputs) | set(manifest.outputs)))
            _write_meta(lake, replace(snapshot, sources=moved), {"followed": manifest.outputs})


def is_current(lake: Lake, snapshot: Snapshot) -> bool:
    """True while no file was added to (or removed from) the partitions before the boundary."""
    return set(partitions_before(lake, snapshot.boundary)) == set(snapshot.sources)


def fast_queue_stats(
    lake: Lake, con: duckdb.DuckDBPyConnection, snapshot: Snapshot, as_of: datetime
) -> duckdb.DuckDBPyRelation:
    """queue_stats counters as of ``as_of`` (>= the boundary) from the snapshot + later files."""
    if as_of < snapshot.boundary:
        raise StorageError(
            f"snapshot at {snapshot.boundary.isoformat()} cannot answer as of "
            f"{as_of.isoformat()}: use the full replay"
        )
    params = {
        "open": lake.uri(snapshot.open_tasks),
        "settled": lake.uri(snapshot.settled_queues),
        "glob": lake.events_glob,
        "bdate": snapshot.boundary.date(),
        "bhour": snapshot.boundary.hour,
        "t": as_of,
    }
    return con.sql(fast_queue_stats_sql(), params=params)


def snapshot_boundary(cutoff: datetime) -> datetime:
    """The latest hour boundary at or before ``cutoff``: every partition before it is closed."""
    return cutoff.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def list_snapshots(lake: Lake) -> list[Snapshot]:
    """Snapshots of the lake, oldest first (those with an unreadable manifest are skipped)."""
    found = []
    for name in lake.list_dirs(SNAPSHOT_ROOT):
        rel = f"{SNAPSHOT_ROOT}/{name}/snapshot.json"
        if not lake.exists(rel):
            continue  # being written, or interrupted before its manifest: not a snapshot
        try:
            meta = json.loads(lake.path(rel).read_bytes())
            found.append(
                Snapshot(
                    datetime.fromisoformat(meta["boundary"]),
                    timedelta(seconds=meta["margin_s"]),
                    f"{SNAPSHOT_ROOT}/{name}",
                    tuple(meta["sources"]),
                )
            )
        except (OSError, ValueError, KeyError):
            continue
    return sorted(found, key=lambda s: s.boundary)


def refresh_snapshot(
    lake: Lake,
    con: duckdb.DuckDBPyConnection,
    cutoff: datetime,
    margin: timedelta = DEFAULT_MARGIN,
    keep: int = 2,
) -> Snapshot | None:
    """Build the snapshot at the boundary of ``cutoff`` unless a current one exists; keep the
    ``keep`` latest snapshots and delete older ones. Returns the snapshot built, if any."""
    boundary = snapshot_boundary(cutoff)
    existing = [s for s in list_snapshots(lake) if s.boundary == boundary]
    built = None
    if not existing or not is_current(lake, existing[0]):
        earlier = [s for s in list_snapshots(lake) if s.boundary < boundary]
        base = earlier[-1] if earlier else None
        built = build_snapshot(lake, con, boundary, margin, base=base)
    for old in list_snapshots(lake)[:-keep]:
        lake.delete_tree(old.directory)
    return built
