"""Task snapshots: the stored per-task partial aggregates of a compacted partition.

Compaction (``ingest``) writes one *task snapshot* per compaction of a closed hour partition,
``task_snapshots/date=D/hour=HH/snapshot-<generation>-<token>.parquet``, holding one row per task
with the partial aggregates of the events of that partition (``sql/task_partials_of.sql``). The
compacted event files it covers are named ``snapshotted-<generation>-<token>[-NNN].parquet``.
The ``task_state`` view (``queries``) merges these rows with the same partials computed on the fly
over the event files no snapshot covers; because every aggregate is a min, a max or an arg_max
that carries its key, the merge equals one pass over all the events (duplicates included), and a
partition's events are read as rows once instead of being aggregated again by every query.

This module is the contract both sides share: the file names, and the SQL of the partials.

Invariants the compaction keeps and the view relies on:

* a ``snapshotted-G-T`` event file exists only after ``snapshot-G-T`` was committed (the snapshot
  is written first), so the view can skip every ``snapshotted-`` file of a partition whose hour
  ended at or before its horizon and read the snapshots instead;
* a snapshot whose event files were superseded is deleted with them, after the grace period;
  until then it is harmless: its rows repeat events the newer snapshot also covers, and the merge
  is duplicate-insensitive.
"""

from __future__ import annotations

import re
from pathlib import Path

from schemas import constants

#: Directory of the task snapshots (Hive-partitioned like events/).
TASK_SNAPSHOTS_DIR = constants.TASK_SNAPSHOTS_DIR
#: Prefix of compacted event files covered by a task snapshot (the views skip them by name).
SNAPSHOTTED_PREFIX = "snapshotted-"
SNAPSHOT_PREFIX = "snapshot-"

_SNAPSHOTTED = re.compile(r"^snapshotted-(\d{6})-([0-9a-f]{8})(?:-\d{3})?\.parquet$")

#: The contract's SQL, one macro per file (the ``queries`` loader documents them with the views):
#: ``causal_key`` (the order in which a task's events decide its state; a snapshot stores these
#: keys) and ``task_partials_of`` (the per-task partial aggregates a snapshot holds).
SQL_DIR = Path(__file__).resolve().parent / "sql"
MACRO_FILES = ("causal_key.sql", "task_partials_of.sql")


def macros() -> tuple[str, ...]:
    """The DDL a DuckDB connection needs to compute task partials, in creation order."""
    return tuple((SQL_DIR / name).read_text(encoding="utf-8") for name in MACRO_FILES)


def snapshotted_name(generation: int, token: str, part: int = 0) -> str:
    """The name of a compacted event file covered by the snapshot ``generation``/``token``."""
    suffix = f"-{part:03d}" if part else ""
    return f"{SNAPSHOTTED_PREFIX}{generation:06d}-{token}{suffix}.parquet"


def snapshot_path(partition: str, generation: int, token: str) -> str:
    """``task_snapshots/date=…/hour=…/snapshot-G-T.parquet`` for ``events/date=…/hour=…``."""
    _, _, hive = partition.partition("/")
    return f"{TASK_SNAPSHOTS_DIR}/{hive}/{SNAPSHOT_PREFIX}{generation:06d}-{token}.parquet"


def snapshot_of(event_file: str) -> str | None:
    """The snapshot covering the event file ``events/date=…/hour=…/snapshotted-G-T….parquet``,
    None when the file is not a snapshotted one."""
    directory, _, name = event_file.rpartition("/")
    match = _SNAPSHOTTED.match(name)
    if match is None:
        return None
    return snapshot_path(directory, int(match.group(1)), match.group(2))
