"""``tasqlake stats``: queue statistics, global statistics and workers, from the stored log."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime

import msgspec
import pyarrow as pa

import queries
from schemas.settings import Settings
from schemas.storage import Lake
from tasqlake.commands import _options
from tasqlake.commands.sql import execute
from tasqlake.output import render_table, to_json
from tasqlake.timeparse import parse_instant

#: (title, SQL) of each section, in the order shown.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("Queues", "SELECT * FROM queue_stats ORDER BY queue"),
    ("Global", "SELECT * FROM global_stats"),
    (
        "Workers",
        "SELECT worker_id, hostname, status, running_tasks, tasks_processed, uptime_seconds, "
        "last_heartbeat, load_percentage FROM worker_stats ORDER BY status, worker_id",
    ),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="print queue, global and worker statistics",
        description="Queue statistics, global statistics and workers, derived by replaying "
        "the stored event log (as of now, or --as-of an instant in the past).",
    )
    _options.add_lake(parser)
    parser.add_argument("--format", choices=("table", "json"), default="table")
    _options.add_as_of(parser)
    parser.add_argument(
        "--watch", type=float, metavar="SECONDS", help="refresh every SECONDS (table format)"
    )
    parser.set_defaults(run=run)


def collect(lake: str, as_of: datetime | None) -> dict[str, pa.Table]:
    """Each section's rows."""
    checked = Lake(lake).require_readable()
    with queries.connect(checked, as_of=as_of) as con:
        return {title: execute(con, sql) for title, sql in SECTIONS}


def print_stats(lake: str, as_of: datetime | None, fmt: str) -> None:
    sections = collect(lake, as_of)
    if fmt == "json":
        document = {
            title.lower(): msgspec.json.decode(to_json(table)) for title, table in sections.items()
        }
        sys.stdout.write(msgspec.json.encode(document).decode() + "\n")
        return
    moment = as_of.isoformat() if as_of else "now"
    for title, table in sections.items():
        render_table(table, sys.stdout, title=f"{title} (as of {moment})")


def run(args: argparse.Namespace, settings: Settings) -> int:
    as_of = parse_instant(args.as_of) if args.as_of else None
    if not args.watch:
        print_stats(settings.lake, as_of, args.format)
        return 0
    while True:
        sys.stdout.write("\x1b[2J\x1b[H")
        print_stats(settings.lake, as_of, args.format)
        sys.stdout.flush()
        time.sleep(args.watch)
