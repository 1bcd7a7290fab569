"""The one way to reach a lake: paths, listing, reading and atomic commits.

Everything that touches the lake's files goes through :class:`Lake`: a local directory
(:mod:`tasqlake.lake.local_store`) or a bucket and prefix of an S3-compatible object store
(``s3://bucket/prefix``, :mod:`tasqlake.lake.s3_store`) behind one interface. Paths inside the
lake are always POSIX-style strings relative to its root
(``events/date=2026-11-29/hour=17/ing-1-00000001.parquet``).

The commit protocol is the same on both: a file is encoded whole, then committed under its
final name in one step (a rename of a synced temporary file on disk, one PUT on S3), so readers
(DuckDB globs ending in ``.parquet``) never see a partial file. An *exclusive* commit (names two
writers could race for) succeeds for exactly one writer; the others get
:class:`~tasqlake.schemas.errors.CommitConflictError` (a hard link on disk, a conditional
create, ``If-None-Match: *``, on S3).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tasqlake.lake import layout
from tasqlake.lake.local_store import (
    DIR_MODE,
    FILE_MODE,
    LocalStore,
    describe_os_error,
    fsync_directory,
)
from tasqlake.lake.s3_options import S3Options, is_s3_url
from tasqlake.schemas.errors import StorageError

if TYPE_CHECKING:  # Arrow is loaded when a table is read or written, not to reach the lake
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tasqlake.schemas.settings import Settings

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "PARQUET_OPTIONS",
    "EncodedParquet",
    "Lake",
    "describe_os_error",
    "encode_parquet",
    "fsync_directory",
]

#: Parquet writer options used for every committed file.
PARQUET_OPTIONS: dict[str, object] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": 1_000_000,
}


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


class Store(Protocol):
    """What a backend does; :class:`Lake` adds Parquet, partitions and checks on top."""

    @property
    def location(self) -> str: ...
    def uri(self, relpath: str = "") -> str: ...
    def describe(self, relpath: str = "") -> str: ...
    def exists(self, relpath: str = "") -> bool: ...
    def ensure(self) -> None: ...
    def require_readable(self) -> None: ...
    def makedirs(self, relpath: str) -> object: ...
    def list_files(self, directory: str, suffix: str) -> list[str]: ...
    def list_dirs(self, directory: str) -> list[str]: ...
    def size(self, relpath: str) -> int: ...
    def read_bytes(self, relpath: str) -> bytes: ...
    def open_input(self, relpath: str) -> object: ...
    def put(self, relpath: str, data: bytes | memoryview, *, exclusive: bool) -> None: ...
    def delete(self, relpath: str) -> None: ...
    def delete_tree(self, relpath: str) -> None: ...
    def sweep_temporary(self, directory: str) -> int: ...


class Lake:
    """A lake: a local directory, or ``s3://bucket/prefix`` reached with ``s3`` options (by
    default those of the AWS environment, read by the object store itself)."""

    def __init__(self, root: str | os.PathLike[str], *, s3: S3Options | None = None) -> None:
        text = os.fspath(root)
        self._store: Store
        if is_s3_url(text):
            from tasqlake.lake.s3_store import S3Store

            self._store = S3Store(text, s3 or S3Options())
        elif "://" in text and not text.startswith("file://"):
            raise StorageError(
                f"lake {text!r}: give a local directory or an s3://BUCKET/PREFIX URL"
            )
        else:
            self._store = LocalStore(text)

    @classmethod
    def from_settings(cls, settings: Settings) -> Lake:
        """The lake of ``settings`` (``lake``, ``s3_*`` and the AWS credentials chain)."""
        if not is_s3_url(settings.lake):
            return cls(settings.lake)
        options = S3Options.from_environment(
            settings.aws_environment,
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            path_style=settings.s3_path_style,
        )
        return cls(settings.lake, s3=options)

    def __repr__(self) -> str:
        return f"Lake({self.location!r})"

    # --- where -----------------------------------------------------------------------------
    @property
    def location(self) -> str:
        """The lake as a user wrote it: a local directory or an s3:// URL."""
        return self._store.location

    @property
    def s3_options(self) -> S3Options | None:
        """How an S3 lake is reached (to open it again in another process); None if local."""
        return getattr(self._store, "options", None)

    @property
    def is_local(self) -> bool:
        return isinstance(self._store, LocalStore)

    @property
    def root(self) -> Path:
        """The local directory of a local lake (commands that only work on one)."""
        if not isinstance(self._store, LocalStore):
            raise StorageError(
                f"lake {self.location} is on object storage: this needs a local directory"
            )
        return self._store.root

    def path(self, relpath: str = "") -> Path:
        """Local path of ``relpath`` in a local lake; refuses anything that would leave it."""
        if not isinstance(self._store, LocalStore):
            raise StorageError(
                f"lake {self.location} is on object storage: {relpath!r} has no local path"
            )
        return self._store.path(relpath)

    def describe(self, relpath: str = "") -> str:
        """``relpath`` as messages name it (a local path or an s3:// URL)."""
        return self._store.describe(relpath)

    def uri(self, relpath: str = "") -> str:
        """The location of ``relpath`` as other engines (DuckDB, Spark, Trino) would read it."""
        return self._store.uri(relpath)

    def glob_uri(self, directory: str, pattern: str = "*/*/*.parquet") -> str:
        """A glob over Parquet files under ``directory`` (Hive ``date=…/hour=…`` by default)."""
        return f"{self.uri(directory)}/{pattern}"

    @property
    def events_glob(self) -> str:
        return self.glob_uri(layout.EVENTS_DIR)

    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        """Let DuckDB connection ``con`` read this lake's URIs (a no-op for a local lake)."""
        attach = getattr(self._store, "attach", None)
        if attach is not None:
            attach(con)

    # --- checks ----------------------------------------------------------------------------
    def exists(self, relpath: str = "") -> bool:
        return self._store.exists(relpath)

    def ensure(self) -> Lake:
        """Make the lake usable for writing (create the directory; check the bucket answers);
        fail clearly otherwise."""
        self._store.ensure()
        return self

    def require_readable(self) -> Lake:
        """Raise unless the lake exists and can be listed."""
        self._store.require_readable()
        return self

    def makedirs(self, relpath: str) -> None:
        self._store.makedirs(relpath)

    # --- listing ---------------------------------------------------------------------------
    def list_files(self, directory: str, suffix: str = ".parquet") -> list[str]:
        """Relative paths of committed files under ``directory`` (recursive), sorted.

        Hidden files (temporary names of commits in progress) are never listed.
        """
        return self._store.list_files(directory, suffix)

    def list_dirs(self, directory: str) -> list[str]:
        """Names of the (non-hidden) sub-directories of ``directory``, sorted."""
        return self._store.list_dirs(directory)

    def size(self, relpath: str) -> int:
        return self._store.size(relpath)

    # --- reading ---------------------------------------------------------------------------
    def read_bytes(self, relpath: str) -> bytes:
        """The file's bytes; FileNotFoundError when it is gone."""
        return self._store.read_bytes(relpath)

    def read_table(self, relpath: str) -> pa.Table:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            if isinstance(self._store, LocalStore):
                return pq.read_table(self._store.path(relpath))
            return pq.read_table(pa.BufferReader(self._store.read_bytes(relpath)))
        except (OSError, pa.ArrowInvalid) as error:
            raise StorageError(f"cannot read {self.describe(relpath)}: {error}") from error

    def read_metadata(self, relpath: str) -> pq.FileMetaData:
        """The Parquet footer of ``relpath`` (row counts, schema), without reading the data."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.read_metadata(self._store.open_input(relpath))
        except (OSError, pa.ArrowInvalid) as error:
            raise StorageError(f"cannot read {self.describe(relpath)}: {error}") from error

    # --- writing ---------------------------------------------------------------------------
    def commit_parquet(
        self,
        relpath: str,
        table: pa.Table | EncodedParquet,
        *,
        exclusive: bool = False,
        **options: object,
    ) -> int:
        """Write ``table`` to ``relpath`` atomically; returns the committed file's size.

        ``table`` may be encoded already (:func:`encode_parquet`, e.g. on another thread while
        the caller computes the next one): its bytes are committed as they are. ``exclusive``:
        fail with CommitConflictError when the name exists (exactly one writer wins)."""
        encoded = table if isinstance(table, EncodedParquet) else None
        if encoded is None:
            try:
                encoded = encode_parquet(table, **options)
            except StorageError as error:
                raise StorageError(
                    f"cannot encode {self.describe(relpath)} as Parquet: {error}"
                ) from None
        self._store.put(relpath, encoded.data, exclusive=exclusive)
        return len(encoded.data)

    def commit_bytes(
        self, relpath: str, data: bytes | memoryview, *, exclusive: bool = False
    ) -> None:
        """Write ``data`` (an encoded file, a marker, a manifest) to ``relpath`` atomically."""
        self._store.put(relpath, data, exclusive=exclusive)

    def delete(self, relpath: str) -> None:
        """Remove a file; a file already gone is not an error."""
        self._store.delete(relpath)

    def delete_tree(self, relpath: str) -> None:
        """Remove a directory and everything below it (retention, compaction)."""
        if not relpath.strip("/"):
            raise StorageError(f"refusing to delete the whole lake {self.location}")
        self._store.delete_tree(relpath)

    def sweep_temporary(self, directory: str) -> int:
        """Remove temporary files left by commits that were interrupted; returns how many."""
        return self._store.sweep_temporary(directory)

    def iter_partitions(self, directory: str = layout.EVENTS_DIR) -> Iterator[tuple[str, int]]:
        """``(date, hour)`` of each Hive partition under ``directory``, in order."""
        for date_dir in self.list_dirs(directory):
            if not date_dir.startswith("date="):
                continue
            for hour_dir in self.list_dirs(f"{directory}/{date_dir}"):
                if hour_dir.startswith("hour="):
                    yield date_dir.removeprefix("date="), int(hour_dir.removeprefix("hour="))
