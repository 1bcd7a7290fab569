"""Sending: PUBLISH to the real Redis (received by a subscriber), msgpack-stream files, CLI."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from tasqlake.cli import main
from tasqlake.schemas.errors import BrokerError
from tasqlake.schemas.streams import iter_msgpack_stream
from tasqlake.simulator import SimulationSpec, iter_events
from tasqlake.simulator.publish import publish_to_redis, write_stream
from tests.redis_needed import no_redis

REDIS_URL = "redis://127.0.0.1:6379"


@pytest.fixture(scope="module")
def client() -> Any:
    c = redis.Redis.from_url(REDIS_URL)
    try:
        c.ping()
    except redis.RedisError as error:
        no_redis(f"no Redis at {REDIS_URL}: {error}")
    yield c
    c.close()


class Subscriber:
    """Collects every message of a fresh, unique channel in a background thread."""

    def __init__(self, client: redis.Redis) -> None:
        self.channel = f"tasqlake-test-sim-{uuid.uuid4().hex}"
        self.pubsub = client.pubsub()
        self.pubsub.subscribe(self.channel)
        assert self.pubsub.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
        self.messages: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self.pubsub.get_message(timeout=0.2)
            if message and message["type"] == "message":
                self.messages.append(message["data"])

    def wait_for(self, n: int, timeout: float = 20) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # anything extra would arrive now
        self._stop.set()
        self._thread.join()
        self.pubsub.close()
        return self.messages


def test_fast_publish_delivers_every_payload_unchanged(client: Any) -> None:
    spec = SimulationSpec(seed=21, rate=2000, duration=5)
    expected = [p for _, p in iter_events(spec)]
    sub = Subscriber(client)
    result = publish_to_redis(spec, REDIS_URL, sub.channel, realtime=False)
    assert result.events == len(expected) and result.bytes == sum(map(len, expected))
    assert sub.wait_for(len(expected)) == expected


def test_realtime_publish_is_paced_and_stamped_now(client: Any) -> None:
    spec = SimulationSpec(seed=22, rate=300, duration=2)
    sub = Subscriber(client)
    before = datetime.now(UTC)
    result = publish_to_redis(spec, REDIS_URL, sub.channel, realtime=True)
    received = sub.wait_for(result.events)
    assert len(received) == result.events > 100
    assert result.seconds >= 1.8  # paced to the 2 s emit schedule, not sent at once
    stamps = [datetime.fromisoformat(msgspec.msgpack.decode(p)["timestamp"]) for p in received]
    assert before - timedelta(seconds=1) < min(stamps) < before + timedelta(seconds=2)
    # Same model, only the clock rebased: same events apart from the timestamps.
    plain = [msgspec.msgpack.decode(p) for _, p in iter_events(spec)]
    rebased = [msgspec.msgpack.decode(p) for p in received]
    assert [{**e, "timestamp": None} for e in rebased] == [{**e, "timestamp": None} for e in plain]


def test_unreachable_redis_is_a_broker_error_with_masked_url() -> None:
    with pytest.raises(BrokerError) as caught:
        publish_to_redis(
            SimulationSpec(duration=1), "redis://app:s3cret@127.0.0.1:1", "x", realtime=False
        )
    message = str(caught.value)
    assert "redis://app:***@127.0.0.1:1" in message and "s3cret" not in message
    assert "--redis-url" in message


def test_write_stream_round_trips(tmp_path: Path) -> None:
    spec = SimulationSpec(seed=23, rate=1000, duration=5)
    path = tmp_path / "events.bin"
    result = write_stream(spec, path)
    with path.open("rb") as f:
        assert list(iter_msgpack_stream(f)) == [p for _, p in iter_events(spec)]
    assert result.events > 1000


def test_cli_out_file_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--rate", "800", "--duration", "4", "--seed", "9"]
    assert main([*args, "--out", str(tmp_path / "a.bin")], environ={}) == 0
    summary = capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "b.bin")], environ={}) == 0
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
    with (tmp_path / "a.bin").open("rb") as f:
        payloads = list(iter_msgpack_stream(f))
    spec = SimulationSpec(seed=9, rate=800, duration=4)
    assert payloads == [p for _, p in iter_events(spec)]
    assert summary.count("\n") == 1 and f"{len(payloads)} events" in summary
    assert "events/s" in summary


def test_cli_publishes_to_redis(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    sub = Subscriber(client)
    start = "2026-11-02T09:00:00+00:00"
    code = main(
        [
            "simulate",
            "--channel",
            sub.channel,
            "--rate",
            "500",
            "--duration",
            "3",
            "--seed",
            "4",
            "--start",
            start,
            "--fast",
        ],
        environ={"TASQLAKE_REDIS_URL": REDIS_URL},
    )
    assert code == 0
    spec = SimulationSpec(seed=4, rate=500, duration=3, start=datetime.fromisoformat(start))
    expected = [p for _, p in iter_events(spec)]
    assert sub.wait_for(len(expected)) == expected
    assert sub.channel in capsys.readouterr().err


def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["simulate", "--redis-url", "redis://u:pw@127.0.0.1:1", "--duration", "1"], environ={}
    )
    err = capsys.readouterr().err
    assert code == BrokerError.exit_code
    assert err.count("\n") == 1 and "redis://u:***@127.0.0.1:1" in err and "pw@" not in err
    with pytest.raises(SystemExit) as exited:
        main(["simulate", "--rate", "0"], environ={})
    assert exited.value.code == 2
    assert "--rate" in capsys.readouterr().err
