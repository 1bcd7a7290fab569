"""RedisStreamEmitter on a real Redis: the bytes it appends are AsyncTasQ's Pub/Sub bytes, the
stream is bounded, settings come from the environment with errors naming the variable, a Redis
that is down costs counted, logged, never raised failures, and the next emit reconnects."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys

import pytest
import redis
from asynctasq.config import Config
from asynctasq.monitoring import RedisEventEmitter

from tasqlake.emitter import (
    MAX_CONNECTIONS,
    Event,
    RedisStreamEmitter,
    _packb_event,
    pubsub_serializer,
)
from tasqlake.local_redis import free_port, private_redis
from tasqlake.schemas.constants import DEFAULT_STREAM, DEFAULT_STREAM_MAXLEN, STREAM_PAYLOAD_FIELD
from tasqlake.schemas.errors import ConfigError
from tests.emitter.events import decoded, sample_events
from tests.interop.capture import RawCapturer


def stream_payloads(url: str, stream: str) -> list[bytes]:
    """The payload field of every entry of ``stream``, oldest first (no entry has another)."""
    with redis.Redis.from_url(url) as client:
        entries = client.xrange(stream)
    field = STREAM_PAYLOAD_FIELD.encode()
    assert all(set(fields) == {field} for _, fields in entries)
    return [fields[field] for _, fields in entries]


def emit_through_both(
    redis_url: str, key: str, events: list[Event], *, at_once: bool = False
) -> tuple[RedisStreamEmitter, list[bytes]]:
    """``events`` through AsyncTasQ's Pub/Sub emitter (channel ``key``) and the stream emitter
    (stream ``key``): each event through both in turn, or ``at_once`` every Pub/Sub emit
    concurrently, then every stream emit. Returns the stream emitter and what the channel
    carried."""
    capturer = RawCapturer(redis_url, key)
    capturer.start()

    async def emit_all() -> RedisStreamEmitter:
        pubsub = RedisEventEmitter(redis_url, key)
        stream = RedisStreamEmitter(redis_url, stream=key)
        try:
            if at_once:
                await asyncio.gather(*(pubsub.emit(e) for e in events))
                await asyncio.gather(*(stream.emit(e) for e in events))
            else:
                for event in events:
                    await pubsub.emit(event)
                    await stream.emit(event)
        finally:
            await pubsub.close()
            await stream.close()
        return stream

    try:
        stream = asyncio.run(emit_all())
        published = capturer.fence()
    finally:
        payloads = capturer.stop()
    return stream, payloads[:published]


def test_the_stream_holds_the_bytes_the_pubsub_emitter_publishes(redis_url: str) -> None:
    """Same events through both emitters: each stream entry is, byte for byte, the message
    AsyncTasQ's own RedisEventEmitter published, in the same order."""
    events = sample_events()
    stream, published = emit_through_both(redis_url, "bytes-test", events)
    assert (stream.emitted, stream.failures) == (len(events), 0)
    assert stream_payloads(redis_url, "bytes-test") == published
    assert [decoded(p)["event_type"] for p in published] == [e.event_type.value for e in events]


def test_the_fallback_encoder_gives_the_same_bytes() -> None:
    """The dict-and-packb path (for a version without ``_serialize_event``) encodes like the
    installed version's own method; the emitter uses the latter, bound to a bare instance."""
    serialize = pubsub_serializer()
    assert getattr(serialize, "__func__", None) is RedisEventEmitter._serialize_event
    for event in sample_events():
        assert _packb_event(event) == serialize(event), event.event_type


def test_xadd_trims_the_stream_to_about_maxlen(redis_url: str) -> None:
    """MAXLEN ~: the stream stays near ``maxlen`` (Redis trims whole nodes of at most 100
    entries), and the newest entries are the ones kept."""
    events = sample_events() * 60

    async def emit_all() -> None:
        stream = RedisStreamEmitter(redis_url, stream="trim-test", maxlen=50)
        try:
            for event in events:
                await stream.emit(event)
        finally:
            await stream.close()

    asyncio.run(emit_all())
    kept = stream_payloads(redis_url, "trim-test")
    assert 50 <= len(kept) <= 50 + 100 < len(events)
    serialize = pubsub_serializer()
    assert kept[-1] == serialize(events[-1])


