"""The README's first command ends in ``tasqlake demo``: run a short one against real Redis."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.helpers import RunCli, clean_env


def test_demo_stores_every_published_event_and_prints_stats(
    run_cli: RunCli, tmp_path: Path
) -> None:
    env = clean_env(TASQLAKE_REDIS_URL="redis://127.0.0.1:6379")
    result = run_cli(
        ["demo", "--duration", "3", "--rate", "800", "--lake", str(tmp_path / "demo")],
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = re.search(r"published (\d+) events .* stored (\d+) \(all stored\)", result.stdout)
    assert summary, result.stdout
    assert int(summary.group(1)) == int(summary.group(2)) > 1000
    for title in ("Queues (as of", "Global (as of", "Workers (as of"):
        assert title in result.stdout
    # a second run replaces the demo's own lake instead of mixing runs
    again = run_cli(
        ["demo", "--duration", "1", "--rate", "500", "--lake", str(tmp_path / "demo")],
        env=env,
        timeout=180,
    )
    assert again.returncode == 0, again.stderr


def test_demo_refuses_a_directory_it_did_not_make(run_cli: RunCli, tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep me")
    result = run_cli(["demo", "--lake", str(precious)], env=clean_env())
    assert result.returncode == 2
    assert "already holds data the demo did not write" in result.stderr
    assert (precious / "data.txt").read_text() == "keep me"
