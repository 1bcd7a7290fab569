"""Fixtures for the CLI tests (helpers in tests/cli/helpers.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.cli.helpers import TASQLAKE, RunCli, clean_env


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run the installed CLI as a user would; returns the completed process."""

    def run(
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*TASQLAKE, *args],
            capture_output=True,
            text=True,
            input=stdin,
            env=clean_env() if env is None else env,
            cwd=tmp_path,
            timeout=timeout,
        )

    return run
