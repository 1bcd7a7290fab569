"""tasqlake's derived statistics: DuckDB views over the Parquet event lake, replaying the log.

Every statistic is a view (or macro) defined in one ``.sql`` file whose header comment states
its meaning, grain and columns: ``queries/views/`` holds the contract (what users query),
``queries/helpers/`` what it is built from, ``schemas/sql/`` the task-state algebra it shares
with compaction; :func:`catalogue` lists them. :func:`connect` gives a
DuckDB connection with all of them defined. Every view answers "as of" the DuckDB variable
``as_of`` (``SET VARIABLE as_of = TIMESTAMPTZ '…'``; unset: now), which ``connect(as_of=…)``
and :func:`set_as_of` set. :class:`LakeQueries` mirrors AsyncTasQ's ``MonitoringService`` read
methods; :func:`frame` gives any view as a polars DataFrame; :func:`ddl` gives the catalogue as
SQL statements bound to one lake (no session variables but ``as_of``). Depends on
:mod:`tasqlake.schemas` and :mod:`tasqlake.lake` (the storage layer) only.
"""

from __future__ import annotations

from tasqlake.queries.api import LakeQueries, execute, frame, view_names
from tasqlake.queries.catalogue import catalogue
from tasqlake.queries.connection import as_lake, connect, normalise_as_of, set_as_of
from tasqlake.queries.models import CatalogueEntry, Column, QueueStats, WorkerInfo
from tasqlake.queries.statements import ddl

__all__ = [
    "CatalogueEntry",
    "Column",
    "LakeQueries",
    "QueueStats",
    "WorkerInfo",
    "as_lake",
    "catalogue",
    "connect",
    "ddl",
    "execute",
    "frame",
    "normalise_as_of",
    "set_as_of",
    "view_names",
]
