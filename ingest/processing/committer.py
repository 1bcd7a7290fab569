"""Committing one built batch to the lake under names derived from its WAL position.

A batch of WAL records ``[start, end)`` becomes, per hour partition,
``events/date=…/hour=…/<ingester_id>-<start, 20 digits>.parquet`` (and the same under
``quarantine/`` and ``gaps/``). Rebuilding the same records gives the same names, so a replay
after a crash overwrites what the crashed run may have committed instead of adding to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from tasqlake.lake import layout
from tasqlake.lake.storage import Lake
from tasqlake.schemas.batch import Partition


@dataclass(frozen=True, slots=True)
class CommitResult:
    files: int
    bytes: int


def file_name(ingester_id: str, sequence: int) -> str:
    return f"{ingester_id}-{sequence:020d}.parquet"


def commit_tables(
    lake: Lake,
    directory: str,
    parts: list[tuple[Partition, pa.Table]],
    ingester_id: str,
    sequence: int,
) -> CommitResult:
    """Commit each partition's table atomically; returns files and bytes written."""
    files = written = 0
    for partition, table in parts:
        relpath = f"{directory}/{partition.path}/{file_name(ingester_id, sequence)}"
        written += lake.commit_parquet(relpath, table)
        files += 1
    return CommitResult(files, written)


EVENTS = layout.EVENTS_DIR
QUARANTINE = layout.QUARANTINE_DIR
GAPS = layout.GAPS_DIR
