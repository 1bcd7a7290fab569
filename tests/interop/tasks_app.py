"""Task classes run by the real AsyncTasQ workers in the interop scenario.

Each execution appends one JSON line per step to the journal file named by
``TASQLAKE_INTEROP_JOURNAL``. The journal is the scenario's ground truth,
written from inside the task code, independent of AsyncTasQ's events.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from asynctasq.tasks import AsyncTask

JOURNAL_ENV = "TASQLAKE_INTEROP_JOURNAL"
WORKER_ENV = "TASQLAKE_INTEROP_WORKER_ID"


class InteropFailure(RuntimeError):
    """Raised on purpose by the failing tasks."""


def journal(record: dict[str, Any]) -> None:
    path = os.environ.get(JOURNAL_ENV)
    if not path:
        return
    line = json.dumps({**record, "pid": os.getpid(), "t": time.time()}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one write with O_APPEND: atomic for short lines
    finally:
        os.close(fd)


class _JournaledTask(AsyncTask):
    """Sleeps ``sleep_s`` then fails while attempt <= ``fail_times``."""

    sleep_s: float = 0.0
    fail_times: int = 0

    def _record(self, kind: str, **extra: Any) -> None:
        journal(
            {
                "kind": kind,
                "task_id": self._task_id,
                "task_name": type(self).__name__,
                "queue": self.config.get("queue"),
                "attempt": self._current_attempt,
                "max_attempts": self.config.get("max_attempts"),
                "worker_id": os.environ.get(WORKER_ENV),
                **extra,
            }
        )

    async def execute(self) -> str:
        self._record("start")
        await asyncio.sleep(self.sleep_s)
        if self._current_attempt <= self.fail_times:
            self._record("fail")
            raise InteropFailure(f"{type(self).__name__} attempt {self._current_attempt} failed")
        self._record("ok")
        return "ok"


class SendEmailTask(_JournaledTask):
    """Fast success."""


class BuildReportTask(_JournaledTask):
    """Slow success."""


class ChargeCardTask(_JournaledTask):
    """Fails ``fail_times`` times, then succeeds (or fails for good)."""


class SyncLedgerTask(_JournaledTask):
    """Always fails (fail_times is set above max_attempts)."""


class CrunchNumbersTask(_JournaledTask):
    """Very slow; run by the worker that gets SIGKILLed."""
