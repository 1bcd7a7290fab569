"""Turning a batch of raw payloads into Arrow tables, fast, with the canonical decoder's meaning.

The common case (a well-formed AsyncTasQ payload) is decoded straight into
:class:`~schemas.wire.WirePayload` structs and the columns are built and validated a whole batch
at a time. Every payload the fast path is not sure about (extra keys, a wrong type, not msgpack,
out-of-range values, missing keys) is handed to the canonical per-payload path,
:func:`schemas.decode.decode` + :class:`~schemas.batch.EventColumns` /
:class:`~schemas.batch.QuarantineColumns`, which decides whether it is stored or quarantined and
why. The fast path only ever accepts payloads the canonical path accepts, with the same values
(a property test holds it to that).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from msgspec import UNSET

from ingest.redaction_arrays import redact_columns, schema_with_policy
from schemas import constants
from schemas.batch import EventColumns, Partition, QuarantineColumns
from schemas.decode import decode, result_json
from schemas.errors import PayloadError
from schemas.redaction import DEFAULT_POLICY, RedactionPolicy
from schemas.stored import EVENT_SCHEMA, QUARANTINE_SCHEMA
from schemas.wire import WirePayload

HOUR_US = 3_600_000_000
#: Fast-path rows turned into Arrow at a time.
CHUNK_ROWS = 16_384
_MIN_TS_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z
_MAX_FUTURE_US = constants.MAX_FUTURE_SKEW_S * 1_000_000
_DECODE = msgspec.msgpack.Decoder(WirePayload).decode
_ASTUPLE = msgspec.structs.astuple
_BLAKE2B = hashlib.blake2b
_WIRE_FIELDS: tuple[str, ...] = WirePayload.__struct_fields__
_TYPES = {field.name: field.type for field in EVENT_SCHEMA}
_TASK_TYPES = pa.array(sorted(constants.TASK_EVENT_TYPES))
_WORKER_TYPES = pa.array(sorted(constants.WORKER_EVENT_TYPES))
_REQUIRED_TASK = ("task_id", "task_name", "queue", "worker_id", "attempt")

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


class BatchBuilder:
    """Accumulates payloads (with their receive time and channel) and builds tables.

    ``redaction`` is applied to ``result``, ``error`` and ``traceback`` on both paths and
    recorded in the events tables' schema metadata (``tasqlake.redaction``).
    """

    def __init__(
        self,
        ingester_id: str,
        max_payload_bytes: int = constants.DEFAULT_MAX_PAYLOAD_BYTES,
        redaction: RedactionPolicy = DEFAULT_POLICY,
    ) -> None:
        self.ingester_id = ingester_id
        self.max_payload_bytes = max_payload_bytes
        self.redaction = redaction
        self._schema = schema_with_policy(EVENT_SCHEMA, redaction)
        self._structs: list[WirePayload] = []
        self._raws: list[bytes] = []
        self._runs: list[tuple[int, int, str]] = []  # (count, received_us, channel)
        self._slow: list[tuple[bytes, int, str]] = []
        self._rejected = QuarantineColumns()
        self._tables: list[pa.Table] = []  # fast rows already built, chunk by chunk
        self._built_rows = 0

    def __len__(self) -> int:
        return self._built_rows + len(self._raws) + len(self._slow) + len(self._rejected)

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
            except (msgspec.DecodeError, RecursionError):  # deep nesting: the slow path says why
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
            except (msgspec.DecodeError, RecursionError):
                self._slow.append((raw, received_us, channel))
        self._keep_fast(fast_structs, fast_raws, received_us, channel)

    def _keep_fast(
        self, structs: list[WirePayload], raws: list[bytes], received_us: int, channel: str
    ) -> None:
        if structs:
            self._structs.extend(structs)
            self._raws.extend(raws)
            self._runs.append((len(structs), received_us, channel))
            if len(self._structs) >= CHUNK_ROWS:
                self._build_chunk()

    def _build_chunk(self) -> None:
        """Turn the structs held so far into an Arrow table (bounds memory, spreads work)."""
        if not self._structs:
            return
        try:
            table, rejected = self._build_fast()
        except (
            pa.ArrowInvalid,
            pa.ArrowTypeError,
            OverflowError,
            TypeError,
            ValueError,
            PayloadError,  # e.g. a result JSON cannot hold: the canonical path says which row
            RecursionError,
        ):
            table, rejected = None, list(range(len(self._raws)))
        self._slow.extend(self._rows_of(rejected))
        if table is not None and table.num_rows:
            self._tables.append(table)
            self._built_rows += table.num_rows
        self._structs, self._raws, self._runs = [], [], []

    def build(self) -> BuiltBatch:
        """Tables of everything added; the builder is then empty again."""
        self._build_chunk()
        events, quarantine = self._build_canonical(self._slow)
        tables = self._tables + ([events.to_table()] if len(events) else [])
        self._tables, self._built_rows, self._slow = [], 0, []
        self._rejected = QuarantineColumns()
        stored = sum(t.num_rows for t in tables)
        event_parts = split_by_hour(pa.concat_tables(tables), "timestamp") if tables else []
        quarantine_parts = (
            split_by_hour(quarantine.to_table(), "received_at") if len(quarantine) else []
        )
        return BuiltBatch(event_parts, quarantine_parts, stored, len(quarantine))

    def _build_fast(self) -> tuple[pa.Table, list[int]]:
        columns = dict(
            zip(_WIRE_FIELDS, zip(*map(_ASTUPLE, self._structs), strict=True), strict=True)
        )
        arrays: dict[str, pa.Array] = {}
        for name, values in columns.items():
            if name == "result":
                arrays[name] = _result_array(values)
                continue
            column: tuple[object, ...] | list[object] = values
            if UNSET in values:
                column = [None if v is UNSET else v for v in values]
            arrays[name] = pa.array(column, type=_TYPES[name])
        counts = np.fromiter((run[0] for run in self._runs), dtype=np.int64)
        received = np.repeat(np.fromiter((run[1] for run in self._runs), dtype=np.int64), counts)
        bad = self._invalid_rows(arrays, received)
        arrays["event_id"] = pa.array(_event_ids(self._raws))
        arrays["extra"] = pa.nulls(len(self._raws), pa.string())
        arrays["received_at"] = pa.array(received).cast(_TYPES["received_at"])
        arrays["channel"] = _channel_array(self._runs, counts)
        arrays["ingester_id"] = pa.array(
            np.full(len(self._raws), self.ingester_id, dtype=object), pa.string()
        )
        redact_columns(self.redaction, arrays)
        table = pa.Table.from_arrays([arrays[n] for n in EVENT_SCHEMA.names], schema=self._schema)
        rejected = np.flatnonzero(bad).tolist()
        if rejected:
            table = table.filter(pa.array(~bad))
        return table, rejected

    def _invalid_rows(self, arrays: dict[str, pa.Array], received: np.ndarray) -> np.ndarray:
        """Rows the canonical decoder must judge: bad time, range or missing key."""
        ts = arrays["timestamp"].cast(pa.int64()).to_numpy()
        bad: np.ndarray = (ts < _MIN_TS_US) | (ts > received + _MAX_FUTURE_US)
        bad |= _true_where(pc.less(arrays["attempt"], 1))
        event_type = arrays["event_type"]
        is_task = pc.is_in(event_type, value_set=_TASK_TYPES)
        for key in _REQUIRED_TASK:
            bad |= _true_where(pc.and_(is_task, pc.is_null(arrays[key])))
        is_worker = pc.is_in(event_type, value_set=_WORKER_TYPES)
        bad |= _true_where(pc.and_(is_worker, pc.is_null(arrays["worker_id"])))
        return bad

    def _rows_of(self, rows: list[int]) -> list[tuple[bytes, int, str]]:
        if not rows:
            return []
        received, channels = [], []
        for count, received_us, channel in self._runs:
            received.extend([received_us] * count)
            channels.extend([channel] * count)
        return [(self._raws[i], received[i], channels[i]) for i in rows]

    def _build_canonical(
        self, rows: list[tuple[bytes, int, str]]
    ) -> tuple[EventColumns, QuarantineColumns]:
        events, quarantine = EventColumns(self.redaction), self._rejected
        for raw, received_us, channel in rows:
            try:
                event = decode(raw, received_us, self.max_payload_bytes)
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
