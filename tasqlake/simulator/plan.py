"""Sizing a deployment for a spec: dispatch rate, worker roles, pool size and concurrency.

The target is the *published event* rate: every dispatched task publishes ``1 + 2 * attempts``
events (enqueued, then started + completed/reenqueued/failed per attempt; tasks of the
unconsumed queue only ``task_enqueued``), and every worker adds heartbeats and online/offline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate

from tasqlake.simulator import catalog
from tasqlake.simulator.catalog import TaskType
from tasqlake.simulator.spec import SimulationSpec

#: Capacity kept above the expected load, so queues normally stay short.
HEADROOM = 2.0
#: Mean seconds a slot is reserved before its task starts (idle workers poll every 0.1 s).
PICKUP_S = 0.05
MAX_AUTO_WORKERS = 48


@dataclass(frozen=True)
class Plan:
    types: tuple[TaskType, ...]
    #: Cumulative dispatch probabilities of ``types`` (for bisect on ``random()``).
    cumulative: tuple[float, ...]
    #: Tasks dispatched per second.
    dispatch_rate: float
    roles: tuple[tuple[str, ...], ...]
    #: Workers started at time 0 per role, and their concurrency.
    role_workers: tuple[int, ...]
    role_concurrency: tuple[int, ...]
    #: Every queue name, consumed first, in a fixed order (index = queue number in the model).
    queue_names: tuple[str, ...]

    @cached_property
    def queue_index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.queue_names)}


def make_plan(spec: SimulationSpec) -> Plan:
    types = catalog.task_types(spec.queues, spec.unconsumed_queue)
    total_weight = sum(t.weight for t in types)
    shares = [t.weight / total_weight for t in types]
    cumulative = (*tuple(accumulate(shares))[:-1], 1.0)
    consumed = catalog.QUEUES[: spec.queues]
    events_per_task = sum(
        s * (1.0 + (2.0 * t.expected_attempts(spec.failure_scale) if t.queue in consumed else 0.0))
        for s, t in zip(shares, types, strict=True)
    )
    # Slot-seconds per dispatched task, per queue.
    queue_cost = dict.fromkeys(consumed, 0.0)
    for s, t in zip(shares, types, strict=True):
        if t.queue in queue_cost:
            attempts = t.expected_attempts(spec.failure_scale)
            queue_cost[t.queue] += s * attempts * (t.mean_s + PICKUP_S)

    roles = catalog.roles(spec.queues)
    dispatch_rate = spec.rate / events_per_task
    n_workers = spec.workers or 1
    for _ in range(2):  # worker events depend on the pool size, the pool size on the load
        role_load = _role_loads(roles, queue_cost, dispatch_rate)
        if spec.workers is None:
            needed = math.ceil(sum(role_load) * HEADROOM / spec.concurrency)
            n_workers = max(len(roles), min(MAX_AUTO_WORKERS, needed))
        per_worker = 1.0 / spec.heartbeat_freq + 2.0 / spec.duration  # beats, online/offline
        worker_rate = (n_workers + spec.late_workers) * per_worker
        dispatch_rate = max(spec.rate - worker_rate, 0.1 * spec.rate) / events_per_task

    if n_workers < len(roles):
        roles = (consumed,)  # too few workers to specialise: every worker takes every queue
    role_load = _role_loads(roles, queue_cost, dispatch_rate)
    counts = _allocate(n_workers, role_load)
    concurrency = tuple(
        max(spec.concurrency, math.ceil(load * HEADROOM / count))
        for load, count in zip(role_load, counts, strict=True)
    )
    queue_names = tuple(consumed) + tuple(
        sorted({t.queue for t in types if t.queue not in consumed})
    )
    return Plan(types, cumulative, dispatch_rate, roles, counts, concurrency, queue_names)


def _role_loads(
    roles: tuple[tuple[str, ...], ...], queue_cost: dict[str, float], dispatch_rate: float
) -> list[float]:
    """Busy slots each role must carry: a queue's load is split evenly among its roles."""
    consumers = {q: sum(q in r for r in roles) for q in queue_cost}
    return [sum(dispatch_rate * queue_cost[q] / consumers[q] for q in role) for role in roles]


def _allocate(n: int, loads: list[float]) -> tuple[int, ...]:
    """``n`` workers over roles: one each, the rest to the role with most load per worker."""
    counts = [1] * len(loads)
    for _ in range(n - len(loads)):
        i = max(range(len(loads)), key=lambda k: loads[k] / counts[k])
        counts[i] += 1
    return tuple(counts)
