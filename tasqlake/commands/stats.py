"""``tasqlake stats``: queues, global totals, workers and the last hour's retry and failure
highlights, all derived from the stored log (as of now, or ``--as-of`` an instant)."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import datetime

import msgspec
import pyarrow as pa
from rich.console import Console, Group
from rich.live import Live

from tasqlake import queries
from tasqlake.commands import _options
from tasqlake.commands.sql import execute
from tasqlake.lake.storage import Lake
from tasqlake.output import rich_table, to_json
from tasqlake.schemas.errors import ConfigError
from tasqlake.schemas.settings import Settings
from tasqlake.timeparse import parse_instant


@dataclass(frozen=True)
class Section:
    key: str  # the key in --format json
    title: str
    sql: str


SECTIONS: tuple[Section, ...] = (
    Section("queues", "Queues", "SELECT * FROM queue_stats ORDER BY queue"),
    Section("global", "Global", "SELECT * FROM global_stats"),
    Section(
        "workers",
        "Workers",
        "SELECT worker_id, hostname, status, running_tasks, tasks_processed, uptime_seconds, "
        "last_heartbeat, load_percentage FROM worker_stats ORDER BY status, worker_id",
    ),
    Section(
        "retry_highlights",
        "Retries, last hour (top 10 by retry rate)",
        "SELECT * FROM recent_retry_rates WHERE retries + failed > 0 LIMIT 10",
    ),
    Section(
        "failure_highlights",
        "Failures, last hour (top 10)",
        "SELECT queue, task_name, error_class, failed, retried, last_seen "
        "FROM recent_failures LIMIT 10",
    ),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="print queue, global and worker statistics, and the last hour's highlights",
        description="Queue statistics, global statistics, workers and the last hour's retry "
        "and failure highlights, derived by replaying the stored event log (as of now, or "
        "--as-of an instant in the past).",
    )
    _options.add_lake(parser)
    parser.add_argument("--format", choices=("table", "json"), default="table")
    _options.add_as_of(parser)
    parser.add_argument(
        "--watch",
        type=float,
        metavar="SECONDS",
        help="refresh every SECONDS until interrupted (in place on a terminal; "
        "one JSON document per line with --format json)",
    )
    parser.set_defaults(run=run)


def collect(lake: Lake, as_of: datetime | None) -> dict[Section, pa.Table]:
    """Each section's rows."""
    checked = lake.require_readable()
    with queries.connect(checked, as_of=as_of) as con:
        return {section: execute(con, section.sql) for section in SECTIONS}


def as_json(sections: dict[Section, pa.Table]) -> str:
    document = {s.key: msgspec.json.decode(to_json(table)) for s, table in sections.items()}
    return msgspec.json.encode(document).decode()


def renderable(sections: dict[Section, pa.Table], as_of: datetime | None) -> Group:
    moment = as_of.isoformat() if as_of else "now"
    return Group(
        *(rich_table(table, title=f"{s.title} (as of {moment})") for s, table in sections.items())
    )


def print_stats(lake: Lake, as_of: datetime | None, fmt: str) -> None:
    sections = collect(lake, as_of)
    if fmt == "json":
        sys.stdout.write(as_json(sections) + "\n")
        return
    console = Console(width=None if sys.stdout.isatty() else 400, highlight=False)
    console.print(renderable(sections, as_of))


def watch(lake: Lake, as_of: datetime | None, fmt: str, every: float) -> None:
    if fmt == "json" or not sys.stdout.isatty():
        while True:
            print_stats(lake, as_of, fmt)
            sys.stdout.flush()
            time.sleep(every)
    with Live(renderable(collect(lake, as_of), as_of), auto_refresh=False, screen=False) as live:
        while True:
            time.sleep(every)
            live.update(renderable(collect(lake, as_of), as_of), refresh=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    as_of = parse_instant(args.as_of) if args.as_of else None
    if args.watch is None:
        print_stats(Lake.from_settings(settings), as_of, args.format)
        return 0
    if not args.watch > 0:
        raise ConfigError(f"--watch must be a number of seconds > 0, got {args.watch!r}")
    watch(Lake.from_settings(settings), as_of, args.format, args.watch)
    return 0
