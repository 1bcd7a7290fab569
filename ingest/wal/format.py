"""The on-disk format of the write-ahead log: segments of self-checking records.

A WAL directory holds *segments* named ``<first offset, 20 digits>.wal``. Offsets are global
byte positions that only grow (a segment's name is the offset of its first byte), so a record's
offset names it for good: committed lake files are named after the offset of the first record
they hold. Each record is a fixed header followed by a body::

    magic "TQW1" | kind u8 | 3 bytes zero | body length u32 | crc32(body) u32 | received_us i64

Kinds: :data:`MESSAGES` (a msgpack list of ``[channel, [payload, ...]]`` pairs, read from the
socket in one go) and :data:`GAP` (a msgpack ``[start_us, end_us, reason]`` window in which the
ingester was not subscribed).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MAGIC = b"TQW1"
HEADER = struct.Struct(">4sB3xIIq")
HEADER_SIZE = HEADER.size
SEGMENT_SUFFIX = ".wal"

MESSAGES = 1
GAP = 2
KINDS = frozenset({MESSAGES, GAP})

#: A body larger than this is corruption, not data (a socket read is far smaller).
MAX_BODY_BYTES = 256 * 1024 * 1024


class TornRecord(Exception):
    """The bytes at a position are not a whole valid record (torn or corrupt)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One WAL record as read back."""

    offset: int  # global offset of the header's first byte
    end: int  # global offset just after the body
    kind: int
    received_us: int
    body: bytes


def segment_name(start_offset: int) -> str:
    return f"{start_offset:020d}{SEGMENT_SUFFIX}"


def segment_start(name: str) -> int | None:
    """The start offset encoded in a segment file name, or None if it is not a segment."""
    stem = name.removesuffix(SEGMENT_SUFFIX)
    if stem == name or len(stem) != 20 or not stem.isdigit():
        return None
    return int(stem)


def encode_header(kind: int, body: bytes | memoryview, received_us: int) -> bytes:
    return HEADER.pack(MAGIC, kind, len(body), zlib.crc32(body), received_us)


def decode_header(raw: bytes) -> tuple[int, int, int, int]:
    """``(kind, body length, crc, received_us)``; raises :class:`TornRecord` if not a header."""
    magic, kind, length, crc, received_us = HEADER.unpack(raw)
    if magic != MAGIC or kind not in KINDS or length > MAX_BODY_BYTES:
        raise TornRecord(f"no record header (magic {magic!r}, kind {kind}, length {length})")
    return kind, length, crc, received_us


def check_body(body: bytes, crc: int) -> None:
    if zlib.crc32(body) != crc:
        raise TornRecord("record body does not match its checksum")
