"""The at-least-once path's writing side: an AsyncTasQ event emitter that XADDs to a Redis Stream.

AsyncTasQ publishes its lifecycle events over Redis Pub/Sub, which is at-most-once: an ingester
that is not subscribed at that moment misses them for good. :class:`RedisStreamEmitter` writes
the same events to a Redis Stream (``XADD <stream> MAXLEN ~ <maxlen> * payload <bytes>``), which
tasqlake's ingester reads with a consumer group, so nothing is lost while it is away (up to
``maxlen`` entries). The payload is byte for byte what AsyncTasQ's own Pub/Sub emitter publishes
(its ``RedisEventEmitter._serialize_event`` does the encoding), so an event's ``event_id`` (a
hash of the payload) is the same whichever path brought it in.

Switching it on:

* in application code: ``tasqlake.emitter.install()`` (once, any time; it survives the
  ``EventRegistry.init()`` that ``get_dispatcher()``, ``asynctasq.init()`` and the worker call);
* for workers started by the CLI: ``python -m tasqlake.emitter worker <asynctasq worker args>``
  instead of ``asynctasq worker <args>``.

Settings (read when the emitter is built; a malformed value is a :class:`ConfigError` naming the
variable): the Redis URL is the ``redis_url`` argument, else AsyncTasQ's events URL
(``ASYNCTASQ_EVENTS_REDIS_URL``, ``--events-redis-url``, ``asynctasq.init``), else its queue URL
(``ASYNCTASQ_REDIS_URL``, ``--redis-url``), else ``redis://localhost:6379``: the URL AsyncTasQ's
Pub/Sub emitter uses. It is looked up when a connection is made, so a worker's command-line
flags, parsed after :func:`install`, count. The stream is ``TASQLAKE_EVENTS_STREAM`` (default
``asynctasq:events``), its bound ``TASQLAKE_EVENTS_STREAM_MAXLEN`` (default 1,000,000).

It never raises into AsyncTasQ: a failed XADD is counted (:attr:`RedisStreamEmitter.failures`),
logged as a warning (the first, then at most one every 10 s, with the count), and the next emit
builds a new connection.

What differs across AsyncTasQ 1.0.0 … 1.7.0 (read from the released wheels):

* ``EventEmitter`` (``emit``, ``close``), ``EventRegistry`` (``add``, ``emit``, ``init``) and
  ``RedisEventEmitter._serialize_event`` exist in every version, the latter never using
  ``self``. Its encoder is msgpack-python (``packb(use_bin_type=True)``) up to 1.4.1 and msgspec
  from 1.5.0; calling the installed one keeps the bytes equal to that version's Pub/Sub bytes.
  Where it is missing, the same dict is packed with msgpack-python (msgspec if that is absent).
* ``EventRegistry.init()`` clears every registered emitter in every version; it is called by
  ``asynctasq.init()``, ``get_dispatcher()`` and the ``asynctasq worker`` command.
* Up to 1.4.1 the registry passes every event to every emitter (``init`` also adds a logging
  emitter); from 1.5.0 it has a ``_disabled`` flag, set by ``init`` unless
  ``ASYNCTASQ_EVENTS_ENABLE_ALL=true`` (or ``events.enable_all`` via ``asynctasq.init``), and
  then no emitter gets any event, this one included. From 1.5.0 the worker sends
  started/completed/reenqueued/failed fire-and-forget (``emit_nowait``), so emits run
  concurrently; up to 1.4.1 it awaits each one.
* AsyncTasQ's ``Config`` reads the ``ASYNCTASQ_*`` environment from 1.1.0; 1.0.x is configured in
  code or by CLI flags only, so the emitter also reads ``ASYNCTASQ_EVENTS_REDIS_URL`` and
  ``ASYNCTASQ_REDIS_URL`` itself.
* The CLI's console script is ``asynctasq = asynctasq.cli.main:main`` in every version.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from asynctasq.monitoring import EventEmitter, EventRegistry, RedisEventEmitter
from asynctasq.monitoring.types import TaskEvent, WorkerEvent

from tasqlake.schemas.constants import (
    DEFAULT_REDIS_URL,
    DEFAULT_STREAM,
    DEFAULT_STREAM_MAXLEN,
    STREAM_PAYLOAD_FIELD,
)
from tasqlake.schemas.errors import ConfigError
from tasqlake.schemas.settings import mask_url

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)

EVENTS_URL_ENV = "ASYNCTASQ_EVENTS_REDIS_URL"
REDIS_URL_ENV = "ASYNCTASQ_REDIS_URL"
STREAM_ENV = "TASQLAKE_EVENTS_STREAM"
MAXLEN_ENV = "TASQLAKE_EVENTS_STREAM_MAXLEN"
#: After the first failure is logged, at most one warning per this many seconds.
WARNING_INTERVAL_S = 10.0
#: Bounds on connecting and on each command, so a Redis that does not answer delays an event
#: by seconds, not forever (a ``socket_timeout=`` in the URL's query string overrides them).
SOCKET_TIMEOUT_S = 5.0
#: Connections one emitter opens at most (redis-py's default pool size). More concurrent emits
#: (a 1.5+ worker sends each event as its own background task) wait for a free one, up to
#: :data:`SOCKET_TIMEOUT_S`, instead of failing with "Too many connections".
MAX_CONNECTIONS = 100

Event = TaskEvent | WorkerEvent
Serializer = Callable[[Event], bytes]


def _redis_url_setting(name: str, value: str) -> str:
    """``value`` if it is a Redis URL redis-py accepts, else a ConfigError naming ``name``."""
    parts = urlsplit(value)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(
            f"{name} must be a redis://, rediss:// or unix:// URL, got {mask_url(value)!r}"
        )
    try:
        _ = parts.port  # raises on a malformed port
    except ValueError:
        raise ConfigError(f"{name} has an invalid port: {mask_url(value)!r}") from None
    return value


def _env_redis_url(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return _redis_url_setting(name, value) if value else None


def _stream_setting(name: str, value: str) -> str:
    if not value.strip():
        raise ConfigError(f"{name} must name a Redis key for the stream, got {value!r}")
    return value


def _maxlen_setting(name: str, value: object) -> int:
    try:
        maxlen = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of entries, got {value!r}") from None
    if maxlen <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {value!r}")
    return maxlen


def asynctasq_redis_url() -> str:
    """The Redis URL AsyncTasQ's Pub/Sub emitter would use now: its events URL, else its queue
    URL, from its ``Config`` (the environment from 1.1.0, ``asynctasq.init``, CLI flags) or from
    the environment directly (1.0.x's ``Config`` does not read it), else the default."""
    from asynctasq.config import Config

    config = Config.get()
    events_url = config.events.redis_url or _env_redis_url(EVENTS_URL_ENV)
    if events_url:
        return events_url
    queue_url = config.redis.url
    if queue_url and queue_url != DEFAULT_REDIS_URL:
        return queue_url
    return _env_redis_url(REDIS_URL_ENV) or DEFAULT_REDIS_URL


def _packb_event(event: Event) -> bytes:
    """The payload as ``RedisEventEmitter._serialize_event`` builds it (same dict: enum value,
    ISO timestamp, queues as a list), for a version without that method: msgpack-python's
    ``packb(use_bin_type=True)`` as 1.0.0 to 1.4.1 use, msgspec's encoder (same bytes for these
    values) when msgpack-python is not installed."""
    event_dict: dict[str, Any] = asdict(event)
    event_dict["event_type"] = event.event_type.value
    event_dict["timestamp"] = event.timestamp.isoformat()
    if isinstance(event_dict.get("queues"), tuple):
        event_dict["queues"] = list(event_dict["queues"])
    try:
        import msgpack  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        from msgspec import msgpack as msgspec_msgpack

        return msgspec_msgpack.encode(event_dict)
    packed: bytes = msgpack.packb(event_dict, use_bin_type=True)
    return packed


def pubsub_serializer() -> Serializer:
    """The installed AsyncTasQ's own Pub/Sub encoding, bound to a bare ``RedisEventEmitter``
    (built without ``__init__``: no config read, no connection; the method never uses
    ``self``), or :func:`_packb_event` where the version lacks it."""
    method = getattr(RedisEventEmitter, "_serialize_event", None)
    if method is None:
        return _packb_event
    bare = RedisEventEmitter.__new__(RedisEventEmitter)
    bound: Serializer = method.__get__(bare, RedisEventEmitter)
    return bound


class RedisStreamEmitter(EventEmitter):
    """Appends every AsyncTasQ event to a Redis Stream, payload bytes as on Pub/Sub.

    ``emitted`` and ``failures`` count the events written and lost. One client (a connection
    pool) is shared by concurrent emits; it is dropped after a connection error, and the next
    emit builds a new one."""

    def __init__(
        self,
        redis_url: str | None = None,
        stream: str | None = None,
        maxlen: int | None = None,
    ) -> None:
        """``None`` means: from the environment (see the module's docstring), else the default.
        Raises :class:`ConfigError` naming the argument or variable that is malformed."""
        if redis_url is not None:
            _redis_url_setting("redis_url", redis_url)
        else:  # checked now, read again when connecting
            _env_redis_url(EVENTS_URL_ENV)
            _env_redis_url(REDIS_URL_ENV)
        self._redis_url = redis_url
        if stream is not None:
            self.stream = _stream_setting("stream", stream)
        elif STREAM_ENV in os.environ:
            self.stream = _stream_setting(STREAM_ENV, os.environ[STREAM_ENV])
        else:
            self.stream = DEFAULT_STREAM
        if maxlen is not None:
            self.maxlen = _maxlen_setting("maxlen", maxlen)
        elif MAXLEN_ENV in os.environ:
            self.maxlen = _maxlen_setting(MAXLEN_ENV, os.environ[MAXLEN_ENV])
        else:
            self.maxlen = DEFAULT_STREAM_MAXLEN
        self.emitted = 0
        self.failures = 0
        self._serialize = pubsub_serializer()
        self._client: Redis | None = None
        self._in_flight = 0  # emits between their XADD and its reply (close waits for them)
        self._unreported = 0  # failures since the last warning
        self._last_warning: float | None = None  # monotonic time; None: no outage going on

    @property
    def redis_url(self) -> str:
        """The URL the next connection goes to (see the module's docstring)."""
        return self._redis_url or asynctasq_redis_url()

    def __repr__(self) -> str:
        url = mask_url(self._redis_url) if self._redis_url else "AsyncTasQ's events URL"
        return f"RedisStreamEmitter({url}, stream={self.stream!r}, maxlen={self.maxlen})"

    def _connect(self) -> Redis:
        from redis.asyncio import BlockingConnectionPool, Redis

        pool = BlockingConnectionPool.from_url(
            self.redis_url,
            max_connections=MAX_CONNECTIONS,
            timeout=SOCKET_TIMEOUT_S,
            decode_responses=False,
            socket_connect_timeout=SOCKET_TIMEOUT_S,
            socket_timeout=SOCKET_TIMEOUT_S,
        )
        self._client = Redis.from_pool(pool)  # closing the client closes the pool
        return self._client

    async def emit(self, event: Event) -> None:
        """XADD the event's Pub/Sub payload to the stream; never raises (but lets a
        cancellation through)."""
        client: Redis | None = None
        try:
            payload = self._serialize(event)
            client = self._client or self._connect()
            self._in_flight += 1
            try:
                await client.xadd(
                    self.stream,
                    {STREAM_PAYLOAD_FIELD: payload},
                    maxlen=self.maxlen,
                    approximate=True,
                )
            finally:
                self._in_flight -= 1
        except Exception as error:
            self._failed(event, error)
            if client is not None and _is_connection_error(error):
                await self._drop(client)
            return
        self.emitted += 1
        if self._last_warning is not None:
            logger.info(
                "tasqlake: writing events to Redis stream %r again (%d lost in all)",
                self.stream,
                self.failures,
            )
            self._last_warning, self._unreported = None, 0

    def _failed(self, event: Event, error: Exception) -> None:
        """Count the failure; warn on the first of an outage, then once per interval."""
        self.failures += 1
        self._unreported += 1
        now = time.monotonic()
        if self._last_warning is not None and now - self._last_warning < WARNING_INTERVAL_S:
            return
        try:
            where = mask_url(self.redis_url)
        except Exception:  # the URL itself could not be found: the error says why
            where = "?"
        logger.warning(
            "tasqlake: could not add a %s event to Redis stream %r at %s: %s: %s "
            "(%d failed since the last warning, %d in all: those events are not in the "
            "stream). Check that Redis answers there; the next event reconnects.",
            event.event_type.value,
            self.stream,
            where,
            type(error).__name__,
            error,
            self._unreported,
            self.failures,
        )
        self._last_warning, self._unreported = now, 0

    async def _drop(self, client: Redis) -> None:
        """Forget ``client`` (unless a concurrent emit already replaced it) and close it."""
        if self._client is client:
            self._client = None
        try:
            await client.aclose()
        except Exception as error:
            logger.debug("tasqlake: closing a broken Redis client failed: %s", error)

    async def close(self) -> None:
        """Close the connection pool; a later emit opens a new one (AsyncTasQ closes every
        emitter when a worker stops or a dispatcher is cleaned up)."""
        # From 1.5.0 a worker sends task events fire-and-forget and closes its emitters when it
        # stops: an XADD still in flight then would fail on the closed connection (its event
        # lost from the stream while Pub/Sub has it); let them finish first, bounded.
        deadline = time.monotonic() + SOCKET_TIMEOUT_S
        while self._in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def _is_connection_error(error: Exception) -> bool:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(error, RedisConnectionError | RedisTimeoutError | OSError)


#: Emitters :func:`install` keeps registered, in installation order.
_installed: list[RedisStreamEmitter] = []
_WRAPPED = "__tasqlake_wrapped__"
_warned_disabled = False


def _registry_disabled() -> bool:
    """True when AsyncTasQ (1.5.0 and later) passes no event to any emitter."""
    return bool(getattr(EventRegistry, "_disabled", False))


def _register_installed() -> None:
    """Add the installed emitters to the registry, unless events are switched off."""
    global _warned_disabled
    if _registry_disabled():
        if not _warned_disabled:
            logger.warning(
                "tasqlake: AsyncTasQ events are switched off, so the Redis stream gets none: "
                "set ASYNCTASQ_EVENTS_ENABLE_ALL=true (or events.enable_all in asynctasq.init)"
            )
            _warned_disabled = True
        return
    for emitter in _installed:
        EventRegistry.add(emitter)


def _wrap_registry_init() -> None:
    """Make ``EventRegistry.init`` add the installed emitters back after it clears them (once
    per process; a wrapped ``init`` is recognised by its marker)."""
    current = EventRegistry.init
    if getattr(current, _WRAPPED, False):
        return

    def init() -> None:
        current()
        _register_installed()

    init.__doc__ = current.__doc__
    setattr(init, _WRAPPED, True)
    setattr(init, "__wrapped__", current)  # noqa: B010 (functools.wraps would copy the marker)
    setattr(EventRegistry, "init", staticmethod(init))  # noqa: B010 (mypy: cannot assign a method)


def install(emitter: RedisStreamEmitter | None = None) -> RedisStreamEmitter:
    """Register ``emitter`` (by default the one installed before, else a new one from the
    environment) with AsyncTasQ's ``EventRegistry`` and keep it registered across every later
    ``EventRegistry.init()``. Idempotent; returns the emitter. From AsyncTasQ 1.5.0 it gets
    events only with ``ASYNCTASQ_EVENTS_ENABLE_ALL=true``."""
    if emitter is None:
        emitter = _installed[0] if _installed else RedisStreamEmitter()
    if emitter not in _installed:
        _installed.append(emitter)
    _wrap_registry_init()
    _register_installed()
    return emitter


def uninstall() -> None:
    """Undo :func:`install`: remove the installed emitters from the registry and restore
    ``EventRegistry.init`` (for tests, and for switching the stream off at run time)."""
    current = EventRegistry.init
    if getattr(current, _WRAPPED, False):
        original = getattr(current, "__wrapped__")  # noqa: B009 (mypy: not an attribute)
        setattr(EventRegistry, "init", staticmethod(original))  # noqa: B010
    registered: set[EventEmitter] = getattr(EventRegistry, "_emitters", set())
    for emitter in _installed:
        registered.discard(emitter)
    _installed.clear()


def asynctasq_cli() -> Callable[[], object]:
    """The ``main`` of AsyncTasQ's ``asynctasq`` console script, found in its entry points."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="console_scripts", name="asynctasq"):
        if entry.dist is None or entry.dist.name.lower() == "asynctasq":
            loaded: Callable[[], object] = entry.load()
            return loaded
    raise ConfigError(
        "AsyncTasQ's 'asynctasq' command is not installed in this environment: "
        "pip install asynctasq"
    )


USAGE = """\
usage: python -m tasqlake.emitter worker [asynctasq worker arguments]

Runs AsyncTasQ's own command line ('asynctasq worker …') with tasqlake's Redis stream emitter
installed, so the worker's events are also appended to a Redis Stream (at-least-once ingest).
Events must be switched on as for 'asynctasq worker' (from AsyncTasQ 1.5.0:
ASYNCTASQ_EVENTS_ENABLE_ALL=true). Stream settings: TASQLAKE_EVENTS_STREAM,
TASQLAKE_EVENTS_STREAM_MAXLEN; Redis: ASYNCTASQ_EVENTS_REDIS_URL, else ASYNCTASQ_REDIS_URL."""


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m tasqlake.emitter <asynctasq arguments>``: install the emitter, then run
    AsyncTasQ's CLI with those arguments (it reads ``sys.argv``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(USAGE, file=sys.stdout if args else sys.stderr)
        raise SystemExit(0 if args else 2)
    try:
        cli = asynctasq_cli()
        install()
    except ConfigError as error:
        print(f"tasqlake.emitter: {error}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None
    sys.argv = ["asynctasq", *args]
    cli()


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy's: an application that also calls
    # tasqlake.emitter.install() then shares one registry of installed emitters with it.
    from tasqlake.emitter import main as emitter_main

    emitter_main()
