"""Compaction: the small files of closed hour partitions merged into large sorted files.

A partition ``events/date=D/hour=H`` is *closed* when its hour ended more than ``older_than``
ago (default 1 h). Its *live* files are the Parquet files in it minus those a compaction
manifest (:mod:`tasqlake.lake.compaction_manifest`) lists as superseded. A closed partition is
compacted when a live file is not a compacted file, or when its live compacted files come from
more than one compaction. Then, in this order:

1. the live files are merged by DuckDB: duplicates by ``event_id`` removed (the copy received
   first is kept), rows in the storage order of :mod:`tasqlake.lake.compaction_format`, spilled to a
   temporary directory outside the lake when large;
2. the task snapshot of the inputs (per-task partial aggregates, :mod:`tasqlake.lake.layout`)
   is committed as ``task_snapshots/date=D/hour=H/snapshot-<generation>-<random>.parquet``;
   then the merged result is committed atomically (``Lake.commit_parquet``) as
   ``snapshotted-<generation>-<random>.parquet`` next to the inputs (several files when the
   partition has more than ``MAX_ROWS_PER_FILE`` rows). The views skip ``snapshotted-`` files of
   closed partitions and read the snapshot instead, so it must exist first;
3. a manifest naming the outputs and the superseded inputs is committed atomically;
4. a later run, once ``grace`` (default 10 min) has passed since the manifest was written,
   deletes the superseded files (and the task snapshots of superseded ``snapshotted-`` files),
   then the manifest;
5. every run then extends the snapshot chain (:mod:`tasqlake.lake.chain`) over the hours whose
   files are one compaction's output alone, rebuilding it from the first hour whose link a
   later file invalidated.

Partitions compacted before task snapshots existed (``compacted-`` files) are compacted once
more, to give them a snapshot.

Guarantees, for readers that remove duplicates by ``event_id`` (the ``events`` view; the
``event_log``-based views use duplicate-insensitive aggregates):

* never double counting: between steps 2 and 4 an event is in an output and in an input, and
  both copies have the same event_id;
* no reader fails for a compaction it overlapped: no superseded file disappears until the grace
  period is over (set ``--grace`` above your longest query). Superseded files stay visible to
  the views for all that time (they do not read the manifests), so a query that lists them just
  before the run that deletes them does fail with "file not found" (a known hole,
  tests/lake/test_s3_concurrency.py);
* nothing lost, whatever the crash point: an input is deleted only after a committed manifest
  names outputs holding all its events, and outputs are only ever deleted the same way. A crash
  after 2 and before 3 leaves the outputs live next to the inputs; the next run merges them all
  again (duplicates removed), so a run converges;
* idempotent: a run over a lake where nothing changed compacts nothing;
* a crash after a snapshot was committed and before its outputs leaves a snapshot no file
  refers to: harmless (its rows repeat events still read from the inputs; the merge in
  ``task_state`` is duplicate-insensitive), and left in place;
* safe while ingesting: only closed partitions are touched, a file committed into one during a
  run is not an input and is merged by the next run. Two concurrent runs waste work but break
  none of the above.
"""

from __future__ import annotations

import re
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa

from tasqlake.lake import layout
from tasqlake.lake.chain import ChainReport, LinkProgress, extend_chain
from tasqlake.lake.compaction_format import (
    MAX_ROWS_PER_FILE,
    MERGE_SQL,
    snapshot_writer_options,
    writer_options,
)
from tasqlake.lake.compaction_manifest import (
    Manifest,
    Superseded,
    load_manifests,
    load_manifests_only,
    superseded_paths,
    write_manifest,
)
from tasqlake.lake.layout import snapshot_of, snapshot_path, snapshotted_name
from tasqlake.lake.retention import partition_end
from tasqlake.lake.storage import EncodedParquet, Lake, encode_parquet
from tasqlake.schemas import constants
from tasqlake.schemas.errors import StorageError, error_reason
from tasqlake.schemas.redaction import METADATA_KEY
from tasqlake.schemas.stored import EVENT_SCHEMA, upcast
from tasqlake.schemas.task_algebra import macros
from tasqlake.schemas.wire_shapes import shapes_metadata, wire_shapes_of

DEFAULT_OLDER_THAN = timedelta(hours=1)
DEFAULT_GRACE = timedelta(minutes=10)
DEFAULT_MEMORY_LIMIT = "1GB"
DEFAULT_ALLOWED_LATENESS = timedelta(seconds=constants.DEFAULT_ALLOWED_LATENESS_S)
#: Compacted files: ``snapshotted-`` (with a task snapshot) or, before snapshots, ``compacted-``.
_COMPACTED = re.compile(r"^(?:snapshotted|compacted)-(\d{6})-([0-9a-f]{8})(?:-\d{3})?\.parquet$")


