"""``tasqlake views``: the catalogue of views and macros, from the SQL files' header comments.

By default the contract (``queries/views/``: what users query); ``--all`` adds the helpers
(``queries/helpers/``) and the task-state algebra (``schemas/sql/``) with their namespace.
``--markdown`` prints the contract as the README's catalogue table; with ``--readme FILE`` it
rewrites the table in FILE instead. ``--dialect spark`` prints the whole catalogue as Spark SQL
(made from the same files, see :mod:`tasqlake.queries.spark_sql`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow as pa

from tasqlake import queries
from tasqlake.output import write_result
from tasqlake.queries.catalogue import markdown_table, namespaces, with_table
from tasqlake.schemas.errors import ConfigError, StorageError
from tasqlake.schemas.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "views",
        help="list the views and macros you can query, with meaning and grain",
        description="List the views and macros of the contract (queries/views/*.sql: what to "
        "query with 'tasqlake sql'), from the header comments of their files; --all adds the "
        "helpers they are built from (queries/helpers/, schemas/sql/). With NAME: its columns "
        "(any namespace).",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="show one view's columns")
    parser.add_argument(
        "--all", action="store_true", help="also list the helpers, with their namespace"
    )
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the contract as the README's catalogue table (Markdown)",
    )
    parser.add_argument(
        "--readme",
        type=Path,
        metavar="FILE",
        help="with --markdown: rewrite the table after FILE's '**The catalogue**' paragraph",
    )
    parser.add_argument(
        "--dialect",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="spark: print the catalogue as a Spark SQL script (tasqlake.spark.register runs "
        "it over a lake)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.dialect == "spark":
        if args.markdown or args.name or args.all:
            raise ConfigError(
                "--dialect spark prints the whole catalogue: drop NAME/--all/--markdown"
            )
        from tasqlake.queries.spark_sql import iter_script  # sqlglot: only for this

        for line in iter_script():
            print(line)
        return 0
    if args.markdown:
        return _markdown(args.readme)
    if args.readme is not None:
        raise ConfigError("--readme goes with --markdown")
    if args.name:
        entries = queries.catalogue()
        matching = [e for e in entries if e.name == args.name]
        if not matching:
            names = ", ".join(e.name for e in entries)
            raise ConfigError(f"no view or macro named {args.name!r}; known: {names}")
        entry = matching[0]
        print(f"{entry.name} ({entry.kind}, {entry.location}): {entry.description}")
        print(f"grain: {entry.grain}")
        table = pa.table(
            {
                "column": [c.name for c in entry.columns],
                "type": [c.type for c in entry.columns],
                "meaning": [c.doc for c in entry.columns],
            }
        )
        write_result(table, args.format)
        return 0
    entries = queries.catalogue(include_helpers=args.all)
    columns: dict[str, list[str]] = {
        "name": [e.name for e in entries],
        "kind": [e.kind for e in entries],
    }
    if args.all:
        namespace = namespaces()
        columns["namespace"] = [namespace[e.name] for e in entries]
    columns["grain"] = [e.grain for e in entries]
    write_result(pa.table(columns), args.format)
    return 0


def _markdown(readme: Path | None) -> int:
    table = markdown_table()
    if readme is None:
        print(table, end="")
        return 0
    try:
        text = readme.read_text(encoding="utf-8")
        updated = with_table(text, table)
        if updated != text:
            readme.write_text(updated, encoding="utf-8")
    except OSError as error:
        raise StorageError(f"cannot update {readme}: {error.strerror or error}") from None
    except ValueError as error:
        raise ConfigError(f"{readme}: {error}") from None
    print(f"{readme}: catalogue table {'updated' if updated != text else 'already current'}")
    return 0
