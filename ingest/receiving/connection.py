"""Opening a subscriber connection to Redis and handing back its raw socket.

redis-py does what it is good at: parsing the URL (``redis://``, ``rediss://`` with TLS,
``unix://``), connecting, AUTH, SELECT and the protocol handshake. Then tasqlake takes the socket
and reads it itself with a hiredis reader, which is several times faster than redis-py's
Pub/Sub loop. Every failure becomes a :class:`~tasqlake.schemas.errors.BrokerError` naming the
(masked) URL and saying what to check.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import hiredis
import redis
from redis.connection import ConnectionInterface, ConnectionPool

from tasqlake.ingest.receiving.redis_options import RedisOptions, tls_hint
from tasqlake.schemas.errors import BrokerError
from tasqlake.schemas.settings import mask_url

log = logging.getLogger(__name__)

#: Socket receive buffer asked for: room for bursts while a batch is being written.
RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024


@dataclass
class RawConnection:
    """An authenticated connection whose socket we now read directly."""

    connection: ConnectionInterface
    sock: socket.socket
    #: Parser state of this connection's byte stream (a message may span two reads).
    reader: hiredis.Reader = field(default_factory=hiredis.Reader)

    def send(self, *args: str | bytes) -> None:
        """Send one command (not waiting for its reply)."""
        try:
            self.sock.sendall(encode_command(*args))
        except OSError as error:
            raise BrokerError(f"lost the connection to Redis while sending: {error}") from error

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.disconnect()


def encode_command(*args: str | bytes) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def open_connection(
    url: str, connect_timeout: float = 5.0, options: RedisOptions | None = None
) -> RawConnection:
    """Connect and authenticate to the Redis at ``url``; raise BrokerError if it fails."""
    masked = mask_url(url)
    try:
        pool = ConnectionPool.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=connect_timeout,
            protocol=2,  # plain arrays; a protocol= in the URL still wins
            **(options or RedisOptions()).pool_kwargs(url),
        )
        connection = pool.make_connection()
        connection.connect()
    except redis.AuthenticationError as error:
        raise BrokerError(
            f"Redis at {masked} refused the credentials ({error}): check the user and password "
            "in --redis-url / TASQLAKE_REDIS_URL"
        ) from error
    except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
        hint = tls_hint(error)
        if hint is not None:
            raise BrokerError(f"cannot connect to Redis at {masked}: {hint}") from error
        raise BrokerError(
            f"cannot reach Redis at {masked} ({_short(error)}): start Redis or point "
            "--redis-url / TASQLAKE_REDIS_URL at a running server"
        ) from error
    except (redis.RedisError, ValueError) as error:
        raise BrokerError(f"Redis at {masked} refused the connection: {_short(error)}") from error
    sock = getattr(connection, "_sock", None)
    if sock is None:
        raise BrokerError(f"Redis at {masked}: connected, but no socket to read from")
    with contextlib.suppress(OSError):  # otherwise the kernel's own limit applies
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    return RawConnection(connection, sock)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def reconnect_with_backoff(
    connect: Callable[[], RawConnection],
    stop: threading.Event,
    url: str,
    base_delay: float,
    max_delay: float,
) -> RawConnection | None:
    """``connect()`` until it works or ``stop`` is set (then None): capped exponential backoff
    with jitter between attempts, the first failure and the recovery logged once each. A
    ``BrokerError`` is a failed attempt; ``connect`` may raise others to give up."""
    attempt = 0
    masked = mask_url(url)
    while not stop.is_set():
        try:
            connection = connect()
        except BrokerError as error:
            if attempt == 0:
                log.warning("reconnecting to %s: %s", masked, error)
            attempt += 1
            delay = min(max_delay, base_delay * 2 ** min(attempt, 20))
            stop.wait(delay * random.uniform(0.5, 1.0))
            continue
        log.info("reconnected to %s after %d attempts", masked, attempt + 1)
        return connection
    return None
