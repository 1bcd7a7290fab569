"""The stream receiver: at-least-once ingest from Redis Streams with a consumer group.

One thread, like the Pub/Sub receiver, and as lean: it sends ``XREADGROUP`` (large ``COUNT``)
on a raw connection, parses the reply with hiredis, and appends the payloads to the WAL as one
record per reply — the same record the Pub/Sub receiver writes, the stream's name standing for
the channel — before anything else happens to them. Decoding and Parquet writing happen in the
processor, so reading never waits for them.

**When an entry is acknowledged.** ``XACK`` is sent only once the WAL record holding the entry
is fsynced (:attr:`WalWriter.synced_offset`, moved by the WAL syncer every
``wal_fsync_interval``): from then on the entry survives a crash of this process and of the
machine, and the processor will commit it to the lake from the WAL. Until then it stays in the
group's pending entries list, so an ingester killed in between gets it again (its own pending
entries are read first on start), or another ingester of the group claims it.

**Start.** The group is created if missing (``XGROUP CREATE … 0 MKSTREAM``: a new group reads
what the stream holds). Then the consumer's own pending entries (``XREADGROUP … 0``), then new
ones (``>``). Every ``claim_idle`` seconds, entries pending on another consumer idle longer than
that are claimed (``XAUTOCLAIM``): a dead ingester's entries are taken over.

**Loss Streams can still cause** is detected and written as a gap record of the group
(``<stream>@<group>``): before each read, ``XINFO STREAM`` and ``XINFO GROUPS`` (pipelined with
the read) say whether entries were trimmed (``MAXLEN``) before the group read them — the window
from the last entry the group was given to the stream's first entry, with the count
(``entries-added - length - entries-read``); a ``NOGROUP`` reply means the stream was deleted or
recreated: the group is created again and the window recorded without a count. So is a group
found missing when reconnecting (Redis came back without its data, or the key was recreated
meanwhile): the window from the last entry the group gave us to the reconnection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import hiredis
import msgspec

from tasqlake.ingest.receiving import gap_records as gaps
from tasqlake.ingest.receiving.connection import (
    RawConnection,
    encode_command,
    open_connection,
    reconnect_with_backoff,
)
from tasqlake.ingest.receiving.receiver import now_us
from tasqlake.ingest.receiving.redis_options import RedisOptions
from tasqlake.ingest.service.counters import Counters
from tasqlake.ingest.wal.format import GAP, MESSAGES
from tasqlake.ingest.wal.writer import WalWriter
from tasqlake.schemas.constants import STREAM_PAYLOAD_FIELD
from tasqlake.schemas.errors import BrokerError
from tasqlake.schemas.settings import mask_url

log = logging.getLogger(__name__)

_ENCODE = msgspec.msgpack.Encoder().encode
_BUFFER_BYTES = 4 * 1024 * 1024
_PAYLOAD = STREAM_PAYLOAD_FIELD.encode()


@dataclass(frozen=True)
class StreamConfig:
    redis_url: str = field(repr=False)  # may hold a password
    streams: tuple[str, ...]
    group: str
    consumer: str
    batch: int = 10_000
    claim_idle: float = 60.0
    block_ms: int = 200
    reconnect_base_delay: float = 0.1
    reconnect_max_delay: float = 10.0
    options: RedisOptions = field(default_factory=RedisOptions)


class _Lost(Exception):
    """The connection broke."""


def _id_ms(entry_id: bytes | None) -> int | None:
    if not entry_id:
        return None
    return int(entry_id.split(b"-", 1)[0])


def _flat_map(reply: Any) -> dict[bytes, Any]:
    return dict(zip(reply[::2], reply[1::2], strict=False)) if isinstance(reply, list) else {}


@dataclass
class _Stream:
    name: str
    key: bytes
    history: bool = True  # reading this consumer's own pending entries first
    #: where the next read of those pending entries starts (after the last one returned: they
    #: stay pending until acknowledged, so reading from 0 again would return them again)
    history_from: bytes = b"0"
    last_id: bytes = b"0-0"  # the last entry given to us
    reported_lost: int = 0


class StreamReceiver:
    """Reads the streams in the group until :meth:`stop`; acknowledges what is on disk."""

    def __init__(self, config: StreamConfig, wal: WalWriter, counters: Counters) -> None:
        self.config = config
        self.wal = wal
        self.counters = counters
        self.subscribed = threading.Event()
        self.unsubscribed_since: float | None = time.monotonic()
        self.last_subscribed_us = now_us()
        self.error: BaseException | None = None
        #: entries not acknowledged yet, by WAL record end: (end_offset, {stream: [ids]})
        self._unacked: deque[tuple[int, dict[bytes, list[bytes]]]] = deque()
        self._streams = [_Stream(s, s.encode()) for s in config.streams]
        self._stop = threading.Event()
        self._connection: RawConnection | None = None
        self._buffer = bytearray(_BUFFER_BYTES)
        self._next_claim = 0.0
        #: when a reply last showed the group (None: never yet): a group missing on reconnect
        #: means Redis lost it (restarted without its data, a failover) or the key was recreated
        self._group_seen_us: int | None = None
        #: gauges for /metrics: entries the group has not been given yet, and pending ones
        self.lag: int | None = None
        self.pending = 0

    @property
    def sources(self) -> list[str]:
        return [f"{s.name}@{self.config.group}" for s in self._streams]

    # --- life cycle --------------------------------------------------------------------------
    def connect_first(self) -> None:
        self._connection = self._connect()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        try:
            self._run()
        except BaseException as error:  # surfaced by the service
            self.error = error
        finally:
            if self._connection is not None:
                try:
                    self.wal.sync()
                    self._acknowledge(self._connection)
                except (BrokerError, _Lost, OSError) as error:
                    log.warning("could not acknowledge on stop (redelivered later): %s", error)
                self._connection.close()
            self.subscribed.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._connection is None:
                self._connection = self._reconnect()
                if self._connection is None:
                    return
            try:
                while not self._stop.is_set():
                    self._step(self._connection)
                return
            except _Lost as lost:
                log.warning("stream connection lost (%s): reconnecting", lost)
                self.subscribed.clear()
                self.unsubscribed_since = time.monotonic()
                self._connection.close()
                self._connection = None

    # --- connecting --------------------------------------------------------------------------
    def _connect(self) -> RawConnection:
        connection = open_connection(self.config.redis_url, options=self.config.options)
        connection.sock.settimeout(max(self.config.block_ms / 1000 * 4, 5.0))
        try:
            for stream in self._streams:
                self._create_group(connection, stream, recreated=self._group_seen_us is not None)
                stream.history, stream.history_from = True, b"0"
            self._group_seen_us = now_us()
        except (_Lost, BrokerError):
            connection.close()
            raise
        self.subscribed.set()
        self.unsubscribed_since = None
        log.info(
            "reading %s in group %s as %s on %s",
            ", ".join(self.config.streams),
            self.config.group,
            self.config.consumer,
            mask_url(self.config.redis_url),
        )
        return connection

    def _reconnect(self) -> RawConnection | None:
        def connect() -> RawConnection:
            try:
                return self._connect()
            except _Lost as lost:  # connected, then lost while creating the group
                raise BrokerError(str(lost)) from lost

        connection = reconnect_with_backoff(
            connect,
            self._stop,
            self.config.redis_url,
            self.config.reconnect_base_delay,
            self.config.reconnect_max_delay,
        )
        if connection is not None:
            self.counters.add("reconnects")
        return connection

    def _create_group(self, connection: RawConnection, stream: _Stream, *, recreated: bool) -> None:
        """Create the group if missing. A new group reads what the stream holds; entries trimmed
        before it existed are not its loss (ENTRIESREAD counts them as read)."""
        info_reply = self._call(connection, [("XINFO", "STREAM", stream.name)])[0]
        info = {} if isinstance(info_reply, hiredis.ReplyError) else _flat_map(info_reply)
        removed = int(info.get(b"entries-added") or 0) - int(info.get(b"length") or 0)
        reply = self._call(
            connection,
            [
                (
                    "XGROUP",
                    "CREATE",
                    stream.name,
                    self.config.group,
                    "0",
                    "MKSTREAM",
                    "ENTRIESREAD",
                    str(max(removed, 0)),
                )
            ],
        )[0]
        if isinstance(reply, hiredis.ReplyError):
            if "BUSYGROUP" in str(reply):
                return
            raise BrokerError(f"Redis refused to create group {self.config.group}: {reply}")
        first = info.get(b"first-entry")
        first_ms = _id_ms(first[0]) if isinstance(first, list) and first else None
        at = first_ms * 1000 if first_ms is not None else now_us()
        if recreated:  # unread entries may be gone: since the last one given to us, else
            since = _id_ms(stream.last_id)  # since a reply last showed the group
            since_us = since * 1000 if since else (self._group_seen_us or at)
            self._write_gap(stream, min(since_us, at), at, gaps.STREAM_RECREATED, None)
            stream.last_id, stream.reported_lost = b"0-0", 0
        else:
            self._write_gap(stream, at, at, gaps.STARTUP, 0)

    # --- one round trip ----------------------------------------------------------------------
    def _step(self, connection: RawConnection) -> None:
        self._acknowledge(connection)
        commands: list[tuple[str | bytes, ...]] = []
        for stream in self._streams:
            commands.append(("XINFO", "STREAM", stream.name))
            commands.append(("XINFO", "GROUPS", stream.name))
        history = [s for s in self._streams if s.history]
        reading = history or self._streams
        block = () if history else ("BLOCK", str(self.config.block_ms))
        commands.append(
            (
                "XREADGROUP", "GROUP", self.config.group, self.config.consumer,
                "COUNT", str(self.config.batch), *block,
                "STREAMS", *(s.name for s in reading),
                *(s.history_from if s.history else b">" for s in reading),
            )
        )  # fmt: skip
        claim = time.monotonic() >= self._next_claim and not history
        if claim:
            self._next_claim = time.monotonic() + self.config.claim_idle / 2
            idle_ms = str(int(self.config.claim_idle * 1000))
            for stream in self._streams:
                commands.append(
                    ("XAUTOCLAIM", stream.name, self.config.group, self.config.consumer,
                     idle_ms, "0-0", "COUNT", str(self.config.batch))
                )  # fmt: skip
        replies = self._call(connection, commands)
        received_us = now_us()
        if not isinstance(replies[2 * len(self._streams)], hiredis.ReplyError):
            self._group_seen_us = received_us
        for index, stream in enumerate(self._streams):
            self._check_loss(stream, replies[2 * index], replies[2 * index + 1])
        read = replies[2 * len(self._streams)]
        if isinstance(read, hiredis.ReplyError):
            self._on_error(connection, read)
            return
        entries: dict[bytes, list[Any]] = {}
        for key, items in read or []:
            entries.setdefault(key, []).extend(items)
        for stream in history:
            items = entries.get(stream.key)
            if items:
                stream.history_from = items[-1][0]
            else:
                stream.history = False  # own pending entries done: new ones from now on
        if claim:
            for stream, reply in zip(
                self._streams, replies[2 * len(self._streams) + 1 :], strict=True
            ):
                if isinstance(reply, list) and len(reply) >= 2:
                    entries.setdefault(stream.key, []).extend(reply[1])
                    deleted = reply[2] if len(reply) > 2 else []
                    if deleted:  # pending on a consumer that died, trimmed before it was read
                        moments = [_id_ms(d) or 0 for d in deleted]
                        self._write_gap(
                            stream, min(moments) * 1000, max(moments) * 1000,
                            gaps.STREAM_TRIMMED, len(deleted),
                        )  # fmt: skip
        self._append(entries, received_us)

    def _append(self, entries: dict[bytes, list[Any]], received_us: int) -> None:
        frame: list[tuple[str, list[bytes]]] = []
        ids: dict[bytes, list[bytes]] = {}
        count = 0
        for stream in self._streams:
            items = entries.get(stream.key)
            if not items:
                continue
            payloads = []
            stream_ids = ids.setdefault(stream.key, [])
            for entry_id, fields in items:
                stream_ids.append(entry_id)
                if not stream.history and entry_id > stream.last_id:
                    stream.last_id = entry_id
                payload = _payload(fields)
                if payload is not None:
                    payloads.append(payload)
                else:  # a deleted entry (pending history) or not a tasqlake emitter's
                    self.counters.add("stream_skipped")
            if payloads:
                frame.append((stream.name, payloads))
                count += len(payloads)
        if not ids:
            return
        end = self.wal.offset
        if frame:
            self.wal.append(MESSAGES, _ENCODE(frame), received_us)
            end = self.wal.offset
            self.counters.add("received", count)
            self.last_subscribed_us = received_us
        self._unacked.append((end, ids))

    def _acknowledge(self, connection: RawConnection) -> None:
        synced = self.wal.synced_offset
        commands: list[tuple[str | bytes, ...]] = []
        while self._unacked and self._unacked[0][0] <= synced:
            _, ids = self._unacked.popleft()
            for key, stream_ids in ids.items():
                commands.append(("XACK", key, self.config.group, *stream_ids))
        if commands:
            for reply in self._call(connection, commands):
                if isinstance(reply, hiredis.ReplyError):
                    log.warning("XACK refused: %s (the entries will be redelivered)", reply)
                else:
                    self.counters.add("stream_acked", int(reply))

    # --- loss --------------------------------------------------------------------------------
    def _check_loss(self, stream: _Stream, info_reply: Any, groups_reply: Any) -> None:
        if isinstance(info_reply, hiredis.ReplyError) or isinstance(
            groups_reply, hiredis.ReplyError
        ):
            return  # no stream (yet): XREADGROUP says NOGROUP, handled there
        info = _flat_map(info_reply)
        group = next(
            (
                g
                for g in map(_flat_map, groups_reply or [])
                if g.get(b"name") == self.config.group.encode()
            ),
            None,
        )
        if group is None:
            return
        self.lag = group.get(b"lag") if isinstance(group.get(b"lag"), int) else None
        self.pending = int(group.get(b"pending") or 0)
        first = info.get(b"first-entry")
        first_id = first[0] if isinstance(first, list) and first else None
        delivered = group.get(b"last-delivered-id") or b"0-0"
        entries_read = group.get(b"entries-read")
        if first_id is None or not isinstance(entries_read, int):
            return
        if _id_key(delivered) >= _id_key(first_id):
            return  # the group has read up to the stream's first entry: nothing trimmed unread
        removed = int(info.get(b"entries-added") or 0) - int(info.get(b"length") or 0)
        lost = removed - entries_read
        if lost <= stream.reported_lost:
            return
        since = _id_ms(delivered) or _id_ms(first_id) or 0
        until = _id_ms(first_id) or since
        self._write_gap(
            stream, since * 1000, until * 1000, gaps.STREAM_TRIMMED, lost - stream.reported_lost
        )
        log.error(
            "stream %s: %d entries were trimmed before group %s read them (raise MAXLEN, or "
            "run more ingesters): recorded as a gap",
            stream.name,
            lost - stream.reported_lost,
            self.config.group,
        )
        stream.reported_lost = lost

    def _on_error(self, connection: RawConnection, error: hiredis.ReplyError) -> None:
        # NOGROUP: the key was deleted and written again; UNBLOCKED: deleted while we waited
        if "NOGROUP" not in str(error) and "UNBLOCKED" not in str(error):
            raise BrokerError(f"Redis refused XREADGROUP: {error}")
        for stream in self._streams:
            self._create_group(connection, stream, recreated=True)
            stream.history, stream.history_from = True, b"0"
            stream.reported_lost = 0

    def _write_gap(
        self, stream: _Stream, start_us: int, end_us: int, reason: str, lost: int | None
    ) -> None:
        source = f"{stream.name}@{self.config.group}"
        gap = gaps.Gap(start_us, max(end_us, start_us), reason, [stream.name], source, lost)
        self.wal.append(GAP, gap.encode(), now_us())
        if reason != gaps.STARTUP:
            self.counters.add("gap_us", max(end_us - start_us, 0))

    # --- the wire ----------------------------------------------------------------------------
    def _call(
        self, connection: RawConnection, commands: list[tuple[str | bytes, ...]]
    ) -> list[Any]:
        """Send ``commands`` in one write, return their replies (errors as ReplyError values)."""
        try:
            connection.sock.sendall(b"".join(encode_command(*c) for c in commands))
        except OSError as error:
            raise _Lost(f"{gaps.DISCONNECTED}: {error}") from error
        replies: list[Any] = []
        reader = connection.reader
        buffer = self._buffer
        while len(replies) < len(commands):
            reply = reader.gets()
            if reply is not False:
                replies.append(reply)
                continue
            try:
                size = connection.sock.recv_into(buffer)
            except TimeoutError as error:
                raise _Lost(f"{gaps.UNRESPONSIVE}") from error
            except OSError as error:
                raise _Lost(f"{gaps.DISCONNECTED}: {error}") from error
            if size == 0:
                raise _Lost(f"{gaps.DISCONNECTED}: closed by Redis")
            self.counters.add("bytes_read", size)
            reader.feed(buffer, 0, size)  # type: ignore[arg-type]
        return replies


def _payload(fields: Any) -> bytes | None:
    """The payload of an entry's field list (None: a deleted entry or another shape)."""
    if not isinstance(fields, list):
        return None
    for index in range(0, len(fields) - 1, 2):
        if fields[index] == _PAYLOAD:
            value = fields[index + 1]
            return value if isinstance(value, bytes) else None
    return None


def _id_key(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)
