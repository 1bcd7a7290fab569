"""``tasqlake ingest``: run the ingest service in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from ingest.service import run_ingest
from schemas.settings import Settings
from tasqlake.commands._options import add_lake, add_redact, add_redis


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="subscribe to AsyncTasQ events and store them in the lake (until SIGTERM/SIGINT)",
        description="Subscribe to AsyncTasQ's Pub/Sub channel(s) and commit every event to the "
        "lake as Parquet, through a local write-ahead log. Runs until SIGTERM or SIGINT, then "
        "commits everything received and exits 0.",
    )
    add_redis(parser, many_channels=True)
    add_lake(parser)
    add_redact(parser)
    parser.add_argument(
        "--flush-interval",
        type=float,
        metavar="SECONDS",
        help="commit at least this often (env TASQLAKE_FLUSH_INTERVAL, default 1)",
    )
    parser.add_argument(
        "--max-batch-events",
        type=int,
        metavar="N",
        help="commit when a batch holds N events (default 200000)",
    )
    parser.add_argument(
        "--wal-dir",
        metavar="DIR",
        help="write-ahead log directory (env TASQLAKE_WAL_DIR, default LAKE/wal)",
    )
    parser.add_argument(
        "--ingester-id",
        metavar="ID",
        help="name of this ingester in the lake (default: kept in the WAL dir)",
    )
    parser.add_argument(
        "--status-interval",
        type=float,
        metavar="SECONDS",
        help="log a status line this often (default 5)",
    )
    parser.add_argument(
        "--health-check-interval",
        type=float,
        metavar="SECONDS",
        help="PING Redis this often; no reply in twice that = reconnect",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_format)
    return run_ingest(settings)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


def configure_logging(log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
