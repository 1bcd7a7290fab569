"""Helpers for the operations tests: private redis-servers (auth, TLS, restarts), the ingest CLI
as a subprocess, scraping its metrics and health endpoints."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tasqlake.local_redis import find_redis_server, free_port, server_command
from tests.cli.helpers import clean_env as clean_env  # the same clean environment as the CLI tests
from tests.ingest.helpers import wait_until

TASQLAKE = str(Path(sys.executable).with_name("tasqlake"))
ADMIN_PASSWORD = "admin-pw-for-tests"


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class RedisServer:
    """A redis-server of one test, on a fixed port, stoppable and restartable."""

    def __init__(self, workdir: Path, extra_args: Sequence[str] = (), tls: bool = False) -> None:
        binary = find_redis_server()
        assert binary is not None, "redis-server is needed for these tests"
        self.binary = binary
        self.port = free_port()
        self.workdir = workdir
        self.extra_args = list(extra_args)
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        ports = (
            ["--port", "0", "--tls-port", str(self.port)]
            if self.tls
            else ["--port", str(self.port)]
        )
        self.process = subprocess.Popen(
            server_command(self.binary, ports, self.workdir, self.extra_args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: self._up(), 10, f"redis-server on port {self.port}")
        return self

    def _up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"redis-server exited with {self.process.returncode}")
        return _port_open(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


class IngestProcess:
    """``tasqlake ingest`` as a subprocess; stderr is kept in a file."""

    def __init__(self, args: Sequence[str], env: dict[str, str], workdir: Path) -> None:
        self.args = [TASQLAKE, "ingest", *args]
        self.env = env
        self.log_path = workdir / f"ingest-{uuid.uuid4().hex[:6]}.log"
        self.out_path = self.log_path.with_suffix(".out")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait_for: str | None = "subscribed to") -> IngestProcess:
        with open(self.log_path, "ab") as err, open(self.out_path, "ab") as out:
            self.process = subprocess.Popen(self.args, stdout=out, stderr=err, env=self.env)
        if wait_for is not None:
            wait_until(lambda: self._alive_and(wait_for), 30, f"{wait_for!r} in the ingest log")
        return self

    def _alive_and(self, text: str) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"ingest exited with {self.process.returncode}:\n{self.log()}")
        return text in self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def output(self) -> str:
        return self.out_path.read_text(errors="replace") if self.out_path.exists() else ""

    def stop(self, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(port: int) -> dict[str, float]:
    """Every sample of /metrics as ``name{label="v",...}`` -> value."""
    status, text = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def healthz(port: int) -> tuple[int, dict[str, object]]:
    status, text = http_get(f"http://127.0.0.1:{port}/healthz")
    return status, json.loads(text)
