"""The one way to reach a lake: paths, listing, reading and atomic commits.

Everything that touches the lake's files goes through :class:`Lake`, so the lake can later live
on S3-compatible object storage without the rest of tasqlake changing. Today it is a local
directory; paths inside the lake are always POSIX-style strings relative to its root
(``events/date=2026-11-29/hour=17/ing-1-00000001.parquet``).

Commits are atomic: a file is written under a hidden temporary name in its final directory,
flushed to disk, then renamed into place, and the directory entry is synced. Readers (DuckDB
globs ending in ``.parquet``) never see a partial file. Files are created without world access.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tasqlake.lake import layout
from tasqlake.schemas.errors import StorageError

if TYPE_CHECKING:  # Arrow is loaded when a table is read or written, not to reach the lake
    import pyarrow as pa

FILE_MODE = 0o640
DIR_MODE = 0o750
#: Parquet writer options used for every committed file.
PARQUET_OPTIONS: dict[str, object] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": 1_000_000,
}


def describe_os_error(error: OSError) -> str:
    """A short, actionable wording of an OS error met while writing the lake or the WAL."""
    if error.errno == errno.ENOSPC:
        return "no space left on device: free space or move the lake"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: check the owner and mode of the lake directory"
    if error.errno == errno.EROFS:
        return "read-only file system: mount the lake read-write"
    return error.strerror or str(error)


@dataclass(frozen=True)
class EncodedParquet:
    """A table encoded as a Parquet file's bytes, ready to commit (:meth:`Lake.commit_parquet`)."""

    data: bytes | memoryview
    rows: int


