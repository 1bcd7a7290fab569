"""Confining user SQL to reading the lake.

``tasqlake sql`` runs whatever SQL it is given. Before it does, the connection is locked down:
DuckDB may touch files only under the lake directory (``allowed_directories``), every other
external access (other files, extensions, network) is off, and the configuration is locked so
the query cannot undo that. Statements that write files or attach databases (COPY, EXPORT,
ATTACH, INSTALL, LOAD…) are refused before they run, so the lake stays read-only too.
"""

from __future__ import annotations

import duckdb

from tasqlake.schemas.errors import QueryError, error_reason

#: Statement types a user query may contain; anything else is refused.
ALLOWED_STATEMENTS = frozenset(
    {
        "SELECT",
        "EXPLAIN",
        "PRAGMA",
        "SET",
        "VARIABLE_SET",
        "CREATE",
        "DROP",
        "PREPARE",
        "EXECUTE",
        "RELATION",
    }
)


def confine(con: duckdb.DuckDBPyConnection, lake_root: str) -> None:
    """Let ``con`` read files under ``lake_root`` only, for the rest of its life."""
    root = lake_root.rstrip("/") + "/"
    con.execute("SET allowed_directories = $dirs", {"dirs": [root]})
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def check_statements(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse ``sql`` if any statement in it could write files or reach outside the lake."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryError(f"query failed: {error_reason(error)}") from None
    for statement in statements:
        kind = statement.type.name
        if kind not in ALLOWED_STATEMENTS:
            raise QueryError(
                f"{kind} statements are not allowed: 'tasqlake sql' only reads the lake; "
                "use --format csv|json|parquet --output FILE to save results"
            )
