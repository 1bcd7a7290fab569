"""A window in which an ingester was not subscribed, as the receiver writes it into the WAL.

Kept apart from :mod:`tasqlake.ingest.processing.gaps` (how gaps are stored as Parquet) so that the
receiving process does not load Arrow.
"""

from __future__ import annotations

import msgspec

STARTUP = "start-up"
DISCONNECTED = "disconnected"
UNRESPONSIVE = "no reply to health check"


class Gap(msgspec.Struct, array_like=True, frozen=True):
    """One window, as carried in a WAL record."""

    start_us: int
    end_us: int
    reason: str
    channels: list[str]

    def encode(self) -> bytes:
        return msgspec.msgpack.encode(self)

    @classmethod
    def decode(cls, body: bytes) -> Gap:
        return msgspec.msgpack.decode(body, type=cls)
