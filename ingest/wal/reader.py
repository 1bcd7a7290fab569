"""Reading the write-ahead log back, in order, from any offset: for recovery and for tailing.

The reader never trusts a record it cannot check: a header without the magic, or a body whose
checksum differs, ends that segment (a torn tail left by a crash or power loss). While a segment
is the newest one it may still be growing, so an incomplete record there means "not yet", and
the reader returns what it has and is asked again later.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tasqlake.ingest.wal.format import (
    HEADER_SIZE,
    Record,
    TornRecord,
    check_body,
    decode_header,
    segment_name,
    segment_start,
)
from tasqlake.lake.storage import describe_os_error
from tasqlake.schemas.errors import StorageError

log = logging.getLogger(__name__)


def list_segments(directory: Path) -> list[int]:
    """Start offsets of the segments in ``directory``, ascending."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    except OSError as error:
        raise StorageError(
            f"cannot list write-ahead log {directory}: {describe_os_error(error)}"
        ) from error
    return sorted(start for name in names if (start := segment_start(name)) is not None)


class WalReader:
    """Yields the records of a WAL directory from a position on, segment after segment."""

    def __init__(self, directory: Path, offset: int) -> None:
        self.directory = directory
        self.offset = offset  # next record to read
        self._file: BinaryIO | None = None
        self._file_start = -1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def read_available(self, max_bytes: int = 64 * 1024 * 1024) -> Iterator[Record]:
        """Every whole record from :attr:`offset` that is on disk now (up to ``max_bytes``)."""
        budget = max_bytes
        while budget > 0:
            record = self._next()
            if record is None:
                return
            budget -= record.end - record.offset
            yield record

    def _next(self) -> Record | None:
        if self._file is not None and self._file_start <= self.offset:
            record = self._read_at(self._file_start)
            if record is not None:
                return record
        while True:
            segments = list_segments(self.directory)
            current = _segment_holding(segments, self.offset)
            if current is None:
                later = [s for s in segments if s > self.offset]
                if not later:
                    return None
                log.warning("write-ahead log skips from offset %d to %d", self.offset, later[0])
                self.offset = later[0]
                continue
            record = self._read_at(current)
            if record is not None:
                return record
            later = [s for s in segments if s > current]
            if not later:
                return None  # the newest segment: the record is not written yet
            record = self._read_at(current)  # written completely before the roll-over?
            if record is not None:
                return record
            self.offset = later[0]  # a torn tail: the rest of this segment is lost

    def _read_at(self, start: int) -> Record | None:
        handle = self._open(start)
        position = self.offset - start
        handle.seek(position)
        head = handle.read(HEADER_SIZE)
        if len(head) < HEADER_SIZE:
            return None
        try:
            kind, length, crc, received_us = decode_header(head)
            body = handle.read(length)
            if len(body) < length:
                return None
            check_body(body, crc)
        except TornRecord as error:
            if self._has_more_after(handle, position):
                log.error(
                    "write-ahead log %s is damaged at byte %d: %s",
                    segment_name(start),
                    position,
                    error,
                )
            return None
        record = Record(self.offset, self.offset + HEADER_SIZE + length, kind, received_us, body)
        self.offset = record.end
        return record

    def _has_more_after(self, handle: BinaryIO, position: int) -> bool:
        return os.fstat(handle.fileno()).st_size > position + HEADER_SIZE

    def _open(self, start: int) -> BinaryIO:
        if self._file is None or self._file_start != start:
            self.close()
            path = self.directory / segment_name(start)
            try:
                self._file = open(path, "rb")  # noqa: SIM115 (kept open while tailing)
            except OSError as error:
                raise StorageError(
                    f"cannot read write-ahead log segment {path}: {describe_os_error(error)}"
                ) from error
            self._file_start = start
        return self._file


def _segment_holding(segments: list[int], offset: int) -> int | None:
    """The segment whose range starts at or before ``offset`` (the last such), if any."""
    holding = None
    for start in segments:
        if start <= offset:
            holding = start
        else:
            break
    return holding
