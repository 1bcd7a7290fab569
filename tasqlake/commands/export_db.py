"""``tasqlake export-db PATH``: a DuckDB database file holding the whole catalogue over the lake.

The file holds every view and macro of ``queries/`` (with their header documentation as DuckDB
comments) and a one-row table ``tasqlake_export`` saying what was exported. The views read the
lake's Parquet files by their absolute glob at each query, so the file stays current as the lake
grows, and any DuckDB client (the ``duckdb`` CLI, DBeaver, jupysql, …) can query the statistics
without tasqlake installed. ``SET VARIABLE as_of = TIMESTAMPTZ '…'`` works there as in
``tasqlake sql``.

The statements are :func:`queries.ddl` (the queries loader's, in creation order), which writes the
lake's absolute globs in place of the session variables ``queries.connect`` binds them with
(``tasqlake_events_glob``, ``tasqlake_gaps_glob``: session variables are not stored in a database
file); ``as_of`` stays a variable that each client sets.
An existing export at PATH is replaced atomically; any other file there is left alone.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import duckdb

from tasqlake import queries
from tasqlake.commands import _options
from tasqlake.lake.storage import Lake, describe_os_error
from tasqlake.queries.loader import load
from tasqlake.schemas.errors import ConfigError, QueryError, StorageError, error_reason
from tasqlake.schemas.settings import Settings

#: DuckDB file format written: readable by every DuckDB since 1.1 (the first with variables,
#: which ``as_of`` relies on), not only by the version that wrote it.
STORAGE_VERSION = "v1.1.0"
METADATA_TABLE = "tasqlake_export"
#: Bytes 8..12 of every DuckDB database file.
DUCKDB_MAGIC = b"DUCK"
_ATTACHED = "tasqlake_export_target"


@dataclass(frozen=True)
class ExportReport:
    path: Path
    events_glob: str
    views: int
    macros: int


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export-db",
        help="write a DuckDB database file defining every view over the lake",
        description="Write a DuckDB database file whose views read the lake's Parquet files by "
        "absolute path and define the whole catalogue (views, macros, their documentation as "
        "comments), so that any DuckDB client can query the statistics without tasqlake. An "
        "earlier export at PATH is replaced atomically; any other file there is refused.",
    )
    parser.add_argument("path", metavar="PATH", help="database file to write (e.g. stats.duckdb)")
    _options.add_lake(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    report = export_database(Lake.from_settings(settings), Path(args.path))
    print(
        f"wrote {report.path}: {report.views} views and {report.macros} macros over "
        f"{report.events_glob} (DuckDB file format {STORAGE_VERSION}); "
        f"try: duckdb {report.path} -c 'FROM queue_stats'"
    )
    return 0


def is_duckdb_file(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    return head[8:12] == DUCKDB_MAGIC


def check_target(target: Path) -> None:
    """Refuse a PATH that is a directory, or a file that is not a DuckDB database."""
    if target.is_dir():
        raise ConfigError(f"{target} is a directory: give the path of a database file")
    if target.exists() and not is_duckdb_file(target):
        raise ConfigError(
            f"{target} exists and is not a DuckDB database: refusing to overwrite it; "
            "choose another PATH or remove the file"
        )
    if not target.parent.is_dir():
        raise StorageError(f"cannot write {target}: directory {target.parent} does not exist")


def export_database(lake: Lake, target: Path) -> ExportReport:
    """Write the catalogue over ``lake`` into the DuckDB file ``target`` (replaced atomically)."""
    lake = lake.require_readable()
    target = target.expanduser().absolute()
    check_target(target)
    statements = queries.ddl(lake)
    scratch = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        _write(scratch, lake, statements)
        os.replace(scratch, target)
    except OSError as error:
        raise StorageError(f"cannot write {target}: {describe_os_error(error)}") from None
    except duckdb.Error as error:
        first = error_reason(error)
        raise QueryError(f"cannot write {target}: {first}") from None
    finally:
        for leftover in (scratch, scratch.with_name(scratch.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    kinds = [o.kind for o in load()]
    return ExportReport(target, lake.events_glob, kinds.count("view"), kinds.count("macro"))


def _write(path: Path, lake: Lake, statements: list[str]) -> None:
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH $1 AS {_ATTACHED} (STORAGE_VERSION '{STORAGE_VERSION}')", [str(path)])
        con.execute(f"USE {_ATTACHED}")
        for statement in statements:
            con.execute(statement)
        _comment(con)
        con.execute(
            f"CREATE TABLE {METADATA_TABLE} AS SELECT $1 AS lake, $2 AS events_glob, "
            "CAST($3 AS TIMESTAMPTZ) AS exported_at, $4 AS tasqlake_version, "
            "$5 AS duckdb_version, $6 AS storage_version",
            [
                lake.location,
                lake.events_glob,
                datetime.now(UTC).isoformat(),
                _version(),
                duckdb.__version__,
                STORAGE_VERSION,
            ],
        )
        con.execute(
            f"COMMENT ON TABLE {METADATA_TABLE} IS 'what tasqlake export-db wrote here, and when'"
        )
        con.execute("USE memory")
        con.execute(f"DETACH {_ATTACHED}")
    finally:
        con.close()


def _comment(con: duckdb.DuckDBPyConnection) -> None:
    """The catalogue's documentation as DuckDB comments (shown by DBeaver and duckdb_views())."""
    kinds = dict(
        con.execute(
            "SELECT function_name, function_type FROM duckdb_functions() WHERE database_name = $1",
            [_ATTACHED],
        ).fetchall()
    )
    for entry in queries.catalogue(con):
        text = f"{entry.description} Grain: {entry.grain}"
        if entry.kind == "view":
            con.execute(f'COMMENT ON VIEW "{entry.name}" IS {_quote(text)}')
            for column in entry.columns:
                if column.doc:
                    con.execute(
                        f'COMMENT ON COLUMN "{entry.name}"."{column.name}" IS {_quote(column.doc)}'
                    )
        else:
            kind = "MACRO TABLE" if kinds.get(entry.name) == "table_macro" else "MACRO"
            con.execute(f'COMMENT ON {kind} "{entry.name}" IS {_quote(text)}')


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _version() -> str:
    try:
        return metadata.version("tasqlake")
    except metadata.PackageNotFoundError:
        return "unknown"
