"""Helpers for the CLI tests: the installed CLI's command line and a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

TASQLAKE = [sys.executable, "-m", "tasqlake"]


def clean_env(**extra: str) -> dict[str, str]:
    """The process environment without any TASQLAKE_/ASYNCTASQ_ variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASQLAKE_", "ASYNCTASQ_"))}
    env.update(extra)
    return env


RunCli = Callable[..., subprocess.CompletedProcess[str]]
