"""Raw Pub/Sub capture and the msgpack-stream file format.

msgpack-stream framing: each record is a 4-byte big-endian length followed by
the payload bytes exactly as they were published.
"""

from __future__ import annotations

import contextlib
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

_LEN = struct.Struct(">I")


#: A second channel the capturer subscribes to, for :meth:`RawCapturer.fence` (no ingester
#: listens there, so a fence never reaches a lake).
FENCE_SUFFIX = ":tasqlake-interop-fence"


@dataclass
class RawCapturer:
    """Subscribes (in a thread, on its own connection) and keeps every payload. With
    ``reconnect``, it subscribes again (every 20 ms until Redis answers) when Redis goes away;
    what was published while it was not subscribed is not in :attr:`payloads`."""

    redis_url: str
    channel: str
    reconnect: bool = False
    payloads: list[bytes] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _fences: dict[bytes, threading.Event] = field(default_factory=dict)
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def start(self, timeout: float = 5.0) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="interop-capturer", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError(f"capturer did not subscribe: {self._error!r}")

    def _run(self, ready: threading.Event) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._capture(ready)
                except (redis.ConnectionError, redis.TimeoutError, OSError):
                    if not self.reconnect:
                        raise
                    self._stop.wait(0.02)
        except BaseException as exc:  # surfaced by stop()
            self._error = exc
            ready.set()

    def _capture(self, ready: threading.Event) -> None:
        """One subscription, until :meth:`stop` or a connection error."""
        client = redis.Redis.from_url(
            self.redis_url, decode_responses=False, socket_connect_timeout=1.0
        )
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(self.channel, self.channel + FENCE_SUFFIX)
            subscribed = 0
            while not self._stop.is_set():
                msg = pubsub.get_message(timeout=0.05)
                if msg is None:
                    continue
                if msg["type"] == "subscribe":
                    subscribed += 1
                    if subscribed == 2:
                        ready.set()
                elif msg["type"] == "message" and msg["channel"] == self.channel.encode():
                    self.payloads.append(bytes(msg["data"]))
                    self.received_at.append(time.time())
                elif msg["type"] == "message" and (fence := self._fences.get(msg["data"])):
                    fence.set()
        finally:
            with contextlib.suppress(Exception):
                pubsub.close()
            client.close()

    def count(self) -> int:
        return len(self.payloads)

    def fence(self, timeout: float = 10.0) -> int:
        """How many payloads were published before this call: publishes a token on the fence
        channel and waits until the capture thread reads it. Redis sends a subscriber its
        messages in the order it handled the PUBLISHes, so every message published before the
        token has been read by then (:meth:`count` alone can miss one still in the socket)."""
        token = uuid.uuid4().hex.encode()
        seen = self._fences[token] = threading.Event()
        try:
            with redis.Redis.from_url(self.redis_url) as client:
                client.publish(self.channel + FENCE_SUFFIX, token)
            if not seen.wait(timeout):
                raise RuntimeError(f"the capturer did not read its fence within {timeout} s")
        finally:
            del self._fences[token]
        return self.count()

    def stop(self) -> list[bytes]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._error is not None:
            raise RuntimeError("capturer failed") from self._error
        return list(self.payloads)


def write_stream(path: Path, payloads: list[bytes]) -> None:
    with path.open("wb") as fh:
        for payload in payloads:
            fh.write(_LEN.pack(len(payload)))
            fh.write(payload)


def iter_stream(data: bytes) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise ValueError(f"truncated length prefix at byte {pos}")
        (size,) = _LEN.unpack_from(data, pos)
        pos += 4
        if pos + size > len(data):
            raise ValueError(f"truncated record at byte {pos}")
        yield data[pos : pos + size]
        pos += size


def read_stream(path: Path) -> list[bytes]:
    return list(iter_stream(path.read_bytes()))
