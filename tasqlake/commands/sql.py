"""``tasqlake sql``: run any SQL with every view of the lake defined."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from tasqlake import queries
from tasqlake.commands import _options
from tasqlake.lake.storage import Lake
from tasqlake.output import FORMATS, write_result
from tasqlake.sandbox import check_statements, confine
from tasqlake.schemas.errors import ConfigError, QueryError, error_reason
from tasqlake.schemas.settings import Settings
from tasqlake.timeparse import parse_instant


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sql",
        help="run SQL over the lake (every view defined)",
        description="Run any SQL with every tasqlake view defined. QUERY '-' reads it from stdin.",
    )
    parser.add_argument("query", nargs="?", metavar="QUERY", help="SQL text, or - for stdin")
    parser.add_argument("--file", "-f", metavar="FILE", help="read the SQL from FILE")
    _options.add_lake(parser)
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    parser.add_argument("--output", "-o", metavar="FILE", help="write csv/json/parquet to FILE")
    _options.add_as_of(parser)
    parser.set_defaults(run=run)


def read_query(args: argparse.Namespace) -> str:
    if args.file and args.query:
        raise ConfigError("give the query either as QUERY or with --file, not both")
    if args.file:
        try:
            text = Path(args.file).read_text()
        except OSError as error:
            raise ConfigError(f"cannot read query file {args.file}: {error.strerror}") from None
    elif args.query == "-":
        text = sys.stdin.read()
    elif args.query:
        text = args.query
    else:
        raise ConfigError("no query: give QUERY, '-' for stdin, or --file FILE")
    if not text.strip():
        raise ConfigError("the query is empty")
    return text


def execute(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Run ``sql``; the last statement's rows as an Arrow table (empty if it returns none)."""
    try:
        # None for a statement that returns no rows (the stubs say a relation always)
        relation: duckdb.DuckDBPyRelation | None = con.sql(sql)
        return pa.table({}) if relation is None else relation.to_arrow_table()
    except duckdb.Error as error:
        message = error_reason(error)
        raise QueryError(f"query failed: {message}") from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    sql = read_query(args)
    as_of = parse_instant(args.as_of) if args.as_of else None
    started = time.perf_counter()
    lake = Lake.from_settings(settings).require_readable()
    with queries.connect(lake, as_of=as_of) as con:
        confine(con, lake.uri())
        check_statements(con, sql)
        table = execute(con, sql)
    write_result(table, args.format, output=args.output, elapsed=time.perf_counter() - started)
    return 0
