"""Turning a batch of raw payloads into Arrow tables, fast, with the canonical decoder's meaning.

The common case (a well-formed AsyncTasQ payload) is decoded straight into the per-kind structs
of :mod:`tasqlake.ingest.processing.fast_wire` (task events and worker events apart) and the columns
are built and validated a whole chunk at a time. Every payload the fast path is not sure about
(extra keys, a wrong type, not msgpack, out-of-range values, missing keys, unknown event types) is
handed to the canonical per-payload path, :func:`tasqlake.schemas.decode.decode` +
:class:`~tasqlake.schemas.batch.EventColumns` / :class:`~tasqlake.schemas.batch.QuarantineColumns`,
which decides whether it is stored or quarantined and why. The fast path only ever accepts payloads
the canonical path accepts, with the same values (a property test holds it to that), and only
payloads of the current wire shape: a payload of an older one is upcast on the canonical path
(:mod:`tasqlake.schemas.wire_shapes`), so the common case pays nothing for the upcaster chain.

Memory: decoded structs are turned into Arrow every :data:`CHUNK_ROWS` rows, so only the Arrow
tables of the batch (:attr:`BatchBuilder.nbytes`) and one chunk of structs are held at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import compress

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from msgspec import UNSET

from tasqlake.ingest.processing import fast_wire
from tasqlake.ingest.processing.redaction_arrays import redact_columns, schema_with_policy
from tasqlake.schemas import constants
from tasqlake.schemas.batch import EventColumns, Partition, QuarantineColumns, with_wire_shapes
from tasqlake.schemas.decode import decode, result_json
from tasqlake.schemas.errors import PayloadError
from tasqlake.schemas.redaction import DEFAULT_POLICY, RedactionPolicy
from tasqlake.schemas.stored import EVENT_SCHEMA, QUARANTINE_SCHEMA
from tasqlake.schemas.wire_shapes import SHAPES, WireShapes, shapes_of_rows

HOUR_US = 3_600_000_000
#: Fast-path rows turned into Arrow at a time.
CHUNK_ROWS = 8_192
_MIN_TS_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z
_MAX_FUTURE_US = constants.MAX_FUTURE_SKEW_S * 1_000_000
_DECODE = fast_wire.decode
_ASTUPLE = msgspec.structs.astuple
_BLAKE2B = hashlib.blake2b
_TYPES = {f.name: f.type for f in EVENT_SCHEMA}
_EVENT_TYPE_OF = fast_wire.EVENT_TYPE_OF
_EVENT_TYPE_NAMES = pa.array(list(_EVENT_TYPE_OF.values()), pa.string())
_EVENT_TYPE_CODE = {cls: code for code, cls in enumerate(_EVENT_TYPE_OF)}
#: Codes below this are task events (fast_wire.CLASSES lists task kinds first).
_TASK_KINDS = sum(issubclass(cls, fast_wire.TaskWire) for cls in _EVENT_TYPE_OF)
assert all(issubclass(c, fast_wire.TaskWire) for c in list(_EVENT_TYPE_OF)[:_TASK_KINDS])
#: Columns computed apart from the struct fields (and null for the other kind).
_COMPUTED = {"event_id", "event_type", "extra", "received_at", "channel", "ingester_id"}
_TASK_NULLS = tuple(
    n for n in EVENT_SCHEMA.names if n not in _COMPUTED and n not in fast_wire.TASK_FIELDS
)
_WORKER_NULLS = tuple(
    n for n in EVENT_SCHEMA.names if n not in _COMPUTED and n not in fast_wire.WORKER_FIELDS
)
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError)  # deep nesting: the slow path says why
_BUILD_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    OverflowError,
    TypeError,
    ValueError,
    PayloadError,  # e.g. a result JSON cannot hold: the canonical path says which row
    RecursionError,
)

assert (
    np.datetime64(f"{constants.MIN_EVENT_YEAR}-01-01T00:00:00", "us").astype(np.int64)
) == _MIN_TS_US


@dataclass(frozen=True, slots=True)
class BuiltBatch:
    """A batch ready to commit: event tables and quarantine tables, one per hour."""

    events: list[tuple[Partition, pa.Table]]
    quarantine: list[tuple[Partition, pa.Table]]
    stored: int
    quarantined: int


@dataclass(slots=True)
class _Pending:
    """Decoded structs not yet turned into Arrow, with their raw bytes and where they came from."""

    structs: list[msgspec.Struct] = field(default_factory=list)
    raws: list[bytes] = field(default_factory=list)
    runs: list[tuple[int, int, str]] = field(default_factory=list)  # (count, received, channel)

    def __len__(self) -> int:
        return len(self.raws)

    def extend(
        self, structs: list[msgspec.Struct], raws: list[bytes], received_us: int, channel: str
    ) -> None:
        if structs:
            self.structs.extend(structs)
            self.raws.extend(raws)
            self.runs.append((len(structs), received_us, channel))

    def rows_of(self, rows: Iterable[int]) -> list[tuple[bytes, int, str]]:
        rows = list(rows)
        if not rows:
            return []
        received, channels = [], []
        for count, received_us, channel in self.runs:
            received.extend([received_us] * count)
            channels.extend([channel] * count)
        return [(self.raws[i], received[i], channels[i]) for i in rows]


@dataclass(frozen=True, slots=True)
class _Part:
    """The rows of one event kind of a chunk, with per-row codes, receive times and channels."""

    structs: list[msgspec.Struct]
    raws: list[bytes]
    codes: np.ndarray
    received: np.ndarray
    channels: pa.Array


class BatchBuilder:
    """Accumulates payloads (with their receive time and channel) and builds tables.

    ``redaction`` is applied to ``result``, ``error`` and ``traceback`` on both paths and
    recorded in the events tables' schema metadata (``tasqlake.redaction``). ``shapes`` upcasts
    payloads of older wire shapes on the canonical path (the fast path decodes the current shape
    only); each events table records the shapes of its rows (``tasqlake.wire_shapes``).
    """

    def __init__(
        self,
        ingester_id: str,
        max_payload_bytes: int = constants.DEFAULT_MAX_PAYLOAD_BYTES,
        redaction: RedactionPolicy = DEFAULT_POLICY,
        shapes: WireShapes = SHAPES,
    ) -> None:
        self.ingester_id = ingester_id
        self.max_payload_bytes = max_payload_bytes
        self.redaction = redaction
        self.shapes = shapes
        self._schema = schema_with_policy(EVENT_SCHEMA, redaction)
        self._pending = _Pending()
        self._slow: list[tuple[bytes, int, str]] = []
        self._rejected = QuarantineColumns()
        self._tables: list[pa.Table] = []  # fast rows already built, chunk by chunk
        self._built_rows = 0
        self._built_bytes = 0

    def __len__(self) -> int:
        return self._built_rows + len(self._pending) + len(self._slow) + len(self._rejected)

    @property
    def nbytes(self) -> int:
        """Bytes held by the Arrow tables built so far (the bulk of a batch's memory)."""
        return self._built_bytes

    def reject(self, raw: bytes, error: PayloadError, received_us: int, channel: str) -> None:
        """Quarantine a payload that failed before decoding (e.g. a line that is not JSON)."""
        self._rejected.append(
            raw, error.reason, error.detail, received_us, channel, self.ingester_id
        )

    def add(self, payloads: list[bytes], received_us: int, channel: str) -> None:
        """Take payloads read together from ``channel`` at ``received_us``."""
        if not payloads:
            return
        if max(map(len, payloads)) <= self.max_payload_bytes:
            try:
                structs = [_DECODE(raw) for raw in payloads]
            except _DECODE_ERRORS:
                pass
            else:
                self._keep_fast(structs, payloads, received_us, channel)
                return
        fast_structs, fast_raws = [], []
        for raw in payloads:
            if len(raw) > self.max_payload_bytes:
                self._slow.append((raw, received_us, channel))
                continue
            try:
                fast_structs.append(_DECODE(raw))
                fast_raws.append(raw)
            except _DECODE_ERRORS:
                self._slow.append((raw, received_us, channel))
        self._keep_fast(fast_structs, fast_raws, received_us, channel)

    def _keep_fast(
        self, structs: list[msgspec.Struct], raws: list[bytes], received_us: int, channel: str
    ) -> None:
        self._pending.extend(structs, raws, received_us, channel)
        if len(self._pending) >= CHUNK_ROWS:
            self._build_chunk()

    def _build_chunk(self) -> None:
        """Turn the structs held so far into Arrow tables (bounds memory, spreads work).

        Task and worker events are built apart (each with its own fields); a chunk the fast
        path cannot build, or rows it must not judge, go to the canonical path.
        """
        pending, self._pending = self._pending, _Pending()
        count = len(pending)
        if not count:
            return
        codes = np.fromiter(
            (_EVENT_TYPE_CODE[s.__class__] for s in pending.structs), dtype=np.int32, count=count
        )
        runs = np.array([run[:2] for run in pending.runs], dtype=np.int64)
        received = np.repeat(runs[:, 1], runs[:, 0])
        channels = _channel_array(pending.runs, runs[:, 0])
        is_task = codes < _TASK_KINDS
        rejected: list[int] = []
        for mask, task_kind in ((is_task, True), (~is_task, False)):
            rows = np.flatnonzero(mask)
            if not len(rows):
                continue
            every = len(rows) == count
            selected = mask.tolist()
            part = _Part(
                pending.structs if every else list(compress(pending.structs, selected)),
                pending.raws if every else list(compress(pending.raws, selected)),
                codes if every else codes[rows],
                received if every else received[rows],
                channels if every else channels.take(pa.array(rows)),
            )
            try:
                table, bad = self._build_fast(part, task_kind)
            except _BUILD_ERRORS:
                table, bad = None, list(range(len(rows)))
            rejected.extend(rows[bad].tolist() if len(bad) else [])
            if table is not None and table.num_rows:
                self._tables.append(table)
                self._built_rows += table.num_rows
                self._built_bytes += table.nbytes
        self._slow.extend(pending.rows_of(sorted(rejected)))

    def build(self) -> BuiltBatch:
        """Tables of everything added; the builder is then empty again."""
        self._build_chunk()
        events, quarantine = self._build_canonical(self._slow)
        tables = self._tables + ([events.to_table()] if len(events) else [])
        self._tables, self._built_rows, self._built_bytes, self._slow = [], 0, 0, []
        self._rejected = QuarantineColumns()
        stored = sum(t.num_rows for t in tables)
        event_parts = [
            (part, self._record_shapes(part, table, events))
            for part, table in (
                split_by_hour(pa.concat_tables(tables), "timestamp") if tables else []
            )
        ]
        quarantine_parts = (
            split_by_hour(quarantine.to_table(), "received_at") if len(quarantine) else []
        )
        return BuiltBatch(event_parts, quarantine_parts, stored, len(quarantine))

    @staticmethod
    def _record_shapes(part: Partition, table: pa.Table, canonical: EventColumns) -> pa.Table:
        """``table`` recording its rows' wire shapes: fast-path rows are all in the current
        shape, the canonical path counted those it upcast from an older one."""
        older = canonical.older_shapes(part.hour_index)
        return with_wire_shapes(table, shapes_of_rows(table.num_rows, older))

    def _build_fast(self, part: _Part, is_task: bool) -> tuple[pa.Table, list[int]]:
        """One kind's rows as a table, and the indices (in ``part``) of rows it left out."""
        count = len(part.raws)
        names = fast_wire.TASK_FIELDS if is_task else fast_wire.WORKER_FIELDS
        arrays: dict[str, pa.Array] = {}
        columns = zip(*map(_ASTUPLE, part.structs), strict=True)
        for name, values in zip(names, columns, strict=True):
            if name == "result":
                arrays[name] = _result_array(values)
                continue
            column: tuple[object, ...] | list[object] = values
            if not is_task and name in fast_wire.WORKER_UNSETTABLE and UNSET in values:
                column = [None if v is UNSET else v for v in values]
            arrays[name] = pa.array(column, type=_TYPES[name])
        for name in _TASK_NULLS if is_task else _WORKER_NULLS:
            arrays[name] = pa.nulls(count, _TYPES[name])
        arrays["event_type"] = pc.take(_EVENT_TYPE_NAMES, pa.array(part.codes))
        bad = self._invalid_rows(arrays, part.received, is_task)
        arrays["event_id"] = pa.array(_event_ids(part.raws))
        arrays["extra"] = pa.nulls(count, pa.string())
        arrays["received_at"] = pa.array(part.received).cast(_TYPES["received_at"])
        arrays["channel"] = part.channels
        arrays["ingester_id"] = pa.array(
            np.full(count, self.ingester_id, dtype=object), pa.string()
        )
        redact_columns(self.redaction, arrays)
        table = pa.Table.from_arrays([arrays[n] for n in EVENT_SCHEMA.names], schema=self._schema)
        rejected = np.flatnonzero(bad).tolist()
        if rejected:
            table = table.filter(pa.array(~bad))
        return table, rejected

    @staticmethod
    def _invalid_rows(
        arrays: dict[str, pa.Array], received: np.ndarray, is_task: bool
    ) -> np.ndarray:
        """Rows the canonical decoder must judge: a time or a value out of range.

        Required keys need no check here: the per-kind structs refuse them absent or nil.
        """
        ts = arrays["timestamp"].cast(pa.int64()).to_numpy()
        bad: np.ndarray = (ts < _MIN_TS_US) | (ts > received + _MAX_FUTURE_US)
        if is_task:
            bad |= _true_where(pc.less(arrays["attempt"], 1))
        return bad

    def _build_canonical(
        self, rows: list[tuple[bytes, int, str]]
    ) -> tuple[EventColumns, QuarantineColumns]:
        events, quarantine = EventColumns(self.redaction), self._rejected
        for raw, received_us, channel in rows:
            try:
                event = decode(raw, received_us, self.max_payload_bytes, self.shapes)
            except PayloadError as error:
                quarantine.append(
                    raw, error.reason, error.detail, received_us, channel, self.ingester_id
                )
            else:
                events.append(raw, event, received_us, channel, self.ingester_id)
        return events, quarantine


def split_by_hour(table: pa.Table, column: str) -> list[tuple[Partition, pa.Table]]:
    """One table per UTC hour of ``column`` (a timestamp), in hour order."""
    hours = table.column(column).cast(pa.int64()).to_numpy() // HOUR_US
    unique = np.unique(hours)
    if len(unique) == 1:
        return [(Partition.of_hour_index(int(unique[0])), table)]
    return [
        (Partition.of_hour_index(int(hour)), table.filter(pa.array(hours == hour)))
        for hour in unique
    ]


def _event_ids(raws: list[bytes]) -> np.ndarray:
    digests = b"".join([_BLAKE2B(raw, digest_size=8).digest() for raw in raws])
    return np.frombuffer(digests, dtype=">i8").astype(np.int64)


def _result_array(values: tuple[object, ...]) -> pa.Array:
    if all(v is None or v is UNSET for v in values):
        return pa.nulls(len(values), pa.string())
    return pa.array([result_json(v) for v in values], pa.string())


def _channel_array(runs: list[tuple[int, int, str]], counts: np.ndarray) -> pa.Array:
    names = sorted({run[2] for run in runs})
    if len(names) == 1:
        return pa.array(np.full(int(counts.sum()), names[0], dtype=object), pa.string())
    index = {name: i for i, name in enumerate(names)}
    codes = np.repeat(np.array([index[run[2]] for run in runs], dtype=np.int32), counts)
    return pc.take(pa.array(names, pa.string()), pa.array(codes))


def _true_where(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    filled = pc.fill_null(mask, False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


__all__ = ["QUARANTINE_SCHEMA", "BatchBuilder", "BuiltBatch", "split_by_hour"]
