"""A Python API over the views: MonitoringService-like reads and polars frames, at any instant.

:class:`LakeQueries` mirrors the read methods of AsyncTasQ's ``MonitoringService``
(``get_queue_stats``, ``get_all_queue_stats``, ``get_global_stats``, ``get_worker_stats``) with
the same result field names, answered from the lake's event log instead of the driver; each
takes an optional ``as_of``. :func:`frame` turns any view (or query) into a polars DataFrame.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from typing import Any, cast

import duckdb
import polars as pl

from tasqlake.lake.storage import Lake
from tasqlake.queries.connection import AsOf, as_lake, connect, set_as_of, set_lake_variables
from tasqlake.queries.loader import load
from tasqlake.queries.models import QueueStats, WorkerInfo
from tasqlake.schemas.errors import QueryError, error_reason

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _first_line(error: BaseException) -> str:
    return error_reason(error)


#: Views whose rows depend on how the events are stored (files, copies, snapshots), not only on
#: which events were stored: they change when compaction merges files; every other view does not.
#: All are helpers (queries/helpers/), none is in the contract.
STORAGE_VIEWS = frozenset(
    {
        "stored_events",
        "event_log",
        "unsnapshotted_log",
        "stored_task_snapshots",
        "task_partials",
        "event_files",
        "chain_files",
        "chain_links",
        "chain_head",
        "chain_carry",
        "chain_folded",
        "chain_sessions",
        "chain_summary",
        "chain_stored_deltas",
        "chain_tail",
        "live_tasks",
    }
)


def view_names(*, contract_only: bool = False) -> list[str]:
    """Names of the views of the catalogue (macros excluded), helpers included unless
    ``contract_only`` (then only those of ``queries/views/``)."""
    return [o.name for o in load() if o.kind == "view" and (o.contract or not contract_only)]


def _sql_for(name_or_sql: str) -> tuple[str, str]:
    """``(sql, label)``: a bare view name becomes ``SELECT * FROM name``."""
    text = name_or_sql.strip()
    if _IDENTIFIER.match(text):
        if text not in view_names():
            contract = ", ".join(sorted(view_names(contract_only=True)))
            raise QueryError(
                f"no view named {text!r}; the views are: {contract} (helpers: tasqlake views --all)"
            )
        return f'SELECT * FROM "{text}"', f"view {text}"
    return text, "query"


def execute(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: list[Any] | None = None,
    *,
    label: str = "query",
) -> duckdb.DuckDBPyConnection:
    """Run ``sql`` on ``con``; DuckDB errors become :class:`QueryError` naming ``label``."""
    try:
        return con.execute(sql, params or [])
    except duckdb.Error as error:
        raise QueryError(
            f"{label} failed: {_first_line(error)} (check the SQL, and that the lake's files "
            "are readable Parquet written by tasqlake)"
        ) from None


def frame(con: duckdb.DuckDBPyConnection, name_or_sql: str) -> pl.DataFrame:
    """A view (by name) or any query of ``con`` as a polars DataFrame."""
    sql, label = _sql_for(name_or_sql)
    try:
        # pl() is typed Any (it returns a LazyFrame when lazy=True); eager here
        return cast(pl.DataFrame, con.sql(sql).pl())
    except duckdb.Error as error:
        raise QueryError(
            f"{label} failed: {_first_line(error)} (check the SQL, and that the lake's files "
            "are readable Parquet written by tasqlake)"
        ) from None


class LakeQueries:
    """Statistics of one lake, MonitoringService-style; safe to share between threads.

    One DuckDB database holds the views; every call runs on its own cursor with its own
    ``as_of`` (the default given here, or the call's), so calls never disturb one another.
    """

    def __init__(self, lake: Lake | str | os.PathLike[str], *, as_of: AsOf = None) -> None:
        self.lake = as_lake(lake)
        self.as_of = as_of
        self._con = connect(self.lake)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> LakeQueries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- synchronous core ----------------------------------------------------------------
    def _cursor(self, as_of: AsOf) -> duckdb.DuckDBPyConnection:
        with self._lock:
            cur = self._con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        set_lake_variables(cur, self.lake)
        set_as_of(cur, as_of if as_of is not None else self.as_of)
        return cur

    def rows(
        self, sql: str, params: list[Any] | None = None, *, as_of: AsOf = None
    ) -> list[dict[str, Any]]:
        """Rows of any query as dicts (column name -> value)."""
        cur = self._cursor(as_of)
        try:
            result = execute(cur, sql, params)
            names = [d[0] for d in result.description or []]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        finally:
            cur.close()

    def frame(self, name_or_sql: str, *, as_of: AsOf = None) -> pl.DataFrame:
        """A view (by name) or any query as a polars DataFrame, as of ``as_of``."""
        cur = self._cursor(as_of)
        try:
            return frame(cur, name_or_sql)
        finally:
            cur.close()

    def queue_stats(self, queue: str | None = None, *, as_of: AsOf = None) -> list[QueueStats]:
        where, params = ("WHERE queue = $1", [queue]) if queue is not None else ("", [])
        found = self.rows(
            "SELECT queue, depth, processing, completed_total, failed_total, avg_duration_ms, "
            f"throughput_per_minute FROM queue_stats {where} ORDER BY queue",
            params,
            as_of=as_of,
        )
        return [
            QueueStats(
                name=r["queue"],
                depth=r["depth"],
                processing=r["processing"],
                completed_total=r["completed_total"],
                failed_total=r["failed_total"],
                avg_duration_ms=r["avg_duration_ms"],
                throughput_per_minute=r["throughput_per_minute"],
            )
            for r in found
        ]

    def global_stats(self, *, as_of: AsOf = None) -> dict[str, int]:
        (row,) = self.rows(
            "SELECT pending, running, completed, failed, total FROM global_stats", as_of=as_of
        )
        return {key: int(value) for key, value in row.items()}

    def worker_stats(self, *, as_of: AsOf = None) -> list[WorkerInfo]:
        found = self.rows(
            "SELECT worker_id, status, current_task_id, tasks_processed, uptime_seconds, "
            "last_heartbeat, load_percentage FROM worker_stats ORDER BY worker_id",
            as_of=as_of,
        )
        return [WorkerInfo(**r) for r in found]

    # --- MonitoringService mirror (async) ------------------------------------------------
    async def get_queue_stats(self, queue: str, *, as_of: AsOf = None) -> QueueStats:
        """One queue; a queue without events gets zeros, as the driver reports it."""
        found = await asyncio.to_thread(self.queue_stats, queue, as_of=as_of)
        return found[0] if found else QueueStats(name=queue, depth=0, processing=0)

    async def get_all_queue_stats(self, *, as_of: AsOf = None) -> list[QueueStats]:
        """Every queue seen in the log, sorted by name."""
        return await asyncio.to_thread(self.queue_stats, None, as_of=as_of)

    async def get_global_stats(self, *, as_of: AsOf = None) -> dict[str, int]:
        """``{pending, running, completed, failed, total}`` over all queues."""
        return await asyncio.to_thread(self.global_stats, as_of=as_of)

    async def get_worker_stats(self, *, as_of: AsOf = None) -> list[WorkerInfo]:
        """Every worker seen in the log (the driver of 1.7 returns none)."""
        return await asyncio.to_thread(self.worker_stats, as_of=as_of)
