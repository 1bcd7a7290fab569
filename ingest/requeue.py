"""Re-importing quarantined payloads through the ingest write path, exactly once.

After a fix (a larger ``max_payload_bytes``, a decoder that now accepts a shape it rejected),
:func:`requeue_quarantine` runs the raw payloads kept under ``quarantine/`` through the same
:class:`~tasqlake.ingest.processing.columnar.BatchBuilder` with the receive time, channel and
ingester id each one was quarantined with, so a payload that now passes is stored exactly as if it
had been ingested then (same ``event_id``, same ``received_at``). Payloads that still fail stay
where they are.

Exactly once, whatever the crash point, with quarantine files never modified (they remain the
record of what was rejected and why). Per quarantine file with payloads that now pass:

1. a *ledger* ``requeued/<run>.parquet`` naming those quarantine rows (by ``event_id``) and
   the settings used is committed first;
2. the events are committed as ``events/…/requeue-<run>-<group>.parquet`` (``<run>`` is a hash
   of the quarantine file and the rows, so a redo writes the same names);
3. a marker ``requeued/<run>.done`` is committed.

A later run first completes any ledger without its marker (same rows, same settings recorded in
the ledger, hence the same files, overwritten rather than added), then never takes a quarantine
row whose ``event_id`` is in a ledger again. A payload quarantined by several ingesters (HA) is
stored once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tasqlake.ingest.processing import committer
from tasqlake.ingest.processing.columnar import BatchBuilder, BuiltBatch
from tasqlake.lake import layout
from tasqlake.lake.storage import Lake
from tasqlake.schemas import constants
from tasqlake.schemas.decode import NOT_JSON, event_id, json_to_msgpack
from tasqlake.schemas.errors import PayloadError, StorageError
from tasqlake.schemas.redaction import RedactionPolicy

log = logging.getLogger(__name__)

SETTINGS_KEY = b"tasqlake.requeue.settings"
_TS = pa.timestamp("us", tz="UTC")
LEDGER_SCHEMA = pa.schema(
    (
        pa.field("event_id", pa.int64(), nullable=False),  # of the quarantine row
        pa.field("stored_event_id", pa.int64(), nullable=False),  # of the stored event
        pa.field("quarantine_file", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),  # why it had been quarantined
        pa.field("received_at", _TS, nullable=False),
        pa.field("requeued_at", _TS, nullable=False),
    )
)
_COLUMNS = ["event_id", "raw", "reason", "received_at", "channel", "ingester_id"]

Track = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class Selection:
    """Which quarantine rows to try again: reasons (None = all) and received since (µs)."""

    reasons: frozenset[str] | None = None
    since_us: int | None = None


@dataclass
class RequeueSummary:
    examined: int = 0
    stored: int = 0
    already_requeued: int = 0
    completed_runs: int = 0
    still_failing: dict[str, int] = field(default_factory=dict)
    lake_files: int = 0

    def render(self) -> str:
        failing = sum(self.still_failing.values())
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(self.still_failing.items()))
        redone = (
            f"; completed {self.completed_runs} interrupted run(s)" if self.completed_runs else ""
        )
        return (
            f"re-imported from quarantine: {self.examined} payloads examined, {self.stored} "
            f"now stored, {failing} still quarantined{f' ({reasons})' if reasons else ''}, "
            f"{self.already_requeued} already re-imported, {self.lake_files} lake files "
            f"written{redone}"
        )


@dataclass(frozen=True, slots=True)
class _Settings:
    max_payload_bytes: int
    redact: str

    def encode(self) -> bytes:
        text = json.dumps({"max_payload_bytes": self.max_payload_bytes, "redact": self.redact})
        return text.encode()

    @classmethod
    def decode(cls, data: bytes) -> _Settings:
        obj = json.loads(data)
        return cls(int(obj["max_payload_bytes"]), str(obj["redact"]))


def requeue_quarantine(
    lake: Lake,
    max_payload_bytes: int = constants.DEFAULT_MAX_PAYLOAD_BYTES,
    redaction: RedactionPolicy | None = None,
    selection: Selection = Selection(),
    track: Track | None = None,
) -> RequeueSummary:
    """Try every selected quarantine row again; returns what happened.

    ``track(1)`` is called after each quarantine file (of :func:`quarantine_files`).
    """
    lake.require_readable()
    settings = _Settings(max_payload_bytes, str(redaction or RedactionPolicy.parse("")))
    summary = RequeueSummary()
    taken = _complete_pending(lake, summary)
    for relpath in quarantine_files(lake):
        rows = _read_quarantine(lake, relpath)
        chosen = _select(rows, selection, taken, summary)
        summary.examined += chosen.num_rows
        if chosen.num_rows:
            _requeue_file(lake, relpath, chosen, settings, summary, taken)
        if track is not None:
            track(1)
    return summary


def quarantine_files(lake: Lake) -> list[str]:
    """The quarantine files a run goes through, in order."""
    return lake.list_files(layout.QUARANTINE_DIR)


def _select(
    rows: pa.Table, selection: Selection, taken: set[int], summary: RequeueSummary
) -> pa.Table:
    mask = pa.array([True] * rows.num_rows)
    if selection.reasons is not None:
        mask = pc.and_(mask, pc.is_in(rows["reason"], pa.array(sorted(selection.reasons))))
    if selection.since_us is not None:
        since = pa.scalar(selection.since_us, pa.int64()).cast(_TS)
        mask = pc.and_(mask, pc.greater_equal(rows["received_at"], since))
    chosen = rows.filter(mask)
    keep, seen = [], set()
    for index, eid in enumerate(chosen["event_id"].to_pylist()):
        if eid in taken:
            summary.already_requeued += 1
        elif eid not in seen:
            seen.add(eid)
            keep.append(index)
    return chosen.take(pa.array(keep, pa.int64()))


def _requeue_file(
    lake: Lake,
    relpath: str,
    rows: pa.Table,
    settings: _Settings,
    summary: RequeueSummary,
    taken: set[int],
) -> None:
    groups, stored_ids = _build(rows, settings, summary)
    stored = _event_ids(groups)
    passing = [i for i, sid in enumerate(stored_ids) if sid in stored]
    if not passing:
        return
    ledger = _ledger_table(rows.take(pa.array(passing, pa.int64())), stored_ids, passing, relpath)
    run = _run_id(relpath, ledger["event_id"].to_pylist())
    lake.commit_parquet(
        f"{layout.REQUEUED_DIR}/{run}.parquet",
        ledger.replace_schema_metadata({SETTINGS_KEY: settings.encode()}),
    )
    summary.lake_files += _commit_events(lake, run, groups)
    lake.commit_bytes(f"{layout.REQUEUED_DIR}/{run}.done", b"")
    taken.update(ledger["event_id"].to_pylist())
    summary.stored += len(passing)
    log.info("re-imported %d payloads of %s (run %s)", len(passing), relpath, run)


def _build(
    rows: pa.Table, settings: _Settings, summary: RequeueSummary | None
) -> tuple[list[BuiltBatch], list[int]]:
    """Built batches (one per original ingester id) and each row's stored event_id."""
    redaction = RedactionPolicy.parse(settings.redact)
    builders: dict[str, BatchBuilder] = {}
    stored_ids: list[int] = []
    received = rows["received_at"].cast(pa.int64()).to_pylist()
    for index, (raw, reason, channel, ingester) in enumerate(
        zip(
            rows["raw"].to_pylist(),
            rows["reason"].to_pylist(),
            rows["channel"].to_pylist(),
            rows["ingester_id"].to_pylist(),
            strict=True,
        )
    ):
        builder = builders.get(ingester)
        if builder is None:
            builder = builders[ingester] = BatchBuilder(
                ingester, settings.max_payload_bytes, redaction
            )
        payload = raw
        if reason == NOT_JSON:  # a JSON line that failed to parse: parse it again
            try:
                payload = json_to_msgpack(raw)
            except PayloadError as error:
                builder.reject(raw, error, received[index], channel)
                stored_ids.append(event_id(raw))
                continue
        builder.add([payload], received[index], channel)
        stored_ids.append(event_id(payload))
    built = [builders[name].build() for name in sorted(builders)]
    if summary is not None:
        for batch in built:
            for _, table in batch.quarantine:
                for reason in table["reason"].to_pylist():
                    summary.still_failing[reason] = summary.still_failing.get(reason, 0) + 1
    return built, stored_ids


