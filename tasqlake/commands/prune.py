"""``tasqlake prune``: delete whole partitions past the retention period."""

from __future__ import annotations

import argparse
import sys

from tasqlake.commands import _options
from tasqlake.lake.retention import prune
from tasqlake.lake.storage import Lake
from tasqlake.schemas.settings import Settings
from tasqlake.timeparse import parse_duration


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "prune",
        help="delete partitions older than the retention period",
        description="Delete every hour partition (events, quarantine, gap records) whose hour "
        "ended more than DURATION ago. Erasure by age: the files are removed from disk.",
    )
    parser.add_argument("--older-than", required=True, metavar="DURATION", help="e.g. 90d, 12h, 2w")
    parser.add_argument("--dry-run", action="store_true", help="only list what would go")
    _options.add_lake(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    older_than = parse_duration(args.older_than, "--older-than")
    lake = Lake.from_settings(settings).require_readable()
    report = prune(lake, older_than, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for partition in report.partitions:
        print(f"{verb} {partition}")
    print(
        f"{verb} {len(report.partitions)} partitions, {report.files} files, "
        f"{report.bytes} bytes older than {report.cutoff.isoformat()}",
        file=sys.stderr,
    )
    return 0
