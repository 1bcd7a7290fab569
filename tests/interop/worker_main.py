"""Entry point of one real AsyncTasQ worker process for the interop scenario.

Run as a script (``python worker_main.py --queues a,b ...``). Configuration of
the driver, the event emitter and the retry policy comes from the ASYNCTASQ_*
environment, exactly as in a deployment. The AsyncTasQ CLI cannot set the
heartbeat interval or the worker id, so this wraps the public ``Worker`` class.

With ``TASQLAKE_INTEROP_EVENTS_STREAM=<key>`` in the environment (``scenario.STREAM_ENV``), the
worker also writes its events to that Redis Stream: ``tasqlake.emitter.install()`` after its
``EventRegistry.init()``, as an application does (the Redis URL is AsyncTasQ's own).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for _p in (_HERE.parent.parent, _HERE.parent):  # repo root, tests/
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import asynctasq  # noqa: E402
from asynctasq.config import Config  # noqa: E402
from asynctasq.core.driver_factory import DriverFactory  # noqa: E402
from asynctasq.core.worker import Worker  # noqa: E402
from asynctasq.monitoring import EventRegistry  # noqa: E402

from tests.interop.tasks_app import WORKER_ENV, journal  # noqa: E402

STREAM_ENV = "TASQLAKE_INTEROP_EVENTS_STREAM"  # == scenario.STREAM_ENV (not imported: a script)


async def _main(args: argparse.Namespace) -> None:
    config = Config.get()
    driver = DriverFactory.create(config.driver, config)
    EventRegistry.init()
    if stream := os.environ.get(STREAM_ENV):
        from tasqlake.emitter import RedisStreamEmitter, install

        install(RedisStreamEmitter(stream=stream))
    worker = Worker(
        queue_driver=driver,
        queues=args.queues.split(","),
        concurrency=args.concurrency,
        worker_id=args.worker_id,
        heartbeat_interval=args.heartbeat,
    )
    journal({"kind": "worker_start", "worker_id": args.worker_id})
    await worker.start()
    journal({"kind": "worker_exit", "worker_id": args.worker_id})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queues", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--heartbeat", type=float, required=True)
    args = parser.parse_args()
    os.environ[WORKER_ENV] = args.worker_id
    asynctasq.init()
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
