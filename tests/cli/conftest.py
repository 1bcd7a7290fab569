from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

TASQLAKE = [sys.executable, "-m", "tasqlake"]


def clean_env(**extra: str) -> dict[str, str]:
    """The process environment without any TASQLAKE_/ASYNCTASQ_ variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASQLAKE_", "ASYNCTASQ_"))}
    env.update(extra)
    return env


RunCli = Callable[..., subprocess.CompletedProcess[str]]


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