@dataclass(frozen=True)
class PartitionPlan:
    """A closed partition that needs compacting, with its live files."""

    partition: str  # events/date=…/hour=…
    live: tuple[str, ...]
    generation: int  # of the next output


@dataclass
class CompactionReport:
    cutoff: datetime
    partitions: list[str] = field(default_factory=list)
    files_in: int = 0
    rows_in: int = 0
    rows_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    deleted_files: int = 0
    pending_files: int = 0  # superseded, waiting for their grace period
    chain: ChainReport = field(default_factory=ChainReport)

    @property
    def duplicates_removed(self) -> int:
        return self.rows_in - self.rows_out


#: Called with (partition, rows) after each partition; the CLI draws its progress bar with it.
Progress = Callable[[str, int], None]


def generation_of(name: str) -> int | None:
    """The generation number of a compacted file name, None for any other file."""
    compaction = compaction_of(name)
    return compaction[0] if compaction else None


def compaction_of(name: str) -> tuple[int, str] | None:
    """The compaction (generation, token) that wrote a compacted file, None for any other file.

    Two runs racing over one partition write outputs of the same generation under different
    tokens: only the token tells their outputs apart."""
    match = _COMPACTED.match(name.rsplit("/", 1)[-1])
    return (int(match.group(1)), match.group(2)) if match else None


def live_files(lake: Lake, directory: str = layout.EVENTS_DIR) -> list[str]:
    """Parquet files under ``directory`` that no compaction manifest lists as superseded."""
    dead = superseded_paths(load_manifests_only(lake))
    return [f for f in lake.list_files(directory) if f not in dead]


def plan(
    lake: Lake, cutoff: datetime, manifests: Iterable[Manifest] | None = None
) -> list[PartitionPlan]:
    """The closed partitions (hour ended at or before ``cutoff``) that need compacting."""
    dead = superseded_paths(load_manifests_only(lake) if manifests is None else manifests)
    plans = []
    for date, hour in lake.iter_partitions(layout.EVENTS_DIR):
        if partition_end(date, hour) > cutoff:
            continue
        partition = f"{layout.EVENTS_DIR}/date={date}/hour={hour:02d}"
        live = tuple(f for f in lake.list_files(partition) if f not in dead)
        compactions = {compaction_of(f) for f in live}
        if not live or (
            len(compactions) == 1 and None not in compactions and _snapshotted(lake, live)
        ):
            continue  # empty, or already one compaction's output, with its task snapshot
        known = [c[0] for c in compactions if c is not None]
        plans.append(PartitionPlan(partition, live, max(known, default=0) + 1))
    return plans


def _snapshotted(lake: Lake, files: Iterable[str]) -> bool:
    """Whether every file is a ``snapshotted-`` one whose task snapshot exists."""
    snapshots = {snapshot_of(f) for f in files}
    return None not in snapshots and all(lake.exists(s) for s in snapshots if s is not None)


def compact(
    lake: Lake,
    older_than: timedelta = DEFAULT_OLDER_THAN,
    *,
    grace: timedelta = DEFAULT_GRACE,
    now: datetime | None = None,
    progress: Progress | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    allowed_lateness: timedelta = DEFAULT_ALLOWED_LATENESS,
    link_progress: LinkProgress | None = None,
) -> CompactionReport:
    """Delete what is past its grace period, compact every closed partition that needs it, then
    extend the snapshot chain (:mod:`tasqlake.lake.chain`) over the hours that are clean."""
    moment = now or datetime.now(UTC)
    report = CompactionReport(cutoff=moment - older_than)
    manifests = load_manifests(lake)
    remaining = purge_superseded(lake, manifests, moment - grace, report)
    plans = plan(lake, report.cutoff, remaining)
    with _merger(memory_limit) as con, _Pipeline(lake, now=moment, report=report) as pipeline:
        lake.attach(con)
        for item in plans:
            pipeline.submit(item, merge_partition(lake, con, item))
            for partition, rows in pipeline.finished(keep=1):
                if progress is not None:
                    progress(partition, rows)
        for partition, rows in pipeline.finished(keep=0):
            if progress is not None:
                progress(partition, rows)
        if plans and grace <= timedelta(0):  # no grace: what this run superseded goes now
            report.pending_files = 0
            purge_superseded(lake, load_manifests(lake), moment, report)
        report.chain = extend_chain(
            lake,
            con,
            cutoff=report.cutoff,
            allowed_lateness=allowed_lateness,
            now=moment,
            grace=grace,
            progress=link_progress,
        )
    return report


