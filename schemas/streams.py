"""Framing of event files: msgpack streams and JSON Lines.

A *msgpack stream* is a sequence of records, each a 4-byte big-endian unsigned length followed by
one raw payload exactly as it was published. *JSON Lines* holds one event object per line.
:func:`sniff_format` tells them apart by content, never by file name.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO, Literal

from tasqlake.schemas.errors import PayloadError

StreamFormat = Literal["msgpack-stream", "jsonl"]

_LENGTH = struct.Struct(">I")
#: Largest record a msgpack stream may declare; larger lengths mean the file is not a stream.
MAX_RECORD_BYTES = 64 * 1024 * 1024


def encode_record(payload: bytes) -> bytes:
    """One msgpack-stream record: length prefix + payload."""
    return _LENGTH.pack(len(payload)) + payload


def write_msgpack_stream(out: BinaryIO, payloads: Iterable[bytes]) -> int:
    """Write ``payloads`` as msgpack-stream records; returns how many were written."""
    count = 0
    for payload in payloads:
        out.write(_LENGTH.pack(len(payload)))
        out.write(payload)
        count += 1
    return count


def iter_msgpack_stream(source: BinaryIO, name: str = "<stream>") -> Iterator[bytes]:
    """Yield each raw payload of a msgpack stream; a truncated record names ``name``."""
    offset = 0
    while True:
        head = source.read(4)
        if not head:
            return
        if len(head) < 4:
            raise PayloadError(
                "truncated stream", f"{name}: partial length prefix at byte {offset}"
            )
        (length,) = _LENGTH.unpack(head)
        if length > MAX_RECORD_BYTES:
            raise PayloadError(
                "corrupt stream", f"{name}: record at byte {offset} claims {length} bytes"
            )
        payload = source.read(length)
        if len(payload) < length:
            raise PayloadError(
                "truncated stream",
                f"{name}: record at byte {offset} has {len(payload)} of {length} bytes",
            )
        offset += 4 + length
        yield payload


def iter_json_lines(source: BinaryIO) -> Iterator[bytes]:
    """Yield each non-blank line of a JSON Lines file, without its line ending."""
    for line in source:
        line = line.strip()
        if line:
            yield line


def sniff_format(head: bytes) -> StreamFormat:
    """Decide the framing from the first bytes of a file.

    JSON Lines start (after optional whitespace or a UTF-8 BOM) with ``{``; a msgpack stream starts
    with a length prefix whose first byte is almost always 0 (payloads under 16 MiB) and never
    ``{`` followed by a JSON-looking byte.
    """
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if stripped[:1] == b"{":
        return "jsonl"
    if len(head) >= 4 and _LENGTH.unpack(head[:4])[0] <= MAX_RECORD_BYTES:
        return "msgpack-stream"
    raise PayloadError(
        "unknown file format",
        "expected a msgpack stream (4-byte big-endian length + payload records) or JSON Lines",
    )
