"""The catalogue of views and macros: their header documentation plus DuckDB's column types."""

from __future__ import annotations

import tempfile

import duckdb

from tasqlake.queries.connection import connect
from tasqlake.queries.loader import load
from tasqlake.queries.models import CatalogueEntry, Column


def catalogue(con: duckdb.DuckDBPyConnection | None = None) -> list[CatalogueEntry]:
    """Every view and macro, in creation order; view columns typed by DuckDB.

    Without ``con`` the types are read from a connection over an empty lake.
    """
    if con is None:
        with (
            tempfile.TemporaryDirectory(prefix="tasqlake-catalogue-") as empty,
            connect(empty) as own,
        ):
            return catalogue(own)
    entries = []
    for obj in load():
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
