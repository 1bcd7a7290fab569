"""The discrete-event model of an AsyncTasQ deployment.

Simulated time is a float of seconds since ``spec.start``; nothing reads the wall clock and all
randomness comes from one ``random.Random(spec.seed)``, so a spec always yields the same bytes.
Two heaps: ``_heap`` holds what happens next in the deployment (a task attempt ends, a retry
becomes due, a heartbeat, a worker starting, stopping or crashing); ``_out`` holds encoded
payloads by the instant they reach Redis. A payload is always created at or before its emit time,
so everything in ``_out`` up to the current simulated time is final and can be yielded: the
generator runs in bounded memory, in emission (not causal) order.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable, Iterator
from itertools import count
from math import exp, log
from typing import Any

from tasqlake.simulator.catalog import HOST_PREFIXES
from tasqlake.simulator.entities import (
    CANCEL,
    CRASH,
    END,
    HEARTBEAT,
    INF,
    ONLINE,
    READY,
    STOP,
    GroundTruth,
    Task,
    Worker,
    task_truth,
    worker_truth,
)
from tasqlake.simulator.events import SHUTDOWN_S, Emitter
from tasqlake.simulator.failures import TIMEOUT
from tasqlake.simulator.plan import make_plan
from tasqlake.simulator.spec import SimulationSpec
from tasqlake.simulator.wire import task_id, worker_id

#: Heartbeat loop drift per beat: ``sleep(freq)`` then an awaited publish.
BEAT_DRIFT_S = (0.0002, 0.002)
#: A stopped or crashed worker's replacement starts this many seconds later.
REPLACE_AFTER_S = (2.0, 15.0)
#: Worker processes per host.
PER_HOST = 3
#: An idle worker sleeps this long between empty polls of its queues (``Worker._run``).
POLL_S = 0.1
#: One Redis round trip (LMOVE) of a busy worker fetching its next task.
FETCH_S = 0.0003
#: In drain mode, give up waiting for quiescence this long after ``duration``.
DRAIN_LIMIT_S = 3600.0


class Simulation:
    """One run of the model. Iterate :meth:`events` once; then :meth:`truth` says what happened."""

    def __init__(self, spec: SimulationSpec, *, record_truth: bool = False) -> None:
        self.spec = spec
        self.plan = make_plan(spec)
        self.rng = random.Random(spec.seed)
        self.emit = Emitter(spec, self.rng)
        self._heap: list[tuple[float, int, int, object]] = []
        self._seq = count()
        nq = len(self.plan.queue_names)
        self.pending: list[deque[Task]] = [deque() for _ in range(nq)]
        self.idle: list[deque[Worker]] = [deque() for _ in range(nq)]
        self.consumers = [0] * nq  # accepting workers per queue
        self.consumable = [q in self.plan.queue_names[: spec.queues] for q in self.plan.queue_names]
        self.inflight = 0  # attempts running on live workers
        self.waiting_retries = 0
        self.draining = False
        self.record_truth = record_truth
        self.tasks: list[Task] = []
        self.workers: list[Worker] = []
        self.events_out = 0
        self.last_emit_at = 0.0
        self._ran = False
        self.hosts: list[str] = []
        self._plan_workers()

    # -- scheduling -------------------------------------------------------------------------
    def at(self, t: float, kind: int, obj: object) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), kind, obj))

    # -- the run ----------------------------------------------------------------------------
    def events(self) -> Iterator[tuple[float, bytes]]:
        """Yield ``(emit_at, payload)`` in emission order."""
        if self._ran:
            raise RuntimeError("a Simulation runs once; make a new one")
        self._ran = True
        spec, rng, heap = self.spec, self.rng, self._heap
        out = self.emit.out
        heappop = heapq.heappop
        random = rng.random
        gap = 1.0 / self.plan.dispatch_rate  # mean seconds between dispatches (Poisson)
        end = spec.duration
        limit = INF if spec.drain else end
        arrive, handlers = self._arrive, self._handlers()
        next_arrival = -gap * log(1.0 - random())
        n = 0
        now = emit_at = 0.0
        drain_pending = spec.drain
        while True:
            if next_arrival < end and (not heap or next_arrival <= heap[0][0]):
                now = next_arrival
                arrive(now)
                next_arrival = now - gap * log(1.0 - random())
            else:
                if drain_pending and next_arrival >= end:  # dispatching is over
                    drain_pending = False
                    self.draining = True
                    self._check_quiescent(now if now > end else end)
                if not heap or heap[0][0] > limit:
                    break
                now, _, kind, obj = heappop(heap)
                if now > end + DRAIN_LIMIT_S:
                    break
                handlers[kind](now, obj)
            while out and out[0][0] <= now:
                emit_at, _, payload = heappop(out)
                n += 1
                yield emit_at, payload
        while out:
            emit_at, _, payload = heappop(out)
            n += 1
            yield emit_at, payload
        self.events_out, self.last_emit_at = n, emit_at

    def truth(self) -> GroundTruth:
        """What happened (tasks only if ``record_truth=True``); call after :meth:`events`."""
        names = self.plan.queue_names
        return GroundTruth(
            tasks={t.id: task_truth(t, names) for t in self.tasks},
            workers={w.id: worker_truth(w) for w in self.workers if w.online_at != INF},
            dispatch_rate=self.plan.dispatch_rate,
            events=self.events_out,
            last_emit_at=self.last_emit_at,
        )

    def _handlers(self) -> list[Callable[[float, Any], None]]:
        return [
            self._end,
            self._ready,
            self._heartbeat,
            self._online,
            self._stop_worker,
            self._crash,
            self._cancel,
        ]

    # -- workers: the initial pool, late joiners and replacements, heartbeats, graceful stops
    # (``worker_offline`` once in-flight tasks finish) and crashes (silence) --------------------
    def _plan_workers(self) -> None:
        """Create the initial pool (online within the first seconds) and the late joiners."""
        spec, plan, rng = self.spec, self.plan, self.rng
        ramp = min(2.0, spec.duration * 0.05)
        for role, n in enumerate(plan.role_workers):
            for _ in range(n):
                self._new_worker(role, rng.uniform(0.0, ramp))
        for _ in range(spec.late_workers):
            self._new_worker(rng.randrange(len(plan.roles)), rng.uniform(0.3, 0.7) * spec.duration)

    def _new_worker(self, role: int, at: float) -> Worker:
        spec, plan, rng = self.spec, self.plan, self.rng
        queue_names = list(plan.roles[role])
        w = Worker(
            worker_id(rng),
            self._hostname(),
            role,
            tuple(plan.queue_index[q] for q in queue_names),
            queue_names,
            plan.role_concurrency[role],
            float(spec.heartbeat_freq),
            self.emit.skew(spec.max_clock_skew),
        )
        w.online_at = at
        u = rng.random()
        if u < spec.stop_probability + spec.crash_probability:
            when = rng.uniform(at + 0.2 * (spec.duration - at), spec.duration * 0.9)
            if when > at:
                if u < spec.stop_probability:
                    w.stop_at = when
                    self.at(when, STOP, w)
                else:
                    w.crash_at = when
                    self.at(when, CRASH, w)
        self.workers.append(w)
        self.at(at, ONLINE, w)
        return w

    def _hostname(self) -> str:
        hosts = self.hosts
        rng = self.rng
        if hosts and rng.random() < 1.0 - 1.0 / PER_HOST:
            return hosts[rng.randrange(len(hosts))]
        pattern = HOST_PREFIXES[len(hosts) % len(HOST_PREFIXES)]
        name = pattern.format(
            a=rng.randrange(0, 8),
            b=rng.randrange(2, 250),
            n=len(hosts) + 1,
            h=f"{rng.getrandbits(36):09x}",
            p="".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5)),
        )
        hosts.append(name)
        return name

    def _online(self, now: float, w: Worker) -> None:
        w.alive = w.accepting = True
        w.fate = "running"
        for q in w.queues:
            self.consumers[q] += 1
        self.emit.online(now, w)
        self.at(now + w.freq + self.rng.uniform(*BEAT_DRIFT_S), HEARTBEAT, w)
        self.pull(w, now + 0.001)  # backlog first, then idle-wait on its queues

    def _heartbeat(self, now: float, w: Worker) -> None:
        if not w.accepting:  # the heartbeat task is cancelled at shutdown
            return
        self.emit.heartbeat(now, w)
        self.at(now + w.freq + self.rng.uniform(*BEAT_DRIFT_S), HEARTBEAT, w)

    def _stop_worker(self, now: float, w: Worker) -> None:
        """SIGTERM: stop fetching, let in-flight tasks finish, then ``worker_offline``."""
        if not w.accepting:
            return
        w.accepting = False
        w.stop_at = min(w.stop_at, now)
        for q in w.queues:
            self.consumers[q] -= 1
        if w.running == 0:
            self._offline(w, now)
        self._replace_worker(w, now)

    def _crash(self, now: float, w: Worker) -> None:
        """Killed: no offline, no heartbeats, in-flight tasks never report."""
        if not w.alive:
            return
        if w.accepting:
            for q in w.queues:
                self.consumers[q] -= 1
        self.inflight -= w.running
        w.alive = w.accepting = False
        w.fate = "crashed"
        w.ended_at = now
        self._replace_worker(w, now)

    def _task_done(self, w: Worker, task: Task, now: float) -> None:
        """An attempt of ``task`` on ``w`` has ended (event already emitted)."""
        w.running -= 1
        if w.blocked:  # asyncio.wait(FIRST_COMPLETED) returns: self._tasks = pending (a new set)
            w.blocked = False
            w.gen += 1
            w.stale = 0
        elif task.gen != w.gen:
            w.stale += 1  # its done callback discards it from an older set: it lingers
            if w.running + w.stale >= w.concurrency:
                w.gen += 1
                w.stale = 0
        if w.accepting:
            self.pull(w, now)
        elif w.running == 0:
            self._offline(w, now)

    def _offline(self, w: Worker, now: float) -> None:
        t = now + self.rng.uniform(*SHUTDOWN_S)
        w.alive = False
        w.fate = "stopped"
        w.ended_at = t
        self.emit.offline(t, w)

    def _replace_worker(self, w: Worker, now: float) -> None:
        spec = self.spec
        at = now + self.rng.uniform(*REPLACE_AFTER_S)
        if spec.replace_workers and at < spec.duration:
            self._new_worker(w.role, at)

    # -- tasks ------------------------------------------------------------------------------
    def _arrive(self, now: float) -> None:
        """A dispatcher pushes a new task; its ``task_enqueued`` follows once the push returns."""
        plan, rng = self.plan, self.rng
        r = rng.random()
        cum = plan.cumulative
        i = 0
        while cum[i] < r:
            i += 1
        ttype = plan.types[i]
        task = Task(task_id(rng), ttype, plan.queue_index[ttype.queue])
        if self.record_truth:
            self.tasks.append(task)
        if ttype.p_doomed and rng.random() < ttype.p_doomed * self.spec.failure_scale:
            task.doomed_message = ttype.doomed.message(rng)
        self.emit.enqueued(now, task)
        if self.spec.cancel_probability and rng.random() < self.spec.cancel_probability:
            self.at(now + rng.expovariate(0.5), CANCEL, task)
        self._offer(task, now)

    def _offer(self, task: Task, now: float) -> None:
        """Task ``task`` is on its queue: an idle worker picks it up, else it waits."""
        q = task.queue
        idle = self.idle[q]
        while idle:
            w = idle[0]
            if not w.accepting or w.running >= w.concurrency:
                idle.popleft()
                w.idle_in[q] = False
                continue
            if w.running + 1 < w.concurrency:
                idle.rotate(-1)  # round robin among idle workers
            else:
                idle.popleft()
                w.idle_in[q] = False
            # An idle worker finds it at its next poll (it sleeps 0.1 s after an empty poll).
            self._start(task, w, now, now + FETCH_S + self.rng.random() * POLL_S)
            return
        if self.consumable[q]:
            self.pending[q].append(task)

    def pull(self, w: Worker, now: float) -> None:
        """Worker ``w`` has free slots: fetch queued tasks (queues in order), else go idle."""
        t = now
        pending = self.pending
        while w.running < w.concurrency:
            for q in w.queues:
                queue = pending[q]
                while queue and queue[0].status == "cancelled":
                    queue.popleft()
                if queue:
                    t += FETCH_S
                    self._start(queue.popleft(), w, now, t)
                    break
            else:
                break
        if w.running < w.concurrency:
            idle_in = w.idle_in
            for q in w.queues:
                if not idle_in[q]:
                    idle_in[q] = True
                    self.idle[q].append(w)

    def _start(self, task: Task, w: Worker, now: float, t: float) -> None:
        """``w`` fetches ``task`` at ``t`` (>= ``now``) and runs one attempt."""
        limit = w.stop_at if w.stop_at < w.crash_at else w.crash_at
        if t >= limit:  # it was fetched just before the signal or the crash
            t = max(now, limit - 1e-4 * self.rng.random())
        rng = self.rng
        ttype = task.type
        task.attempt += 1
        task.status = "running"
        task.worker = w
        task.started_at = t
        task.gen = w.gen
        w.running += 1
        self.inflight += 1
        if w.running + w.stale >= w.concurrency:  # Worker._run: len(self._tasks) >= concurrency
            if w.stale:
                w.gen += 1  # asyncio.wait returns at once with the stale tasks: a new set
                w.stale = 0
            else:
                w.blocked = True
        run = exp(ttype.median_log + ttype.sigma * rng.gauss())
        fail = None
        if task.doomed_message is not None:
            fail = ttype.doomed
        elif ttype.transient and rng.random() < ttype.p_transient * self.spec.failure_scale:
            fail = ttype.transient[int(rng.random() * len(ttype.transient))]
        timeout = ttype.timeout
        if timeout is not None and (run > timeout or (fail is not None and fail.is_timeout)):
            fail = TIMEOUT
            run = timeout + 0.0005 + 0.002 * rng.random()
        elif fail is not None:
            run *= fail.time_fraction
        task.fail = fail
        self.emit.started(t, task, w)
        self.at(t + run, END, task)

    def _end(self, now: float, task: Task) -> None:
        w = task.worker
        assert w is not None
        if not w.alive:
            return  # crashed: the attempt never reports
        self.inflight -= 1
        fail = task.fail
        if fail is None:
            task.status = "completed"
            w.processed += 1
            self.emit.completed(now, task, w)
        elif task.attempt < task.type.max_attempts:
            task.status = "retrying"
            self.waiting_retries += 1
            self.emit.reenqueued(now, task, w)
            delay = task.type.retry_delay * self.spec.retry_delay_scale * 2 ** (task.attempt - 1)
            self.at(now + delay + 0.001 * self.rng.random(), READY, task)
        else:
            task.status = "failed"
            w.processed += 1
            self.emit.failed(now, task, w)
        self._task_done(w, task, now)
        if self.draining and self.inflight == 0:
            self._check_quiescent(now)

    def _ready(self, now: float, task: Task) -> None:
        """A retry's delay has passed: the task is back on its queue."""
        self.waiting_retries -= 1
        task.status = "pending"
        self._offer(task, now)

    def _cancel(self, now: float, task: Task) -> None:
        if task.status == "pending":
            task.status = "cancelled"
            self.emit.cancelled(now, task)

    def _check_quiescent(self, now: float) -> None:
        """Drain mode: once nothing can run any more, every live worker shuts down gracefully."""
        if self.inflight or self.waiting_retries:
            return
        for q, queue in enumerate(self.pending):
            if self.consumers[q] and any(t.status == "pending" for t in queue):
                return
        for w in self.workers:
            if w.accepting:
                self.at(now + 0.5 * self.rng.random(), STOP, w)
        self.draining = False  # done: nothing more to check
