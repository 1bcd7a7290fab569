"""Run the REAL AsyncTasQ (workers, dispatcher, Redis driver, Redis event emitter) through a
scenario that exercises every path, and capture the truth.

The AsyncTasQ side (the dispatcher, the workers it starts, the driver's numbers at the end) runs
in a child process, ``python -m tests.interop.scenario --drive SPEC``, with the interpreter of
the AsyncTasQ release under test: ``run_scenario(asynctasq=None)`` is the one installed here
(1.7.0, the dev extra's pin), ``run_scenario(asynctasq="1.4.1")`` the environment
``scripts/asynctasq-env 1.4.1`` builds. This process keeps the private redis-server, the raw
Pub/Sub capture and the hooks. The child reports each worker's pid (``pid N`` lines, so this
process kills them should anything fail), then ``quiet {truth, driver_stats}`` once the system
is quiet and the driver was read; it stops its workers when this process writes a line (or
closes the pipe).

Usage from a test::

    result = run_scenario(hooks=ScenarioHooks(before_dispatch=start_ingest,
                                               at_quiescence=compare))

``run_scenario(events_stream=KEY)`` also writes every event to the Redis Stream ``KEY`` on the
private Redis, through ``tasqlake.emitter`` (the at-least-once path): the workers install it
after their ``EventRegistry.init()`` (``worker_main.py``, switched on by the environment
variable ``STREAM_ENV``), the dispatcher has a ``RedisStreamEmitter`` next to its Pub/Sub
emitter. Without it (the default) nothing but Pub/Sub is written.

``before_dispatch(env)`` runs after the private Redis and the raw capturer are up and
before any worker starts or task is dispatched (start ``tasqlake ingest`` there with
``env.spawn(...)`` and ``env.wait_for_subscribers(2)``). ``at_quiescence(env, result)``
runs once the system is quiet, while the live workers are still running, with the
ground truth and the driver's numbers. Everything started (including via ``env.spawn``)
is killed afterwards, also on failure.

Regenerate the recorded data set (from the repo root)::

    .venv/bin/python -m tests.interop.scenario --out tests/data/real
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from .capture import RawCapturer, write_stream
from .procs import ProcessRegistry, start_private_redis
from .truth import (
    Dispatch,
    WorkerRun,
    build_truth,
    in_flight,
    read_journal,
    redis_contents,
    redis_keys,
)

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
QUEUES = ["emails", "reports", "billing", "crunch", "orphan"]  # orphan: no worker consumes it
#: Set (to the stream's key) in the workers' environment when ``run_scenario(events_stream=…)``:
#: worker_main.py then installs tasqlake's stream emitter.
STREAM_ENV = "TASQLAKE_INTEROP_EVENTS_STREAM"
#: The AsyncTasQ releases the interop tests run, oldest first: the last one encoding with
#: msgpack-python and awaiting every publish (1.4.1), and the newest (1.7.0, msgspec,
#: fire-and-forget task events). The installed one is the dev extra's pin.
INSTALLED_ASYNCTASQ = "1.7.0"
OLDER_ASYNCTASQ = ("1.4.1",)
#: The whole AsyncTasQ side of a run (workers, dispatch, quiescence, driver read), at most.
DRIVE_TIMEOUT_S = 150.0


@dataclass(frozen=True)
class ScenarioSettings:
    heartbeat_s: float = 1.0
    retry_delay_s: int = 1  # fixed strategy; a retried task waits in queue:<q>:delayed
    max_attempts: int = 3
    channel: str = "asynctasq:events"
    delayed_task_interval_s: float = 0.25
    quiesce_timeout_s: float = 45.0


@dataclass
class ScenarioEnv:
    redis_url: str
    port: int
    channel: str
    workdir: Path
    registry: ProcessRegistry

    def spawn(
        self, argv: list[str], env: dict[str, str] | None = None, log_name: str = "hook"
    ) -> subprocess.Popen[bytes]:
        """Start a helper process that the harness will kill at the end."""
        return self.registry.spawn(
            argv, env=env, cwd=self.workdir, log_path=self.workdir / f"{log_name}.log"
        )

    def subscriber_count(self) -> int:
        with contextlib.closing(redis.Redis.from_url(self.redis_url)) as c:
            return int(dict(c.pubsub_numsub(self.channel))[self.channel.encode()])

    def wait_for_subscribers(self, n: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.subscriber_count() < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {n} subscribers on {self.channel}")
            time.sleep(0.05)


@dataclass
class ScenarioResult:
    payloads: list[bytes]
    truth: dict[str, Any]
    driver_stats: dict[str, Any]
    workdir: Path


@dataclass
class ScenarioHooks:
    before_dispatch: Callable[[ScenarioEnv], None] | None = None
    at_quiescence: Callable[[ScenarioEnv, ScenarioResult], None] | None = None


@dataclass
class _Run:
    env: ScenarioEnv
    settings: ScenarioSettings
    journal_path: Path
    events_stream: str | None = None
    announce: Callable[[int], None] | None = None  # told each worker's pid (process group)
    dispatches: list[Dispatch] = field(default_factory=list)
    workers: dict[str, WorkerRun] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def asynctasq_env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCTASQ_")}
        env.update(
            {
                "ASYNCTASQ_DRIVER": "redis",
                "ASYNCTASQ_REDIS_URL": self.env.redis_url,
                "ASYNCTASQ_REDIS_DELAYED_TASK_INTERVAL": str(s.delayed_task_interval_s),
                "ASYNCTASQ_EVENTS_ENABLE_ALL": "true",
                "ASYNCTASQ_EVENTS_ENABLE_EVENT_EMITTER_REDIS": "true",
                "ASYNCTASQ_EVENTS_CHANNEL": s.channel,
                "ASYNCTASQ_TASK_DEFAULTS_RETRY_DELAY": str(s.retry_delay_s),
                "ASYNCTASQ_TASK_DEFAULTS_RETRY_STRATEGY": "fixed",
                "ASYNCTASQ_TASK_DEFAULTS_MAX_ATTEMPTS": str(s.max_attempts),
                "TASQLAKE_INTEROP_JOURNAL": str(self.journal_path),
                "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests")]),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.events_stream is not None:
            env[STREAM_ENV] = self.events_stream
        return env

    def journal(self) -> list[dict[str, Any]]:
        return read_journal(self.journal_path)

    def start_worker(self, role: str, queues: list[str], concurrency: int) -> WorkerRun:
        w = WorkerRun(role, f"worker-{uuid.uuid4().hex[:8]}", queues, concurrency)
        argv = [
            sys.executable,
            str(HERE / "worker_main.py"),
            "--queues",
            ",".join(queues),
            "--concurrency",
            str(concurrency),
            "--worker-id",
            w.worker_id,
            "--heartbeat",
            str(self.settings.heartbeat_s),
        ]
        w.spawned_at = time.time()
        proc = self.env.registry.spawn(
            argv,
            env=self.asynctasq_env(),
            cwd=self.env.workdir,
            log_path=self.env.workdir / f"worker-{role}.log",
        )
        w.pid = proc.pid
        if self.announce is not None:
            self.announce(proc.pid)
        self.workers[role], self.procs[role] = w, proc
        return w

    async def wait_started(self, roles: list[str], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            started = {
                r["worker_id"]: r["t"] for r in self.journal() if r["kind"] == "worker_start"
            }
            for role in roles:
                w = self.workers[role]
                w.started_at = started.get(w.worker_id)
                if self.procs[role].poll() is not None:
                    raise RuntimeError(f"worker {role} died at start; see {self.env.workdir}")
            if all(self.workers[r].started_at for r in roles):
                await asyncio.sleep(0.3)  # worker_online is emitted right after
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"workers {roles} did not start")
            await asyncio.sleep(0.05)

    def signal_worker(self, role: str, sig: signal.Signals) -> None:
        w = self.workers[role]
        w.in_flight_at_signal = in_flight(self.journal(), w.worker_id)
        w.stop_signal, w.signal_at = sig.name, time.time()
        ProcessRegistry.signal_group(self.procs[role], sig)
        if sig is signal.SIGKILL:
            self.procs[role].wait(5)
            w.exited_at = time.time()


@contextlib.asynccontextmanager
async def _client_config(
    settings: ScenarioSettings, redis_url: str, events_stream: str | None = None
) -> AsyncIterator[Any]:
    """Configure AsyncTasQ's process-global state for dispatching; restore it after (closing
    the event emitters it installed: their Redis connections would otherwise be left open).
    With ``events_stream``, a tasqlake ``RedisStreamEmitter`` writing that stream is registered
    next to the Pub/Sub emitter."""
    from asynctasq.config import Config
    from asynctasq.core.dispatcher import Dispatcher
    from asynctasq.drivers.redis_driver import RedisDriver
    from asynctasq.monitoring import EventEmitter, EventRegistry, RedisEventEmitter

    # EventRegistry._disabled exists from 1.5.0 (events off unless enable_all)
    saved = (
        Config._instance,
        set(EventRegistry._emitters),
        getattr(EventRegistry, "_disabled", None),
    )
    try:
        Config.set(
            driver="redis",
            redis={"url": redis_url},
            events={
                "enable_all": True,
                "enable_event_emitter_redis": True,
                "channel": settings.channel,
            },
            task_defaults={
                "max_attempts": settings.max_attempts,
                "retry_delay": settings.retry_delay_s,
                "retry_strategy": "fixed",
            },
        )
        emitters: list[EventEmitter] = [RedisEventEmitter(redis_url, settings.channel)]
        if events_stream is not None:
            from tasqlake.emitter import RedisStreamEmitter

            emitters.append(RedisStreamEmitter(redis_url, events_stream))
        EventRegistry._emitters = set(emitters)
        if saved[2] is not None:
            EventRegistry._disabled = False
        try:
            yield Dispatcher(RedisDriver(url=redis_url))
        finally:
            for emitter in emitters:
                await emitter.close()
    finally:
        Config._instance, EventRegistry._emitters = saved[0], saved[1]
        if saved[2] is not None:
            EventRegistry._disabled = saved[2]


async def _dispatch(
    run: _Run,
    dispatcher: Any,
    cls_name: str,
    queue: str,
    n: int,
    *,
    sleep_s: float = 0.02,
    fail_times: int = 0,
    delay_s: int = 0,
    max_attempts: int | None = None,
) -> None:
    from . import tasks_app

    cls = getattr(tasks_app, cls_name)
    for _ in range(n):
        task = cls(sleep_s=sleep_s, fail_times=fail_times).on_queue(queue)
        if max_attempts is not None:
            task = task.max_attempts(max_attempts)
        task_id = await dispatcher.dispatch(task, delay=delay_s or None)
        run.dispatches.append(
            Dispatch(
                task_id,
                cls_name,
                queue,
                delay_s,
                int(task.config["max_attempts"]),
                fail_times,
                sleep_s,
                time.time(),
            )
        )


def _quiet(run: _Run, client: redis.Redis) -> bool:
    """Live workers' queues drained (main, delayed, processing) and nobody mid-task."""
    live = [w for w in run.workers.values() if w.stop_signal is None]
    killed = {w.worker_id for w in run.workers.values() if w.stop_signal == "SIGKILL"}
    live_queues = {q for w in live for q in w.queues}
    for q in live_queues:
        if client.llen(f"queue:{q}") or client.zcard(f"queue:{q}:delayed"):
            return False
        if client.llen(f"queue:{q}:processing") and not any(
            w.stop_signal == "SIGKILL" and q in w.queues for w in run.workers.values()
        ):
            return False
    draining = [p for r, p in run.procs.items() if run.workers[r].stop_signal == "SIGTERM"]
    if any(p.poll() is None for p in draining):
        return False
    journal = run.journal()
    return not any(
        in_flight(journal, w.worker_id) for w in run.workers.values() if w.worker_id not in killed
    )


