"""install(): the stream emitter stays registered through every ``EventRegistry.init()``
(which AsyncTasQ's ``get_dispatcher()``, ``asynctasq.init()`` and worker command call, and
which clears application emitters), only while events are switched on, idempotently; and a
real dispatch through AsyncTasQ's own path lands in the stream with the Pub/Sub bytes."""

from __future__ import annotations

import asyncio
import logging

import pytest
from asynctasq.config import Config
from asynctasq.core.dispatcher import cleanup
from asynctasq.monitoring import EventRegistry, EventType, RedisEventEmitter, TaskEvent

from tasqlake import emitter as emitter_module
from tasqlake.emitter import RedisStreamEmitter, install, main, pubsub_serializer, uninstall
from tests.emitter.events import decoded
from tests.emitter.test_emitter import stream_payloads
from tests.interop.capture import RawCapturer
from tests.interop.tasks_app import SendEmailTask


def events_on(redis_url: str | None = None, *, pubsub: bool = False) -> None:
    """AsyncTasQ configured as by ASYNCTASQ_EVENTS_ENABLE_ALL=true (1.5.0 and later)."""
    events = {"enable_all": True, "enable_event_emitter_redis": pubsub}
    if redis_url is None:
        Config.set(events=events)
    else:
        Config.set(driver="redis", redis={"url": redis_url}, events=events)


def test_the_installed_emitter_survives_registry_init(redis_url: str) -> None:
    """Installed, then ``EventRegistry.init()`` (twice): still registered, next to AsyncTasQ's
    own emitters; an event sent through ``EventRegistry.emit`` is in the stream."""
    events_on()
    emitter = install(RedisStreamEmitter(redis_url, stream="survive-test"))
    assert emitter in EventRegistry.get_all()
    EventRegistry.init()
    EventRegistry.init()
    assert emitter in EventRegistry.get_all()
    assert len(EventRegistry.get_all()) == 2  # AsyncTasQ's logging emitter and ours

    event = TaskEvent(EventType.TASK_STARTED, "t-1", "SendEmailTask", "emails", "worker-1")

    async def send() -> None:
        await EventRegistry.emit(event)
        await EventRegistry.close_all()

    asyncio.run(send())
    assert stream_payloads(redis_url, "survive-test") == [pubsub_serializer()(event)]
    assert emitter.emitted == 1


def test_install_is_idempotent() -> None:
    """Installing again neither wraps ``init`` twice nor registers a second emitter; without an
    argument it returns the emitter installed before."""
    events_on()
    first = install()
    wrapped = EventRegistry.init
    assert install() is first
    assert install(first) is first
    assert EventRegistry.init is wrapped
    assert not getattr(getattr(wrapped, "__wrapped__", None), "__tasqlake_wrapped__", False)
    EventRegistry.init()
    assert [e for e in EventRegistry.get_all() if isinstance(e, RedisStreamEmitter)] == [first]


def test_no_emitter_is_added_while_events_are_switched_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without ASYNCTASQ_EVENTS_ENABLE_ALL (1.5.0 and later) AsyncTasQ's ``init`` disables the
    registry: the emitter is not added back (it would get nothing) and one warning says
    what to set."""
    Config.set(events={"enable_all": False})
    install()
    EventRegistry.init()
    EventRegistry.init()
    assert EventRegistry._disabled and not EventRegistry.get_all()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "ASYNCTASQ_EVENTS_ENABLE_ALL=true" in warnings[0]

    events_on()  # switched on later: the next init adds it again
    EventRegistry.init()
    assert emitter_module._installed[0] in EventRegistry.get_all()


def test_uninstall_restores_registry_init() -> None:
    original = EventRegistry.init
    events_on()
    emitter = install()
    assert EventRegistry.init is not original
    uninstall()
    assert EventRegistry.init is original
    assert emitter not in EventRegistry.get_all()
    EventRegistry.init()
    assert emitter not in EventRegistry.get_all()


def test_a_real_dispatch_reaches_the_stream_with_the_pubsub_bytes(redis_url: str) -> None:
    """The application path: AsyncTasQ configured for the Redis driver with its Pub/Sub
    emitter, ``install()`` with no argument (URL from AsyncTasQ's config), a task dispatched by
    ``task.dispatch()`` (``get_dispatcher()`` runs ``EventRegistry.init()`` first): its
    ``task_enqueued`` is in the stream, byte-identical to the Pub/Sub message."""
    events_on(redis_url, pubsub=True)
    emitter = install()
    assert emitter.redis_url == RedisEventEmitter().redis_url == redis_url
    capturer = RawCapturer(redis_url, "asynctasq:events")
    capturer.start()

    async def dispatch() -> str:
        try:
            return await SendEmailTask(sleep_s=0.0).on_queue("install-test").dispatch()
        finally:
            await cleanup()

    try:
        task_id = asyncio.run(dispatch())
        seen = capturer.fence()
    finally:
        payloads = capturer.stop()
    published = payloads[:seen]
    in_stream = stream_payloads(redis_url, "asynctasq:events")
    assert in_stream == published
    assert decoded(in_stream[0])["task_id"] == task_id
    assert decoded(in_stream[0])["event_type"] == "task_enqueued"


def test_the_command_line_explains_itself_and_rejects_bad_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No arguments: the usage, exit 2; ``--help``: the usage, exit 0; a malformed setting:
    one line naming the variable, exit 2, before AsyncTasQ's CLI runs."""
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2 and "usage: python -m tasqlake.emitter" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0 and "ASYNCTASQ_EVENTS_ENABLE_ALL" in capsys.readouterr().out
    monkeypatch.setenv("TASQLAKE_EVENTS_STREAM_MAXLEN", "many")
    with pytest.raises(SystemExit) as exited:
        main(["worker", "--queues", "q"])
    error = capsys.readouterr().err
    assert exited.value.code == 2 and "TASQLAKE_EVENTS_STREAM_MAXLEN must be a whole" in error
    assert not emitter_module._installed
