"""Windows in which an ingester was not subscribed, and how they are stored.

The receiver writes a gap into the WAL as soon as it is subscribed again (start-up, reconnect);
the processor commits it, like events, to ``gaps/date=…/hour=…/<ingester_id>-<offset>.parquet``
(partitioned by the gap's start). A view can then list the windows in which *no* ingester was
subscribed. ``end`` is when the subscription was confirmed; ``start`` when this ingester last
knew it was subscribed (the last bytes read, a graceful stop, or a periodic mark).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from tasqlake.ingest.receiving.gap_records import DISCONNECTED, STARTUP, UNRESPONSIVE, Gap
from tasqlake.schemas.batch import Partition
from tasqlake.schemas.stored import SCHEMA_VERSION, SCHEMA_VERSION_KEY

_TS = pa.timestamp("us", tz="UTC")
HOUR_US = 3_600_000_000
__all__ = ["DISCONNECTED", "GAP_SCHEMA", "STARTUP", "UNRESPONSIVE", "Gap", "GapColumns"]

GAP_SCHEMA = pa.schema(
    (
        pa.field("ingester_id", pa.string(), nullable=False),
        pa.field("gap_start", _TS, nullable=False),
        pa.field("gap_end", _TS, nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("channels", pa.list_(pa.string()), nullable=False),
        pa.field("lost_events", pa.int64()),
    ),
    metadata={SCHEMA_VERSION_KEY: str(SCHEMA_VERSION).encode()},
)


@dataclass
class GapColumns:
    """Gaps of one batch, column-wise."""

    ingester_id: str

    def __post_init__(self) -> None:
        self.gaps: list[Gap] = []

    def __len__(self) -> int:
        return len(self.gaps)

    def append(self, gap: Gap) -> None:
        self.gaps.append(gap)

    def to_partitions(self) -> list[tuple[Partition, pa.Table]]:
        by_hour: dict[int, list[Gap]] = {}
        for gap in self.gaps:
            by_hour.setdefault(gap.start_us // HOUR_US, []).append(gap)
        out = []
        for hour in sorted(by_hour):
            gaps = by_hour[hour]
            table = pa.Table.from_arrays(
                [
                    pa.array([g.source or self.ingester_id for g in gaps], pa.string()),
                    pa.array([g.start_us for g in gaps], pa.int64()).cast(_TS),
                    pa.array([g.end_us for g in gaps], pa.int64()).cast(_TS),
                    pa.array([g.reason for g in gaps], pa.string()),
                    pa.array([g.channels for g in gaps], pa.list_(pa.string())),
                    pa.array([g.lost for g in gaps], pa.int64()),
                ],
                schema=GAP_SCHEMA,
            )
            out.append((Partition.of_hour_index(hour), table))
        self.gaps = []
        return out
