"""A window in which an ingester was not subscribed, as the receiver writes it into the WAL.

Kept apart from :mod:`tasqlake.ingest.processing.gaps` (how gaps are stored as Parquet) so that the
receiving process does not load Arrow.
"""

from __future__ import annotations

import msgspec

STARTUP = "start-up"
DISCONNECTED = "disconnected"
UNRESPONSIVE = "no reply to health check"
#: A consumer group's entries trimmed (XADD MAXLEN) before the group read them.
STREAM_TRIMMED = "stream trimmed before read"
#: The stream key vanished (deleted, or recreated): what it held unread is unknown.
STREAM_RECREATED = "stream deleted or recreated"


class Gap(msgspec.Struct, array_like=True, frozen=True):
    """One window, as carried in a WAL record.

    ``source`` is whose window it is when not the ingester's own: a stream's consumer group
    (``<stream>@<group>``, shared by every ingester of the group). ``lost`` is how many events
    are known to be missing from the window (a trimmed stream tells), None when unknown.
    (Records written before these fields existed decode with both None.)
    """

    start_us: int
    end_us: int
    reason: str
    channels: list[str]
    source: str | None = None
    lost: int | None = None

    def encode(self) -> bytes:
        return msgspec.msgpack.encode(self)

    @classmethod
    def decode(cls, body: bytes) -> Gap:
        return msgspec.msgpack.decode(body, type=cls)