def test_settings_come_from_asynctasq_and_tasqlake_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Defaults; TASQLAKE_EVENTS_STREAM(_MAXLEN); the URL as AsyncTasQ's Pub/Sub emitter picks
    it (events URL, then queue URL, then localhost), looked up when connecting, so config set
    after construction (the CLI's flags) counts; explicit arguments win."""
    plain = RedisStreamEmitter()
    assert (plain.stream, plain.maxlen) == (DEFAULT_STREAM, DEFAULT_STREAM_MAXLEN)
    assert plain.redis_url == RedisEventEmitter().redis_url == "redis://localhost:6379"

    monkeypatch.setenv("TASQLAKE_EVENTS_STREAM", "events:stream")
    monkeypatch.setenv("TASQLAKE_EVENTS_STREAM_MAXLEN", "5000")
    monkeypatch.setenv("ASYNCTASQ_REDIS_URL", "redis://queue-host:6379/1")
    Config._instance = None
    emitter = RedisStreamEmitter()
    assert (emitter.stream, emitter.maxlen) == ("events:stream", 5000)
    assert emitter.redis_url == RedisEventEmitter().redis_url == "redis://queue-host:6379/1"

    monkeypatch.setenv("ASYNCTASQ_EVENTS_REDIS_URL", "redis://events-host:6380/2")
    Config._instance = None
    assert emitter.redis_url == RedisEventEmitter().redis_url == "redis://events-host:6380/2"

    Config.set(events={"redis_url": "rediss://later:6390"})  # e.g. --events-redis-url
    assert emitter.redis_url == RedisEventEmitter().redis_url == "rediss://later:6390"

    explicit = RedisStreamEmitter("redis://mine:1", stream="s", maxlen=7)
    assert (explicit.redis_url, explicit.stream, explicit.maxlen) == ("redis://mine:1", "s", 7)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TASQLAKE_EVENTS_STREAM_MAXLEN", "lots", "TASQLAKE_EVENTS_STREAM_MAXLEN must be a whole"),
        ("TASQLAKE_EVENTS_STREAM_MAXLEN", "0", "TASQLAKE_EVENTS_STREAM_MAXLEN must be greater"),
        ("TASQLAKE_EVENTS_STREAM", " ", "TASQLAKE_EVENTS_STREAM must name a Redis key"),
        ("ASYNCTASQ_REDIS_URL", "localhost:6379", "ASYNCTASQ_REDIS_URL must be a redis://"),
        ("ASYNCTASQ_EVENTS_REDIS_URL", "redis://h:port", "ASYNCTASQ_EVENTS_REDIS_URL has an"),
    ],
)
def test_a_bad_setting_fails_at_construction_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        RedisStreamEmitter()


def test_a_bad_argument_fails_naming_it() -> None:
    with pytest.raises(ConfigError, match="maxlen must be greater than 0"):
        RedisStreamEmitter(maxlen=-1)
    with pytest.raises(ConfigError, match=r"redis_url must be a redis://.*'http://u:\*\*\*@h'"):
        RedisStreamEmitter("http://u:secret@h")


