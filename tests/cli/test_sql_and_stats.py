"""``tasqlake sql`` and ``tasqlake stats`` over a lake built through the real write path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.cli.helpers import RunCli

pytestmark = pytest.mark.clock  # compares with the clock: also run a year ahead (test_moved_clock)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake holding a simulated workload, imported with the real CLI."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("sqllake")
    stream = root / "events.msgpack"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tasqlake",
            "simulate",
            "--out",
            str(stream),
            "--rate",
            "500",
            "--duration",
            "20",
            "--seed",
            "3",
            "--heartbeat-freq",
            "5",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [sys.executable, "-m", "tasqlake", "import", str(stream), "--lake", str(root / "lake")],
        check=True,
        capture_output=True,
    )
    return root / "lake"


def test_json_output_is_one_array_with_iso_timestamps(run_cli: RunCli, lake: Path) -> None:
    result = run_cli(
        [
            "sql",
            "SELECT count(*) AS n, max(timestamp) AS last FROM events",
            "--lake",
            str(lake),
            "--format",
            "json",
        ]
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 1 and rows[0]["n"] > 5000
    assert rows[0]["last"].startswith("2026-11-02T08:00:") and rows[0]["last"].endswith("+00:00")


def test_query_from_stdin_file_and_outputs(run_cli: RunCli, lake: Path, tmp_path: Path) -> None:
    sql = "SELECT queue, depth FROM queue_stats ORDER BY queue"
    from_stdin = run_cli(["sql", "-", "--lake", str(lake), "--format", "csv"], stdin=sql)
    query_file = tmp_path / "q.sql"
    query_file.write_text(sql)
    from_file = run_cli(["sql", "--file", str(query_file), "--lake", str(lake), "--format", "csv"])
    assert from_stdin.returncode == from_file.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout
    assert from_stdin.stdout.startswith('"queue","depth"\n')
    out = tmp_path / "q.parquet"
    written = run_cli(
        ["sql", sql, "--lake", str(lake), "--format", "parquet", "--output", str(out)]
    )
    assert written.returncode == 0, written.stderr
    assert pq.read_table(out).column_names == ["queue", "depth"]


def test_table_output_has_row_count_and_time(run_cli: RunCli, lake: Path) -> None:
    result = run_cli(["sql", "SELECT * FROM global_stats", "--lake", str(lake)])
    assert result.returncode == 0, result.stderr
    assert "pending" in result.stdout and "1 row in " in result.stdout


def test_as_of_answers_for_the_past(run_cli: RunCli, lake: Path) -> None:
    def completed(*extra: str) -> int:
        result = run_cli(
            [
                "sql",
                "SELECT sum(completed_total) AS c FROM queue_stats",
                "--lake",
                str(lake),
                "--format",
                "json",
                *extra,
            ]
        )
        assert result.returncode == 0, result.stderr
        return int(json.loads(result.stdout)[0]["c"] or 0)

    early = completed("--as-of", "2026-11-02T08:00:05")  # no zone: UTC
    late = completed()
    assert 0 < early < late
    assert completed("--as-of", "2026-11-02T09:00:05+01:00") == early


def test_bad_sql_and_forbidden_statements(run_cli: RunCli, lake: Path, tmp_path: Path) -> None:
    bad = run_cli(["sql", "SELEC 1", "--lake", str(lake)])
    assert bad.returncode == 5
    assert bad.stderr.startswith("tasqlake: error: query failed: Parser Error")
    assert len(bad.stderr.strip().splitlines()) == 1
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    outside = run_cli(["sql", f"SELECT * FROM read_csv('{secret}')", "--lake", str(lake)])
    assert outside.returncode == 5
    assert "Permission Error" in outside.stderr and "Traceback" not in outside.stderr
    copy = run_cli(["sql", f"COPY (SELECT 1) TO '{lake}/x.csv'", "--lake", str(lake)])
    assert copy.returncode == 5
    assert "COPY statements are not allowed" in copy.stderr
    assert not (lake / "x.csv").exists()
    unlock = run_cli(["sql", "SET enable_external_access = true", "--lake", str(lake)])
    assert unlock.returncode == 5


def test_missing_lake_is_one_clear_line(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli(["sql", "SELECT 1", "--lake", str(tmp_path / "nowhere")])
    assert result.returncode == 3
    assert result.stderr.strip().startswith("tasqlake: error: lake ")
    assert "does not exist" in result.stderr


def test_unreadable_lake(run_cli: RunCli, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every directory; permission checks cannot fail")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0)
    result = run_cli(["sql", "SELECT 1", "--lake", str(locked)])
    assert result.returncode == 3 and "not readable" in result.stderr


def test_stats_json_has_queues_global_and_workers(run_cli: RunCli, lake: Path) -> None:
    result = run_cli(["stats", "--lake", str(lake), "--format", "json"])
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {
        "queues",
        "global",
        "workers",
        "retry_highlights",
        "failure_highlights",
    }
    assert all(row["retries"] + row["failed"] > 0 for row in document["retry_highlights"])
    assert len(document["failure_highlights"]) <= 10
    assert {q["queue"] for q in document["queues"]} >= {"default", "emails"}
    assert document["global"][0]["total"] == sum(
        q["depth"]
        + q["processing"]
        + q["completed_total"]
        + q["failed_total"]
        + q["cancelled_total"]
        for q in document["queues"]
    )
    assert {w["status"] for w in document["workers"]} <= {"active", "idle", "offline", "lost"}


def test_stats_table_names_each_section(run_cli: RunCli, lake: Path) -> None:
    result = run_cli(["stats", "--lake", str(lake), "--as-of", "2026-11-02T08:00:10Z"])
    assert result.returncode == 0, result.stderr
    for title in (
        "Queues (as of 2026-11-02T08:00:10+00:00)",
        "Global",
        "Workers",
        "Retries, last hour",
        "Failures, last hour",
    ):
        assert title in result.stdout


def test_stats_watch_json_prints_one_document_per_refresh(lake: Path) -> None:
    import subprocess
    import sys

    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tasqlake",
            "stats",
            "--lake",
            str(lake),
            "--format",
            "json",
            "--watch",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:  # closes the pipes
        try:
            lines = [process.stdout.readline() for _ in range(2)] if process.stdout else []
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert [set(json.loads(line)) >= {"queues", "workers"} for line in lines] == [True, True]
    assert "\x1b" not in "".join(lines)


def test_recent_views_count_only_the_last_hour(run_cli: RunCli, lake: Path) -> None:
    def attempts(as_of: str) -> int:
        result = run_cli(
            [
                "sql",
                "SELECT coalesce(sum(attempts), 0) AS n FROM recent_retry_rates",
                "--lake",
                str(lake),
                "--format",
                "json",
                "--as-of",
                as_of,
            ]
        )
        assert result.returncode == 0, result.stderr
        return int(json.loads(result.stdout)[0]["n"])

    inside = attempts("2026-11-02T08:00:30Z")
    assert inside > 0
    assert attempts("2026-11-02T10:00:00Z") == 0  # the workload is more than an hour before
