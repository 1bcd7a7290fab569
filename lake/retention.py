"""Retention: deleting whole hour partitions older than the retention period.

A partition ``date=D/hour=H`` is past retention when its whole hour ended before
``now - older_than``. Files are removed one by one and then the emptied directories, so a crash
half-way leaves a partition with fewer files, never a corrupt one. Queries that already listed a
removed file may fail once with "file not found"; the query layer retries such a query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tasqlake.lake import layout
from tasqlake.lake.storage import Lake

#: Lake directories whose Hive partitions retention applies to. Task snapshots go first: a crash
#: half-way must not leave a snapshot whose events are gone (the views would still count them).


@dataclass
class PruneReport:
    cutoff: datetime
    partitions: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0


def partition_end(date: str, hour: int) -> datetime:
    start = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(hours=hour)
    return start + timedelta(hours=1)


def prune(
    lake: Lake, older_than: timedelta, *, now: datetime | None = None, dry_run: bool = False
) -> PruneReport:
    """Delete every partition whose hour ended before ``now - older_than``."""
    cutoff = (now or datetime.now(UTC)) - older_than
    report = PruneReport(cutoff=cutoff)
    for directory in layout.PARTITIONED_DIRS:
        for date, hour in list(lake.iter_partitions(directory)):
            if partition_end(date, hour) > cutoff:
                continue
            relative = f"{directory}/date={date}/hour={hour:02d}"
            files = lake.list_files(relative)
            report.partitions.append(relative)
            report.files += len(files)
            report.bytes += sum(lake.size(f) for f in files)
            if dry_run:
                continue
            for file in files:
                lake.delete(file)
            lake.delete_tree(relative)
        if not dry_run:
            for date_dir in lake.list_dirs(directory):
                if date_dir.startswith("date=") and not lake.list_dirs(f"{directory}/{date_dir}"):
                    lake.delete_tree(f"{directory}/{date_dir}")
    return report
