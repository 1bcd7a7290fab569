"""The stream emitter against AsyncTasQ's own Pub/Sub emitter (issue 16: not slower).

Events/s one process emits through ``RedisStreamEmitter.emit`` (XADD MAXLEN ~) and through
AsyncTasQ's ``RedisEventEmitter.emit`` (PUBLISH), same events, same private Redis, same run,
rounds alternating between the two (median of the rounds):

* awaited one after another, as the worker sends worker events (and, up to AsyncTasQ 1.4.1,
  task events) and as the dispatcher sends ``task_enqueued``;
* 64 in flight at once, as AsyncTasQ 1.5.0 and later send a worker's task events
  (``EventRegistry.emit_nowait``: one background task per event).

The Pub/Sub channel has no subscriber: PUBLISH then costs Redis the least it ever does, so the
baseline is the cheapest the Pub/Sub emitter can be.

Run it: ``.venv/bin/python -m bench.emitter_figures [--count N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Sequence
from typing import Any

import redis
from asynctasq.monitoring import EventEmitter, EventType, RedisEventEmitter, TaskEvent, WorkerEvent

from bench.figures import Figure, render
from tasqlake.emitter import RedisStreamEmitter
from tasqlake.local_redis import private_redis

CHANNEL = "bench:events"
STREAM = "bench:events"
IN_FLIGHT = 64
TRACEBACK = "Traceback (most recent call last):\n" + '  File "app/tasks.py", line 42\n' * 12


def sample_events(count: int) -> list[TaskEvent | WorkerEvent]:
    """``count`` events in a worker's proportions: per task enqueued, started and completed,
    one task in ten retried (reenqueued, started again), one in fifty failed with a
    traceback; a heartbeat now and then."""
    events: list[TaskEvent | WorkerEvent] = []
    worker = "worker-5bc460b5"
    while len(events) < count:
        task_id, n = str(uuid.uuid4()), len(events)

        def task(kind: EventType, task_id: str = task_id, **fields: Any) -> TaskEvent:
            return TaskEvent(kind, task_id, "SendEmailTask", "emails", worker, **fields)

        events += [task(EventType.TASK_ENQUEUED), task(EventType.TASK_STARTED)]
        if n % 10 == 0:
            events.append(task(EventType.TASK_REENQUEUED, duration_ms=120, error="SMTP busy"))
            events.append(task(EventType.TASK_STARTED, attempt=2))
        if n % 50 == 0:
            events.append(
                task(EventType.TASK_FAILED, duration_ms=98, error="no mailbox", traceback=TRACEBACK)
            )
        else:
            events.append(task(EventType.TASK_COMPLETED, duration_ms=35))
        if n % 100 < 3:
            events.append(
                WorkerEvent(
                    EventType.WORKER_HEARTBEAT,
                    worker,
                    "host-1",
                    active=3,
                    processed=n // 3,
                    queues=("emails",),
                )
            )
    return events[:count]


async def _events_per_second(
    emitter: EventEmitter, events: Sequence[TaskEvent | WorkerEvent], in_flight: int
) -> float:
    """Emit every event (after a few untimed ones that open the connection); events/s."""
    for event in events[:10]:
        await emitter.emit(event)
    started = time.perf_counter()
    if in_flight == 1:
        for event in events:
            await emitter.emit(event)
    else:
        for at in range(0, len(events), in_flight):
            await asyncio.gather(*(emitter.emit(e) for e in events[at : at + in_flight]))
    took = time.perf_counter() - started
    await emitter.close()
    return len(events) / took


def _measure(
    url: str, events: list[TaskEvent | WorkerEvent], in_flight: int, rounds: int
) -> tuple[float, float]:
    """Median events/s of (stream emitter, Pub/Sub emitter), rounds alternating the order."""
    stream_rates: list[float] = []
    pubsub_rates: list[float] = []
    with redis.Redis.from_url(url) as client:
        for n in range(rounds):
            stream = RedisStreamEmitter(url, stream=STREAM)
            pubsub = RedisEventEmitter(url, CHANNEL)
            pair = [(stream, stream_rates), (pubsub, pubsub_rates)]
            for emitter, rates in pair if n % 2 == 0 else reversed(pair):
                rates.append(asyncio.run(_events_per_second(emitter, events, in_flight)))
            if stream.failures or stream.emitted != len(events) + 10:
                raise RuntimeError(f"the stream emitter lost {stream.failures:,} events")
            client.delete(STREAM)
    return statistics.median(stream_rates), statistics.median(pubsub_rates)


def emitter_figures(count: int, rounds: int = 5) -> list[Figure]:
    """Events/s of the stream emitter vs AsyncTasQ's Pub/Sub emitter, awaited one by one and
    with ``IN_FLIGHT`` concurrent emits, ``count`` events per round."""
    events = sample_events(count)
    figures = []
    with private_redis() as url:
        for in_flight, how in ((1, "awaited one by one"), (IN_FLIGHT, f"{IN_FLIGHT} in flight")):
            stream, pubsub = _measure(url, events, in_flight, rounds)
            figures.append(
                Figure(
                    f"emit to the Redis stream, {how}",
                    stream,
                    "ev/s",
                    pubsub,
                    "AsyncTasQ's Pub/Sub emitter",
                    limit=0.8,
                    compare_ratio=True,
                    higher_is_better=True,
                    anchor="issue 16: not slower than the Pub/Sub emitter",
                    note=f"median of {rounds} x {count:,}",
                )
            )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench.emitter_figures", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--count", type=int, default=20_000, help="events per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per emitter (median)")
    args = parser.parse_args(argv)
    figures = emitter_figures(args.count, args.rounds)
    print(render(figures))
    return 0 if all(f.ok is not False for f in figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
