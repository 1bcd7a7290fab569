"""The catalogue of views and macros: their header documentation plus DuckDB's column types.

The contract (``queries/views/``) is what users query; the helpers (``queries/helpers/``) and the
task-state algebra (``schemas/sql/``) are what it is built from (see
:mod:`tasqlake.queries.loader`). :func:`markdown_table` renders the contract as the README's
catalogue table: ``tasqlake views --markdown`` prints it, ``tasqlake views --markdown --readme
README.md`` rewrites the README's table in place (:data:`REGENERATE`).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence

import duckdb

from tasqlake.queries.connection import connect
from tasqlake.queries.loader import SqlObject, load
from tasqlake.queries.models import CatalogueEntry, Column

#: How the paragraph the README's catalogue table follows begins (the table is the block of '|'
#: lines after that paragraph's blank line).
README_ANCHOR = "**The catalogue**"
#: The command that regenerates the README's catalogue table.
REGENERATE = "tasqlake views --markdown --readme README.md"


def catalogue(
    con: duckdb.DuckDBPyConnection | None = None, *, include_helpers: bool = True
) -> list[CatalogueEntry]:
    """Every view and macro, in creation order (only the contract without ``include_helpers``);
    view columns typed by DuckDB.

    Without ``con`` the types are read from a connection over an empty lake.
    """
    if con is None:
        with (
            tempfile.TemporaryDirectory(prefix="tasqlake-catalogue-") as empty,
            connect(empty) as own,
        ):
            return catalogue(own, include_helpers=include_helpers)
    entries = []
    for obj in load():
        if not (obj.contract or include_helpers):
            continue
        columns: tuple[Column, ...] = ()
        if obj.kind == "view":
            described = con.execute(f'DESCRIBE SELECT * FROM "{obj.name}"').fetchall()
            columns = tuple(
                Column(name=row[0], type=row[1], doc=obj.column_docs.get(row[0], ""))
                for row in described
            )
        entries.append(
            CatalogueEntry(
                name=obj.name,
                kind=obj.kind,
                description=obj.description,
                grain=obj.grain,
                columns=columns,
                depends_on=obj.depends_on,
                location=obj.location,
            )
        )
    return entries


def namespaces() -> dict[str, str]:
    """The namespace of every object by name: ``views`` (the contract), ``helpers``,
    ``algebra``."""
    return {obj.name: obj.namespace for obj in load()}


def first_sentence(text: str) -> str:
    """``text`` up to its first full stop outside parentheses (without it)."""
    depth = 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "." and depth == 0 and text[index + 1 : index + 2] in ("", " "):
            return text[:index]
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").strip()


def markdown_table(objects: Sequence[SqlObject] | None = None) -> str:
    """The contract as a Markdown table (name, kind, grain, the first sentence of its meaning),
    sorted by name: the README's catalogue table."""
    contract = sorted((o for o in objects or load() if o.contract), key=lambda o: o.name)
    lines = ["| name | kind | grain | meaning |", "|---|---|---|---|"]
    for obj in contract:
        meaning = first_sentence(obj.description)
        lines.append(
            f"| `{obj.name}` | {obj.kind} | {_cell(obj.grain.rstrip('.'))} | {_cell(meaning)} |"
        )
    return "\n".join(lines) + "\n"


_TABLE_AFTER_ANCHOR = re.compile(
    r"(?P<head>^" + re.escape(README_ANCHOR) + r"[^\n]*\n(?:[^\n]+\n)*\n)"
    r"(?P<table>(?:\|[^\n]*\n)+)",
    re.M,
)


def readme_table(text: str) -> str:
    """The catalogue table of a README's text ('' when there is none)."""
    match = _TABLE_AFTER_ANCHOR.search(text)
    return match["table"] if match else ""


def with_table(text: str, table: str) -> str:
    """A README's text with its catalogue table replaced by ``table``."""
    match = _TABLE_AFTER_ANCHOR.search(text)
    if match is None:
        raise ValueError(f"no table follows a paragraph starting {README_ANCHOR!r}")
    return text[: match.start("table")] + table + text[match.end("table") :]
