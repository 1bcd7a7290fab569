"""``connect(lake)``: a DuckDB connection with every view and macro of ``queries/`` defined."""

from __future__ import annotations

import os
from datetime import datetime

import duckdb

from tasqlake.lake import layout
from tasqlake.lake.s3_options import is_s3_url
from tasqlake.lake.storage import Lake
from tasqlake.queries.loader import create_all, load
from tasqlake.schemas.errors import ConfigError, QueryError
from tasqlake.schemas.instants import as_utc, parse_instant
from tasqlake.schemas.settings import Settings

#: DuckDB session variable holding the events glob of the lake (read by ``stored_events``).
EVENTS_GLOB_VARIABLE = "tasqlake_events_glob"
#: DuckDB session variable holding the gaps glob of the lake (read by ``stored_gaps``).
GAPS_GLOB_VARIABLE = "tasqlake_gaps_glob"
#: DuckDB session variable holding the task snapshots glob (read by ``stored_task_snapshots``).
TASK_SNAPSHOTS_GLOB_VARIABLE = "tasqlake_task_snapshots_glob"
#: DuckDB session variables holding the globs of the snapshot chain's parts (``chain_*`` views).
CHAIN_GLOB_VARIABLES = {part: f"tasqlake_chain_{part}_glob" for part in layout.CHAIN_PARTS}
#: DuckDB session variable holding the glob of every file of the snapshot chain.
CHAIN_FILES_GLOB_VARIABLE = "tasqlake_chain_files_glob"
#: DuckDB session variable holding the instant every view answers for (see ``as_of.sql``).
AS_OF_VARIABLE = "as_of"

AsOf = datetime | str | None

#: DuckDB's refusal to touch progress bar settings in a Jupyter kernel without ipywidgets.
_PROGRESS_BAR_REFUSED = "Could not change the progress bar setting"


def as_lake(lake: Lake | str | os.PathLike[str]) -> Lake:
    """``lake`` as a :class:`Lake`; an ``s3://`` URL is reached as the CLI reaches it (the
    process's TASQLAKE_S3_* variables and AWS credentials chain)."""
    if isinstance(lake, Lake):
        return lake
    if not is_s3_url(os.fspath(lake)):
        return Lake(lake)
    return Lake.from_settings(Settings.resolve({"lake": os.fspath(lake)}, os.environ))


def normalise_as_of(as_of: AsOf) -> datetime | None:
    """``as_of`` as an aware UTC datetime (naive or zone-less ISO text is taken as UTC)."""
    if as_of is None:
        return None
    if isinstance(as_of, str):
        try:
            return parse_instant(as_of)
        except ConfigError:
            raise QueryError(
                f"as_of {as_of!r} is not an ISO-8601 instant (e.g. 2026-11-29T12:00:00Z)"
            ) from None
    return as_utc(as_of)


def lake_variables(lake: Lake) -> dict[str, str]:
    """The session variables that bind the views to ``lake``: name -> absolute glob.

    :func:`connect` sets them; :func:`queries.ddl` writes them in as literals. A view reading
    lake files takes its location from one of these, never from a path of its own.
    """
    return {
        EVENTS_GLOB_VARIABLE: lake.events_glob,
        GAPS_GLOB_VARIABLE: lake.glob_uri(layout.GAPS_DIR),
        TASK_SNAPSHOTS_GLOB_VARIABLE: lake.glob_uri(layout.TASK_SNAPSHOTS_DIR),
        **{
            variable: lake.glob_uri(layout.chain_dir(part))
            for part, variable in CHAIN_GLOB_VARIABLES.items()
        },
        CHAIN_FILES_GLOB_VARIABLE: lake.glob_uri(layout.CHAIN_DIR, "*/*/*/*.parquet"),
    }


def set_lake_variables(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Point the views of ``con`` (or of a cursor of it) at ``lake``'s files."""
    for name, value in lake_variables(lake).items():
        con.execute(f"SET VARIABLE {name} = $1", [value])


def set_as_of(con: duckdb.DuckDBPyConnection, as_of: AsOf) -> None:
    """Make every view of ``con`` answer as of ``as_of`` (``None``: now)."""
    moment = normalise_as_of(as_of)
    if moment is None:
        con.execute(f"RESET VARIABLE {AS_OF_VARIABLE}")
    else:
        con.execute(
            f"SET VARIABLE {AS_OF_VARIABLE} = CAST($1 AS TIMESTAMPTZ)", [moment.isoformat()]
        )


def disable_progress_bar(con: duckdb.DuckDBPyConnection) -> None:
    """``SET enable_progress_bar = false``, tolerated where DuckDB refuses the setting.

    Inside a Jupyter kernel without ipywidgets, DuckDB refuses to change any progress bar
    setting (duckdb#7590: "Could not change the progress bar setting because: 'required
    package 'ipywidgets' is missing…'"); there it cannot draw a bar anyway, so that refusal is
    ignored. Any other error propagates.
    """
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.InvalidInputException as error:
        if _PROGRESS_BAR_REFUSED not in str(error):
            raise


def connect(
    lake: Lake | str | os.PathLike[str],
    *,
    as_of: AsOf = None,
    read_only: bool = True,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection over ``lake`` with every view and macro defined.

    ``as_of`` (aware datetime, naive = UTC, or ISO-8601 text) sets the DuckDB variable ``as_of``
    so that every view answers for that instant; change it later with
    ``SET VARIABLE as_of = TIMESTAMPTZ '…'`` or :func:`set_as_of`. With ``read_only`` (the
    default) the lake must already exist; otherwise its directory is created. Views read the
    lake's files at each query, so files committed after connecting are seen by later queries.
    """
    target = as_lake(lake)
    target = target.require_readable() if read_only else target.ensure()
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        # Parquet footers are read once per connection, not at every bind: a lake's files are
        # immutable under their names (a rewrite changes the modification time, which the
        # cache checks), and every view binds every event file's schema (union_by_name), so
        # without it each query pays one footer per file of the whole history.
        con.execute("SET parquet_metadata_cache = true")
        disable_progress_bar(con)
        target.attach(con)  # an S3 lake: DuckDB reads its s3:// URIs through the lake's store
        set_lake_variables(con, target)
        set_as_of(con, as_of)
        create_all(con, load())
    except BaseException:
        con.close()
        raise
    return con
