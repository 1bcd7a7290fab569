"""Every CLI error path ends with one clear line on stderr and a non-zero exit, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import RunCli, clean_env


def _one_line_error(result, code: int, fragment: str) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tasqlake: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["nope"], "invalid choice: 'nope'"),
        (["config", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["sql", "select 1", "--format", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_wrong_flags(run_cli: RunCli, args: list[str], fragment: str) -> None:
    _one_line_error(run_cli(args), 2, fragment)


def test_bad_config_file(run_cli: RunCli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("lakes = 1\n")
    _one_line_error(
        run_cli(["config", "--config", str(bad)]), 2, f"unknown key 'lakes' in config file {bad}"
    )


def test_bad_environment_value(run_cli: RunCli) -> None:
    result = run_cli(["config"], env=clean_env(TASQLAKE_FLUSH_INTERVAL="fast"))
    _one_line_error(result, 2, "TASQLAKE_FLUSH_INTERVAL must be a number of seconds, got 'fast'")


def test_config_masks_secrets(run_cli: RunCli) -> None:
    canary = "canary-Secret-9f3a"
    result = run_cli(
        ["config", "--format", "json"],
        env=clean_env(ASYNCTASQ_REDIS_URL=f"redis://default:{canary}@127.0.0.1:6379/0"),
    )
    assert result.returncode == 0, result.stderr
    assert canary not in result.stdout + result.stderr
    assert (
        '"value":"redis://default:***@127.0.0.1:6379/0","source":"env:ASYNCTASQ_REDIS_URL"'
        in result.stdout
    )


def test_config_never_shows_aws_credentials(run_cli: RunCli) -> None:
    canary = "canary-Aws-Secret-51c7"
    result = run_cli(
        ["config", "--lake", "s3://bucket/lake", "--s3-endpoint", "http://127.0.0.1:9000"],
        env=clean_env(AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY=canary),
    )
    assert result.returncode == 0, result.stderr
    assert canary not in result.stdout + result.stderr
    assert "AKIAEXAMPLE" not in result.stdout
    assert "s3://bucket/lake" in result.stdout and "http://127.0.0.1:9000" in result.stdout


def test_views_lists_the_catalogue_and_one_view(run_cli: RunCli) -> None:
    listing = run_cli(["views", "--format", "csv"])
    assert listing.returncode == 0, listing.stderr
    assert '"queue_stats","view","one row per queue' in listing.stdout
    one = run_cli(["views", "queue_stats", "--format", "csv"])
    assert one.returncode == 0, one.stderr
    assert '"depth","BIGINT","tasks pending' in one.stdout
    _one_line_error(run_cli(["views", "nope"]), 2, "no view or macro named 'nope'; known: ")
