"""The SQL loader: headers become the catalogue, files are ordered by dependency, errors point
at file:line."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tasqlake import queries
from tasqlake.queries.api import STORAGE_VIEWS, view_names
from tasqlake.queries.loader import create_all, load, parse_file
from tasqlake.schemas.errors import QueryError

ISSUE_3_CATALOGUE = {
    "events",
    "tasks",
    "task_attempts",
    "queue_stats",
    "driver_queue_stats",
    "global_stats",
    "queue_depth",
    "queue_depth_series",
    "throughput",
    "retry_rates",
    "failures",
    "task_latency",
    "worker_sessions",
    "worker_stats",
    "worker_uptime",
    "workers",
}


def sql_file(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.sql"
    path.write_text(text)
    return path


def test_every_catalogue_name_is_defined_and_documented() -> None:
    entries = {e.name: e for e in queries.catalogue()}
    assert entries.keys() >= ISSUE_3_CATALOGUE
    for entry in entries.values():
        assert entry.description and entry.grain, entry.name
    assert entries["queue_stats"].grain.startswith("one row per queue")
    columns = {c.name: c for c in entries["queue_stats"].columns}
    assert columns["depth"].type == "BIGINT" and "pending" in columns["depth"].doc
    assert entries["queue_depth_series"].kind == "macro"


def test_files_are_created_after_what_they_mention() -> None:
    order = [o.name for o in load()]
    for obj in load():
        for dep in obj.depends_on:
            assert order.index(dep) < order.index(obj.name), (obj.name, dep)


def test_the_header_must_name_the_file_and_state_the_grain(tmp_path: Path) -> None:
    wrong_name = sql_file(
        tmp_path, "a", "-- b: meaning\n-- Grain: x\nCREATE OR REPLACE VIEW a AS SELECT 1;"
    )
    with pytest.raises(QueryError, match=r"a\.sql:1: header names 'b'"):
        parse_file(wrong_name)
    no_grain = sql_file(tmp_path, "c", "-- c: meaning\nCREATE OR REPLACE VIEW c AS SELECT 1;")
    with pytest.raises(QueryError, match="grain"):
        parse_file(no_grain)


def test_a_failing_definition_names_file_and_line(tmp_path: Path) -> None:
    helpers = tmp_path / "helpers"
    helpers.mkdir()
    sql_file(
        helpers,
        "broken",
        "-- broken: a view with a typo\n-- Grain: one row\n"
        "CREATE OR REPLACE VIEW broken AS\nSELECT 1\nFROM no_such_table;\n",
    )
    objects = load(helpers)
    with duckdb.connect() as con, pytest.raises(QueryError) as caught:
        create_all(con, objects)
    message = str(caught.value)
    assert message.startswith("helpers/broken.sql:") and "no_such_table" in message
    assert message.split(":")[1] in {"3", "5"}  # the statement, or the line DuckDB points at


def test_the_namespaces_are_the_folders() -> None:
    """queries/views/ is the contract, queries/helpers/ and schemas/sql/ (the task-state algebra)
    what it is built from; every object is named by its folder in messages."""
    objects = {o.name: o for o in load()}
    contract = {name for name, o in objects.items() if o.contract}
    assert contract >= ISSUE_3_CATALOGUE | {"as_of", "error_class", "throughput_series"}
    assert {o.namespace for o in objects.values()} == {"views", "helpers", "algebra"}
    for obj in objects.values():
        assert obj.contract == (obj.namespace == "views"), obj.name
        folder = {"views": "queries/views", "helpers": "queries/helpers"}
        assert obj.location.startswith(f"{folder.get(obj.namespace, 'schemas/sql')}/"), obj.name
        assert obj.location == f"{obj.file}:{obj.statement_line}"
    assert objects["queue_stats"].location.startswith("queries/views/queue_stats.sql:")
    assert objects["task_state"].namespace == "helpers"
    assert objects["is_terminal"].namespace == "algebra"
    assert objects.keys() - contract >= STORAGE_VIEWS
    assert set(view_names(contract_only=True)) == {n for n in contract if objects[n].kind == "view"}
    assert set(view_names()) == {n for n, o in objects.items() if o.kind == "view"}


def test_a_header_error_names_the_folder_and_line(tmp_path: Path) -> None:
    views = tmp_path / "views"
    views.mkdir()
    sql_file(views, "v", "-- w: m\n-- Grain: g\nCREATE OR REPLACE VIEW v AS SELECT 1;")
    with pytest.raises(QueryError, match=r"^views/v\.sql:1: header names 'w'"):
        load(views)
    sql_file(
        views, "v", "-- v: m\n-- Grain: g\n-- Columns:\n-- x\nCREATE OR REPLACE VIEW v AS SELECT 1;"
    )
    with pytest.raises(QueryError, match=r"^views/v\.sql:4: expected '--   <column>"):
        load(views)


def test_a_name_defined_in_two_namespaces_is_refused(tmp_path: Path) -> None:
    for folder in ("views", "helpers"):
        (tmp_path / folder).mkdir()
        sql_file(
            tmp_path / folder, "x", "-- x: m\n-- Grain: g\nCREATE OR REPLACE VIEW x AS SELECT 1;"
        )
    with pytest.raises(QueryError, match=r"helpers/x\.sql: x is already defined by views/x\.sql"):
        load(tmp_path / "views", tmp_path / "helpers")
    assert [o.contract for o in load(tmp_path / "views")] == [True]
    assert [o.contract for o in load(tmp_path / "helpers")] == [False]


def test_a_dependency_cycle_is_refused(tmp_path: Path) -> None:
    sql_file(tmp_path, "x", "-- x: m\n-- Grain: g\nCREATE OR REPLACE VIEW x AS SELECT * FROM y;")
    sql_file(tmp_path, "y", "-- y: m\n-- Grain: g\nCREATE OR REPLACE VIEW y AS SELECT * FROM x;")
    with pytest.raises(QueryError, match="circular dependency"):
        load(tmp_path)


def test_a_relation_named_to_a_table_macro_is_a_dependency(tmp_path: Path) -> None:
    """``FROM m('b_rows')`` (a table macro over query_table) needs b_rows created first;
    ``getvariable('name')`` names a variable, not a relation."""
    sql_file(
        tmp_path,
        "a_rows",
        "-- a_rows: m\n-- Grain: g\nCREATE OR REPLACE VIEW a_rows AS\n"
        "SELECT * FROM per_relation('b_rows') WHERE getvariable('c_flag') IS NULL;",
    )
    sql_file(
        tmp_path,
        "per_relation",
        "-- per_relation: m\n-- Grain: g\nCREATE OR REPLACE MACRO per_relation(r) AS TABLE\n"
        "SELECT count(*) AS n FROM query_table(r);",
    )
    sql_file(
        tmp_path, "b_rows", "-- b_rows: m\n-- Grain: g\nCREATE OR REPLACE VIEW b_rows AS SELECT 1;"
    )
    sql_file(
        tmp_path, "c_flag", "-- c_flag: m\n-- Grain: g\nCREATE OR REPLACE VIEW c_flag AS SELECT 1;"
    )
    objects = load(tmp_path)
    a_rows = next(o for o in objects if o.name == "a_rows")
    assert a_rows.depends_on == ("b_rows", "per_relation")
    with duckdb.connect() as con:
        create_all(con, objects)
        assert con.execute("SELECT n FROM a_rows").fetchone() == (1,)
