"""The receiver: the one thread that reads the subscriber socket, and nothing slower.

It reads as much as the socket holds (``recv_into`` a large buffer), splits complete Pub/Sub
messages with a hiredis reader, and appends them to the WAL as one record per read, before
anything else happens to them. Decoding and Parquet writing happen elsewhere (the processor), so
reading never waits for them. It also keeps the connection honest: an application-level PING
every ``health_check_interval`` seconds, and no bytes for twice that means the connection is dead
(half-open), whatever TCP thinks. On any loss it reconnects with capped exponential backoff and
jitter, and writes the window it was not subscribed as a gap record.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import hiredis
import msgspec

from tasqlake.ingest.receiving import gap_records as gaps
from tasqlake.ingest.receiving.connection import (
    RawConnection,
    open_connection,
    reconnect_with_backoff,
)
from tasqlake.ingest.receiving.redis_options import RedisOptions
from tasqlake.ingest.service.counters import Counters
from tasqlake.ingest.wal.format import GAP, MESSAGES
from tasqlake.ingest.wal.writer import WalWriter
from tasqlake.schemas.errors import BrokerError
from tasqlake.schemas.settings import mask_url

log = logging.getLogger(__name__)

READ_BUFFER_BYTES = 4 * 1024 * 1024
FEED_BYTES = 16 * 1024
_POLL_S = 0.1
_PING = b"*1\r\n$4\r\nPING\r\n"
_ENCODE = msgspec.msgpack.Encoder().encode


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True)
class ReceiverConfig:
    redis_url: str = field(repr=False)  # may hold a password
    channels: tuple[str, ...]
    health_check_interval: float = 5.0
    reconnect_base_delay: float = 0.1
    reconnect_max_delay: float = 10.0
    options: RedisOptions = field(default_factory=RedisOptions)


class ConnectionLost(Exception):
    """The subscription ended (closed, reset, or no reply to the health check)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Receiver:
    """Subscribes and appends every message to the WAL until :meth:`stop`."""

    def __init__(
        self,
        config: ReceiverConfig,
        wal: WalWriter,
        counters: Counters,
        gap_start_us: int,
    ) -> None:
        self.config = config
        self.wal = wal
        self.counters = counters
        self.subscribed = threading.Event()
        #: time.monotonic() since when not subscribed (None while subscribed)
        self.unsubscribed_since: float | None = time.monotonic()
        self.last_subscribed_us = gap_start_us
        self._stop = threading.Event()
        self._gap_start_us = gap_start_us
        self._gap_reason = gaps.STARTUP
        self._connection: RawConnection | None = None
        self._channel_names: dict[bytes, str] = {}
        self.error: BaseException | None = None
        self._pending_confirmations: set[str] = set()
        self._unsubscribed = False

    # --- life cycle --------------------------------------------------------------------------
    def connect_first(self) -> None:
        """Connect and subscribe once; BrokerError if Redis cannot be reached at all."""
        self._connection = self._subscribe()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Read until stopped, reconnecting as needed. Errors are kept in :attr:`error`."""
        try:
            self._run()
        except BaseException as error:  # surfaced by the service, which stops cleanly
            self.error = error
        finally:
            if self._connection is not None:
                self._connection.close()
            self.subscribed.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._connection is None:
                self._connection = self._reconnect()
                if self._connection is None:
                    return
            try:
                self._read(self._connection)
                self._drain_on_stop(self._connection)
            except ConnectionLost as lost:
                self._mark_lost(lost.reason)
                self._connection.close()
                self._connection = None
            else:
                return

    # --- subscribing -------------------------------------------------------------------------
    def _subscribe(self) -> RawConnection:
        connection = open_connection(self.config.redis_url, options=self.config.options)
        self._pending_confirmations = set(self.config.channels)
        try:
            connection.sock.settimeout(_POLL_S)
            connection.send("SUBSCRIBE", *self.config.channels)
        except (BrokerError, OSError):
            connection.close()
            raise
        return connection

    def _reconnect(self) -> RawConnection | None:
        connection = reconnect_with_backoff(
            self._subscribe,
            self._stop,
            self.config.redis_url,
            self.config.reconnect_base_delay,
            self.config.reconnect_max_delay,
        )
        if connection is not None:
            self.counters.add("reconnects")
        return connection

    def _mark_lost(self, reason: str) -> None:
        self.subscribed.clear()
        self.unsubscribed_since = time.monotonic()
        self._gap_start_us = self.last_subscribed_us
        self._gap_reason = reason
        log.warning("subscription lost (%s): reconnecting", reason)

    def _on_subscribed(self) -> None:
        end = now_us()
        gap = gaps.Gap(self._gap_start_us, end, self._gap_reason, list(self.config.channels))
        self.wal.append(GAP, gap.encode(), end)
        self.counters.add("gap_us", max(end - self._gap_start_us, 0))
        self.last_subscribed_us = end
        self.unsubscribed_since = None
        self.subscribed.set()
        log.info(
            "subscribed to %s on %s",
            ", ".join(self.config.channels),
            mask_url(self.config.redis_url),
        )

    # --- reading -----------------------------------------------------------------------------
    def _read(self, connection: RawConnection, until: Callable[[], bool] | None = None) -> None:
        reader = connection.reader
        buffer = bytearray(READ_BUFFER_BYTES)
        sock = connection.sock
        interval = self.config.health_check_interval
        pending_confirmations = self._pending_confirmations
        last_data = last_ping = time.monotonic()
        stop = until or self._stop.is_set
        while not stop():
            now = time.monotonic()
            if now - last_data > 2 * interval:
                raise ConnectionLost(gaps.UNRESPONSIVE)
            if now - last_ping >= interval:
                self._send(sock, _PING)
                last_ping = now
            try:
                size = sock.recv_into(buffer)
            except TimeoutError:
                continue
            except OSError as error:
                raise ConnectionLost(f"{gaps.DISCONNECTED}: {error}") from error
            if size == 0:
                raise ConnectionLost(f"{gaps.DISCONNECTED}: closed by Redis")
            last_data = time.monotonic()
            received_us = now_us()
            frame = self._split(reader, buffer, size, pending_confirmations)
            if frame:
                self.wal.append(MESSAGES, _ENCODE(frame), received_us)
                self.last_subscribed_us = received_us
            self.counters.add("bytes_read", size)
            if until is not None and self._unsubscribed:
                return

    def _split(
        self, reader: hiredis.Reader, data: bytearray, size: int, pending: set[str]
    ) -> list[tuple[str, list[bytes]]]:
        """Complete messages in ``data[:size]`` (plus what earlier reads left), by channel.

        hiredis compacts its buffer each time 1 KiB has been consumed, so feeding it megabytes
        at once costs quadratic copying: it is fed :data:`FEED_BYTES` at a time.
        """
        by_channel: dict[bytes, list[bytes]] = {}
        count = 0
        gets = reader.gets
        for offset in range(0, size, FEED_BYTES):
            reader.feed(data, offset, min(FEED_BYTES, size - offset))  # type: ignore[arg-type]
            while (reply := gets()) is not False:
                if type(reply) is list and reply[0] == b"message":
                    payloads = by_channel.get(reply[1])
                    if payloads is None:
                        payloads = by_channel[reply[1]] = []
                    payloads.append(reply[2])
                    count += 1
                elif self._control(reply, pending):  # a RESP3 push message
                    by_channel.setdefault(reply[1], []).append(reply[2])
                    count += 1
        if not count:
            return []
        self.counters.add("received", count)
        return [(self._channel_name(ch), payloads) for ch, payloads in by_channel.items()]

    def _control(self, reply: object, pending: set[str]) -> bool:
        """Handle a reply that is not a plain message; True if it is a message after all."""
        if isinstance(reply, hiredis.ReplyError):
            raise BrokerError(
                f"Redis at {mask_url(self.config.redis_url)} refused the subscription: {reply}"
            )
        if not isinstance(reply, list) or not reply:
            return False
        kind = reply[0]
        if kind == b"message" and len(reply) == 3:
            return True
        if kind == b"subscribe" and len(reply) >= 2:
            pending.discard(self._channel_name(reply[1]))
            if not pending:
                self._on_subscribed()
        elif kind == b"unsubscribe" and len(reply) >= 3 and reply[2] == 0:
            self._unsubscribed = True
        return False

    def _channel_name(self, raw: bytes) -> str:
        name = self._channel_names.get(raw)
        if name is None:
            name = self._channel_names[raw] = raw.decode("utf-8", errors="replace")
        return name

    def _send(self, sock: socket.socket, data: bytes) -> None:
        try:
            sock.sendall(data)
        except OSError as error:
            raise ConnectionLost(f"{gaps.DISCONNECTED}: {error}") from error

    def _drain_on_stop(self, connection: RawConnection) -> None:
        """Unsubscribe and keep what Redis sent before confirming it (bounded wait)."""
        self._unsubscribed = False
        deadline = time.monotonic() + 2.0
        try:
            self._send(connection.sock, b"*1\r\n$11\r\nUNSUBSCRIBE\r\n")
            self._read(connection, until=lambda: time.monotonic() > deadline)
        except ConnectionLost:
            pass
        self.last_subscribed_us = now_us()
