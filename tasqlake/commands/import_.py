"""``tasqlake import FILE ...``: store events from msgpack-stream or JSON Lines files.

``tasqlake import --from-quarantine``: try the lake's quarantined payloads again (after a fix).
"""

from __future__ import annotations

import argparse
import os

from tasqlake import progress
from tasqlake.commands._options import add_lake, add_max_payload_bytes, add_redact
from tasqlake.ingest.importer import import_files
from tasqlake.ingest.requeue import Selection, quarantine_files, requeue_quarantine
from tasqlake.lake.storage import Lake
from tasqlake.schemas import decode
from tasqlake.schemas.errors import ConfigError
from tasqlake.schemas.settings import Settings
from tasqlake.timeparse import parse_instant

REASONS = (
    decode.TOO_LARGE,
    decode.NOT_MSGPACK,
    decode.NOT_A_MAP,
    decode.MISSING_KEY,
    decode.WRONG_TYPE,
    decode.BAD_VALUE,
    decode.BAD_TIMESTAMP,
    decode.NOT_JSON,
    decode.UNKNOWN_SHAPE,
    decode.UPCAST_FAILED,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "import",
        help="store events from msgpack-stream or JSON Lines files, or re-import quarantine",
        description="Store the events of each FILE through the ingest write path (same "
        "decoding, quarantine and Parquet layout). The format is told from the content: a "
        "msgpack stream (4-byte big-endian length + payload records) or JSON Lines. Importing "
        "the same file twice does not duplicate its events. "
        "With --from-quarantine (and no FILE), the payloads kept under LAKE/quarantine/ are run "
        "through the same write path again, e.g. after raising --max-payload-bytes: those that "
        "now pass are stored as if ingested when they were received (same event_id, "
        "received_at and channel); the others stay in quarantine. The quarantine files are "
        "never changed; the re-imported rows are listed in LAKE/requeued/ and never taken "
        "again, so running it twice (or after a crash) stores nothing twice.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="event file(s) to import")
    parser.add_argument(
        "--from-quarantine",
        action="store_true",
        help="re-import the lake's quarantined payloads instead of files",
    )
    parser.add_argument(
        "--reason",
        action="append",
        choices=REASONS,
        metavar="REASON",
        help="with --from-quarantine: only payloads quarantined for REASON (repeatable; one of "
        + ", ".join(repr(r) for r in REASONS)
        + ")",
    )
    parser.add_argument(
        "--since",
        metavar="INSTANT",
        help="with --from-quarantine: only payloads received at or after this ISO-8601 instant "
        "(no zone = UTC)",
    )
    add_lake(parser)
    add_redact(parser)
    add_max_payload_bytes(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    lake = Lake.from_settings(settings)
    if args.from_quarantine:
        if args.files:
            raise ConfigError("give either FILE arguments or --from-quarantine, not both")
        since = parse_instant(args.since, "--since") if args.since else None
        selection = Selection(
            frozenset(args.reason) if args.reason else None,
            None if since is None else decode.to_epoch_us(since),
        )
        lake.require_readable()
        total = len(quarantine_files(lake))
        with progress.bar("re-importing quarantine", total=total, unit="items") as advance:
            requeued = requeue_quarantine(
                lake, settings.max_payload_bytes, settings.redaction, selection, track=advance
            )
        print(requeued.render())
        return 0
    if args.reason or args.since:
        raise ConfigError("--reason and --since select quarantined payloads: add --from-quarantine")
    if not args.files:
        raise ConfigError("nothing to import: give event FILE(s), or --from-quarantine")
    total = sum(_size(path) for path in args.files)
    label = f"importing {args.files[0]}" if len(args.files) == 1 else "importing"
    with progress.bar(label, total=total, unit="bytes") as advance:
        summary = import_files(
            args.files,
            lake,
            settings.max_payload_bytes,
            redaction=settings.redaction,
            track=advance,
        )
    print(summary.render())
    return 0


def _size(path: str) -> int:
    """Size of ``path`` for the bar; 0 when unknown (import_files then names the problem)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
