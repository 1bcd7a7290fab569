"""Turning the catalogue into Spark SQL, without Spark: the macro expansion keeps every view's
meaning on DuckDB itself, no DuckDB-only construct reaches the Spark statements, and mistakes
are reported with the file they are in. (Spark's answers: tests/queries/test_spark.py.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import duckdb
import pytest
import sqlglot

from tasqlake import queries
from tasqlake.lake.storage import Lake
from tasqlake.queries.loader import load
from tasqlake.queries.macro_expansion import DIALECT, Expander, parse_macro, parse_statement
from tasqlake.queries.spark_sql import FUNCTION_SIGNATURES, iter_script, spark_catalogue
from tasqlake.schemas.errors import QueryError, StorageError
from tests.interop.live import cli_env, run_cli, tasqlake_argv
from tests.queries.test_spark import DATA

#: What must never reach Spark: DuckDB's spellings that Spark lacks or reads otherwise.
DUCKDB_ONLY = re.compile(
    r"\b(arg_max|arg_min|arg_max_null|epoch_us|make_timestamptz|time_bucket|date_bin|timezone|"
    r"getvariable|read_partitions|read_parquet|query_table|glob|to_hours|parse_filename|"
    r"list_filter|string_split|quantile_cont)\s*\(|BY\s+NAME|AS\s+MATERIALIZED|TIMESTAMPTZ|"
    r"'-?infinity'",
    re.I,
)


def _expander() -> Expander:
    macros = [parse_macro(o) for o in load() if o.kind == "macro"]
    return Expander([m for m in macros if m.name != "read_partitions"])


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = tmp_path_factory.mktemp("expansion") / "lake"
    run_cli("import", str(DATA / "stream.msgpack"), "--lake", str(lake))
    return Lake(lake)


def test_every_view_expanded_gives_the_same_rows_on_duckdb(real_lake: Lake) -> None:
    """The expansion alone (no dialect rewrite) is still DuckDB SQL with the view's answer."""
    expander = _expander()
    with queries.connect(real_lake, as_of="2026-11-29T18:39:05Z") as con:
        for obj in load():
            if obj.kind != "view":
                continue
            expanded = expander.expand(parse_statement(obj)).sql(DIALECT)
            for macro in ("causal_state", "task_partials_of", "chain_head_at", "log_horizon"):
                assert f"{macro}(" not in expanded.lower(), (obj.name, macro)
            view = sorted(map(repr, con.execute(f"SELECT * FROM {obj.name}").fetchall()))
            inline = sorted(map(repr, con.execute(expanded).fetchall()))
            assert inline == view, obj.name


def test_no_duckdb_only_construct_reaches_spark() -> None:
    statements = spark_catalogue()
    assert {s.name for s in statements if s.kind == "view"} == {
        o.name for o in load() if o.kind == "view"
    }
    for statement in statements:
        found = DUCKDB_ONLY.search(statement.sql)
        assert found is None, f"{statement.name}: {found and found.group(0)} in its Spark SQL"
        sqlglot.parse_one(statement.sql.replace(":", "_p_"), read="spark")  # Spark's grammar


def test_every_contract_macro_has_a_spark_form() -> None:
    kinds = {s.name: s.kind for s in spark_catalogue()}
    for obj in load():
        if obj.contract and obj.kind == "macro":
            assert kinds[obj.name] in ("function", "table_macro"), obj.name
    assert set(FUNCTION_SIGNATURES) == {n for n, k in kinds.items() if k == "function"}


def test_a_macro_body_alias_never_captures_the_call_site() -> None:
    """covered(t) declares 'FROM ingest_gaps AS g'; called on a column of a table aliased g,
    the argument keeps pointing at the caller's g."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE ingest_gaps AS SELECT TIMESTAMP '2026-01-01 10:00' AS gap_start, "
        "TIMESTAMP '2026-01-01 11:00' AS gap_end"
    )
    con.execute("CREATE TABLE g AS SELECT TIMESTAMP '2026-01-01 12:00' AS gap_start")
    covered = next(o for o in load() if o.name == "covered")
    expander = Expander([parse_macro(covered)])
    query = sqlglot.parse_one("SELECT covered(g.gap_start) AS c FROM g", read=DIALECT)
    expanded = expander.expand(query).sql(DIALECT)
    assert "AS g__covered_" in expanded
    assert con.execute(expanded).fetchall() == [(True,)]  # 12:00 is outside the gap


def test_a_wrong_call_names_the_macro_file() -> None:
    expander = _expander()
    for sql, message in [
        ("SELECT causal_state(1, 2)", "causal_state takes 1 arguments"),
        ("SELECT * FROM merge_task_partials('t', nonsense := true)", "has no parameter"),
        ("SELECT progress_key('task_started')", "called without attempt"),
    ]:
        with pytest.raises(QueryError, match=message) as raised:
            expander.expand(sqlglot.parse_one(sql, read=DIALECT))
        assert ".sql:" in str(raised.value)


def test_views_dialect_spark_prints_the_whole_catalogue() -> None:
    done = run_cli("views", "--dialect", "spark")
    assert done.stdout == "\n".join(iter_script()) + "\n"
    for obj in load():
        if obj.kind == "view":
            assert f"CREATE OR REPLACE TEMP VIEW {obj.name} AS" in done.stdout
    assert "DECLARE OR REPLACE VARIABLE as_of TIMESTAMP DEFAULT NULL;" in done.stdout
    refused = subprocess.run(
        [*tasqlake_argv(), "views", "queue_stats", "--dialect", "spark"],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode != 0 and "drop NAME" in refused.stderr


def test_register_refuses_a_missing_lake(tmp_path: Path) -> None:
    from tasqlake.spark import register

    with pytest.raises(StorageError, match="does not exist: run 'tasqlake ingest'"):
        register(object(), tmp_path / "nowhere")  # type: ignore[arg-type]
