"""What an application does to dispatch with the stream emitter: ``install()``, then AsyncTasQ's
own dispatch path. Run as ``python -m tests.emitter.dispatch_app REDIS_URL QUEUE`` by the
CLI-worker test, with the interpreter of the AsyncTasQ release under test (so the tasks are
serialized by the release the worker runs), from the repository root on ``PYTHONPATH``.

It dispatches two quick successes, one task that fails once then succeeds, and one that fails
for good on its only attempt."""

from __future__ import annotations

import asyncio
import sys

from asynctasq.config import Config
from asynctasq.core.dispatcher import cleanup

from tasqlake.emitter import install
from tests.interop.tasks_app import ChargeCardTask, SendEmailTask, SyncLedgerTask


async def dispatch(redis_url: str, queue: str) -> None:
    Config.set(
        driver="redis",
        redis={"url": redis_url},
        events={"enable_all": True, "enable_event_emitter_redis": True},
        task_defaults={"max_attempts": 3, "retry_delay": 1, "retry_strategy": "fixed"},
    )
    install()
    try:
        for task in (
            SendEmailTask(sleep_s=0.01),
            SendEmailTask(sleep_s=0.01),
            ChargeCardTask(sleep_s=0.01, fail_times=1),
            SyncLedgerTask(sleep_s=0.01, fail_times=99).max_attempts(1),
        ):
            await task.on_queue(queue).dispatch()
    finally:
        await cleanup()


if __name__ == "__main__":
    asyncio.run(dispatch(sys.argv[1], sys.argv[2]))