async def _scenario(run: _Run, dispatcher: Any) -> None:
    """The timeline. Queue sets: steady=emails,billing c4; graceful=reports c2;
    doomed=crunch c3 (SIGKILL); late=reports,emails c2 (started later)."""
    d = dispatcher
    run.start_worker("steady", ["emails", "billing"], 4)
    run.start_worker("graceful", ["reports"], 2)
    run.start_worker("doomed", ["crunch"], 3)
    await run.wait_started(["steady", "graceful", "doomed"])
    t0 = time.monotonic()

    async def at(offset: float) -> None:
        await asyncio.sleep(max(0.0, t0 + offset - time.monotonic()))

    await _dispatch(run, d, "CrunchNumbersTask", "crunch", 5, sleep_s=60.0)  # 3 run, 2 wait
    await _dispatch(run, d, "BuildReportTask", "reports", 8, sleep_s=2.5)
    await _dispatch(run, d, "SendEmailTask", "emails", 12, sleep_s=0.02)
    await _dispatch(run, d, "SendEmailTask", "emails", 3, sleep_s=0.3)
    await _dispatch(run, d, "ChargeCardTask", "billing", 3, sleep_s=0.05, fail_times=1)
    await _dispatch(run, d, "ChargeCardTask", "billing", 2, sleep_s=0.05, fail_times=2)
    await _dispatch(
        run, d, "ChargeCardTask", "billing", 1, sleep_s=0.05, fail_times=2, max_attempts=2
    )  # fails for good on attempt 2
    await _dispatch(run, d, "SyncLedgerTask", "billing", 3, sleep_s=0.05, fail_times=99)
    await _dispatch(
        run, d, "SyncLedgerTask", "billing", 1, sleep_s=0.05, fail_times=99, max_attempts=1
    )  # no retry at all
    await _dispatch(run, d, "SendEmailTask", "orphan", 4)
    await _dispatch(run, d, "SendEmailTask", "orphan", 2, delay_s=3)  # stays in the zset
    await at(1.0)
    await _dispatch(run, d, "SendEmailTask", "emails", 3, delay_s=2)
    await _dispatch(run, d, "BuildReportTask", "reports", 1, sleep_s=1.0, delay_s=2)
    await at(4.0)
    run.signal_worker("doomed", signal.SIGKILL)
    await at(6.0)
    run.signal_worker("graceful", signal.SIGTERM)
    await at(8.0)
    run.start_worker("late", ["reports", "emails"], 2)
    await run.wait_started(["late"])
    await _dispatch(run, d, "SendEmailTask", "emails", 10, sleep_s=0.02)
    await _dispatch(run, d, "BuildReportTask", "emails", 2, sleep_s=1.5)
    await _dispatch(run, d, "ChargeCardTask", "billing", 2, sleep_s=0.05, fail_times=1)


