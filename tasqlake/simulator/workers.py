"""Worker processes: the initial pool, late joiners and replacements, heartbeats, graceful
stops (``worker_offline`` once in-flight tasks finish) and crashes (silence)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasqlake.simulator.catalog import HOST_PREFIXES
from tasqlake.simulator.entities import CRASH, HEARTBEAT, ONLINE, STOP, Task, Worker
from tasqlake.simulator.events import SHUTDOWN_S
from tasqlake.simulator.failures import TIMEOUT
from tasqlake.simulator.wire import worker_id

if TYPE_CHECKING:
    from tasqlake.simulator.model import Simulation

__all__ = ["TIMEOUT", "crash", "heartbeat", "online", "plan_workers", "stop", "task_done"]

#: Heartbeat loop drift per beat: ``sleep(freq)`` then an awaited publish.
BEAT_DRIFT_S = (0.0002, 0.002)
#: A stopped or crashed worker's replacement starts this many seconds later.
REPLACE_AFTER_S = (2.0, 15.0)
#: Worker processes per host.
PER_HOST = 3


def plan_workers(sim: Simulation) -> None:
    """Create the initial pool (online within the first seconds) and the late joiners."""
    spec, plan, rng = sim.spec, sim.plan, sim.rng
    ramp = min(2.0, spec.duration * 0.05)
    for role, n in enumerate(plan.role_workers):
        for _ in range(n):
            new_worker(sim, role, rng.uniform(0.0, ramp))
    for _ in range(spec.late_workers):
        new_worker(sim, rng.randrange(len(plan.roles)), rng.uniform(0.3, 0.7) * spec.duration)


def new_worker(sim: Simulation, role: int, at: float) -> Worker:
    spec, plan, rng = sim.spec, sim.plan, sim.rng
    queue_names = list(plan.roles[role])
    w = Worker(
        worker_id(rng),
        _hostname(sim),
        role,
        tuple(plan.queue_index[q] for q in queue_names),
        queue_names,
        plan.role_concurrency[role],
        float(spec.heartbeat_freq),
        sim.emit.skew(spec.max_clock_skew),
    )
    w.online_at = at
    u = rng.random()
    if u < spec.stop_probability + spec.crash_probability:
        when = rng.uniform(at + 0.2 * (spec.duration - at), spec.duration * 0.9)
        if when > at:
            if u < spec.stop_probability:
                w.stop_at = when
                sim.at(when, STOP, w)
            else:
                w.crash_at = when
                sim.at(when, CRASH, w)
    sim.workers.append(w)
    sim.at(at, ONLINE, w)
    return w


def _hostname(sim: Simulation) -> str:
    hosts = sim.hosts
    rng = sim.rng
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


def online(sim: Simulation, now: float, w: Worker) -> None:
    w.alive = w.accepting = True
    w.fate = "running"
    for q in w.queues:
        sim.consumers[q] += 1
    sim.emit.online(now, w)
    sim.at(now + w.freq + sim.rng.uniform(*BEAT_DRIFT_S), HEARTBEAT, w)
    sim.pull(w, now + 0.001)  # backlog first, then idle-wait on its queues


def heartbeat(sim: Simulation, now: float, w: Worker) -> None:
    if not w.accepting:  # the heartbeat task is cancelled at shutdown
        return
    sim.emit.heartbeat(now, w)
    sim.at(now + w.freq + sim.rng.uniform(*BEAT_DRIFT_S), HEARTBEAT, w)


def stop(sim: Simulation, now: float, w: Worker) -> None:
    """SIGTERM: stop fetching, let in-flight tasks finish, then ``worker_offline``."""
    if not w.accepting:
        return
    w.accepting = False
    w.stop_at = min(w.stop_at, now)
    for q in w.queues:
        sim.consumers[q] -= 1
    if w.running == 0:
        _offline(sim, w, now)
    _replace(sim, w, now)


def crash(sim: Simulation, now: float, w: Worker) -> None:
    """Killed: no offline, no heartbeats, in-flight tasks never report."""
    if not w.alive:
        return
    if w.accepting:
        for q in w.queues:
            sim.consumers[q] -= 1
    sim.inflight -= w.running
    w.alive = w.accepting = False
    w.fate = "crashed"
    w.ended_at = now
    _replace(sim, w, now)


def task_done(sim: Simulation, w: Worker, task: Task, now: float) -> None:
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
        sim.pull(w, now)
    elif w.running == 0:
        _offline(sim, w, now)


def _offline(sim: Simulation, w: Worker, now: float) -> None:
    t = now + sim.rng.uniform(*SHUTDOWN_S)
    w.alive = False
    w.fate = "stopped"
    w.ended_at = t
    sim.emit.offline(t, w)


def _replace(sim: Simulation, w: Worker, now: float) -> None:
    spec = sim.spec
    at = now + sim.rng.uniform(*REPLACE_AFTER_S)
    if spec.replace_workers and at < spec.duration:
        new_worker(sim, w.role, at)
