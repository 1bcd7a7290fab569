"""``tasqlake demo``: the whole path end to end on a simulated workload, then the stats."""

from __future__ import annotations

import argparse
from pathlib import Path

from tasqlake.commands.stats import print_stats
from tasqlake.demo import describe, run_demo
from tasqlake.lake.storage import Lake
from tasqlake.schemas.errors import TasqlakeError
from tasqlake.schemas.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the end-to-end demo (simulated workload → ingest → lake → stats)",
        description="Publish a simulated AsyncTasQ workload to Redis Pub/Sub while the ingest "
        "service stores it, then print queue and worker statistics derived from the stored log. "
        "Uses the Redis at --redis-url if one answers, else starts a private one.",
    )
    parser.add_argument("--redis-url", metavar="URL", help="Redis to use if it answers")
    parser.add_argument(
        "--lake",
        dest="demo_lake",
        default="demo-lake",
        metavar="DIR",
        help="where the demo's lake goes (default ./demo-lake; replaced on each run)",
    )
    parser.add_argument("--duration", type=float, default=15.0, metavar="SECONDS")
    parser.add_argument("--rate", type=float, default=5000.0, metavar="EVENTS_PER_S")
    parser.add_argument("--seed", type=int, default=7, metavar="N")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.duration <= 0 or args.rate <= 0:
        raise TasqlakeError("--duration and --rate must be greater than 0")
    report = run_demo(
        settings,
        lake_path=args.demo_lake,
        duration=args.duration,
        rate=args.rate,
        seed=args.seed,
    )
    lake = Path(args.demo_lake).resolve()
    print(describe(report, lake))
    # As of the end of the workload: the simulated workers stopped publishing with it, so "now"
    # (a few seconds later) would already find them lost.
    print_stats(Lake(lake), as_of=report.last_event_at, fmt="table")
    return 0 if report.stored == report.published else 1