async def _read_driver(redis_url: str) -> dict[str, Any]:
    from asynctasq.drivers.redis_driver import RedisDriver
    from asynctasq.monitoring import MonitoringService

    driver = RedisDriver(url=redis_url)
    try:
        mon = MonitoringService(driver)
        per_queue = {q: asdict(await mon.get_queue_stats(q)) for q in QUEUES}
        all_stats = [asdict(s) for s in await mon.get_all_queue_stats()]
        global_stats = await mon.get_global_stats()
        workers = [
            asdict(w) | {"last_heartbeat": str(w.last_heartbeat)}
            for w in await mon.get_worker_stats()
        ]
    finally:
        await driver.disconnect()
    return {
        "get_queue_stats": per_queue,
        "get_all_queue_stats": all_stats,
        "get_global_stats": global_stats,
        "get_worker_stats": workers,
    }


async def _run_async(run: _Run) -> tuple[dict[str, Any], dict[str, Any]]:
    """The timeline, then quiescence and the driver's numbers: ``(truth, driver_stats)``."""
    s = run.settings
    client = redis.Redis.from_url(run.env.redis_url)
    try:
        async with _client_config(s, run.env.redis_url, run.events_stream) as dispatcher:
            started = time.time()
            await _scenario(run, dispatcher)
            deadline = time.monotonic() + s.quiesce_timeout_s
            while not _quiet(run, client):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"scenario never went quiet; logs in {run.env.workdir}")
                await asyncio.sleep(0.1)
            for role, proc in run.procs.items():  # the SIGTERMed worker has exited by now
                w = run.workers[role]
                if w.stop_signal == "SIGTERM":
                    w.exited_at = next(
                        (
                            r["t"]
                            for r in run.journal()
                            if r["kind"] == "worker_exit" and r["worker_id"] == w.worker_id
                        ),
                        None,
                    )
                    w.exit_code = proc.returncode
            await asyncio.sleep(2 * s.heartbeat_s + 0.3)  # let heartbeats report the idle state
            await dispatcher.driver.disconnect()
            snapshot_at = time.time()
            driver_stats = await _read_driver(run.env.redis_url)
            driver_stats["redis_contents"] = redis_contents(client, QUEUES)
            driver_stats["redis_keys"] = redis_keys(client)
            await asyncio.sleep(0.2)
        settings = asdict(s) | {"started_at": started, "asynctasq": _asynctasq_version()}
        truth = build_truth(
            run.dispatches, list(run.workers.values()), run.journal(), QUEUES, snapshot_at, settings
        )
        return truth, driver_stats
    finally:
        client.close()