def _event_ids(groups: Iterable[BuiltBatch]) -> set[int]:
    return {eid for g in groups for _, t in g.events for eid in t["event_id"].to_pylist()}


def _commit_events(lake: Lake, run: str, groups: list[BuiltBatch]) -> int:
    files = 0
    for index, built in enumerate(groups):
        result = committer.commit_tables(
            lake, committer.EVENTS, built.events, f"requeue-{run}", index
        )
        files += result.files
    return files


def _ledger_table(
    rows: pa.Table, stored_ids: list[int], passing: list[int], relpath: str
) -> pa.Table:
    now = time.time_ns() // 1000
    count = rows.num_rows
    return pa.Table.from_arrays(
        [
            rows["event_id"],
            pa.array([stored_ids[i] for i in passing], pa.int64()),
            pa.array([relpath] * count, pa.string()),
            rows["reason"],
            rows["received_at"],
            pa.array([now] * count, pa.int64()).cast(_TS),
        ],
        schema=LEDGER_SCHEMA,
    )


def _run_id(relpath: str, event_ids: list[int]) -> str:
    digest = hashlib.sha256(relpath.encode())
    for eid in sorted(event_ids):
        digest.update(eid.to_bytes(8, "big", signed=True))
    return digest.hexdigest()[:16]