def purge_superseded(
    lake: Lake,
    manifests: list[tuple[str, Manifest]],
    deadline: datetime,
    report: CompactionReport,
) -> list[Manifest]:
    """Delete files superseded before ``deadline``; returns the manifests still in force."""
    remaining = []
    for rel, manifest in manifests:
        if manifest.superseded_at > deadline:
            remaining.append(manifest)
            report.pending_files += len(manifest.superseded)
            continue
        for item in manifest.superseded:
            try:
                size = lake.size(item.path)
            except FileNotFoundError:
                continue  # deleted already (by a run purging the same manifest at once)
            if size != item.size:
                # Re-committed under the same name since (a WAL replay): a live file now.
                continue
            lake.delete(item.path)
            report.deleted_files += 1
            snapshot = snapshot_of(item.path)
            if snapshot is not None and lake.exists(snapshot):
                lake.delete(snapshot)
        lake.delete(rel)
    return remaining


@dataclass
class MergedPartition:
    """What DuckDB computed for one partition, to be encoded and committed (in that order: the
    task snapshot, the outputs, the manifest)."""

    snapshot: pa.Table
    outputs: list[pa.Table]
    superseded: tuple[Superseded, ...]
    rows_in: int
    token: str


def merge_partition(
    lake: Lake, con: duckdb.DuckDBPyConnection, item: PartitionPlan
) -> MergedPartition:
    """Merge one partition's live files and compute its task snapshot (nothing is written)."""
    sizes: list[Superseded] = []
    for path in item.live:
        try:
            sizes.append(Superseded(path, lake.size(path)))
        except FileNotFoundError:
            raise StorageError(
                f"cannot compact {lake.describe(item.partition)}: {lake.describe(path)} was "
                "deleted while this run read it (by another compaction run at the same time); "
                "the partition is unchanged, rerun 'tasqlake compact'"
            ) from None
    rows_in, metadata = _inspect(lake, item.live)
    schema = EVENT_SCHEMA.with_metadata({**(EVENT_SCHEMA.metadata or {}), **metadata})
    uris = _uris(lake, item.live)
    try:
        snapshot = task_snapshot(con, uris)
        reader = con.sql(MERGE_SQL, params={"files": uris}).to_arrow_reader(ROWS_PER_BATCH)
        outputs = [
            upcast(table).replace_schema_metadata(schema.metadata)
            for table in _chunks(reader, MAX_ROWS_PER_FILE)
        ]
    except duckdb.Error as error:
        raise StorageError(
            f"cannot compact {lake.describe(item.partition)}: {error_reason(error)}; "
            "the partition is unchanged, fix the cause and rerun 'tasqlake compact'"
        ) from None
    return MergedPartition(snapshot, outputs, tuple(sizes), rows_in, uuid.uuid4().hex[:8])


def commit_partition(
    lake: Lake,
    item: PartitionPlan,
    snapshot: EncodedParquet,
    outputs: list[Future[EncodedParquet]],
    merged: MergedPartition,
    now: datetime,
    report: CompactionReport,
) -> int:
    """Commit the task snapshot, then every output (each as soon as it is encoded), then the
    manifest (the order the crash guarantees rest on). Returns rows out."""
    token = merged.token
    lake.commit_parquet(
        snapshot_path(item.partition, item.generation, token), snapshot, exclusive=True
    )
    written: list[str] = []
    rows_out = 0
    for part, output in enumerate(outputs):
        encoded = output.result()
        rel = f"{item.partition}/{snapshotted_name(item.generation, token, part)}"
        report.bytes_out += lake.commit_parquet(rel, encoded, exclusive=True)
        written.append(rel)
        rows_out += encoded.rows
    if not written:  # every input was empty: nothing to write, nothing to supersede
        return 0
    manifest = Manifest(
        item.partition, tuple(written), merged.superseded, now, merged.rows_in, rows_out
    )
    write_manifest(lake, manifest)
    report.partitions.append(item.partition)
    report.files_in += len(item.live)
    report.rows_in += merged.rows_in
    report.rows_out += rows_out
    report.bytes_in += sum(s.size for s in merged.superseded)
    report.pending_files += len(merged.superseded)
    return rows_out