def test_a_down_redis_is_counted_and_logged_then_the_emitter_reconnects(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis not listening: emits return normally, ``failures`` counts each, one warning for
    the outage (rate-limited) naming the stream, the URL and the count. Then Redis starts on
    that very port: the next emit builds a new connection and writes, and the recovery is
    logged; a second outage warns again at once."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}"
    events = sample_events()
    emitter = RedisStreamEmitter(url, stream="outage-test")
    caplog.set_level(logging.INFO, logger="tasqlake.emitter")

    async def emit(batch: list[object]) -> None:
        for event in batch:
            await emitter.emit(event)  # type: ignore[arg-type]

    asyncio.run(emit(events[:3]))
    assert (emitter.emitted, emitter.failures) == (0, 3)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "later failures within 10 s are not logged again"
    message = warnings[0].getMessage()
    assert "'outage-test'" in message and url in message and "1 in all" in message
    assert "ConnectionError" in message

    caplog.clear()
    with private_redis(port=port):

        async def recover() -> None:
            await emit(events[3:])
            await emitter.close()

        asyncio.run(recover())
        assert (emitter.emitted, emitter.failures) == (len(events) - 3, 3)
        assert stream_payloads(url, "outage-test") == [pubsub_serializer()(e) for e in events[3:]]
    assert any("again (3 lost in all)" in r.getMessage() for r in caplog.records)

    caplog.clear()
    asyncio.run(emit(events[:1]))  # Redis gone again: a new outage is reported at once
    assert emitter.failures == 4
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_a_closed_emitter_reopens_on_the_next_emit(redis_url: str) -> None:
    """AsyncTasQ closes every registered emitter when a worker stops or a dispatcher is
    cleaned up; an emitter that stays installed must keep working after that."""
    event = sample_events()[0]

    async def run() -> RedisStreamEmitter:
        emitter = RedisStreamEmitter(redis_url, stream="reopen-test")
        await emitter.emit(event)
        await emitter.close()
        await emitter.close()  # twice is fine
        await emitter.emit(event)
        await emitter.close()
        return emitter

    assert asyncio.run(run()).emitted == 2
    assert len(stream_payloads(redis_url, "reopen-test")) == 2


def test_close_lets_the_writes_in_flight_finish(redis_url: str) -> None:
    """From 1.5.0 a worker sends task events fire-and-forget (``EventRegistry.emit_nowait``:
    one background task per event) and closes every emitter when it stops; an XADD still
    waiting for its reply then must not be cut off by ``close()`` (seen in CI: a graceful
    worker's last ``task_completed`` failed with 'Connection closed by server'). The 200
    concurrent emits are also more than one pool's connections: the rest wait for one."""
    events = sample_events() * 20
    assert len(events) > MAX_CONNECTIONS

    async def run() -> RedisStreamEmitter:
        emitter = RedisStreamEmitter(redis_url, stream="close-race-test")
        await emitter.emit(events[0])  # connected, as a running worker's emitter is
        pending = [asyncio.create_task(emitter.emit(e)) for e in events]
        await asyncio.sleep(0)  # each task has sent its XADD and waits for the reply
        assert emitter._in_flight == len(events), "the race this test is about is set up"
        await emitter.close()
        await asyncio.gather(*pending)
        return emitter

    emitter = asyncio.run(run())
    assert (emitter.emitted, emitter.failures) == (len(events) + 1, 0)
    assert len(stream_payloads(redis_url, "close-race-test")) == len(events) + 1


def test_a_burst_larger_than_the_pool_reaches_the_stream_whole(redis_url: str) -> None:
    """More emits at once than one pool has connections: the stream emitter's wait for a free
    one, AsyncTasQ's own Pub/Sub emitter (redis-py's default pool) fails the rest with 'Too many
    connections' (the README's numbers come from this test)."""
    events = sample_events() * 30
    stream, published = emit_through_both(redis_url, "burst-test", events, at_once=True)
    assert (stream.emitted, stream.failures) == (len(events), 0)
    assert len(stream_payloads(redis_url, "burst-test")) == len(events)
    assert len(published) < len(events), "AsyncTasQ's Pub/Sub emitter loses the excess"


def test_importing_the_emitter_loads_nothing_heavy() -> None:
    """The emitter runs inside every worker and application: importing it must not pull in the
    analytics stack (pyarrow, duckdb, polars) nor tasqlake's lake, ingest or queries."""
    heavy = ["pyarrow", "duckdb", "polars", "tasqlake.lake", "tasqlake.ingest", "tasqlake.queries"]
    code = (
        f"import sys, tasqlake.emitter\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
