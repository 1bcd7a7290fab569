"""The S3 backend of :class:`tasqlake.lake.storage.Lake`: a bucket and prefix of any
S3-compatible object store (AWS, MinIO, SeaweedFS, R2, Ceph), reached through ``obstore``.

Why obstore: it is the Python binding of the Rust ``object_store`` crate (the one Arrow,
DataFusion and Polars use), typed, with retries, multipart uploads, signed requests and,
unlike pyarrow's ``S3FileSystem`` and fsspec's ``s3fs``, the conditional create
(``If-None-Match: *``) a commit without rename needs. Its fsspec adapter lets DuckDB read the
same objects (``attach``), since DuckDB's own S3 support (the httpfs extension) is downloaded at
run time and cannot be installed on machines without internet.

Commit without rename: S3 has no rename, and needs none. An object becomes visible whole or not
at all (one PUT), under its final name, so a commit is one PUT of the encoded file; readers never
see a partial object. An exclusive commit (compaction outputs, manifests, chain parts: names two
writers could race for) is a conditional create: exactly one writer wins, the other gets
:class:`CommitConflictError`. "Directories" are key prefixes: they exist while an object is
under them, and there are no temporary files to sweep.
"""

from __future__ import annotations

import posixpath
import re
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import obstore
from obstore.exceptions import AlreadyExistsError, BaseError, PermissionDeniedError
from obstore.store import S3Store as _ObstoreS3

from tasqlake.lake.s3_options import S3Options, split_s3_url
from tasqlake.schemas.errors import CommitConflictError, StorageError

if TYPE_CHECKING:
    import duckdb
    from obstore.store import ClientConfig, RetryConfig, S3Config

PARQUET_MAGIC = b"PAR1"
#: Objects deleted per request (S3 DeleteObjects takes up to 1000 keys).
DELETE_BATCH = 1000
#: Keys asked for per listing request (S3 ListObjectsV2 returns up to 1000).
LIST_PAGE = 1000
#: A request is retried this often (with backoff) before the error reaches the caller; the
#: ingester keeps events in its WAL and commits them again later.
MAX_RETRIES = 3
RETRY_TIMEOUT = timedelta(seconds=15)
_RETRIES: RetryConfig = {"max_retries": MAX_RETRIES, "retry_timeout": RETRY_TIMEOUT}
#: What obstore's messages quote (URLs, "for path KEY:", "at location KEY"): left out when
#: telling one failure from another.
_QUOTED = re.compile(r"\w+://\S*|(?:for path|at location) \S*")


