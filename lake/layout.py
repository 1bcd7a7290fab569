"""Where everything lives in a lake: every directory and file-name pattern, named once.

::

    LAKE/
      events/date=D/hour=HH/<ingester_id>-<first>-<end>.parquet   stored events (event time, UTC)
      events/date=D/hour=HH/snapshotted-G-T[-NNN].parquet          compacted, with a task snapshot
      task_snapshots/date=D/hour=HH/snapshot-G-T.parquet           per-task partials of the hour
      quarantine/date=D/hour=HH/….parquet                          payloads that could not be stored
      gaps/date=D/hour=HH/….parquet                                windows not subscribed
      compaction/superseded/date=D/hour=HH/….json                  files superseded by compaction
      chain/<part>/date=D/hour=HH/link-G-B-T-P.parquet             the snapshot chain (see below)
      requeued/<run>.parquet, requeued/<run>.done                  the requeue ledger
      wal/                                                         a local ingester's WAL

Task snapshots: compaction writes one *task snapshot* per compaction of a closed hour
partition, holding one row per task with the partial aggregates of that partition's events
(``schemas/sql/task_partials_of.sql``). The compacted event files it covers are named
``snapshotted-<generation>-<token>[-NNN].parquet``. The ``task_state`` view merges these rows
with the same partials computed over the event files no snapshot covers; because every aggregate
is a min, a max or an arg_max that carries its key, the merge equals one pass over all the events
(duplicates included).

The snapshot chain (:mod:`tasqlake.lake.chain`): for each compacted hour H, in hour order, a
*link* holding the state at the end of H, built from the link before it and H's events. Its parts
share one file name ``link-<generation>-<built ms>-<token>-<previous token>.parquet`` in
``chain/<part>/date=D/hour=HH/``: ``carry`` (partials of the tasks not settled), ``folded`` (the
counters of every settled task), ``deltas`` (per queue and minute of the hour: the changes of
pending and running tasks and the task events), ``sessions`` (every worker session), ``late``
(events found stamped later than the allowed lateness after their task settled) and, committed
last, ``links`` (one row that says the link is complete). Which links are valid is decided from
file names alone (``schemas/sql/chain_validity.sql``).

Invariants the compaction keeps and the views rely on:

* a ``snapshotted-G-T`` event file exists only after ``snapshot-G-T`` was committed (the snapshot
  is written first), so a view can skip every ``snapshotted-`` file of a partition whose hour
  ended at or before its horizon and read the snapshots instead;
* a snapshot whose event files were superseded is deleted with them, after the grace period;
  until then it is harmless: its rows repeat events the newer snapshot also covers, and the merge
  is duplicate-insensitive.
"""

from __future__ import annotations

import re

#: Stored events, Hive-partitioned by event time: ``events/date=D/hour=HH/``.
EVENTS_DIR = "events"
#: Payloads that could not be stored, raw, partitioned by receive time.
QUARANTINE_DIR = "quarantine"
#: Windows in which an ingester was not subscribed.
GAPS_DIR = "gaps"
#: Per-task partials of compacted hours (Hive-partitioned like events/).
TASK_SNAPSHOTS_DIR = "task_snapshots"
#: One JSON manifest per compaction of a partition: what it superseded, and when.
MANIFEST_DIR = "compaction/superseded"
#: The requeue ledger: which quarantined rows a requeue run stored.
REQUEUED_DIR = "requeued"
#: The write-ahead log of an ingester whose WAL directory is not given (a local lake only).
WAL_DIR = "wal"
#: The snapshot chain: one directory per part, each Hive-partitioned like events/.
CHAIN_DIR = "chain"
#: The parts of a chain link, in the order they are committed: ``links`` (the head that makes a
#: link exist) goes last, so a link whose head is listed has all its parts.
CHAIN_PARTS = ("carry", "folded", "deltas", "sessions", "late", "links")
CHAIN_HEAD_PART = "links"
#: The directories partitioned by ``date=D/hour=HH`` that retention prunes. Chain heads and task
#: snapshots go first: a crash half-way must not leave a snapshot whose events are gone (the
#: views would still count them), nor a link without its parts.
PARTITIONED_DIRS = (
    f"{CHAIN_DIR}/{CHAIN_HEAD_PART}",
    *(f"{CHAIN_DIR}/{part}" for part in CHAIN_PARTS if part != CHAIN_HEAD_PART),
    TASK_SNAPSHOTS_DIR,
    EVENTS_DIR,
    QUARANTINE_DIR,
    GAPS_DIR,
)
#: Prefix of compacted event files covered by a task snapshot (the views skip them by name).
SNAPSHOTTED_PREFIX = "snapshotted-"
SNAPSHOT_PREFIX = "snapshot-"

LINK_PREFIX = "link-"
#: The token a first link names as its predecessor.
NO_LINK = "00000000"

_SNAPSHOTTED = re.compile(r"^snapshotted-(\d{6})-([0-9a-f]{8})(?:-\d{3})?\.parquet$")


def snapshotted_name(generation: int, token: str, part: int = 0) -> str:
    """The name of a compacted event file covered by the snapshot ``generation``/``token``."""
    suffix = f"-{part:03d}" if part else ""
    return f"{SNAPSHOTTED_PREFIX}{generation:06d}-{token}{suffix}.parquet"


def snapshot_path(partition: str, generation: int, token: str) -> str:
    """``task_snapshots/date=…/hour=…/snapshot-G-T.parquet`` for ``events/date=…/hour=…``."""
    _, _, hive = partition.partition("/")
    return f"{TASK_SNAPSHOTS_DIR}/{hive}/{SNAPSHOT_PREFIX}{generation:06d}-{token}.parquet"


def snapshotted_generation(event_file: str) -> int | None:
    """The compaction generation of a ``snapshotted-G-T….parquet`` event file, None when the
    file is not a snapshotted one."""
    match = _SNAPSHOTTED.match(event_file.rpartition("/")[2])
    return int(match.group(1)) if match else None


def snapshot_of(event_file: str) -> str | None:
    """The snapshot covering the event file ``events/date=…/hour=…/snapshotted-G-T….parquet``,
    None when the file is not a snapshotted one."""
    directory, _, name = event_file.rpartition("/")
    match = _SNAPSHOTTED.match(name)
    if match is None:
        return None
    return snapshot_path(directory, int(match.group(1)), match.group(2))


def chain_dir(part: str) -> str:
    """``chain/<part>``: the directory of one part of the snapshot chain."""
    if part not in CHAIN_PARTS:
        raise ValueError(f"unknown chain part {part!r}")
    return f"{CHAIN_DIR}/{part}"


def link_name(generation: int, built_ms: int, token: str, previous: str) -> str:
    """``link-G-B-T-P.parquet``: the file name every part of one chain link has."""
    return f"{LINK_PREFIX}{generation:06d}-{built_ms:013d}-{token}-{previous}.parquet"


def link_path(part: str, date: str, hour: int, name: str) -> str:
    """``chain/<part>/date=D/hour=HH/<name>``."""
    return f"{chain_dir(part)}/date={date}/hour={hour:02d}/{name}"
