"""``tasqlake import FILE ...``: store events from msgpack-stream or JSON Lines files."""

from __future__ import annotations

import argparse

from ingest.importer import import_files
from schemas.settings import Settings
from schemas.storage import Lake
from tasqlake.commands._options import add_lake, add_max_payload_bytes, add_redact


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "import",
        help="store events from msgpack-stream or JSON Lines files",
        description="Store the events of each FILE through the ingest write path (same "
        "decoding, quarantine and Parquet layout). The format is told from the content: a "
        "msgpack stream (4-byte big-endian length + payload records) or JSON Lines. Importing "
        "the same file twice does not duplicate its events.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="event file(s) to import")
    add_lake(parser)
    add_redact(parser)
    add_max_payload_bytes(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    summary = import_files(
        args.files, Lake(settings.lake), settings.max_payload_bytes, redaction=settings.redaction
    )
    print(summary.render())
    return 0