class S3Store:
    """A lake at ``s3://bucket/prefix``."""

    def __init__(self, url: str, options: S3Options) -> None:
        self.bucket, self.prefix = split_s3_url(url)
        self.options = options
        self._store = _ObstoreS3(
            self.bucket,
            prefix=self.prefix or None,
            config=self._config(),
            client_options=self._client_options(),
            retry_config=_RETRIES,
        )

    def _config(self) -> S3Config:
        options = self.options
        config: dict[str, Any] = {"virtual_hosted_style_request": not options.uses_path_style}
        if options.region:
            config["region"] = options.region
        if options.endpoint:
            config["endpoint"] = options.endpoint
        if options.access_key_id and options.secret_access_key:
            config["access_key_id"] = options.access_key_id
            config["secret_access_key"] = options.secret_access_key
            # explicit, so that a token left in the environment is not sent with other keys
            config["session_token"] = options.session_token or ""
        return cast("S3Config", config)

    def _client_options(self) -> ClientConfig:
        endpoint = self.options.endpoint or ""
        return {"allow_http": endpoint.startswith("http://"), "connect_timeout": "5s"}

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, relpath: str) -> str:
        """The key of ``relpath`` below the prefix; refuses anything that would leave the lake."""
        if relpath.startswith("/") or ".." in relpath.split("/"):
            raise StorageError(f"path {relpath!r} is outside lake {self.location}")
        return relpath.strip("/")

    def uri(self, relpath: str = "") -> str:
        key = self.key(relpath)
        return f"{self.location}/{key}" if key else self.location

    def describe(self, relpath: str = "") -> str:
        return self.uri(relpath)

    def _error(self, action: str, relpath: str, error: Exception) -> StorageError:
        """``error`` of obstore as a StorageError that says what to do next.

        Classified on obstore's wording with the URLs and paths it quotes left out: a key, a
        bucket name, a port or an elapsed time holding "403" or "connect" says nothing about
        what went wrong."""
        where = self.describe(relpath)
        full = str(error)
        text = full.splitlines()[0] if full else type(error).__name__
        wording = _QUOTED.sub("", text)
        endpoint = self.options.endpoint or "AWS S3"
        if isinstance(error, PermissionDeniedError) or "status code: 403" in wording:
            return StorageError(
                f"cannot {action} {where}: the object store refused the credentials "
                f"({self.options.credentials_source}); check AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY or AWS_PROFILE and the bucket's policy"
            )
        # The error body (after the first line) holds S3's error code; a listing answered 404
        # (no body: some stores) can only mean the bucket is missing.
        if (
            text.startswith("NoSuchBucket")
            or "<Code>NoSuchBucket</Code>" in full
            or ("list request" in wording and "status code: 404" in wording)
        ):
            return StorageError(
                f"cannot {action} {where}: bucket {self.bucket!r} does not exist at {endpoint}; "
                "create it, or fix --lake / TASQLAKE_LAKE"
            )
        if "error sending request" in wording or "connect" in wording.lower():
            return StorageError(
                f"cannot {action} {where}: the object store at {endpoint} does not answer "
                f"({text}); check that it runs and --s3-endpoint / TASQLAKE_S3_ENDPOINT"
            )
        return StorageError(f"cannot {action} {where}: {text}")

    # --- checks ----------------------------------------------------------------------------
    def exists(self, relpath: str = "") -> bool:
        key = self.key(relpath)
        if key:
            try:
                obstore.head(self._store, key)
                return True
            except FileNotFoundError:
                pass
            except BaseError as error:
                raise self._error("read", relpath, error) from None
        return self._any_under(key)

    def _any_under(self, key: str) -> bool:
        try:
            for chunk in obstore.list(self._store, prefix=f"{key}/" if key else None):
                if chunk:
                    return True
        except FileNotFoundError:
            return False
        except BaseError as error:
            raise self._error("list", key, error) from None
        return False

    def ensure(self) -> None:
        """Check that the bucket answers and takes our credentials (nothing to create)."""
        try:
            obstore.list_with_delimiter(self._store)
        except FileNotFoundError as error:
            raise self._error("list", "", StorageError(f"NoSuchBucket: {error}")) from None
        except BaseError as error:
            raise self._error("list", "", error) from None

    def require_readable(self) -> None:
        self.ensure()
        if not self._any_under(""):
            raise StorageError(
                f"lake {self.location} holds nothing: run 'tasqlake ingest' or 'tasqlake "
                "import' first, or point --lake / TASQLAKE_LAKE at an existing lake"
            )

    def makedirs(self, relpath: str) -> None:
        """Nothing to do: prefixes exist while objects are under them."""
        self.key(relpath)

    # --- listing ---------------------------------------------------------------------------
    def list_files(self, directory: str, suffix: str) -> list[str]:
        found = []
        for path in self._keys(directory):
            hidden = any(part.startswith(".") for part in path.split("/"))
            if path.endswith(suffix) and not hidden:
                found.append(path)
        return sorted(found)

    def _keys(self, directory: str) -> list[str]:
        """Every key under ``directory``, hidden ones included."""
        key = self.key(directory)
        keys: list[str] = []
        try:
            for chunk in obstore.list(self._store, prefix=f"{key}/" if key else None):
                keys.extend(meta["path"] for meta in chunk)
        except FileNotFoundError:
            return []
        except BaseError as error:
            raise self._error("list", directory, error) from None
        return keys

    def list_dirs(self, directory: str) -> list[str]:
        """Names of the sub-directories of ``directory`` that hold an object, read from the
        keys themselves: some stores (SeaweedFS) go on reporting an emptied directory as a
        common prefix, for minutes or for good, which would bring pruned partitions back.
        One request per page of keys: the listing skips past each directory it finds."""
        key = self.key(directory)
        base = f"{key}/" if key else ""
        names: list[str] = []
        offset: str | None = None
        while True:
            try:
                stream = obstore.list(
                    self._store, prefix=key or None, offset=offset, chunk_size=LIST_PAGE
                )
                page = next(iter(stream), [])
            except FileNotFoundError:
                break
            except BaseError as error:
                raise self._error("list", directory, error) from None
            for meta in page:
                name = _directory_of(meta["path"], base)
                if name is not None and (not names or names[-1] != name):
                    names.append(name)
            if len(page) < LIST_PAGE:
                break
            last = page[-1]["path"]
            name = _directory_of(last, base)
            # every key below base/NAME/ sorts before base/NAME0 ('/' comes just before '0')
            offset = last if name is None else f"{base}{name}0"
        return sorted({n for n in names if n and not n.startswith(".")})

    def size(self, relpath: str) -> int:
        try:
            return int(obstore.head(self._store, self.key(relpath))["size"])
        except FileNotFoundError:
            raise
        except BaseError as error:
            raise self._error("read", relpath, error) from None

    # --- reading ---------------------------------------------------------------------------
    def read_bytes(self, relpath: str) -> bytes:
        """The object's bytes; FileNotFoundError when it is gone."""
        try:
            return bytes(obstore.get(self._store, self.key(relpath)).bytes())
        except FileNotFoundError:
            raise
        except BaseError as error:
            raise self._error("read", relpath, error) from None

    def open_input(self, relpath: str) -> object:
        """What pyarrow reads a Parquet footer from: the footer alone, fetched with two ranged
        GETs, behind the magic bytes (so the data pages are never downloaded)."""
        import pyarrow as pa

        key = self.key(relpath)
        try:
            size = int(obstore.head(self._store, key)["size"])
            if size < 12:
                raise StorageError(f"{self.describe(relpath)} is not a Parquet file")
            tail = bytes(obstore.get_range(self._store, key, start=size - 8, end=size))
            length = int.from_bytes(tail[:4], "little")
            if tail[4:] != PARQUET_MAGIC or length + 12 > size:
                raise StorageError(f"{self.describe(relpath)} is not a Parquet file")
            footer = bytes(obstore.get_range(self._store, key, start=size - 8 - length, end=size))
        except FileNotFoundError:
            raise
        except BaseError as error:
            raise self._error("read", relpath, error) from None
        return pa.BufferReader(PARQUET_MAGIC + footer)

    # --- writing ---------------------------------------------------------------------------
    def put(self, relpath: str, data: bytes | memoryview, *, exclusive: bool) -> None:
        try:
            obstore.put(
                self._store,
                self.key(relpath),
                bytes(data) if isinstance(data, memoryview) else data,
                mode="create" if exclusive else "overwrite",
            )
        except AlreadyExistsError:
            raise CommitConflictError(
                f"{self.describe(relpath)} exists already: another writer committed it first"
            ) from None
        except FileNotFoundError as error:
            raise self._error("commit", relpath, StorageError(f"NoSuchBucket: {error}")) from None
        except BaseError as error:
            raise self._error("commit", relpath, error) from None

    def delete(self, relpath: str) -> None:
        try:
            obstore.delete(self._store, self.key(relpath))
        except FileNotFoundError:
            return
        except BaseError as error:
            raise self._error("delete", relpath, error) from None

    def delete_tree(self, relpath: str) -> None:
        """Delete every object under ``relpath``, hidden ones too (as on disk): a "directory"
        holding a hidden object would still be listed, and pruned again at every run."""
        keys = self._keys(relpath)
        for start in range(0, len(keys), DELETE_BATCH):
            try:
                obstore.delete(self._store, keys[start : start + DELETE_BATCH])
            except FileNotFoundError:
                continue
            except BaseError as error:
                raise self._error("delete", relpath, error) from None

    def sweep_temporary(self, directory: str) -> int:
        """Nothing to sweep: an object is committed whole or not at all."""
        return 0

    # --- engines ---------------------------------------------------------------------------
    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        """Let ``con`` read this lake's ``s3://`` URIs (DuckDB reads them through fsspec)."""
        con.register_filesystem(
            listing_filesystem()(
                "s3",
                config=self._config(),
                client_options=self._client_options(),
                retry_config=_RETRIES,
            )
        )