def _asynctasq_version() -> str:
    from importlib.metadata import version

    return version("asynctasq")


def asynctasq_python(version: str | None) -> str:
    """The interpreter whose AsyncTasQ is ``version`` (``None``: the one installed here), built
    by ``scripts/asynctasq-env`` when missing (once; ~20 s)."""
    if version is None or version == INSTALLED_ASYNCTASQ:
        return sys.executable
    done = subprocess.run(
        [str(REPO_ROOT / "scripts" / "asynctasq-env"), version],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/asynctasq-env {version} failed:\n{done.stderr[-3000:]}")
    return str(REPO_ROOT / done.stdout.strip().splitlines()[-1])


class _Driver:
    """This process's side of the ``--drive`` child (see the module's docstring)."""

    def __init__(
        self, python: str, env: ScenarioEnv, settings: ScenarioSettings, events_stream: str | None
    ) -> None:
        spec = {
            "redis_url": env.redis_url,
            "port": env.port,
            "channel": env.channel,
            "workdir": str(env.workdir),
            "events_stream": events_stream,
            "settings": asdict(settings),
        }
        self.env = env
        self.log = env.workdir / "driver.log"
        child_env = dict(os.environ)
        child_env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests")])
        child_env["PYTHONUNBUFFERED"] = "1"
        self.proc = env.registry.spawn(
            [python, "-m", "tests.interop.scenario", "--drive", json.dumps(spec)],
            env=child_env,
            cwd=REPO_ROOT,
            log_path=self.log,
            piped=True,
        )

    def _fail(self, why: str) -> RuntimeError:
        tail = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
        return RuntimeError(f"the AsyncTasQ side of the scenario {why}; {self.log}:\n{tail}")

    def wait_quiet(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Adopt the workers the child reports; return its ``(truth, driver_stats)``."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + DRIVE_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise self._fail(f"did not go quiet within {DRIVE_TIMEOUT_S} s")
            line = self.proc.stdout.readline().decode()
            if not line:
                raise self._fail(f"exited with {self.proc.wait()} before going quiet")
            kind, _, body = line.partition(" ")
            if kind == "pid":
                self.env.registry.adopt(int(body))
            elif kind == "quiet":
                done = json.loads(body)
                return done["truth"], done["driver_stats"]

    def stop(self) -> None:
        """Tell the child to stop its live workers gracefully; wait for it."""
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            raise self._fail("did not stop its workers within 30 s") from None
        if code != 0:
            raise self._fail(f"exited with {code}")


def _drive(spec: dict[str, Any]) -> None:
    """The child: run the AsyncTasQ side, report (``pid``, ``quiet``) on the original stdout,
    wait for the parent's word (a line or end of file), stop the live workers gracefully."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever AsyncTasQ prints goes to the log, not into the protocol
    registry = ProcessRegistry()
    env = ScenarioEnv(
        spec["redis_url"], spec["port"], spec["channel"], Path(spec["workdir"]), registry
    )
    settings = ScenarioSettings(**spec["settings"])
    run = _Run(
        env,
        settings,
        env.workdir / "journal.jsonl",
        spec["events_stream"],
        announce=lambda pid: print(f"pid {pid}", file=out),
    )
    try:
        truth, driver_stats = asyncio.run(_run_async(run))
        print("quiet " + json.dumps({"truth": truth, "driver_stats": driver_stats}), file=out)
        sys.stdin.readline()
        for proc in run.procs.values():  # graceful end for the live workers
            if proc.poll() is None:
                registry.stop(proc, timeout=10)
    finally:
        registry.kill_all()


def run_scenario(
    hooks: ScenarioHooks | None = None,
    settings: ScenarioSettings | None = None,
    workdir: Path | None = None,
    events_stream: str | None = None,
    asynctasq: str | None = None,
) -> ScenarioResult:
    """Run the whole scenario; always tears every process down before returning.

    Worker/redis logs go to ``workdir`` (a temp dir, removed on success, if not given). With
    ``events_stream``, every AsyncTasQ process also writes its events to that Redis Stream
    (``tasqlake.emitter``), next to Pub/Sub. ``asynctasq``: the release whose workers, driver
    and dispatcher run (``None``: the installed one; else one of :data:`OLDER_ASYNCTASQ`).
    """
    hooks = hooks or ScenarioHooks()
    settings = settings or ScenarioSettings()
    python = asynctasq_python(asynctasq)
    own_tmp = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="tasqlake-interop-")) if own_tmp else workdir
    assert wd is not None
    registry = ProcessRegistry()
    capturer: RawCapturer | None = None
    try:
        url, port = start_private_redis(registry, wd)
        env = ScenarioEnv(url, port, settings.channel, wd, registry)
        capturer = RawCapturer(url, settings.channel)
        capturer.start()
        if hooks.before_dispatch:
            hooks.before_dispatch(env)
        driver = _Driver(python, env, settings, events_stream)
        truth, driver_stats = driver.wait_quiet()
        seen = capturer.fence()  # every event published before the child reported
        payloads = capturer.stop()[:seen]
        capturer = None
        result = ScenarioResult(payloads, truth, driver_stats, wd)
        if hooks.at_quiescence:
            hooks.at_quiescence(env, result)
        driver.stop()
        registry.kill_all()
        if own_tmp:  # keep the logs only when something failed
            shutil.rmtree(wd, ignore_errors=True)
        return result
    finally:
        if capturer is not None:
            with contextlib.suppress(Exception):
                capturer.stop()
        registry.kill_all()


def save(result: ScenarioResult, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_stream(out / "stream.msgpack", result.payloads)
    (out / "driver_stats.json").write_text(json.dumps(result.driver_stats, indent=1) + "\n")
    (out / "truth.json").write_text(json.dumps(result.truth, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--asynctasq", help="release to run (default: the installed one)")
    parser.add_argument("--drive", help=argparse.SUPPRESS)  # the child (see the docstring)
    args = parser.parse_args()
    if args.drive is not None:
        _drive(json.loads(args.drive))
        return
    if args.out is None:
        parser.error("--out is required")
    result = run_scenario(asynctasq=args.asynctasq)
    save(result, args.out)
    print(f"{len(result.payloads)} events -> {args.out}")
    print(json.dumps(result.driver_stats["get_global_stats"]))


if __name__ == "__main__":
    main()
