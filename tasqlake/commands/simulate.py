"""``tasqlake simulate``: publish a realistic AsyncTasQ event stream to Redis, or write it to a
msgpack-stream file with ``--out``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from tasqlake.commands import _options
from tasqlake.schemas.errors import ConfigError
from tasqlake.schemas.settings import Settings
from tasqlake.simulator.spec import DEFAULT_START, SimulationSpec


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
        return value

    return parse


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO-8601 date/time: {text!r} (e.g. 2026-11-02T08:00:00+00:00)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="publish a simulated AsyncTasQ event stream (to Redis, or to a file with --out)",
        description="Simulate an AsyncTasQ deployment (dispatchers, workers, queues, retries, "
        "failures, crashes) and publish its events byte-for-byte like AsyncTasQ 1.7.0: to Redis "
        "Pub/Sub at the events' own pace, or to a msgpack-stream file with --out. "
        "The same --seed (and --start) gives the same events.",
    )
    _options.add_redis(parser, many_channels=False)
    parser.add_argument(
        "--rate",
        type=_positive(float),
        default=200.0,
        metavar="EVENTS_PER_S",
        help="events per second to aim for (default 200)",
    )
    parser.add_argument(
        "--duration",
        type=_positive(float),
        default=60.0,
        metavar="SECONDS",
        help="simulated seconds of dispatching (default 60)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="random seed; same seed, same events (default 0)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="write a msgpack stream to FILE instead of publishing to Redis",
    )
    parser.add_argument(
        "--start",
        type=_instant,
        metavar="ISO",
        help="timestamp of simulated time 0 (default: now when publishing to "
        f"Redis, {DEFAULT_START.isoformat()} with --out)",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="publish as fast as possible instead of at the events' pace",
    )
    parser.add_argument(
        "--heartbeat-freq",
        type=_positive(float),
        default=60.0,
        metavar="SECONDS",
        help="worker heartbeat interval (default 60)",
    )
    parser.add_argument(
        "--workers",
        type=_positive(int),
        metavar="N",
        help="workers at start (default: sized from --rate)",
    )
    parser.add_argument(
        "--drain",
        action="store_true",
        help="after --duration let the workers finish their work and go offline",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from tasqlake.simulator.publish import publish_to_redis, write_stream

    try:
        spec = SimulationSpec(
            seed=args.seed,
            rate=args.rate,
            duration=args.duration,
            start=args.start or DEFAULT_START,
            heartbeat_freq=args.heartbeat_freq,
            workers=args.workers,
            drain=args.drain,
        )
    except ValueError as error:
        raise ConfigError(f"simulate: {error}") from None
    if args.out:
        result = write_stream(spec, args.out)
        target = args.out
    else:
        channel = settings.channels[0]
        result = publish_to_redis(
            spec, settings.redis_url, channel, realtime=not args.fast, rebase=args.start is None
        )
        target = f"{settings.masked_redis_url} channel {channel}"
    print(
        f"simulate: {result.events} events in {result.seconds:.1f} s "
        f"({result.rate:,.0f} events/s, {result.bytes:,} bytes) -> {target}",
        file=sys.stderr,
    )
    return 0
