"""``ddl(lake)``: the catalogue as plain SQL statements bound to one lake (for export-db).

:func:`queries.connect` binds the views to a lake through session variables
(:func:`tasqlake.queries.connection.lake_variables`), which a DuckDB database file does not keep.
The statements returned here are the loader's, in creation order, with each
``getvariable('tasqlake_…')`` replaced by the lake's absolute glob as a SQL literal; ``as_of``
stays a session variable (each client sets its own instant). Running them in order in any DuckDB
session (in-memory or an attached file) defines the whole catalogue over the lake.
"""

from __future__ import annotations

import os
import re

from tasqlake.lake.storage import Lake
from tasqlake.queries.connection import as_lake, lake_variables
from tasqlake.queries.loader import load
from tasqlake.schemas.errors import QueryError

_LAKE_VARIABLE = re.compile(r"getvariable\(\s*'(tasqlake_\w+)'\s*\)", re.I)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ddl(lake: Lake | str | os.PathLike[str]) -> list[str]:
    """``CREATE OR REPLACE VIEW|MACRO`` statements for every object, bound to ``lake``.

    Ordered so that each object comes after those it uses; no ``tasqlake_*`` session variable
    is left in them (an unknown one raises :class:`QueryError` naming the file).
    """
    values = {name.lower(): value for name, value in lake_variables(as_lake(lake)).items()}
    statements = []
    for obj in load():

        def bound(match: re.Match[str], location: str = obj.location) -> str:
            name = match[1].lower()
            if name not in values:
                raise QueryError(
                    f"{location}: getvariable('{match[1]}') is not a lake variable "
                    f"(known: {', '.join(sorted(values))}): add it to lake_variables()"
                )
            return _literal(values[name])

        statements.append(_LAKE_VARIABLE.sub(bound, obj.sql))
    return statements
