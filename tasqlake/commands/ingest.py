"""``tasqlake ingest``: run the ingest service in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse

from prometheus_client import CollectorRegistry

from tasqlake.commands._options import (
    add_allowed_lateness,
    add_lake,
    add_redact,
    add_redis,
    add_redis_security,
)
from tasqlake.ingest.service import logging_setup
from tasqlake.ingest.service.ingest_service import run_ingest
from tasqlake.schemas.errors import ConfigError
from tasqlake.schemas.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="subscribe to AsyncTasQ events and store them in the lake (until SIGTERM/SIGINT)",
        description="Subscribe to AsyncTasQ's Pub/Sub channel(s) and/or read Redis Streams in a "
        "consumer group, and commit every event to the lake as Parquet, through a local "
        "write-ahead log. Runs until SIGTERM or SIGINT, then commits everything received and "
        "exits 0.",
    )
    add_redis(parser, many_channels=True)
    parser.add_argument(
        "--stream",
        dest="streams",
        action="append",
        metavar="KEY",
        help="also (or, without --channel: only) read this Redis Stream in a consumer group, "
        "at least once (tasqlake.emitter writes it); repeat for several (env TASQLAKE_STREAM)",
    )
    parser.add_argument(
        "--consumer-group",
        metavar="NAME",
        help="the streams' consumer group: ingesters of one group share the entries, of "
        "different groups each store all (env TASQLAKE_CONSUMER_GROUP, default tasqlake)",
    )
    parser.add_argument(
        "--stream-claim-idle",
        type=float,
        metavar="SECONDS",
        help="claim entries pending this long on another consumer (a dead ingester's; default 60)",
    )
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
    add_redis_security(parser)
    add_operations(parser)
    parser.set_defaults(run=run)


def add_operations(parser: argparse.ArgumentParser) -> None:
    """Metrics, health and log format of the long-running service."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus /metrics and /healthz on PORT (env TASQLAKE_METRICS_PORT; "
        "default: no server)",
    )
    parser.add_argument(
        "--metrics-bind",
        metavar="ADDRESS",
        help="address of the metrics server (env TASQLAKE_METRICS_BIND, default 127.0.0.1)",
    )
    parser.add_argument(
        "--unhealthy-after",
        type=float,
        metavar="SECONDS",
        help="/healthz answers 503 after this long without a subscription (default 30)",
    )
    parser.add_argument(
        "--export-derived",
        action="store_const",
        const=True,
        default=None,
        help="also export gauges derived from the lake: queue depth, processing, workers by "
        "status, retries over the last 5 minutes (env TASQLAKE_EXPORT_DERIVED)",
    )
    parser.add_argument(
        "--log-format",
        choices=logging_setup.FORMATS,
        help="text (default) or json lines for log collectors (env TASQLAKE_LOG_FORMAT)",
    )
    parser.add_argument(
        "--compact-every",
        metavar="DURATION",
        help="compact closed partitions this often, e.g. 1h (env TASQLAKE_COMPACT_EVERY; "
        "default: never, run 'tasqlake compact' yourself)",
    )
    parser.add_argument(
        "--retention",
        metavar="DURATION",
        help="delete hour partitions older than this, checked hourly, e.g. 90d "
        "(env TASQLAKE_RETENTION; default: keep everything)",
    )
    add_allowed_lateness(parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    logging_setup.configure(settings.log_format)
    registry = CollectorRegistry()
    derived = None
    if settings.export_derived:
        if settings.metrics_port is None:
            raise ConfigError("--export-derived needs --metrics-port (the server to export on)")
        from tasqlake.derived_metrics import DerivedCollector  # DuckDB: only when asked

        derived = DerivedCollector(settings.lake)
        registry.register(derived)
    try:
        return run_ingest(settings, registry)
    finally:
        if derived is not None:
            derived.close()
