"""The simulated application: its queues, task types, worker roles and hosts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from tasqlake.simulator import failures as f
from tasqlake.simulator.failures import FailureKind, Frame

#: Consumed queues, in the order ``SimulationSpec.queues`` takes them.
QUEUES = ("default", "emails", "reports", "high-priority", "webhooks")
#: A queue that tasks are dispatched to but no worker consumes.
UNCONSUMED_QUEUE = "legacy-import"


@dataclass(frozen=True)
class TaskType:
    """A task class of the simulated application."""

    name: str
    queue: str
    #: Relative share of dispatched tasks.
    weight: float
    #: Run time: lognormal with this median (seconds) and sigma.
    median_s: float
    sigma: float
    #: Probability that one attempt fails with a transient error (a retry may succeed).
    p_transient: float
    #: Probability that a task fails on every attempt (ends in ``task_failed``).
    p_doomed: float
    max_attempts: int
    #: AsyncTasQ ``retry_delay`` seconds (exponential: delay * 2**(attempt-1)).
    retry_delay: float
    #: Task ``timeout`` seconds (None: no ``asyncio.wait_for`` wrapper).
    timeout: float | None
    transient: tuple[FailureKind, ...]
    doomed: FailureKind
    #: The frame of the task's own ``execute`` method in tracebacks.
    execute_frame: Frame

    @cached_property
    def median_log(self) -> float:
        """``mu`` of the run-time lognormal."""
        return math.log(self.median_s)

    @property
    def mean_s(self) -> float:
        return self.median_s * math.exp(self.sigma**2 / 2)

    def expected_attempts(self, failure_scale: float) -> float:
        """Mean number of attempts per dispatched task."""
        d = min(1.0, self.p_doomed * failure_scale)
        p = min(0.95, self.p_transient * failure_scale)
        return d * self.max_attempts + (1 - d) * sum(p**k for k in range(self.max_attempts))


def _frame(module: str, line: int, code: str) -> Frame:
    return (f"/app/src/shop/tasks/{module}.py", line, "execute", code, None)


TASK_TYPES: tuple[TaskType, ...] = (
    TaskType(
        "ProcessOrderTask",
        "default",
        30,
        0.08,
        0.6,
        0.02,
        0.003,
        3,
        1.0,
        30.0,
        (f.CONNECTION_REFUSED,),
        f.MISSING_KEY,
        _frame("orders", 52, "order = await load_order(self.order_id)"),
    ),
    TaskType(
        "SyncInventoryTask",
        "default",
        10,
        0.35,
        0.7,
        0.05,
        0.002,
        5,
        2.0,
        60.0,
        (f.HTTP_5XX, f.CONNECTION_REFUSED),
        f.DIVISION,
        _frame("inventory", 88, "ratio = reorder_ratio(item.sold, item.stocked)"),
    ),
    TaskType(
        "CleanupTempFilesTask",
        "default",
        5,
        0.02,
        0.5,
        0.0,
        0.01,
        1,
        1.0,
        None,
        (),
        f.MISSING_FILE,
        _frame("maintenance", 19, "fh = open_export(path)"),
    ),
    TaskType(
        "SendEmailTask",
        "emails",
        35,
        0.25,
        0.5,
        0.04,
        0.01,
        3,
        2.0,
        10.0,
        (f.CONNECTION_REFUSED, f.TIMEOUT),
        f.INVALID_EMAIL,
        _frame("emails", 47, "await self.mailer.send(self.to, subject, body)"),
    ),
    TaskType(
        "SendWelcomeEmailTask",
        "emails",
        8,
        0.3,
        0.5,
        0.03,
        0.005,
        3,
        2.0,
        10.0,
        (f.CONNECTION_REFUSED,),
        f.INVALID_EMAIL,
        _frame("emails", 83, "await self.mailer.send(user.email, WELCOME, html)"),
    ),
    TaskType(
        "GenerateReportTask",
        "reports",
        3,
        3.0,
        0.8,
        0.05,
        0.02,
        3,
        5.0,
        30.0,
        (f.TIMEOUT,),
        f.REPORT_QUERY,
        _frame("reports", 64, "report = await self.builder.build(self.spec)"),
    ),
    TaskType(
        "ExportCsvTask",
        "reports",
        2,
        1.2,
        0.7,
        0.02,
        0.01,
        2,
        5.0,
        None,
        (f.CONNECTION_REFUSED,),
        f.MISSING_FILE,
        _frame("exports", 33, "src = open_export(self.path)"),
    ),
    TaskType(
        "ChargePaymentTask",
        "high-priority",
        8,
        0.4,
        0.4,
        0.03,
        0.015,
        3,
        1.0,
        20.0,
        (f.HTTP_5XX,),
        f.PAYMENT_DECLINED,
        _frame("payments", 71, "await self.gateway.charge(self.order_id, self.amount)"),
    ),
    TaskType(
        "SendSmsTask",
        "high-priority",
        5,
        0.15,
        0.5,
        0.02,
        0.004,
        3,
        1.0,
        10.0,
        (f.HTTP_5XX,),
        f.MISSING_KEY,
        _frame("sms", 28, "number = (await load_order(self.order_id)).phone"),
    ),
    TaskType(
        "DeliverWebhookTask",
        "webhooks",
        12,
        0.2,
        0.9,
        0.1,
        0.02,
        5,
        1.0,
        15.0,
        (f.HTTP_5XX, f.CONNECTION_REFUSED, f.TIMEOUT),
        f.HTTP_5XX,
        _frame("webhooks", 40, "await post_json(self.url, self.body)"),
    ),
    TaskType(
        "ImportLegacyDataTask",
        UNCONSUMED_QUEUE,
        1.5,
        20.0,
        0.5,
        0.0,
        0.0,
        1,
        60.0,
        None,
        (),
        f.MISSING_FILE,
        _frame("legacy", 12, "rows = open_export(self.path)"),
    ),
)

#: Queue sets of the kinds of worker deployed (priority order, as passed to ``Worker(queues=)``).
ROLES: tuple[tuple[str, ...], ...] = (
    ("high-priority", "default"),
    ("default",),
    ("emails", "webhooks"),
    ("reports",),
    ("default", "emails", "reports", "high-priority", "webhooks"),
)

HOST_PREFIXES = ("ip-10-0-{a}-{b}.ec2.internal", "worker-node-{n}", "asynctasq-worker-{h}-{p}")


def task_types(queues: int, unconsumed: bool) -> tuple[TaskType, ...]:
    """Task types dispatched with ``queues`` consumed queues (plus the unconsumed one)."""
    used = set(QUEUES[:queues])
    if unconsumed:
        used.add(UNCONSUMED_QUEUE)
    return tuple(t for t in TASK_TYPES if t.queue in used)


def roles(queues: int) -> tuple[tuple[str, ...], ...]:
    """Worker queue sets covering each of the first ``queues`` queues at least once."""
    used = QUEUES[:queues]
    out: list[tuple[str, ...]] = []
    for role in ROLES:
        kept = tuple(q for q in role if q in used)
        if kept and kept not in out:
            out.append(kept)
    return tuple(out)
