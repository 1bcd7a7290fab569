"""``tasqlake views``: the catalogue of views and macros, from the SQL files' header comments."""

from __future__ import annotations

import argparse

import pyarrow as pa

from tasqlake import queries
from tasqlake.output import write_result
from tasqlake.schemas.errors import ConfigError
from tasqlake.schemas.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "views",
        help="list the views and macros you can query, with meaning and grain",
        description="List every view and macro defined for 'tasqlake sql' (from the header "
        "comments of queries/*.sql). With NAME: its columns.",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="show one view's columns")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    entries = queries.catalogue()
    if args.name:
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
    table = pa.table(
        {
            "name": [e.name for e in entries],
            "kind": [e.kind for e in entries],
            "grain": [e.grain for e in entries],
        }
    )
    write_result(table, args.format)
    return 0
