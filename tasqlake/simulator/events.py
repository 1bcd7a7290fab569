"""Building and timing the published events: what each process sends, stamped by its own
(skewed) clock, and when the payload reaches Redis.

Timing quirks of AsyncTasQ 1.7.0 reproduced here:

* the dispatcher builds ``task_enqueued`` after its push returns, so a worker may already have
  started the task (``task_started`` stamped and sent before ``task_enqueued``);
* task events of a worker are sent fire-and-forget (``emit_nowait``) over pooled connections, so
  they arrive a few milliseconds out of timestamp order;
* every process has its own small clock skew.
"""

from __future__ import annotations

import heapq
import random
from itertools import count
from math import log

from tasqlake.simulator.entities import Task, Worker
from tasqlake.simulator.failures import render_traceback
from tasqlake.simulator.spec import SimulationSpec
from tasqlake.simulator.wire import Clock, TaskWire, WorkerWire, encode

#: Seconds from building an event to Redis having it: awaited publish / fire-and-forget.
AWAITED_S = (0.00015, 0.0002)
NOWAIT_S = (0.00015, 0.0005)
#: Share of fire-and-forget publishes that wait for a pooled connection, and for how long.
CONTENDED_P = 0.03
CONTENDED_S = (0.001, 0.008)
#: From the worker's ``start_time`` (fetch) to building ``task_started`` (deserialisation).
DESERIALIZE_S = 0.00005
#: Offline is sent after the process pool shuts down.
SHUTDOWN_S = (0.002, 0.05)


class Emitter:
    """Encodes events and queues them (by emit time) in :attr:`out`."""

    def __init__(self, spec: SimulationSpec, rng: random.Random) -> None:
        self.rng = rng
        self.iso = Clock(spec.start, spec.clock_resolution_us).iso
        self.out: list[tuple[float, int, bytes]] = []
        self._seq = count()
        self.dispatcher_skews = [self.skew(spec.max_clock_skew) for _ in range(spec.dispatchers)]
        self._max_skew = spec.max_clock_skew

    def skew(self, limit: float) -> float:
        """A process's fixed clock offset: mostly a millisecond or two, at most ``limit``."""
        return max(-limit, min(limit, self.rng.gauss(0.0, limit / 2.5)))

    def _push(self, at: float, payload: bytes) -> None:
        heapq.heappush(self.out, (at, next(self._seq), payload))

    def _nowait(self, t: float) -> float:
        random = self.rng.random
        at = t + NOWAIT_S[0] - NOWAIT_S[1] * log(1.0 - random())  # exponential delay
        if random() < CONTENDED_P:
            at += CONTENDED_S[0] + (CONTENDED_S[1] - CONTENDED_S[0]) * random()
        return at

    def _awaited(self, t: float) -> float:
        return t + AWAITED_S[0] - AWAITED_S[1] * log(1.0 - self.rng.random())

    # -- task events ------------------------------------------------------------------------
    def _task_event(
        self,
        event_type: str,
        task: Task,
        worker_id: str,
        stamped_at: float,
        attempt: int,
        duration_ms: int | None = None,
        error: str | None = None,
        traceback: str | None = None,
    ) -> bytes:
        """One task event's payload, stamped ``stamped_at`` by its sender's clock."""
        ttype = task.type
        return encode(
            TaskWire(
                event_type,
                task.id,
                ttype.name,
                ttype.queue,
                worker_id,
                self.iso(stamped_at),
                attempt,
                duration_ms,
                None,  # result: not recorded by the model
                error,
                traceback,
            )
        )

    def enqueued(self, pushed_at: float, task: Task) -> None:
        random = self.rng.random
        skews = self.dispatcher_skews
        t = pushed_at + 0.0001 - 0.0008 * log(1.0 - random())  # the push's reply arrives
        skew = skews[int(random() * len(skews))]
        payload = self._task_event("task_enqueued", task, "dispatcher", t + skew, 1)
        self._push(self._awaited(t), payload)

    def started(self, fetched_at: float, task: Task, w: Worker) -> None:
        t = fetched_at + DESERIALIZE_S
        payload = self._task_event("task_started", task, w.id, t + w.skew, task.attempt)
        self._push(self._nowait(t), payload)

    def completed(self, t: float, task: Task, w: Worker) -> None:
        duration_ms = int((t - task.started_at) * 1000)
        # attempt: always 1 on the wire
        payload = self._task_event("task_completed", task, w.id, t + w.skew, 1, duration_ms)
        self._push(self._nowait(t), payload)

    def _error(self, task: Task) -> str:
        fail = task.fail
        assert fail is not None
        if task.doomed_message is not None and fail is task.type.doomed:
            return task.doomed_message
        return fail.message(self.rng)

    def reenqueued(self, t: float, task: Task, w: Worker) -> None:
        duration_ms = int((t - task.started_at) * 1000)
        error = self._error(task)
        payload = self._task_event(
            "task_reenqueued", task, w.id, t + w.skew, task.attempt, duration_ms, error
        )
        self._push(self._nowait(t), payload)

    def failed(self, t: float, task: Task, w: Worker) -> None:
        ttype = task.type
        fail = task.fail
        assert fail is not None
        message = self._error(task)
        tb = render_traceback(fail, message, ttype.execute_frame, ttype.timeout is not None)
        duration_ms = int((t - task.started_at) * 1000)
        payload = self._task_event(
            "task_failed", task, w.id, t + w.skew, task.attempt, duration_ms, message, tb
        )
        self._push(self._nowait(t), payload)

    def cancelled(self, t: float, task: Task) -> None:
        """Not sent by AsyncTasQ 1.7.0; only with ``cancel_probability`` > 0."""
        skew = self.dispatcher_skews[0]
        attempt = max(task.attempt, 1)
        payload = self._task_event("task_cancelled", task, "dispatcher", t + skew, attempt)
        self._push(self._awaited(t), payload)

    # -- worker events ----------------------------------------------------------------------
    def _worker_event(
        self,
        event_type: str,
        t: float,
        w: Worker,
        freq: float,
        active: int,
        processed: int,
        queues: list[str],
        uptime_seconds: int | None,
    ) -> None:
        """Queue one worker event, stamped by the worker's clock and sent awaited."""
        payload = encode(
            WorkerWire(
                event_type,
                w.id,
                w.hostname,
                self.iso(t + w.skew),
                freq,
                active,
                processed,
                queues,
                uptime_seconds=uptime_seconds,
            )
        )
        self._push(self._awaited(t), payload)

    def online(self, t: float, w: Worker) -> None:
        self._worker_event("worker_online", t, w, w.freq, 0, 0, w.queue_names, None)

    def heartbeat(self, t: float, w: Worker) -> None:
        uptime = int(t - w.online_at)
        active = w.running + w.stale
        self._worker_event(
            "worker_heartbeat", t, w, w.freq, active, w.processed, w.queue_names, uptime
        )

    def offline(self, t: float, w: Worker) -> None:
        """Sent as built by 1.7.0: default freq, no queues, active 0."""
        uptime = int(t - w.online_at)
        self._worker_event("worker_offline", t, w, 60.0, 0, w.processed, [], uptime)
