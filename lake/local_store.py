"""The local-disk backend of :class:`tasqlake.lake.storage.Lake`.

Commits are atomic: a file is written under a hidden temporary name in its final directory,
flushed to disk, then renamed into place, and the directory entry is synced. Readers (DuckDB
globs ending in ``.parquet``) never see a partial file. An exclusive commit links the temporary
file to its final name (``link`` fails when the name exists), the local form of S3's
conditional create. Files are created without world access.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath

from tasqlake.schemas.errors import CommitConflictError, StorageError

FILE_MODE = 0o640
DIR_MODE = 0o750


def describe_os_error(error: OSError) -> str:
    """A short, actionable wording of an OS error met while writing the lake or the WAL."""
    if error.errno == errno.ENOSPC:
        return "no space left on device: free space or move the lake"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: check the owner and mode of the lake directory"
    if error.errno == errno.EROFS:
        return "read-only file system: mount the lake read-write"
    return error.strerror or str(error)


class LocalStore:
    """A lake rooted at a local directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(os.fspath(root).removeprefix("file://")).expanduser().absolute()

    @property
    def location(self) -> str:
        return str(self.root)

    def path(self, relpath: str = "") -> Path:
        """Local path of ``relpath``; refuses anything that would leave the lake."""
        rel = PurePosixPath(relpath)
        if rel.is_absolute() or ".." in rel.parts:
            raise StorageError(f"path {relpath!r} is outside lake {self.root}")
        return self.root.joinpath(*rel.parts)

    def uri(self, relpath: str = "") -> str:
        return self.path(relpath).as_posix()

    def describe(self, relpath: str = "") -> str:
        return str(self.path(relpath))

    # --- checks ----------------------------------------------------------------------------
    def exists(self, relpath: str = "") -> bool:
        return self.path(relpath).exists()

    def ensure(self) -> None:
        self.makedirs("")
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"lake {self.root} is not writable: check its owner and mode")

    def require_readable(self) -> None:
        if not self.root.is_dir():
            raise StorageError(
                f"lake {self.root} does not exist: run 'tasqlake ingest' or 'tasqlake import' "
                "first, or point --lake / TASQLAKE_LAKE at an existing lake"
            )
        if not os.access(self.root, os.R_OK | os.X_OK):
            raise StorageError(f"lake {self.root} is not readable: check its owner and mode")

    def makedirs(self, relpath: str) -> Path:
        target = self.path(relpath)
        try:
            target.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"cannot create {target}: {describe_os_error(error)}") from error
        return target

    # --- listing ---------------------------------------------------------------------------
    def list_files(self, directory: str, suffix: str) -> list[str]:
        base = self.path(directory)
        if not base.is_dir():
            return []
        found = []
        for current, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in files:
                if name.endswith(suffix) and not name.startswith("."):
                    found.append(Path(current, name).relative_to(self.root).as_posix())
        return sorted(found)

    def list_dirs(self, directory: str) -> list[str]:
        base = self.path(directory)
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))

    def size(self, relpath: str) -> int:
        try:
            return self.path(relpath).stat().st_size
        except FileNotFoundError:
            raise
        except OSError as error:
            raise StorageError(
                f"cannot read {self.path(relpath)}: {describe_os_error(error)}"
            ) from error

    # --- reading ---------------------------------------------------------------------------
    def read_bytes(self, relpath: str) -> bytes:
        """The file's bytes; FileNotFoundError when it is gone."""
        target = self.path(relpath)
        try:
            return target.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as error:
            raise StorageError(f"cannot read {target}: {describe_os_error(error)}") from error

    def open_input(self, relpath: str) -> object:
        """What pyarrow reads the file from (a path: it seeks and reads only what it needs)."""
        return str(self.path(relpath))

    # --- writing ---------------------------------------------------------------------------
    def put(self, relpath: str, data: bytes | memoryview, *, exclusive: bool) -> None:
        target = self.path(relpath)
        directory = self.makedirs(PurePosixPath(relpath).parent.as_posix())
        tmp = directory / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            with open(tmp, "wb", opener=_restricted_opener) as sink:
                sink.write(data)
                sink.flush()
                os.fsync(sink.fileno())
            if exclusive:
                try:
                    os.link(tmp, target)
                except FileExistsError:
                    raise CommitConflictError(
                        f"{target} exists already: another writer committed it first"
                    ) from None
            else:
                os.replace(tmp, target)
            fsync_directory(directory)
        except OSError as error:
            raise StorageError(f"cannot commit {target}: {describe_os_error(error)}") from error
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def delete(self, relpath: str) -> None:
        target = self.path(relpath)
        try:
            target.unlink(missing_ok=True)
        except OSError as error:
            raise StorageError(f"cannot delete {target}: {describe_os_error(error)}") from error

    def delete_tree(self, relpath: str) -> None:
        shutil.rmtree(self.path(relpath), ignore_errors=True)

    def sweep_temporary(self, directory: str) -> int:
        removed = 0
        base = self.path(directory)
        if not base.is_dir():
            return 0
        for tmp in base.rglob(".*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed += 1
        return removed


def _restricted_opener(path: str, flags: int) -> int:
    return os.open(path, flags, FILE_MODE)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable (fsync the directory itself)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