def _directory_of(path: str, base: str) -> str | None:
    """The name of the directory right below ``base`` that holds key ``path``, None when the
    key is not below one."""
    if not path.startswith(base):
        return None
    name, slash, _ = path.removeprefix(base).partition("/")
    return name if slash and name else None


def listing_filesystem() -> type[Any]:
    """obstore's fsspec filesystem for ``s3://`` URIs, with globs made of one listing.

    fsspec globs a pattern such as ``events/*/*/*.parquet`` level by level (one request per
    directory), and DuckDB asks the size and modification time of every file it globbed (one
    HEAD each): a view catalogue bound over a lake of a few hours made ~3,800 requests. Here a
    glob is one recursive listing of its fixed prefix (paginated, 1000 keys a request), and the
    sizes and times that listing returned answer DuckDB's questions about those files. A
    lake's files never change under their names (a commit writes a new name), so an answer
    stays true; a glob always lists afresh, so new files are seen by the next query."""
    from obstore.fsspec import BufferedFile, FsspecStore

    class PositionalFile(BufferedFile):
        """obstore's file, read by position: DuckDB reads a Python file with ``seek`` then
        ``read`` from several threads at once, and obstore's reader keeps one position (a
        thread's read landed where another had sought: "Failed to read … bytes"), and may
        return fewer bytes than asked before the end. Here each thread has its own position
        and a read is one ranged GET of exactly the bytes asked (fewer only at the end)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._position = threading.local()
            bucket, key = self.fs._split_path(self.path)
            self._object = (self.fs._construct_store(bucket), key)

        def tell(self) -> int:
            return int(getattr(self._position, "at", 0))

        def seek(self, loc: int, whence: int = 0) -> int:
            base = {0: 0, 1: self.tell(), 2: self.size}[whence]
            self._position.at = max(0, base + loc)
            return int(self._position.at)

        def read(self, length: int = -1) -> bytes:
            start = self.tell()
            end = self.size if length < 0 else min(self.size, start + length)
            if end <= start:
                return b""
            store, key = self._object
            data = bytes(obstore.get_range(store, key, start=start, end=end))
            self._position.at = start + len(data)
            return data

    class ListingS3FileSystem(FsspecStore):
        protocol = "s3"  # so that globs of s3://bucket/… URIs strip the scheme

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._listed: dict[str, dict[str, Any]] = {}

        async def _find(
            self,
            path: str,
            maxdepth: int | None = None,
            withdirs: bool = False,
            detail: bool = False,
            **_kwargs: Any,
        ) -> Any:
            bucket, key = self._split_path(path)
            key = key.rstrip("/")
            store = self._construct_store(bucket)
            found: dict[str, dict[str, Any]] = {}
            try:
                chunks = await obstore.list(
                    store, prefix=f"{key}/" if key else None
                ).collect_async()
            except FileNotFoundError:
                chunks = []
            root_depth = key.count("/") + 1 if key else 0
            for meta in chunks:
                name = f"{bucket}/{meta['path']}"
                depth = meta["path"].count("/") + 1 - root_depth
                if maxdepth is not None and depth > maxdepth:
                    continue
                info = {
                    "name": name,
                    "size": meta["size"],
                    "type": "file",
                    "e_tag": meta["e_tag"],
                    "last_modified": meta["last_modified"],
                }
                self._listed[name] = info
                found[name] = info
                if withdirs:
                    parent = posixpath.dirname(meta["path"])
                    while parent and len(parent) > len(key):
                        found.setdefault(
                            f"{bucket}/{parent}",
                            {"name": f"{bucket}/{parent}", "size": 0, "type": "directory"},
                        )
                        parent = posixpath.dirname(parent)
            ordered = dict(sorted(found.items()))
            return ordered if detail else list(ordered)

        async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
            bucket, key = self._split_path(path)
            listed = self._listed.get(f"{bucket}/{key}")
            return listed if listed is not None else await super()._info(path, **kwargs)

        def _open(self, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
            if mode != "rb":
                return super()._open(path, mode, *args, **kwargs)
            return PositionalFile(self, path, "rb", **kwargs)

        def modified(self, path: str) -> Any:
            bucket, key = self._split_path(path)
            listed = self._listed.get(f"{bucket}/{key}")
            return listed["last_modified"] if listed is not None else super().modified(path)

    return ListingS3FileSystem
