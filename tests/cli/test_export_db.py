"""``tasqlake export-db``: a DuckDB file that plain DuckDB clients query without tasqlake."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tasqlake import notebook_support, queries
from tasqlake.commands import export_db
from tasqlake.ingest.importer import import_files
from tasqlake.lake.storage import Lake
from tasqlake.simulator import SimulationSpec
from tasqlake.simulator.publish import write_stream
from tests.cli.helpers import RunCli

#: A short deployment with retries, failures, a crash and an unconsumed queue.
SPEC = notebook_support.DEMO_SPEC.replace(duration=60.0, crash_probability=0.3)
AS_OF = "2026-11-02T08:00:50Z"
QUEUE_STATS = "SELECT * FROM queue_stats ORDER BY queue"

#: Runs in a separate interpreter (-I: no user site, no cwd on sys.path) and imports nothing but
#: duckdb: the file must be self-sufficient.
PLAIN_CLIENT = """
import json, sys
import duckdb
path, as_of, sql, zone = sys.argv[1:5]
con = duckdb.connect(path, read_only=True)
# The answers do not depend on the client's TimeZone (tests/queries/test_time_zones.py).
con.execute(f"SET TimeZone = '{zone}'")
if as_of:
    con.execute("SET VARIABLE as_of = CAST($1 AS TIMESTAMPTZ)", [as_of])