class _Pipeline:
    """Encoding and committing on worker threads while DuckDB merges the next partition.

    Compression at the levels of :mod:`compaction_format` costs more than the merge itself
    (one 720 k-event hour: merge 2 s, task snapshot 0.5 s, encoding them 2.3 s and 3.0 s), and
    pyarrow releases the GIL while it compresses: the files of partition P are encoded on
    ``ENCODERS`` threads and committed by one committer thread, in the order of
    :func:`commit_partition`, while DuckDB merges P + 1. A failed commit stops the commits
    queued after it; the error is raised by :meth:`finished` (at the latest when the pipeline
    closes)."""

    ENCODERS = 2

    def __init__(self, lake: Lake, *, now: datetime, report: CompactionReport) -> None:
        self.lake = lake
        self.now = now
        self.report = report
        self._encoders = ThreadPoolExecutor(self.ENCODERS, "tasqlake-encode")
        self._committer = ThreadPoolExecutor(1, "tasqlake-commit")
        self._pending: deque[tuple[str, Future[int]]] = deque()
        self._failed = threading.Event()

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is not None:
            self._failed.set()  # the error in flight wins: stop what is queued, then go
        try:
            if kind is None:
                list(self.finished(keep=0))
        finally:
            self._committer.shutdown(wait=True, cancel_futures=True)
            self._encoders.shutdown(wait=True, cancel_futures=True)

    def submit(self, item: PartitionPlan, merged: MergedPartition) -> None:
        snapshot = self._encoders.submit(
            encode_parquet, merged.snapshot, **snapshot_writer_options(merged.snapshot.schema)
        )
        outputs = [
            self._encoders.submit(encode_parquet, table, **writer_options())
            for table in merged.outputs
        ]
        job = self._committer.submit(self._commit, item, snapshot, outputs, merged)
        self._pending.append((item.partition, job))

    def _commit(
        self,
        item: PartitionPlan,
        snapshot: Future[EncodedParquet],
        outputs: list[Future[EncodedParquet]],
        merged: MergedPartition,
    ) -> int:
        if self._failed.is_set():
            return 0
        try:
            return commit_partition(
                self.lake, item, snapshot.result(), outputs, merged, self.now, self.report
            )
        except BaseException:
            self._failed.set()
            raise

    def finished(self, keep: int) -> Iterator[tuple[str, int]]:
        """(partition, rows out) of the partitions committed, waiting until at most ``keep``
        are still in flight; raises the first commit's error."""
        while len(self._pending) > keep:
            partition, job = self._pending.popleft()
            rows = job.result()
            yield partition, rows


ROWS_PER_BATCH = 122_880
#: The relation the task snapshot of a compaction is computed over (a temporary view).
_SNAPSHOT_INPUT = "compaction_input"


def task_snapshot(con: duckdb.DuckDBPyConnection, uris: list[str]) -> pa.Table:
    """The task snapshot (per-task partials, schemas/sql/task_partials_of.sql) of the event
    files ``uris``, in the order of first events."""
    con.read_parquet(uris, union_by_name=True, hive_partitioning=False).to_view(_SNAPSHOT_INPUT)
    return con.sql(
        f"FROM task_partials_of('{_SNAPSHOT_INPUT}') ORDER BY first_seen_at, task_id"
    ).to_arrow_table()


def _chunks(reader: pa.RecordBatchReader, max_rows: int) -> Iterator[pa.Table]:
    """The reader's rows in tables of at most ``max_rows`` rows."""
    batches: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:
        if rows + batch.num_rows > max_rows and batches:
            yield pa.Table.from_batches(batches)
            batches, rows = [], 0
        batches.append(batch)
        rows += batch.num_rows
    if batches:
        yield pa.Table.from_batches(batches)


def _uris(lake: Lake, files: Iterable[str]) -> list[str]:
    return [lake.uri(f) for f in files]


def _inspect(lake: Lake, files: Iterable[str]) -> tuple[int, dict[bytes, bytes]]:
    """Rows in the inputs, and the metadata to record on the output: their redaction policy
    (several: all of them, joined with ';') and every wire shape they record (an input without
    the record: shape 1)."""
    policies: list[str] = []
    shapes: set[str] = set()
    rows = 0
    for rel in files:
        try:
            footer = lake.read_metadata(rel)
            meta = footer.schema.to_arrow_schema().metadata or {}
            rows += footer.num_rows
        except StorageError as error:
            raise StorageError(
                f"{error} (to compact it); move the file out of the lake (it is unreadable to "
                "every query too) and rerun 'tasqlake compact'"
            ) from None
        policy = meta.get(METADATA_KEY)
        if policy is not None and policy.decode() not in policies:
            policies.append(policy.decode())
        shapes.update(wire_shapes_of(meta))
    recorded = shapes_metadata(shapes) if shapes else {}
    return rows, ({METADATA_KEY: "; ".join(policies).encode()} if policies else {}) | recorded


class _merger:
    """A private in-memory DuckDB connection that spills to a temporary directory."""

    def __init__(self, memory_limit: str) -> None:
        self.memory_limit = memory_limit
        self._tmp = tempfile.TemporaryDirectory(prefix="tasqlake-compact-")
        self._con: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(config={"memory_limit": self.memory_limit})
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET temp_directory = '{self._tmp.name}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")  # the CLI draws its own
        for ddl in macros():
            con.execute(ddl)
        self._con = con
        return con

    def __exit__(self, *exc: object) -> None:
        if self._con is not None:
            self._con.close()
        self._tmp.cleanup()
