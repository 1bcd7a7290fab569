"""Mutable state of the model's actors, and the ground truth handed to callers."""

from __future__ import annotations

from dataclasses import dataclass

from tasqlake.simulator.catalog import TaskType
from tasqlake.simulator.failures import FailureKind

INF = float("inf")
#: Kinds of scheduled happenings in the model.
END, READY, HEARTBEAT, ONLINE, STOP, CRASH, CANCEL = range(7)


class Task:
    """One dispatched task (lives across its attempts)."""

    __slots__ = (
        "attempt",
        "doomed_message",
        "fail",
        "gen",
        "id",
        "queue",
        "started_at",
        "status",
        "type",
        "worker",
    )

    def __init__(self, task_id: str, task_type: TaskType, queue: int) -> None:
        self.id = task_id
        self.type = task_type
        self.queue = queue
        self.attempt = 0
        #: pending, running, retrying, completed, failed, cancelled
        self.status = "pending"
        self.worker: Worker | None = None
        #: The running attempt: when it was fetched, how it will fail (None: it succeeds), and
        #: the worker's task-set generation when it was added (see ``Worker.gen``).
        self.started_at = 0.0
        self.fail: FailureKind | None = None
        self.gen = 0
        #: A doomed task fails every attempt with the same message; None if not doomed.
        self.doomed_message: str | None = None


class Worker:
    """One ``asynctasq`` worker process."""

    __slots__ = (
        "accepting",
        "alive",
        "blocked",
        "concurrency",
        "crash_at",
        "ended_at",
        "fate",
        "freq",
        "gen",
        "hostname",
        "id",
        "idle_in",
        "online_at",
        "processed",
        "queue_names",
        "queues",
        "role",
        "running",
        "skew",
        "stale",
        "stop_at",
    )

    def __init__(
        self,
        worker_id: str,
        hostname: str,
        role: int,
        queues: tuple[int, ...],
        queue_names: list[str],
        concurrency: int,
        freq: float,
        skew: float,
    ) -> None:
        self.id = worker_id
        self.hostname = hostname
        self.role = role
        self.queues = queues
        self.queue_names = queue_names
        self.concurrency = concurrency
        self.freq = freq
        self.skew = skew
        self.online_at = INF
        self.stop_at = INF
        self.crash_at = INF
        self.ended_at = INF
        self.alive = False
        self.accepting = False
        #: Tasks executing now.
        self.running = 0
        #: AsyncTasQ 1.7.0 bookkeeping bug: when the worker waits at full concurrency it
        #: replaces its task set (``self._tasks = pending``) but the running tasks' done
        #: callbacks still discard from the old set, so they linger in the new one after
        #: finishing. ``gen`` numbers the set; ``stale`` counts finished-but-listed tasks; the
        #: heartbeat's ``active`` is ``running + stale``.
        self.stale = 0
        self.gen = 0
        #: Waiting in ``asyncio.wait(FIRST_COMPLETED)`` at full concurrency.
        self.blocked = False
        self.processed = 0
        #: Whether this worker is listed in a queue's idle list (index = queue number).
        self.idle_in: dict[int, bool] = dict.fromkeys(queues, False)
        self.fate = "planned"


@dataclass(frozen=True)
class TaskTruth:
    task_id: str
    task_name: str
    queue: str
    #: Attempts started (0 if never started).
    attempts: int
    #: completed, failed, running (in flight when the run ended), lost (its worker crashed),
    #: retrying (waiting for its retry delay), pending (never started), cancelled.
    status: str
    #: The worker of the last attempt.
    worker_id: str | None


@dataclass(frozen=True)
class WorkerTruth:
    worker_id: str
    hostname: str
    queues: tuple[str, ...]
    concurrency: int
    #: Seconds since the start.
    online_at: float
    #: When it stopped (offline event) or crashed; None if still running at the end.
    ended_at: float | None
    #: running, stopped, crashed
    fate: str
    processed: int


@dataclass(frozen=True)
class GroundTruth:
    """What really happened in a simulation run."""

    tasks: dict[str, TaskTruth]
    workers: dict[str, WorkerTruth]
    dispatch_rate: float
    events: int
    #: emit_at of the last event.
    last_emit_at: float


def task_truth(task: Task, queue_names: tuple[str, ...]) -> TaskTruth:
    status = task.status
    if status == "running" and task.worker is not None and task.worker.fate == "crashed":
        status = "lost"
    return TaskTruth(
        task.id,
        task.type.name,
        queue_names[task.queue],
        task.attempt,
        status,
        task.worker.id if task.worker is not None else None,
    )


def worker_truth(worker: Worker) -> WorkerTruth:
    return WorkerTruth(
        worker.id,
        worker.hostname,
        tuple(worker.queue_names),
        worker.concurrency,
        worker.online_at,
        None if worker.ended_at == INF else worker.ended_at,
        "running" if worker.fate == "planned" else worker.fate,
        worker.processed,
    )
