"""The real ``tasqlake ingest`` in a live interop run: how the CLI is started
(``tasqlake_argv``, ``cli_env``), the hooks that start it before dispatch and stop it at
quiescence (``IngestHooks``), and what the run leaves for the tests (``LiveRun``). The session
fixture ``live_run`` (conftest.py) runs it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .procs import ProcessRegistry, left_behind
from .scenario import (
    INSTALLED_ASYNCTASQ,
    OLDER_ASYNCTASQ,
    ScenarioEnv,
    ScenarioHooks,
    ScenarioResult,
    run_scenario,
)

INGEST_FLUSH_S = 0.2
INGEST_STOP_TIMEOUT_S = 30.0


def tasqlake_argv() -> list[str]:
    """The installed CLI, as a user runs it (console script of this venv, else ``-m``)."""
    script = Path(sys.executable).with_name("tasqlake")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tasqlake"]


def cli_env() -> dict[str, str]:
    """The user's environment without TASQLAKE_* settings: flags alone configure the CLI."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TASQLAKE_")}


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``tasqlake ARGS`` as a user runs it (:func:`tasqlake_argv`, :func:`cli_env`); asserts it
    exits 0 and returns it (stdout, stderr as text)."""
    done = subprocess.run(
        [*tasqlake_argv(), *args],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


@dataclass
class LiveRun:
    release: str  # the AsyncTasQ release whose workers, driver and dispatcher ran
    result: ScenarioResult
    lake: Path
    ingest_exit_code: int | None
    ingest_log: Path
    ingest_started_at: float
    ingest_stopped_s: float  # SIGTERM -> exit
    seconds: float  # the whole run, teardown included
    process_groups: list[int] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)


class IngestHooks:
    """``tasqlake ingest`` as a subprocess: started before dispatch, SIGTERMed at quiescence."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.lake: Path | None = None
        self.log: Path | None = None
        self.started_at = 0.0
        self.exit_code: int | None = None
        self.stop_s = 0.0
        self.process_groups: list[int] = []

    def before_dispatch(self, env: ScenarioEnv) -> None:
        self.lake, self.log = env.workdir / "lake", env.workdir / "ingest.log"
        argv = [
            *tasqlake_argv(),
            "ingest",
            "--redis-url",
            env.redis_url,
            "--channel",
            env.channel,
            "--lake",
            str(self.lake),
            "--flush-interval",
            str(INGEST_FLUSH_S),
            "--status-interval",
            "60",
        ]
        self.started_at = time.time()
        self.proc = env.spawn(argv, env=cli_env(), log_name="ingest")
        self.process_groups = env.registry.pids()
        deadline = time.monotonic() + 20
        while env.subscriber_count() < 2:  # the harness's raw capturer + the ingester
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"tasqlake ingest exited with {self.proc.returncode} before subscribing:\n"
                    + self.log.read_text()[-2000:]
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"tasqlake ingest did not subscribe; see {self.log}")
            time.sleep(0.05)

    def at_quiescence(self, env: ScenarioEnv, result: ScenarioResult) -> None:
        assert self.proc is not None
        self.process_groups = env.registry.pids()  # redis, ingester, every worker
        t = time.monotonic()
        ProcessRegistry.signal_group(self.proc, signal.SIGTERM)
        try:
            self.exit_code = self.proc.wait(INGEST_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.exit_code = None  # killed by the harness's teardown; the test fails on it
        self.stop_s = time.monotonic() - t

    def hooks(self) -> ScenarioHooks:
        return ScenarioHooks(self.before_dispatch, self.at_quiescence)


#: Newest first: a run with ``-x`` meets the installed release's failures first.
ASYNCTASQ_RELEASES = (INSTALLED_ASYNCTASQ, *OLDER_ASYNCTASQ)


class LiveRuns:
    """The live runs made so far in this session, by release."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._runs: dict[str, LiveRun] = {}

    def get(self, release: str) -> LiveRun:
        if release not in self._runs:
            self._runs[release] = self._run(release)
        return self._runs[release]

    def _run(self, release: str) -> LiveRun:
        workdir = self._factory.mktemp(f"interop-live-{release}")
        ingest = IngestHooks()
        started = time.monotonic()
        try:
            result = run_scenario(hooks=ingest.hooks(), workdir=workdir, asynctasq=release)
        finally:
            leftovers = left_behind(ingest.process_groups)
        assert ingest.lake is not None and ingest.log is not None
        return LiveRun(
            release=release,
            result=result,
            lake=ingest.lake,
            ingest_exit_code=ingest.exit_code,
            ingest_log=ingest.log,
            ingest_started_at=ingest.started_at,
            ingest_stopped_s=ingest.stop_s,
            seconds=time.monotonic() - started,
            process_groups=ingest.process_groups,
            leftovers=leftovers,
        )
