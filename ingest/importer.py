"""Importing event files into the lake through the ingest write path.

A file is a msgpack stream or JSON Lines (told apart by content, :func:`sniff_format`). Its
payloads go through the same :class:`BatchBuilder` (same decoder, columns and quarantine) and are
committed in chunks of ``chunk_events`` under names derived from the file's content hash and the
chunk's index: ``import-<sha256 prefix>-<chunk>.parquet``. Importing the same file again
rewrites the same files, so it never duplicates. JSON lines are re-encoded with
:func:`json_to_msgpack`, so an event exported from the lake gets back its original event_id.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tasqlake.ingest.processing import committer
from tasqlake.ingest.processing.columnar import BatchBuilder
from tasqlake.lake.storage import Lake, describe_os_error
from tasqlake.schemas import constants
from tasqlake.schemas.decode import json_to_msgpack
from tasqlake.schemas.errors import PayloadError, StorageError
from tasqlake.schemas.redaction import DEFAULT_POLICY, RedactionPolicy
from tasqlake.schemas.streams import iter_json_lines, iter_msgpack_stream, sniff_format

log = logging.getLogger(__name__)

IMPORT_INGESTER_ID = "import"
DEFAULT_CHUNK_EVENTS = 200_000
#: Progress is reported every this many payloads (and at each file's end).
_TRACK_EVERY = 2048

#: Called with the number of bytes of the input files consumed since the previous call.
Track = Callable[[int], None]


@dataclass
class ImportSummary:
    files: int = 0
    stored: int = 0
    quarantined: int = 0
    lake_files: int = 0
    lake_bytes: int = 0

    def render(self) -> str:
        per_event = f", {self.lake_bytes / self.stored:.1f} bytes/event" if self.stored else ""
        return (
            f"imported {self.files} file(s): {self.stored} events stored, "
            f"{self.quarantined} quarantined, {self.lake_files} lake files written{per_event}"
        )


def import_files(
    paths: Sequence[str | Path],
    lake: Lake,
    max_payload_bytes: int = constants.DEFAULT_MAX_PAYLOAD_BYTES,
    chunk_events: int = DEFAULT_CHUNK_EVENTS,
    redaction: RedactionPolicy = DEFAULT_POLICY,
    track: Track | None = None,
) -> ImportSummary:
    """Import every file (all are checked to be readable first); returns the totals.

    ``redaction`` is applied to result/error/traceback as the ingest service applies it.
    ``track(n)`` is told of the input bytes consumed as the import goes (a progress bar); the
    amounts add up to the files' total size.
    """
    files = [Path(p) for p in paths]
    for path in files:
        _check_readable(path)
    lake.ensure()
    summary = ImportSummary()
    for path in files:
        builder = BatchBuilder(IMPORT_INGESTER_ID, max_payload_bytes, redaction)
        _import_one(path, lake, builder, chunk_events, summary, track)
        summary.files += 1
    return summary


def _import_one(
    path: Path,
    lake: Lake,
    builder: BatchBuilder,
    chunk_events: int,
    summary: ImportSummary,
    track: Track | None,
) -> None:
    digest = _content_hash(path)
    writer_id = f"{IMPORT_INGESTER_ID}-{digest[:16]}"
    channel = f"import:{path.name}"
    received_us = time.time_ns() // 1000
    chunk = reported = 0
    with _open(path) as source:

        def report() -> None:
            nonlocal reported
            position = source.tell()
            if track is not None and position > reported:
                track(position - reported)
                reported = position

        for count, (raw, error) in enumerate(_payloads(source, path), 1):
            if error is None:
                builder.add([raw], received_us, channel)
            else:
                builder.reject(raw, error, received_us, channel)
            if len(builder) >= chunk_events:
                _commit(builder, lake, writer_id, chunk, summary)
                chunk += 1
            if count % _TRACK_EVERY == 0:
                report()
        report()
    if len(builder):
        _commit(builder, lake, writer_id, chunk, summary)


def _payloads(source: BinaryIO, path: Path) -> Iterator[tuple[bytes, PayloadError | None]]:
    head = source.read(64)
    source.seek(0)
    if not head:
        return
    try:
        fmt = sniff_format(head)
    except PayloadError as error:
        raise StorageError(f"cannot import {path}: {error.detail}") from None
    if fmt == "jsonl":
        for line in iter_json_lines(source):
            try:
                yield json_to_msgpack(line), None
            except PayloadError as error:
                yield line, error
        return
    offset = 0
    try:
        for payload in iter_msgpack_stream(source, path.name):
            offset += 4 + len(payload)
            yield payload, None
    except PayloadError as error:  # the rest of the file is kept in quarantine, not dropped
        source.seek(offset)
        yield source.read(), error


def _commit(
    builder: BatchBuilder, lake: Lake, writer_id: str, chunk: int, summary: ImportSummary
) -> None:
    built = builder.build()
    for directory, parts in (
        (committer.EVENTS, built.events),
        (committer.QUARANTINE, built.quarantine),
    ):
        result = committer.commit_tables(lake, directory, parts, writer_id, chunk)
        summary.lake_files += result.files
        summary.lake_bytes += result.bytes
    summary.stored += built.stored
    summary.quarantined += built.quarantined


def _check_readable(path: Path) -> None:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except IsADirectoryError:
        raise StorageError(f"cannot import {path}: it is a directory, give event files") from None
    except OSError as error:
        raise StorageError(f"cannot import {path}: {describe_os_error(error)}") from None


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as error:
        raise StorageError(f"cannot import {path}: {describe_os_error(error)}") from None


def _content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with _open(path) as source:
        while block := source.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
