"""Appending to the write-ahead log: one ``writev`` per record, fsync on an interval.

The receivers append (the Pub/Sub receiver and the stream receiver may both run: appends are
serialised by a lock). A separate :class:`WalSyncer` thread calls ``fsync`` every
``fsync_interval`` seconds, so a slow disk never holds up reading from the socket;
:attr:`WalWriter.synced_offset` says how far the last fsync reached (what the stream receiver
acknowledges up to). Segments roll
over at ``segment_bytes``; a new writer always starts a new segment (it never appends to a
segment a previous run may have left torn).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from tasqlake.ingest.wal.format import encode_header, segment_name
from tasqlake.lake.storage import describe_os_error, fsync_directory
from tasqlake.schemas.errors import StorageError

log = logging.getLogger(__name__)

DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
_FILE_MODE = 0o640


class WalWriter:
    """Appends records to segments of one WAL directory, starting at ``start_offset``."""

    def __init__(
        self, directory: Path, start_offset: int, segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()  # guards _fd against the syncer during roll-over
        self._append_lock = threading.Lock()  # one record at a time, whichever receiver
        self._fd = -1
        self._segment_start = start_offset
        self._offset = start_offset
        self._synced = start_offset
        self._dirty = False
        self._open_segment(start_offset)

    @property
    def offset(self) -> int:
        """Global offset just after the last appended record."""
        return self._offset

    @property
    def synced_offset(self) -> int:
        """Every record that ends at or before this offset is on disk (fsynced)."""
        return self._synced

    def append(self, kind: int, body: bytes, received_us: int) -> int:
        """Append one record; returns its offset. Raises StorageError if the disk refuses."""
        with self._append_lock:
            return self._append(kind, body, received_us)

    def _append(self, kind: int, body: bytes, received_us: int) -> int:
        header = encode_header(kind, body, received_us)
        if self._offset - self._segment_start >= self.segment_bytes:
            self._roll_over()
        record_offset = self._offset
        total = len(header) + len(body)
        try:
            written = os.writev(self._fd, [header, body])
            while written < total:  # a short write: finish it
                written += os.write(self._fd, (header + body)[written:])
        except OSError as error:
            raise StorageError(
                f"cannot append to the write-ahead log in {self.directory}: "
                f"{describe_os_error(error)}"
            ) from error
        self._dirty = True  # before the offset moves: a sync that sees the new offset syncs it
        self._offset += total
        return record_offset

    def sync(self) -> None:
        """fsync the current segment if anything was appended since the last sync."""
        with self._lock:
            reached = self._offset  # every record appended so far is in this segment or before
            if not self._dirty or self._fd < 0:
                self._synced = max(self._synced, reached) if self._fd >= 0 else self._synced
                return
            self._dirty = False
            fd = os.dup(self._fd)
        try:
            os.fsync(fd)
        except OSError as error:
            log.error("fsync of the write-ahead log failed: %s", describe_os_error(error))
            self._dirty = True  # not on disk: try again, acknowledge nothing past it
            return
        finally:
            os.close(fd)
        self._synced = max(self._synced, reached)

    def close(self) -> None:
        self.sync()
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def _roll_over(self) -> None:
        self.sync()
        with self._lock:
            os.close(self._fd)
            self._fd = -1
        self._open_segment(self._offset)

    def _open_segment(self, start: int) -> None:
        path = self.directory / segment_name(start)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, _FILE_MODE)
            fsync_directory(self.directory)
        except OSError as error:
            raise StorageError(
                f"cannot create write-ahead log segment {path}: {describe_os_error(error)}"
            ) from error
        with self._lock:
            self._fd = fd
            self._segment_start = start


class WalSyncer:
    """A daemon thread that fsyncs a :class:`WalWriter` every ``interval`` seconds."""

    def __init__(self, writer: WalWriter, interval: float) -> None:
        self._writer = writer
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tasqlake-wal-sync", daemon=True)

    def start(self) -> WalSyncer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._writer.sync()
