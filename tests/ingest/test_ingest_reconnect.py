"""Reconnecting: a real Redis restart, and a proxy that silently swallows traffic (half-open)."""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tasqlake.local_redis import find_redis_server, server_command
from tests.ingest.helpers import (
    Ingester,
    count_events,
    publish,
    query,
    simulated_payloads,
    wait_until,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test only, restartable on the same port."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            server_command(
                find_redis_server() or "redis-server", ["--port", str(self.port)], self.dir
            ),
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        wait_until(lambda: _pings(client), 10, "private redis-server")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.kill()


class SilentProxy:
    """Forwards TCP to Redis; :meth:`go_silent` makes current connections drop everything."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.silent: set[int] = set()
        self.connections: list[int] = []
        self.closed = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def go_silent(self) -> None:
        self.silent.update(self.connections)

    def close(self) -> None:
        """Stop accepting and close every connection (each pump sees it within 0.2 s)."""
        self.closed.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        for thread in self.threads:
            thread.join(5)
        self.listener.close()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            ident = len(self.connections)
            self.connections.append(ident)
            pump = threading.Thread(target=self._pump, args=(ident, client, upstream), daemon=True)
            self.threads.append(pump)
            pump.start()

    def _pump(self, ident: int, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        with a, b, contextlib.suppress(OSError):  # a peer reset ends the pump like EOF
            while not self.closed.is_set():
                ready, _, _ = select.select(list(peers), [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if ident not in self.silent:
                        peers[sock].sendall(data)


@pytest.fixture
def silent_proxy(private_redis: PrivateRedis) -> Iterator[SilentProxy]:
    proxy = SilentProxy(private_redis.port)
    yield proxy
    proxy.close()


def test_a_redis_restart_is_survived_and_recorded_as_a_gap(
    private_redis: PrivateRedis, channel: str, lake: Path, ingesters: list[Ingester]
) -> None:
    client = redis.Redis(port=private_redis.port)
    before, after = simulated_payloads(seed=51, duration=1), simulated_payloads(seed=52, duration=1)
    ingester = Ingester(lake, channel, "--flush-interval", "0.2", "--health-check-interval", "0.5")
    ingester.args[ingester.args.index("--redis-url") + 1] = private_redis.url
    ingesters.append(ingester.start())
    publish(client, channel, before)
    wait_until(lambda: ingester.received() >= len(before), 20, "events before the restart")
    private_redis.kill()
    private_redis.start()
    wait_until(lambda: client.pubsub_numsub(channel)[0][1] == 1, 30, "resubscription")
    publish(client, channel, after)
    wait_until(lambda: ingester.received() >= len(before) + len(after), 20, "events after")
    assert ingester.stop() == 0
    assert count_events(lake) == len(before) + len(after)
    gaps = query(f"SELECT reason, gap_start < gap_end FROM read_parquet('{lake}/gaps/*/*/*')")
    assert ("start-up", True) in gaps
    assert any(reason.startswith("disconnected") and ordered for reason, ordered in gaps)
    assert ingester.log().count("subscription lost") == 1  # each state change logged once


def test_a_half_open_connection_is_detected_within_two_health_check_intervals(
    private_redis: PrivateRedis,
    silent_proxy: SilentProxy,
    channel: str,
    lake: Path,
    ingesters: list[Ingester],
) -> None:
    proxy = silent_proxy
    client = redis.Redis(port=private_redis.port)
    interval = 0.5
    ingester = Ingester(
        lake, channel, "--flush-interval", "0.2", "--health-check-interval", str(interval)
    )
    ingester.args[ingester.args.index("--redis-url") + 1] = f"redis://127.0.0.1:{proxy.port}"
    ingesters.append(ingester.start())
    silenced = time.monotonic()
    proxy.go_silent()
    wait_until(lambda: "no reply to health check" in ingester.log(), 5, "half-open detected")
    detected = time.monotonic() - silenced
    assert detected <= 2 * interval + 0.5  # + polling and process scheduling slack
    wait_until(lambda: "reconnected" in ingester.log(), 10, "reconnection")
    payloads = simulated_payloads(seed=53, duration=1)
    wait_until(lambda: client.pubsub_numsub(channel)[0][1] >= 1, 10, "resubscription")
    publish(client, channel, payloads)
    wait_until(lambda: ingester.received() >= len(payloads), 20, "events after reconnecting")
    assert ingester.stop() == 0
    assert count_events(lake) == len(payloads)
    reasons = {r for (r,) in query(f"SELECT reason FROM read_parquet('{lake}/gaps/*/*/*')")}
    assert reasons == {"start-up", "no reply to health check"}


def test_a_redis_restart_that_lost_the_stream_is_recorded_as_a_gap_of_the_group(
    private_redis: PrivateRedis, lake: Path, ingesters: list[Ingester]
) -> None:
    """The stream ingester reconnects to a Redis that came back without its data (no
    persistence; a failover to a replica that lacked it): the group is gone, so entries added
    after the last one it was given may be lost. Creating the group again on reconnect is a
    recreated stream, recorded as the group's gap from that last entry, not a start-up."""
    from tests.ingest.test_stream_ingest import StreamIngester, add, gaps_of

    client = redis.Redis(port=private_redis.port)
    stream = "tasqlake-test:restarted-stream"
    before, after = simulated_payloads(seed=53, duration=1), simulated_payloads(seed=54, duration=1)
    ingester = StreamIngester(lake, stream, "--flush-interval", "0.2")
    ingester.args[ingester.args.index("--redis-url") + 1] = private_redis.url
    ingesters.append(ingester.start())
    add(client, stream, before)
    wait_until(lambda: ingester.received() >= len(before), 20, "entries before the restart")
    private_redis.kill()
    private_redis.start()  # RDB and AOF off: the stream and its group are gone
    wait_until(lambda: ingester.log().count("reading ") >= 2, 30, "the reconnection")
    add(client, stream, after)
    wait_until(lambda: ingester.received() >= len(before) + len(after), 20, "entries after")
    assert ingester.stop() == 0
    assert count_events(lake) == len(before) + len(after)
    source = f"{stream}@tasqlake"
    gaps = gaps_of(lake)
    assert (source, "stream deleted or recreated", None) in gaps, gaps
    assert [g[1] for g in gaps].count("start-up") == 1, "the reconnection is not a start-up"
    windows = query(
        f"SELECT gap_start < gap_end FROM read_parquet('{lake}/gaps/*/*/*') "
        "WHERE reason = 'stream deleted or recreated'"
    )
    assert windows == [(True,)], "from the last entry it was given to the reconnection"
