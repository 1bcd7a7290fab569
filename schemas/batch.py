"""Column-wise accumulation of stored events and quarantined payloads into Arrow tables.

:class:`EventColumns` appends each decoded event field by field into Python lists (no per-event
dicts or row objects) and builds one Arrow table per event hour, ready to be committed to
``events/date=…/hour=…/``. :class:`QuarantineColumns` does the same for rejected payloads.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
from msgspec import UNSET, UnsetType

from tasqlake.schemas.constants import CURRENT_WIRE_SHAPE
from tasqlake.schemas.decode import DecodedEvent, event_id
from tasqlake.schemas.redaction import DEFAULT_POLICY, METADATA_KEY, RedactionPolicy
from tasqlake.schemas.stored import EVENT_SCHEMA, QUARANTINE_SCHEMA
from tasqlake.schemas.wire_shapes import shapes_of_rows, versions_metadata

_HOUR_US = 3_600_000_000
_EPOCH_DAY = date(1970, 1, 1)


@dataclass(frozen=True, order=True, slots=True)
class Partition:
    """One Hive partition of the events table: an event-time hour in UTC."""

    date: str  # YYYY-MM-DD
    hour: int  # 0..23

    @classmethod
    def of_hour_index(cls, hour_index: int) -> Partition:
        moment = datetime.fromtimestamp(hour_index * 3600, tz=UTC)
        return cls(moment.strftime("%Y-%m-%d"), moment.hour)

    @property
    def path(self) -> str:
        return f"date={self.date}/hour={self.hour:02d}"

    @property
    def hour_index(self) -> int:
        """Hours since the Unix epoch (the inverse of :meth:`of_hour_index`)."""
        return (date.fromisoformat(self.date) - _EPOCH_DAY).days * 24 + self.hour


def with_wire_shapes(table: pa.Table, versions: Iterable[int]) -> pa.Table:
    """``table`` recording in its metadata the wire shapes its rows were decoded from."""
    return table.replace_schema_metadata(
        {**(table.schema.metadata or {}), **versions_metadata(versions)}
    )


def _unset_to_none(value: object) -> object:
    return None if value is UNSET else value


def _text(value: str | UnsetType | None) -> str | None:
    return None if isinstance(value, UnsetType) else value


def _identity(value: str | None) -> str | None:
    return value


def _redactor(policy: RedactionPolicy, name: str) -> Callable[[str | None], str | None]:
    action = policy.action(name)
    return _identity if action.kind == "keep" else action.apply


class EventColumns:
    """Stored events accumulated column by column."""

    __slots__ = (
        "_cols",
        "_hours",
        "_older",
        "_redact_error",
        "_redact_result",
        "_redact_traceback",
        "_schema",
    )

    def __init__(self, redaction: RedactionPolicy = DEFAULT_POLICY) -> None:
        self._cols: dict[str, list[object]] = {name: [] for name in EVENT_SCHEMA.names}
        self._hours: list[int] = []
        #: (hour index, shape) -> rows decoded from a shape older than the current one.
        self._older: Counter[tuple[int, int]] = Counter()
        self._redact_result = _redactor(redaction, "result")
        self._redact_error = _redactor(redaction, "error")
        self._redact_traceback = _redactor(redaction, "traceback")
        self._schema = EVENT_SCHEMA.with_metadata(
            {**(EVENT_SCHEMA.metadata or {}), METADATA_KEY: str(redaction).encode()}
        )

    def __len__(self) -> int:
        return len(self._hours)

    def append(
        self, raw: bytes, event: DecodedEvent, received_us: int, channel: str, ingester_id: str
    ) -> None:
        p = event.payload
        c = self._cols
        u = _unset_to_none
        c["event_id"].append(event_id(raw))
        c["event_type"].append(p.event_type)
        c["timestamp"].append(event.timestamp_us)
        c["task_id"].append(u(p.task_id))
        c["task_name"].append(u(p.task_name))
        c["queue"].append(u(p.queue))
        c["worker_id"].append(u(p.worker_id))
        c["attempt"].append(u(p.attempt))
        c["duration_ms"].append(u(p.duration_ms))
        c["result"].append(self._redact_result(event.result_json))
        c["error"].append(self._redact_error(_text(p.error)))
        c["traceback"].append(self._redact_traceback(_text(p.traceback)))
        c["hostname"].append(u(p.hostname))
        c["freq"].append(u(p.freq))
        c["active"].append(u(p.active))
        c["processed"].append(u(p.processed))
        c["queues"].append(u(p.queues))
        c["sw_ident"].append(u(p.sw_ident))
        c["sw_ver"].append(u(p.sw_ver))
        c["uptime_seconds"].append(u(p.uptime_seconds))
        c["extra"].append(event.extra_json)
        c["received_at"].append(received_us)
        c["channel"].append(channel)
        c["ingester_id"].append(ingester_id)
        hour = event.timestamp_us // _HOUR_US
        self._hours.append(hour)
        if event.wire_shape != CURRENT_WIRE_SHAPE:
            self._older[(hour, event.wire_shape)] += 1

    def older_shapes(self, hour: int | None = None) -> dict[int, int]:
        """Rows per older wire shape (upcast to the current one), of one hour or of all."""
        counts: Counter[int] = Counter()
        for (row_hour, shape), count in self._older.items():
            if hour is None or row_hour == hour:
                counts[shape] += count
        return dict(counts)

    def to_table(self) -> pa.Table:
        """All accumulated events as one table of :data:`EVENT_SCHEMA`, recording the wire
        shapes they were decoded from (``tasqlake.wire_shapes``)."""
        arrays = [pa.array(self._cols[field.name], type=field.type) for field in EVENT_SCHEMA]
        table = pa.Table.from_arrays(arrays, schema=self._schema)
        return with_wire_shapes(table, shapes_of_rows(len(self), self.older_shapes()))

    def to_partitions(self) -> list[tuple[Partition, pa.Table]]:
        """One table per event-time hour, in partition order."""
        table = self.to_table()
        hours = sorted(set(self._hours))
        if len(hours) == 1:
            return [(Partition.of_hour_index(hours[0]), table)]
        groups: dict[int, list[int]] = defaultdict(list)
        for row, hour in enumerate(self._hours):
            groups[hour].append(row)
        return [
            (
                Partition.of_hour_index(hour),
                with_wire_shapes(
                    table.take(pa.array(groups[hour], pa.int64())),
                    shapes_of_rows(len(groups[hour]), self.older_shapes(hour)),
                ),
            )
            for hour in hours
        ]


class QuarantineColumns:
    """Rejected payloads, kept raw with the reason they were rejected."""

    __slots__ = ("_cols",)

    def __init__(self) -> None:
        self._cols: dict[str, list[object]] = {name: [] for name in QUARANTINE_SCHEMA.names}

    def __len__(self) -> int:
        return len(self._cols["raw"])

    def append(
        self,
        raw: bytes,
        reason: str,
        detail: str,
        received_us: int,
        channel: str,
        ingester_id: str,
    ) -> None:
        c = self._cols
        c["event_id"].append(event_id(raw))
        c["raw"].append(raw)
        c["reason"].append(reason)
        c["detail"].append(detail[:1000])
        c["received_at"].append(received_us)
        c["channel"].append(channel)
        c["ingester_id"].append(ingester_id)

    def to_table(self) -> pa.Table:
        arrays = [pa.array(self._cols[field.name], type=field.type) for field in QUARANTINE_SCHEMA]
        return pa.Table.from_arrays(arrays, schema=QUARANTINE_SCHEMA)


def sort_for_storage(table: pa.Table) -> pa.Table:
    """Rows ordered for the views' access paths: by task, then time (workers after tasks)."""
    if table.num_rows < 2:
        return table
    return table.take(
        pc.sort_indices(
            table,
            options=pc.SortOptions(
                sort_keys=[
                    ("task_id", "ascending", "at_end"),
                    ("worker_id", "ascending", "at_end"),
                    ("timestamp", "ascending", "at_end"),
                ]
            ),
        )
    )
