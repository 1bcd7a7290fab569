"""``tasqlake compact``: merge the small files of closed partitions into large sorted files."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tasqlake.commands import _options
from tasqlake.lake.compaction import DEFAULT_GRACE, DEFAULT_OLDER_THAN, compact, plan
from tasqlake.lake.storage import Lake
from tasqlake.schemas.settings import Settings
from tasqlake.timeparse import parse_duration


def _text(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    if seconds == 0:
        return "0s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compact",
        help="merge small files of closed partitions into large sorted files",
        description="Merge the files of every closed hour partition (its hour ended more than "
        "DURATION ago) into one large sorted file, duplicates by event_id removed, and write "
        "its task snapshot (task_snapshots/: one row per task, which the task views read "
        "instead of the hour's events), then extend the snapshot chain (chain/: the state at "
        "the end of each compacted hour, from which the counters and 'now' are computed). "
        "Superseded files stay readable for the grace period and are deleted by a later run. "
        "Safe to run while ingesting and while queries run; "
        "idempotent.",
    )
    parser.add_argument(
        "--older-than",
        metavar="DURATION",
        default=_text(DEFAULT_OLDER_THAN),
        help="only partitions whose hour ended this long ago "
        f"(default {_text(DEFAULT_OLDER_THAN)}; 0s: every hour that has ended)",
    )
    parser.add_argument(
        "--grace",
        metavar="DURATION",
        default=_text(DEFAULT_GRACE),
        help="keep superseded files this long for queries that listed them "
        f"(default {_text(DEFAULT_GRACE)}; 0s deletes them at once, when nobody is reading)",
    )
    parser.add_argument(
        "--memory-limit", metavar="SIZE", default="1GB", help="DuckDB memory limit (default 1GB)"
    )
    _options.add_lake(parser)
    _options.add_allowed_lateness(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    older_than = parse_duration(args.older_than, "--older-than", allow_zero=True)
    grace = parse_duration(args.grace, "--grace", allow_zero=True)
    lake = Lake.from_settings(settings).require_readable()
    console = Console(stderr=True)
    now = datetime.now(UTC)
    with Progress(
        TextColumn("compacting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    ) as bar:
        todo = len(plan(lake, now - older_than))
        task = bar.add_task("", total=todo)

        def advance(partition: str, rows: int) -> None:
            bar.update(task, advance=1, description=f"{partition} ({rows:,} events)")

        report = compact(
            lake,
            older_than,
            grace=grace,
            now=now,
            progress=advance,
            memory_limit=args.memory_limit,
            allowed_lateness=timedelta(seconds=settings.allowed_lateness),
        )
    for partition in report.partitions:
        print(f"compacted {partition}")
    ratio = f", {report.bytes_out / report.rows_out:.1f} bytes/event" if report.rows_out else ""
    print(
        f"compacted {len(report.partitions)} partitions: {report.files_in} files, "
        f"{report.rows_in:,} rows -> {report.rows_out:,} events "
        f"({report.duplicates_removed:,} duplicates removed), "
        f"{report.bytes_in:,} -> {report.bytes_out:,} bytes{ratio}; "
        f"deleted {report.deleted_files} superseded files, "
        f"{report.pending_files} waiting for the {_text(grace)} grace period",
        file=sys.stderr,
    )
    chain = report.chain
    if chain.invalid_from is not None:
        print(
            f"snapshot chain invalid from {chain.invalid_from} (a later file): rebuilt from there",
            file=sys.stderr,
        )
    print(
        f"snapshot chain: {len(chain.links)} links built, {chain.settled:,} tasks settled, "
        f"{chain.carried:,} carried by the last; {chain.violations:,} late events found"
        + (" (see the late_events view)" if chain.violations else ""),
        file=sys.stderr,
    )
    return 0
