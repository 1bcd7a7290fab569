"""The time-sensitive tests (marker ``clock``) pass with the wall clock a year ahead.

See :mod:`tests.moved_clock`: a test that pins dates while the code reads the clock fails here
the day it is written, not months later on every run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.moved_clock import moved_clock_environment

ROOT = Path(__file__).resolve().parents[1]
#: The clock-marked tests at the time of writing; the run must not silently select fewer.
MIN_CLOCK_TESTS = 20

_PROBE = """
import datetime, duckdb, subprocess
print(datetime.datetime.now(datetime.UTC).isoformat())
print(duckdb.sql("SELECT now()").fetchall()[0][0].isoformat())
date = subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%M:%S+00:00"], capture_output=True, text=True)
print(date.stdout.strip())
"""


def test_the_moved_clock_moves_python_duckdb_and_child_processes() -> None:
    before = datetime.now(UTC)
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=moved_clock_environment(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    after = datetime.now(UTC)
    seen = [datetime.fromisoformat(line) for line in probe.stdout.split()]
    assert len(seen) == 3, probe.stdout
    year = timedelta(days=365)
    for moment in seen:
        assert before + year - timedelta(seconds=2) <= moment <= after + year + timedelta(seconds=2)


def test_time_sensitive_tests_pass_with_the_clock_a_year_ahead() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "clock", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        env=moved_clock_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed is not None and int(passed.group(1)) >= MIN_CLOCK_TESTS, summary
