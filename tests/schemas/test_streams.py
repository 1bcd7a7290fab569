from __future__ import annotations

import io

import pytest

from tasqlake.schemas.errors import PayloadError
from tasqlake.schemas.streams import (
    encode_record,
    iter_json_lines,
    iter_msgpack_stream,
    sniff_format,
    write_msgpack_stream,
)


def test_msgpack_stream_round_trip() -> None:
    out = io.BytesIO()
    assert write_msgpack_stream(out, [b"\x81\xa1a\x01", b"", b"xyz"]) == 3
    assert list(iter_msgpack_stream(io.BytesIO(out.getvalue()))) == [b"\x81\xa1a\x01", b"", b"xyz"]
    assert encode_record(b"ab") == b"\x00\x00\x00\x02ab"


def test_truncated_stream_is_an_error_naming_the_file() -> None:
    data = encode_record(b"abcdef")[:-2]
    with pytest.raises(PayloadError, match=r"events\.bin: record at byte 0 has 4 of 6 bytes"):
        list(iter_msgpack_stream(io.BytesIO(data), "events.bin"))


def test_format_is_sniffed_by_content() -> None:
    assert sniff_format(encode_record(b"\x81")) == "msgpack-stream"
    assert sniff_format(b'\xef\xbb\xbf  {"event_type": "x"}') == "jsonl"
    with pytest.raises(PayloadError, match="unknown file format"):
        sniff_format(b"\xff\xff\xff\xffnot anything")


def test_json_lines_skip_blank_lines() -> None:
    assert list(iter_json_lines(io.BytesIO(b'{"a":1}\n\n  {"b":2}\r\n'))) == [
        b'{"a":1}',
        b'{"b":2}',
    ]
