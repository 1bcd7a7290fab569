"""``python -m tasqlake.emitter worker …``: a REAL AsyncTasQ worker started from AsyncTasQ's
own command line, with the stream emitter installed, configured only by the ASYNCTASQ_*
environment; for each AsyncTasQ release the interop tests cover (1.7.0 and 1.4.1: worker and
dispatching application both run by that release's interpreter).

Every event the run publishes on Pub/Sub (the dispatcher's and the worker's:
online, heartbeats, started, reenqueued, completed, failed, offline) is in the stream, byte for
byte, and nothing else is."""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tasqlake.schemas.constants import DEFAULT_CHANNEL, DEFAULT_STREAM
from tests.emitter.events import decoded
from tests.emitter.test_emitter import stream_payloads
from tests.interop.capture import RawCapturer
from tests.interop.live import ASYNCTASQ_RELEASES
from tests.interop.procs import ProcessRegistry
from tests.interop.scenario import asynctasq_python

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
QUEUE = "emitter-cli"
HEARTBEAT_S = 0.5


def worker_env(redis_url: str) -> dict[str, str]:
    """A deployment's worker environment: Redis driver, events and the Pub/Sub emitter on, a
    retry 1 s after a failure (the worker reads the delay from its own config); plus the
    test's shorter heartbeat (fast_heartbeat/sitecustomize.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASYNCTASQ_", "TASQLAKE_"))}
    env.update(
        {
            "ASYNCTASQ_DRIVER": "redis",
            "ASYNCTASQ_REDIS_URL": redis_url,
            "ASYNCTASQ_REDIS_DELAYED_TASK_INTERVAL": "0.1",
            "ASYNCTASQ_EVENTS_ENABLE_ALL": "true",
            "ASYNCTASQ_EVENTS_ENABLE_EVENT_EMITTER_REDIS": "true",
            "ASYNCTASQ_TASK_DEFAULTS_RETRY_DELAY": "1",
            "ASYNCTASQ_TASK_DEFAULTS_RETRY_STRATEGY": "fixed",
            "TASQLAKE_TEST_HEARTBEAT_S": str(HEARTBEAT_S),
            "PYTHONPATH": os.pathsep.join([str(HERE / "fast_heartbeat"), str(REPO_ROOT)]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def event_types(redis_url: str) -> Counter[object]:
    return Counter(decoded(p)["event_type"] for p in stream_payloads(redis_url, DEFAULT_STREAM))


def wait_until(
    condition: Callable[[], object], what: str, log: Path, timeout: float = 20.0
) -> None:
    """Poll ``condition()`` every 50 ms until it holds; fail naming the worker's log if not."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:g} s; worker log: {log}")
        time.sleep(0.05)


def dispatch(python: str, redis_url: str, log: Path) -> None:
    """Dispatch as an application does (tests/emitter/dispatch_app.py), with ``python``."""
    env = worker_env(redis_url)
    with log.open("ab") as out:
        done = subprocess.run(
            [python, "-m", "tests.emitter.dispatch_app", redis_url, QUEUE],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, log.read_text()[-4000:]


@pytest.fixture(params=ASYNCTASQ_RELEASES, ids=lambda r: f"asynctasq-{r}")
def python(request: pytest.FixtureRequest) -> str:
    """The interpreter of each AsyncTasQ release the tests cover (scripts/asynctasq-env)."""
    return asynctasq_python(request.param)


def test_a_cli_worker_writes_every_event_to_the_stream(
    python: str, redis_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    with redis.Redis.from_url(redis_url) as client:
        client.flushall()  # the module's Redis: each release's run starts from an empty stream
    capturer = RawCapturer(redis_url, DEFAULT_CHANNEL)
    capturer.start()  # subscribed before anything is emitted
    registry = ProcessRegistry()
    try:
        argv = [python, "-m", "tasqlake.emitter", "worker", "--queues", QUEUE]
        worker = registry.spawn(
            [*argv, "--concurrency", "2"], env=worker_env(redis_url), cwd=tmp_path, log_path=log
        )
        wait_until(lambda: event_types(redis_url)["worker_online"], "no worker_online", log)
        dispatch(python, redis_url, tmp_path / "dispatch.log")

        def finished() -> bool:
            seen = event_types(redis_url)
            return (
                seen["task_completed"] == 3
                and seen["task_failed"] == 1
                and seen["worker_heartbeat"] >= 1
            )

        wait_until(finished, "the tasks did not finish", log)
        assert registry.stop(worker) == 0, log.read_text()[-4000:]
        wait_until(lambda: event_types(redis_url)["worker_offline"], "no worker_offline", log)
        in_stream = stream_payloads(redis_url, DEFAULT_STREAM)
        wait_until(lambda: len(capturer.payloads) >= len(in_stream), "Pub/Sub fell behind", log)
        time.sleep(0.1)  # anything published but not in the stream would arrive by now
    finally:
        published = capturer.stop()
        registry.kill_all()
    assert sorted(in_stream) == sorted(published)
    assert len(set(in_stream)) == len(in_stream)
    assert set(event_types(redis_url)) == {
        "worker_online",
        "worker_heartbeat",
        "task_enqueued",
        "task_started",
        "task_reenqueued",
        "task_completed",
        "task_failed",
        "worker_offline",
    }
    assert "tasqlake: could not add" not in log.read_text()