def encode_parquet(table: pa.Table, **options: object) -> EncodedParquet:
    """``table`` as the bytes of a Parquet file (``PARQUET_OPTIONS`` overridden by ``options``).

    Pure CPU work that releases the GIL while compressing, so callers encode on worker threads
    while they compute what comes next; committing stays ordered and atomic."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    try:
        pq.write_table(table, sink, **{**PARQUET_OPTIONS, **options})
    except pa.ArrowException as error:
        raise StorageError(str(error)) from error
    return EncodedParquet(memoryview(sink.getvalue()), table.num_rows)


class Lake:
    """A lake rooted at a local directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        text = os.fspath(root)
        if "://" in text and not text.startswith("file://"):
            raise StorageError(
                f"lake {text!r}: only local directories are supported yet; give a path"
            )
        self.root = Path(text.removeprefix("file://")).expanduser().absolute()

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    # --- paths -----------------------------------------------------------------------------
    def path(self, relpath: str = "") -> Path:
        """Local path of ``relpath``; refuses anything that would leave the lake."""
        rel = PurePosixPath(relpath)
        if rel.is_absolute() or ".." in rel.parts:
            raise StorageError(f"path {relpath!r} is outside lake {self.root}")
        return self.root.joinpath(*rel.parts)

    def uri(self, relpath: str = "") -> str:
        """The location of ``relpath`` as other engines (DuckDB, Spark, Trino) would read it."""
        return self.path(relpath).as_posix()

    def glob_uri(self, directory: str, pattern: str = "*/*/*.parquet") -> str:
        """A glob over Parquet files under ``directory`` (Hive ``date=…/hour=…`` by default)."""
        return f"{self.uri(directory)}/{pattern}"

    @property
    def events_glob(self) -> str:
        return self.glob_uri(layout.EVENTS_DIR)

    # --- checks ----------------------------------------------------------------------------
    def exists(self, relpath: str = "") -> bool:
        return self.path(relpath).exists()

    def ensure(self) -> Lake:
        """Create the lake directory (and its parents) if needed; fail clearly otherwise."""
        self.makedirs("")
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"lake {self.root} is not writable: check its owner and mode")
        return self

    def require_readable(self) -> Lake:
        """Raise unless the lake exists and can be listed."""
        if not self.root.is_dir():
            raise StorageError(
                f"lake {self.root} does not exist: run 'tasqlake ingest' or 'tasqlake import' "
                "first, or point --lake / TASQLAKE_LAKE at an existing lake"
            )
        if not os.access(self.root, os.R_OK | os.X_OK):
            raise StorageError(f"lake {self.root} is not readable: check its owner and mode")
        return self

    def makedirs(self, relpath: str) -> Path:
        target = self.path(relpath)
        try:
            target.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"cannot create {target}: {describe_os_error(error)}") from error
        return target

    # --- listing ---------------------------------------------------------------------------
    def list_files(self, directory: str, suffix: str = ".parquet") -> list[str]:
        """Relative paths of committed files under ``directory`` (recursive), sorted.

        Hidden files (temporary names of commits in progress) are never listed.
        """
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
        """Names of the (non-hidden) sub-directories of ``directory``, sorted."""
        base = self.path(directory)
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))

    def size(self, relpath: str) -> int:
        return self.path(relpath).stat().st_size

    # --- reading ---------------------------------------------------------------------------
    def read_table(self, relpath: str) -> pa.Table:
        import pyarrow as pa
        import pyarrow.parquet as pq

        target = self.path(relpath)
        try:
            return pq.read_table(target)
        except (OSError, pa.ArrowInvalid) as error:
            raise StorageError(f"cannot read {target}: {error}") from error

    def read_metadata(self, relpath: str) -> pa.parquet.FileMetaData:
        """The Parquet footer of ``relpath`` (row counts, schema), without reading the data."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        target = self.path(relpath)
        try:
            return pq.read_metadata(target)
        except (OSError, pa.ArrowInvalid) as error:
            raise StorageError(f"cannot read {target}: {error}") from error

    # --- writing ---------------------------------------------------------------------------
    def commit_parquet(
        self, relpath: str, table: pa.Table | EncodedParquet, **options: object
    ) -> int:
        """Write ``table`` to ``relpath`` atomically; returns the committed file's size.

        ``table`` may be encoded already (:func:`encode_parquet`, e.g. on another thread while
        the caller computes the next one): its bytes are committed as they are."""
        target = self.path(relpath)
        encoded = table if isinstance(table, EncodedParquet) else None
        if encoded is None:
            try:
                encoded = encode_parquet(table, **options)
            except StorageError as error:
                raise StorageError(f"cannot encode {target} as Parquet: {error}") from None
        self.commit_bytes(relpath, encoded.data)
        return len(encoded.data)

    def commit_bytes(self, relpath: str, data: bytes | memoryview) -> None:
        """Write ``data`` (an encoded file, a marker, a manifest) to ``relpath`` atomically."""
        target = self.path(relpath)
        directory = self.makedirs(PurePosixPath(relpath).parent.as_posix())
        tmp = directory / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            with open(tmp, "wb", opener=_restricted_opener) as sink:
                sink.write(data)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(tmp, target)
            fsync_directory(directory)
        except OSError as error:
            raise StorageError(f"cannot commit {target}: {describe_os_error(error)}") from error
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def delete(self, relpath: str) -> None:
        """Remove a file; a file already gone is not an error."""
        target = self.path(relpath)
        try:
            target.unlink(missing_ok=True)
        except OSError as error:
            raise StorageError(f"cannot delete {target}: {describe_os_error(error)}") from error

    def delete_tree(self, relpath: str) -> None:
        """Remove a directory and everything below it (retention, compaction)."""
        if not relpath.strip("/"):
            raise StorageError(f"refusing to delete the whole lake {self.root}")
        target = self.path(relpath)
        shutil.rmtree(target, ignore_errors=True)

    def sweep_temporary(self, directory: str) -> int:
        """Remove temporary files left by commits that were interrupted; returns how many."""
        removed = 0
        base = self.path(directory)
        if not base.is_dir():
            return 0
        for tmp in base.rglob(".*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed += 1
        return removed

    def iter_partitions(self, directory: str = layout.EVENTS_DIR) -> Iterator[tuple[str, int]]:
        """``(date, hour)`` of each Hive partition under ``directory``, in order."""
        for date_dir in self.list_dirs(directory):
            if not date_dir.startswith("date="):
                continue
            for hour_dir in self.list_dirs(f"{directory}/{date_dir}"):
                if hour_dir.startswith("hour="):
                    yield date_dir.removeprefix("date="), int(hour_dir.removeprefix("hour="))


def _restricted_opener(path: str, flags: int) -> int:
    return os.open(path, flags, FILE_MODE)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable (fsync the directory itself)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
