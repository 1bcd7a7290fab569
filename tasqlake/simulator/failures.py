"""Exceptions the simulated tasks raise: the ``error`` text (``str(exception)``) and the full
traceback text (``traceback.format_exc()`` as AsyncTasQ 1.7.0 sends it on ``task_failed``).

Messages embed ids, hosts and numbers, so grouping them needs normalising, as with real ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

#: One traceback frame: file, line, function, source line, and the part of the source line
#: Python 3.12 underlines with carets (None: the whole line, no carets shown).
Frame = tuple[str, int, str, str, str | None]

_SITE = "/app/.venv/lib/python3.12/site-packages"
_STDLIB = "/usr/local/lib/python3.12"

_WORKER_FRAME: Frame = (
    f"{_SITE}/asynctasq/core/worker.py",
    334,
    "_process_task",
    "await self._task_executor.execute(task)",
    None,
)
_EXECUTE_TIMEOUT: Frame = (
    f"{_SITE}/asynctasq/tasks/services/executor.py",
    83,
    "execute",
    "await asyncio.wait_for(task.run(), timeout=effective_timeout)",
    None,
)
_EXECUTE_PLAIN: Frame = (
    f"{_SITE}/asynctasq/tasks/services/executor.py",
    85,
    "execute",
    "await task.run()",
    None,
)
_WAIT_FOR: Frame = (f"{_STDLIB}/asyncio/tasks.py", 520, "wait_for", "return await fut", "await fut")
_RUN: Frame = (
    f"{_SITE}/asynctasq/tasks/types/async_task.py",
    75,
    "run",
    "return await self.execute()",
    "await self.execute()",
)


@dataclass(frozen=True)
class FailureKind:
    """An exception a task can raise."""

    #: Class as the last traceback line names it (module-qualified unless builtin).
    display: str
    #: ``str(exception)``, drawn fresh per failure (ids differ).
    message: Callable[[random.Random], str]
    #: Frames below the task's ``execute`` call, innermost last.
    frames: tuple[Frame, ...]
    #: Fraction of the normal run time spent before the exception is raised.
    time_fraction: float = 0.5
    #: A task timeout: AsyncTasQ reports ``error="Task exceeded timeout"`` and the duration is
    #: the timeout.
    is_timeout: bool = False


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


_API_HOSTS = ("api.partner.io", "hooks.acme.dev", "pay.stripe.test")


def _ip(rng: random.Random) -> str:
    return f"10.0.{rng.randrange(0, 8)}.{rng.randrange(2, 250)}"


CONNECTION_REFUSED = FailureKind(
    "ConnectionRefusedError",
    lambda r: f"[Errno 111] Connect call failed ('{_ip(r)}', {r.choice((5432, 6379, 587, 443))})",
    (
        (f"{_SITE}/asyncpg/pool.py", 1024, "_acquire", "ret = await self._acquire_impl()", None),
        (
            f"{_STDLIB}/asyncio/base_events.py",
            1134,
            "create_connection",
            "raise exceptions[0]",
            None,
        ),
        (
            f"{_STDLIB}/asyncio/selector_events.py",
            651,
            "sock_connect",
            "return await fut",
            "await fut",
        ),
    ),
    time_fraction=0.05,
)
TIMEOUT = FailureKind("TimeoutError", lambda r: "Task exceeded timeout", (), is_timeout=True)
INVALID_EMAIL = FailureKind(
    "ValueError",
    lambda r: (
        f"Invalid email address: '{r.choice(('jane.doe', 'm.rossi', 'ops', 'k_lee'))}"
        f"{r.randrange(10, 99999)}@{r.choice(('exmaple.con', 'gmial.com', 'example'))}'"
    ),
    (
        ("/app/src/shop/mail.py", 112, "send", "validate_address(to)", None),
        (
            "/app/src/shop/mail.py",
            31,
            "validate_address",
            'raise ValueError(f"Invalid email address: {address!r}")',
            None,
        ),
    ),
    time_fraction=0.02,
)
MISSING_KEY = FailureKind(
    "KeyError",
    lambda r: repr(r.choice(("customer_id", "shipping_address", "sku", "currency"))),
    (("/app/src/shop/orders.py", 77, "load_order", "customer = payload[field]", "payload[field]"),),
    time_fraction=0.1,
)
HTTP_5XX = FailureKind(
    "httpx.HTTPStatusError",
    lambda r: (
        f"Server error '{r.choice(('502 Bad Gateway', '503 Service Unavailable'))}' "
        f"for url 'https://{r.choice(_API_HOSTS)}"
        f"/v2/{r.choice(('events', 'charges', 'stock'))}/{_hex(r, 12)}'\n"
        "For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/503"
    ),
    (
        ("/app/src/shop/http.py", 58, "post_json", "response.raise_for_status()", None),
        (
            f"{_SITE}/httpx/_models.py",
            829,
            "raise_for_status",
            "raise HTTPStatusError(message, request=request, response=self)",
            None,
        ),
    ),
    time_fraction=0.7,
)
PAYMENT_DECLINED = FailureKind(
    "shop.errors.PaymentDeclinedError",
    lambda r: (
        f"Card declined for order {r.randrange(100000, 999999)} "
        f"(code: {r.choice(('insufficient_funds', 'expired_card', 'do_not_honor'))})"
    ),
    (
        (
            "/app/src/shop/payments.py",
            143,
            "charge",
            "raise PaymentDeclinedError.from_response(body)",
            None,
        ),
    ),
    time_fraction=0.8,
)
REPORT_QUERY = FailureKind(
    "RuntimeError",
    lambda r: (
        f"Report {r.randrange(1000, 99999)} generation failed: query timed out after "
        f"{r.choice((30000, 60000, 120000))} ms"
    ),
    (
        (
            "/app/src/shop/reports/builder.py",
            201,
            "build",
            "rows = await self._fetch(spec)",
            "await self._fetch(spec)",
        ),
        (
            "/app/src/shop/reports/builder.py",
            164,
            "_fetch",
            'raise RuntimeError(f"Report {spec.id} generation failed: {exc}") from None',
            None,
        ),
    ),
    time_fraction=0.9,
)
MISSING_FILE = FailureKind(
    "FileNotFoundError",
    lambda r: (
        f"[Errno 2] No such file or directory: "
        f"'/var/data/exports/{r.choice(('export', 'tmp', 'batch'))}-"
        f"{r.randrange(1, 99999)}.csv'"
    ),
    (("/app/src/shop/files.py", 40, "open_export", 'return open(path, "rb")', 'open(path, "rb")'),),
    time_fraction=0.1,
)
DIVISION = FailureKind(
    "ZeroDivisionError",
    lambda r: "division by zero",
    (
        (
            "/app/src/shop/inventory.py",
            96,
            "reorder_ratio",
            "return sold / stocked",
            "sold / stocked",
        ),
    ),
    time_fraction=0.3,
)


def render_traceback(
    kind: FailureKind, message: str, execute_frame: Frame, with_timeout: bool
) -> str:
    """The text ``traceback.format_exc()`` gives inside AsyncTasQ's worker for this failure."""
    if kind.is_timeout:
        inner = _lines((_WAIT_FOR, _RUN, execute_frame))
        outer = _lines(
            (
                _WORKER_FRAME,
                _EXECUTE_TIMEOUT,
                (
                    f"{_STDLIB}/asyncio/tasks.py",
                    519,
                    "wait_for",
                    "async with timeouts.timeout(timeout):",
                    None,
                ),
                (
                    f"{_STDLIB}/asyncio/timeouts.py",
                    115,
                    "__aexit__",
                    "raise TimeoutError from exc_val",
                    None,
                ),
            )
        )
        return (
            f"Traceback (most recent call last):\n{inner}asyncio.exceptions.CancelledError\n\n"
            "The above exception was the direct cause of the following exception:\n\n"
            f"Traceback (most recent call last):\n{outer}TimeoutError\n"
        )
    head: tuple[Frame, ...] = (
        (_WORKER_FRAME, _EXECUTE_TIMEOUT, _WAIT_FOR)
        if with_timeout
        else (_WORKER_FRAME, _EXECUTE_PLAIN)
    )
    frames = _lines((*head, _RUN, execute_frame, *kind.frames))
    return f"Traceback (most recent call last):\n{frames}{kind.display}: {message}\n"


def _lines(frames: tuple[Frame, ...]) -> str:
    out = []
    for path, line, func, code, part in frames:
        out.append(f'  File "{path}", line {line}, in {func}\n    {code}\n')
        if part is not None:
            out.append(f"    {' ' * code.index(part)}{'^' * len(part)}\n")
    return "".join(out)
