"""``queries.ddl(lake)``: the catalogue as statements bound to one lake, without session variables
(what ``tasqlake export-db`` writes into a database file)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest

from tasqlake import queries
from tasqlake.lake.storage import Lake
from tasqlake.queries import loader, statements
from tasqlake.queries.connection import lake_variables
from tasqlake.schemas.errors import QueryError
from tests.queries.compare import fetch
from tests.queries.helpers import write_events
from tests.queries.history import task_event
from tests.queries.test_semantics import at


def test_the_statements_alone_define_the_catalogue_over_the_lake(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "it's a lake").ensure()
    write_events(lake, [task_event("task_enqueued", "t1", at(0), queue="emails")])
    sql = queries.ddl(lake)
    assert len(sql) == len(loader.load())
    assert not any("getvariable('tasqlake_" in s for s in sql)
    for name, value in lake_variables(lake).items():
        assert Path(value).is_absolute()
        used = any(f"getvariable('{name}')" in o.sql for o in loader.load())
        assert used == any("'" + value.replace("'", "''") + "'" in s for s in sql)
    assert any(lake.events_glob.replace("'", "''") in s for s in sql)
    con = duckdb.connect()  # a bare session: no variable but the as_of a client may set
    for statement in sql:
        con.execute(statement)
    con.execute("SET VARIABLE as_of = TIMESTAMPTZ '2026-11-29 13:00:00+00'")
    bare = fetch(con, "SELECT queue, depth FROM queue_stats")
    with queries.connect(lake, as_of="2026-11-29T13:00:00Z") as own:
        assert (
            bare
            == fetch(own, "SELECT queue, depth FROM queue_stats")
            == [{"queue": "emails", "depth": 1}]
        )


def test_an_unknown_lake_variable_is_refused_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = loader.load()
    first = objects[0]
    odd = dataclasses.replace(first, sql=first.sql + " -- getvariable('tasqlake_nowhere')")
    monkeypatch.setattr(statements, "load", lambda: (odd, *objects[1:]))
    with pytest.raises(QueryError, match=rf"{first.path.name}:\d+: .*tasqlake_nowhere"):
        queries.ddl(tmp_path)
