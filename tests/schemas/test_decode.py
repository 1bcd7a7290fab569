from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from tasqlake.schemas import decode as d
from tasqlake.schemas.errors import PayloadError
from tests.schemas.helpers import RECEIVED_US, pack, task_event, worker_event


def test_real_task_payload_decodes_on_the_fast_path() -> None:
    event = d.decode(pack(task_event()), RECEIVED_US)
    assert event.payload.task_id == "0b8c5b5e-1f0c-4c1f-9d7e-2b7f3c1a9e11"
    assert event.payload.timestamp == datetime(2026, 11, 29, 17, 19, 39, 447117, tzinfo=UTC)
    assert event.timestamp_us == d.to_epoch_us(event.payload.timestamp)
    assert event.extra_json is None
    assert event.payload.hostname is UNSET


def test_worker_payload_keeps_list_and_float() -> None:
    event = d.decode(pack(worker_event(freq=5)), RECEIVED_US)
    assert event.payload.queues == ["default", "emails"]
    assert event.payload.freq == 5.0


def test_timestamp_without_fraction_and_naive_timestamp_are_utc() -> None:
    whole = d.decode(pack(task_event(timestamp="2026-11-29T17:19:39+00:00")), RECEIVED_US)
    naive = d.decode(pack(task_event(timestamp="2026-11-29T17:19:39")), RECEIVED_US)
    assert whole.timestamp_us == naive.timestamp_us
    assert whole.timestamp_us % 1_000_000 == 0


def test_unknown_keys_are_kept_as_json() -> None:
    event = d.decode(pack(task_event(priority=5, labels={"a": [1, 2]})), RECEIVED_US)
    assert msgspec.json.decode(event.extra_json or "") == {"priority": 5, "labels": {"a": [1, 2]}}


def test_unknown_event_type_is_stored_not_rejected() -> None:
    raw = pack({"event_type": "task_retrying", "timestamp": "2026-11-29T17:00:00+00:00", "x": 1})
    event = d.decode(raw, RECEIVED_US)
    assert event.payload.event_type == "task_retrying"
    assert event.extra_json == '{"x":1}'


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xc1\xc1garbage", d.NOT_MSGPACK),
        (msgspec.msgpack.encode([1, 2, 3]), d.NOT_A_MAP),
        (msgspec.msgpack.encode({1: "x"}), d.NOT_A_MAP),
        (pack({"timestamp": "2026-11-29T17:00:00+00:00"}), d.MISSING_KEY),
        (pack(task_event(task_id=None)), d.MISSING_KEY),
        (pack({k: v for k, v in task_event().items() if k != "queue"}), d.MISSING_KEY),
        (pack(task_event(attempt="2")), d.WRONG_TYPE),
        (pack(worker_event(queues="default")), d.WRONG_TYPE),
        (pack(task_event(timestamp="yesterday")), d.WRONG_TYPE),
        (pack(task_event(timestamp="1970-01-01T00:00:00+00:00")), d.BAD_TIMESTAMP),
        (pack(task_event(timestamp="9999-12-31T00:00:00+00:00")), d.BAD_TIMESTAMP),
        (pack(task_event(attempt=0)), d.BAD_VALUE),
        (pack(task_event(duration_ms=2**64 - 1)), d.BAD_VALUE),
        # a map header claiming 2**32-1 entries in a 5-byte payload
        (b"\xdf\xff\xff\xff\xff", d.NOT_MSGPACK),
        # a str header claiming 4 GiB
        (b"\x81\xaaevent_type\xdb\xff\xff\xff\xff", d.NOT_MSGPACK),
    ],
)
def test_bad_payloads_raise_payload_error_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        d.decode(raw, RECEIVED_US)
    assert caught.value.reason == reason


def test_size_limit_is_checked_before_decoding() -> None:
    raw = pack(task_event(error="x" * 2000))
    with pytest.raises(PayloadError) as caught:
        d.decode(raw, RECEIVED_US, max_bytes=1000)
    assert caught.value.reason == d.TOO_LARGE


def test_event_id_is_a_stable_content_hash() -> None:
    raw = pack(task_event())
    assert d.event_id(raw) == d.event_id(bytes(raw))
    assert d.event_id(raw) != d.event_id(pack(task_event(attempt=2)))
    assert -(2**63) <= d.event_id(raw) < 2**63


def test_json_line_reencodes_to_the_published_bytes() -> None:
    event = task_event()
    assert d.json_to_msgpack(msgspec.json.encode(event)) == pack(event)
    with pytest.raises(PayloadError, match="not json"):
        d.json_to_msgpack(b"{not json")
    with pytest.raises(PayloadError, match="not a map"):
        d.json_to_msgpack(b"[1]")


def test_result_is_stored_as_json_text() -> None:
    assert d.result_json({"email_sent": True}) == '{"email_sent":true}'
    assert d.result_json(None) is None
    assert d.result_json(UNSET) is None
    assert d.result_json(msgspec.msgpack.Ext(1, b"x")) is not None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_arbitrary_bytes_never_crash(raw: bytes) -> None:
    reasons = {d.NOT_MSGPACK, d.NOT_A_MAP, d.MISSING_KEY, d.WRONG_TYPE, d.BAD_VALUE}
    try:
        event = d.decode(raw, RECEIVED_US)
    except PayloadError as error:
        assert error.reason in reasons | {d.BAD_TIMESTAMP}
    else:
        assert isinstance(event.payload.event_type, str)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_real_payloads_never_crash(data: st.DataObject) -> None:
    raw = bytearray(pack(data.draw(st.sampled_from([task_event(), worker_event()]))))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    try:
        event = d.decode(bytes(raw), RECEIVED_US)
    except PayloadError as error:
        assert error.reason
    else:
        assert event.payload.event_type is not None


def test_deeply_nested_result_is_rejected_or_kept_not_crashing() -> None:
    placeholder = pack(task_event(result="PLACEHOLDER"))
    raw = placeholder.replace(b"\xabPLACEHOLDER", b"\x91" * 100_000 + b"\x01")
    try:
        event = d.decode(raw, RECEIVED_US)
    except PayloadError as error:
        assert error.reason in (d.NOT_MSGPACK, d.WRONG_TYPE)
    else:
        assert event.payload.result is not UNSET