def _read_quarantine(lake: Lake, relpath: str) -> pa.Table:
    table = lake.read_table(relpath)
    missing = [c for c in _COLUMNS if c not in table.column_names]
    if missing:
        raise StorageError(
            f"{lake.describe(relpath)} is not a quarantine file (no {', '.join(missing)}): move it "
            f"out of {layout.QUARANTINE_DIR}/"
        )
    # Hive partition columns (date, hour) are not wanted: only the stored columns, in order.
    return table.select(_COLUMNS).combine_chunks()


def _complete_pending(lake: Lake, summary: RequeueSummary) -> set[int]:
    """Finish runs whose ledger has no marker; returns every quarantine event_id in a ledger."""
    taken: set[int] = set()
    ledgers = [p for p in lake.list_files(layout.REQUEUED_DIR) if p.count("/") == 1]
    for relpath in ledgers:
        ledger = lake.read_table(relpath)
        taken.update(ledger["event_id"].to_pylist())
        marker = relpath.removesuffix(".parquet") + ".done"
        if lake.exists(marker):
            continue
        run = relpath.rsplit("/", 1)[1].removesuffix(".parquet")
        _redo(lake, run, ledger)
        lake.commit_bytes(marker, b"")
        summary.completed_runs += 1
    return taken


def _redo(lake: Lake, run: str, ledger: pa.Table) -> None:
    """Commit again exactly the events of an interrupted run (same rows, settings, names)."""
    settings = _Settings.decode((ledger.schema.metadata or {})[SETTINGS_KEY])
    source = ledger["quarantine_file"][0].as_py()
    if not lake.exists(source):
        log.warning(
            "requeue run %s: quarantine file %s is gone (pruned?); its events may be missing",
            run,
            source,
        )
        return
    wanted = set(
        zip(
            ledger["event_id"].to_pylist(),
            ledger["received_at"].cast(pa.int64()).to_pylist(),
            strict=True,
        )
    )
    rows = _read_quarantine(lake, source)
    keys = zip(
        rows["event_id"].to_pylist(), rows["received_at"].cast(pa.int64()).to_pylist(), strict=True
    )
    first: dict[tuple[int, int], int] = {}
    for index, key in enumerate(keys):
        if key in wanted:
            first.setdefault(key, index)
    groups, _ = _build(rows.take(pa.array(sorted(first.values()), pa.int64())), settings, None)
    _commit_events(lake, run, groups)
    log.info("completed interrupted requeue run %s (%s)", run, source)
