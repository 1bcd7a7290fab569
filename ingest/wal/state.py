"""The small files next to the WAL segments: who we are, what is committed, what is pending.

- ``ingester_id``: this WAL directory's ingester id, created once and kept, so replayed files
  get the same names as the originals.
- ``checkpoint.json``: ``{"committed": OFFSET}``, every record before OFFSET is in the lake.
- ``intent.json``: ``{"start": S, "end": E}``, written before the files of the batch of
  records ``[S, E)`` are committed, so that recovery rebuilds exactly that batch (same names,
  same contents) and a commit interrupted half-way is completed, never duplicated.
- ``state.json``: ``{"last_subscribed_us": T}``, when this ingester last knew it was subscribed
  (the start of the gap a restart records).
- ``LOCK``: held (``flock``) by the one service using the directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasqlake.lake.storage import describe_os_error
from tasqlake.schemas.errors import StorageError

_FILE_MODE = 0o640


@dataclass(frozen=True, slots=True)
class Intent:
    start: int
    end: int


class WalState:
    """Reads and atomically rewrites the bookkeeping files of one WAL directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def ensure(self) -> WalState:
        try:
            self.directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(
                f"cannot create write-ahead log directory {self.directory}: "
                f"{describe_os_error(error)}"
            ) from error
        if not os.access(self.directory, os.W_OK):
            raise StorageError(
                f"write-ahead log directory {self.directory} is not writable: "
                "check its owner and mode, or set --wal-dir / TASQLAKE_WAL_DIR"
            )
        return self

    # --- ingester id -----------------------------------------------------------------------
    def ingester_id(self, override: str | None = None) -> str:
        """The id kept in this directory (created on first use); ``override`` replaces it."""
        path = self.directory / "ingester_id"
        if override:
            if self._read_text(path) != override:
                self._write(path, override.encode())
            return override
        existing = self._read_text(path)
        if existing:
            return existing
        host = "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:24] or "host"
        created = f"{host}-{uuid.uuid4().hex[:8]}"
        self._write(path, created.encode())
        return created

    # --- checkpoint and intent -------------------------------------------------------------
    def committed(self) -> int | None:
        """Offset before which every record is committed, or None for a new directory."""
        data = self._read_json("checkpoint.json")
        return None if data is None else int(data["committed"])

    def set_committed(self, offset: int) -> None:
        self._write_json("checkpoint.json", {"committed": offset})

    def intent(self) -> Intent | None:
        data = self._read_json("intent.json")
        return None if data is None else Intent(int(data["start"]), int(data["end"]))

    def set_intent(self, intent: Intent) -> None:
        self._write_json("intent.json", {"start": intent.start, "end": intent.end})

    # --- subscription history --------------------------------------------------------------
    def last_subscribed_us(self) -> int | None:
        data = self._read_json("state.json")
        return None if data is None else int(data["last_subscribed_us"])

    def set_last_subscribed_us(self, when_us: int) -> None:
        self._write_json("state.json", {"last_subscribed_us": when_us})

    # --- lock ------------------------------------------------------------------------------
    def lock(self, name: str = "LOCK", wait_s: float = 0.0) -> int:
        """Take an exclusive lock; returns its fd (closing it releases the lock)."""
        path = self.directory / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT, _FILE_MODE)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StorageError(
                        f"write-ahead log {self.directory} is in use by another ingester: "
                        "give each ingester its own --wal-dir (or stop the other one)"
                    ) from None
                time.sleep(0.05)

    # --- files -----------------------------------------------------------------------------
    def _read_json(self, name: str) -> dict[str, Any] | None:
        text = self._read_text(self.directory / name)
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            raise StorageError(
                f"{self.directory / name} is damaged: restore it or remove the WAL directory"
            ) from None
        return data if isinstance(data, dict) else None

    def _write_json(self, name: str, data: dict[str, Any]) -> None:
        self._write(self.directory / name, json.dumps(data).encode())

    def _read_text(self, path: Path) -> str | None:
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StorageError(f"cannot read {path}: {describe_os_error(error)}") from error

    def _write(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as error:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StorageError(f"cannot write {path}: {describe_os_error(error)}") from error
