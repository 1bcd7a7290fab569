"""What to simulate: :class:`SimulationSpec`, one frozen dataclass, validated on creation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

#: Start of the simulated clock when none is given: a fixed instant, so output is reproducible.
DEFAULT_START = datetime(2026, 11, 2, 8, 0, 0, tzinfo=UTC)
#: AsyncTasQ's default heartbeat interval (``Worker(heartbeat_interval=60.0)``).
DEFAULT_HEARTBEAT_FREQ = 60.0


@dataclass(frozen=True)
class SimulationSpec:
    """Parameters of one simulated AsyncTasQ deployment.

    The model is a pure function of these values: the same spec yields the same bytes.
    """

    seed: int = 0
    #: Target number of published events per second (all types together).
    rate: float = 200.0
    #: Seconds of simulated time during which tasks are dispatched.
    duration: float = 60.0
    #: Wall-clock instant of simulated time 0 (aware, UTC).
    start: datetime = DEFAULT_START
    #: Worker processes at start; None sizes the pool from ``rate``.
    workers: int | None = None
    #: Minimum ``concurrency`` of a worker (AsyncTasQ's default is 10); raised to carry the load.
    concurrency: int = 10
    #: Number of consumed queues, 1..5, taken in order from default, emails, reports,
    #: high-priority, webhooks.
    queues: int = 5
    #: Also dispatch to a queue that no worker consumes (its tasks pile up, never start).
    unconsumed_queue: bool = True
    #: Processes that dispatch tasks (all publish ``worker_id="dispatcher"``; clocks differ).
    dispatchers: int = 3
    #: Heartbeat interval of the workers, seconds.
    heartbeat_freq: float = DEFAULT_HEARTBEAT_FREQ
    #: Probability that a worker is stopped gracefully (SIGTERM) during the run.
    stop_probability: float = 0.15
    #: Probability that a worker crashes (killed: no end events for its in-flight tasks).
    crash_probability: float = 0.1
    #: Stopped or crashed workers are replaced by a new worker (new id) a few seconds later.
    replace_workers: bool = True
    #: Extra workers that come online part-way through the run.
    late_workers: int = 1
    #: Multiplies every task type's failure probabilities.
    failure_scale: float = 1.0
    #: Multiplies every task type's retry delay (AsyncTasQ: ``retry_delay`` * 2**(attempt-1)).
    retry_delay_scale: float = 1.0
    #: Largest clock skew of a process, seconds (each process draws its own, fixed).
    max_clock_skew: float = 0.005
    #: Timestamp resolution in microseconds (1 = a normal Linux clock).
    clock_resolution_us: int = 1
    #: Probability per dispatched task of a ``task_cancelled`` event while it waits (0 = never,
    #: like AsyncTasQ 1.7.0).
    cancel_probability: float = 0.0
    #: After ``duration``: stop dispatching, let the workers finish everything they can, then
    #: shut them all down gracefully (every worker still alive emits ``worker_offline``).
    drain: bool = False

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("start must be an aware datetime")
        if self.start.utcoffset().total_seconds() != 0:  # type: ignore[union-attr]
            object.__setattr__(self, "start", self.start.astimezone(UTC))
        _check(self.rate > 0, "rate must be > 0")
        _check(self.duration > 0, "duration must be > 0")
        _check(self.workers is None or self.workers >= 1, "workers must be >= 1")
        _check(self.concurrency >= 1, "concurrency must be >= 1")
        _check(1 <= self.queues <= 5, "queues must be between 1 and 5")
        _check(self.dispatchers >= 1, "dispatchers must be >= 1")
        _check(self.heartbeat_freq > 0, "heartbeat_freq must be > 0")
        for name in ("stop_probability", "crash_probability", "cancel_probability"):
            value = getattr(self, name)
            _check(0.0 <= value <= 1.0, f"{name} must be between 0 and 1")
        _check(
            self.stop_probability + self.crash_probability <= 1.0,
            "stop_probability + crash_probability must be <= 1",
        )
        _check(self.late_workers >= 0, "late_workers must be >= 0")
        _check(self.failure_scale >= 0, "failure_scale must be >= 0")
        _check(self.retry_delay_scale >= 0, "retry_delay_scale must be >= 0")
        _check(0 <= self.max_clock_skew <= 10, "max_clock_skew must be between 0 and 10 s")
        _check(self.clock_resolution_us >= 1, "clock_resolution_us must be >= 1")

    def replace(self, **changes: object) -> SimulationSpec:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