cursor = con.execute(sql)
names = [d[0] for d in cursor.description]
rows = [dict(zip(names, row)) for row in cursor.fetchall()]
ours = sorted(m for m in sys.modules if m.split(".")[0] in ("tasqlake", "queries", "schemas"))
print(json.dumps({"rows": rows, "tasqlake_modules": ours}, default=str))
"""


def plain_duckdb(path: Path, sql: str, as_of: str = "", zone: str = "UTC") -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", PLAIN_CLIENT, str(path), as_of, sql, zone],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["tasqlake_modules"] == []
    rows: list[dict[str, Any]] = result["rows"]
    return rows


def same(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> bool:
    def equal(a: Any, b: Any) -> bool:
        if isinstance(a, float) or isinstance(b, float):
            return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9)
        return bool(a == b)

    return len(left) == len(right) and all(
        a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
        for a, b in zip(left, right, strict=True)
    )


def build_lake(root: Path, spec: SimulationSpec = SPEC) -> Lake:
    lake = Lake(root)
    stream = root.parent / f"{root.name}.msgpack"
    write_stream(spec, stream)
    import_files([stream], lake)
    return lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return build_lake(tmp_path_factory.mktemp("export") / "lake")


def test_plain_duckdb_in_another_process_reads_what_tasqlake_sql_reads(
    lake: Lake, tmp_path: Path, run_cli: RunCli
) -> None:
    target = tmp_path / "stats.duckdb"
    exported = run_cli(["export-db", str(target), "--lake", str(lake.root)])
    assert exported.returncode == 0, exported.stderr
    assert str(target) in exported.stdout
    cli = run_cli(
        ["sql", "--lake", str(lake.root), "--as-of", AS_OF, "--format", "json", QUEUE_STATS]
    )
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    rows = plain_duckdb(target, QUEUE_STATS, AS_OF)
    assert rows and same(rows, expected)
    assert same(plain_duckdb(target, QUEUE_STATS, AS_OF, zone="America/New_York"), expected)
    assert {r["queue"] for r in rows} >= {"legacy-import", "default"}
    assert any(r["orphaned"] for r in rows), "the crash left no orphan: a weak fixture"


def test_macros_and_as_of_work_in_the_plain_client(lake: Lake, tmp_path: Path) -> None:
    target = tmp_path / "stats.duckdb"
    export_db.export_database(lake, target)
    series = plain_duckdb(
        target, "SELECT count(*) AS n FROM queue_depth_series(INTERVAL 10 SECOND)", AS_OF
    )
    assert series[0]["n"] > 0
    (now,) = plain_duckdb(
        target, "SELECT isinf(log_horizon()) AS unbounded, as_of() = now() AS is_now"
    )
    assert now == {"unbounded": True, "is_now": True}
    (then,) = plain_duckdb(target, "SELECT as_of() AS t", AS_OF)
    assert then["t"].startswith("2026-11-02 08:00:50")


def test_the_file_defines_the_whole_catalogue_with_its_documentation(
    lake: Lake, tmp_path: Path
) -> None:
    target = tmp_path / "stats.duckdb"
    report = export_db.export_database(lake, target)
    entries = queries.catalogue()
    with duckdb.connect(str(target), read_only=True) as con:
        views = dict(
            con.execute(
                "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
        )
        macros = dict(
            con.execute(
                "SELECT function_name, comment FROM duckdb_functions() "
                "WHERE function_type IN ('macro', 'table_macro') AND NOT internal"
            ).fetchall()
        )
        documented = con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'queue_stats' "
            "AND comment IS NOT NULL"
        ).fetchall()[0][0]
        (meta,) = con.execute(
            "SELECT lake, events_glob, storage_version FROM tasqlake_export"
        ).fetchall()
    assert {e.name for e in entries if e.kind == "view"} == set(views) - {"tasqlake_export"}
    assert {e.name for e in entries if e.kind == "macro"} <= set(macros)
    assert all(views[e.name] and e.grain in views[e.name] for e in entries if e.kind == "view")
    assert all(macros[e.name] for e in entries if e.kind == "macro")
    assert documented >= 10
    assert meta == (str(lake.root), lake.events_glob, export_db.STORAGE_VERSION)
    assert (report.views, report.macros) == (len(views), len(entries) - len(views))
    assert Path(lake.events_glob).is_absolute()


def test_the_views_follow_the_lake_as_it_grows(tmp_path: Path) -> None:
    lake = build_lake(tmp_path / "lake", SPEC.replace(duration=10.0))
    target = tmp_path / "stats.duckdb"
    export_db.export_database(lake, target)
    count = "SELECT count(*) AS n FROM events"
    before = plain_duckdb(target, count)[0]["n"]
    more = tmp_path / "more.msgpack"
    write_stream(SPEC.replace(duration=10.0, seed=99), more)
    import_files([more], lake)
    after = plain_duckdb(target, count)[0]["n"]
    assert after > before


def test_an_earlier_export_is_replaced_atomically(tmp_path: Path) -> None:
    first = build_lake(tmp_path / "first", SPEC.replace(duration=10.0))
    second = build_lake(tmp_path / "second", SPEC.replace(duration=10.0, seed=5))
    target = tmp_path / "out" / "stats.duckdb"
    target.parent.mkdir()
    export_db.export_database(first, target)
    export_db.export_database(second, target)
    (row,) = plain_duckdb(target, "SELECT lake FROM tasqlake_export")
    assert row["lake"] == str(second.root)
    assert sorted(p.name for p in target.parent.iterdir()) == ["stats.duckdb"]


def test_a_file_that_is_not_a_duckdb_database_is_never_overwritten(
    lake: Lake, tmp_path: Path, run_cli: RunCli
) -> None:
    target = tmp_path / "notes.db"
    target.write_text("my notes\n")
    done = run_cli(["export-db", str(target), "--lake", str(lake.root)])
    assert done.returncode == 2
    assert "not a DuckDB database" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert target.read_text() == "my notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_missing_lake_and_directory_targets_are_one_line_errors(
    tmp_path: Path, run_cli: RunCli
) -> None:
    missing = run_cli(["export-db", str(tmp_path / "x.duckdb"), "--lake", str(tmp_path / "no")])
    assert missing.returncode == 3
    assert "does not exist" in missing.stderr
    (tmp_path / "lake").mkdir()
    directory = run_cli(["export-db", str(tmp_path), "--lake", str(tmp_path / "lake")])
    assert directory.returncode == 2
    assert "is a directory" in directory.stderr
    assert not (tmp_path / "x.duckdb").exists()


def test_the_file_reads_the_lake_by_literal_globs_even_with_quotes_in_the_path(
    tmp_path: Path,
) -> None:
    (tmp_path / "it's").mkdir()
    lake = build_lake(tmp_path / "it's" / "lake", SPEC.replace(duration=10.0))
    target = tmp_path / "stats.duckdb"
    export_db.export_database(lake, target)
    with duckdb.connect(str(target), read_only=True) as con:
        (definition,) = con.execute(
            "SELECT sql FROM duckdb_views() WHERE view_name = 'stored_events'"
        ).fetchone() or (None,)
        definitions = " ".join(
            r[0] for r in con.execute("SELECT sql FROM duckdb_views()").fetchall()
        )
    assert "'" + lake.events_glob.replace("'", "''") + "'" in str(definition)
    assert "tasqlake_events_glob" not in definitions and "tasqlake_gaps_glob" not in definitions
    (row,) = plain_duckdb(target, "SELECT count(*) AS n FROM events")
    with queries.connect(lake) as con:
        assert row["n"] == len(con.execute("FROM events").fetchall()) > 0
