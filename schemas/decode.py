"""From raw payload bytes to a validated :class:`~tasqlake.schemas.wire.WirePayload`.

The fast path decodes straight into the Struct (msgspec, in C). Anything unusual (extra keys, a
wrong type, not msgpack at all) takes the slow path, which finds out exactly what is wrong, keeps
unknown keys, or raises :class:`~tasqlake.schemas.errors.PayloadError` with a short ``reason`` that
the quarantine records. Nothing here touches I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from msgspec import UNSET

from tasqlake.schemas import constants
from tasqlake.schemas.errors import PayloadError
from tasqlake.schemas.wire import WIRE_KEYS, WirePayload, required_keys
from tasqlake.schemas.wire_shapes import SHAPES, WireShapes
from tasqlake.schemas.wire_shapes import UNKNOWN_SHAPE as UNKNOWN_SHAPE  # a reason, as those below
from tasqlake.schemas.wire_shapes import UPCAST_FAILED as UPCAST_FAILED

_DECODER = msgspec.msgpack.Decoder(WirePayload)
_JSON_ENCODER = msgspec.json.Encoder()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_TS_US = (datetime(constants.MIN_EVENT_YEAR, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(
    microseconds=1
)
_MAX_FUTURE_US = constants.MAX_FUTURE_SKEW_S * 1_000_000

_INT32 = (1, 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
#: Integer wire keys and the range their stored column holds.
_INT_RANGES: dict[str, tuple[int, int]] = {
    "attempt": _INT32,
    "active": (-(2**31), 2**31 - 1),
    "duration_ms": _INT64,
    "processed": _INT64,
    "uptime_seconds": _INT64,
}

# Stable reasons, counted and stored in the quarantine.
TOO_LARGE = "too large"
NOT_MSGPACK = "not msgpack"
NOT_A_MAP = "not a map"
MISSING_KEY = "missing required key"
WRONG_TYPE = "wrong type"
BAD_VALUE = "invalid value"
BAD_TIMESTAMP = "absurd timestamp"
NOT_JSON = "not json"


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    """A payload that passed validation, ready for the column builder, and the wire shape it
    arrived in (it is in the current shape now)."""

    payload: WirePayload
    timestamp_us: int
    extra_json: str | None
    result_json: str | None
    wire_shape: int = constants.CURRENT_WIRE_SHAPE


def event_id(raw: bytes) -> int:
    """The event's id: a signed 64-bit BLAKE2b hash of the exact payload bytes."""
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big", signed=True)


def to_epoch_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def json_to_msgpack(line: bytes) -> bytes:
    """Re-encode one JSON event object as the msgpack payload a publisher would have sent.

    Key order is preserved, so an event exported to JSON Lines from a stored message and imported
    back gets the same bytes, hence the same :func:`event_id`.
    """
    try:
        obj = msgspec.json.decode(line)
    except msgspec.DecodeError as error:
        raise PayloadError(NOT_JSON, str(error)) from None
    if not isinstance(obj, dict):
        raise PayloadError(NOT_A_MAP, f"JSON line holds a {type(obj).__name__}, not an object")
    return msgspec.msgpack.encode(obj)


def decode(
    raw: bytes,
    received_us: int,
    max_bytes: int = constants.DEFAULT_MAX_PAYLOAD_BYTES,
    shapes: WireShapes = SHAPES,
) -> DecodedEvent:
    """Validate one raw payload; raise :class:`PayloadError` when it cannot be stored.

    A payload the current shape's Struct refuses is decoded as a map, and ``shapes`` upcasts it
    to the current shape first (:mod:`tasqlake.schemas.wire_shapes`).
    """
    if len(raw) > max_bytes:
        raise PayloadError(TOO_LARGE, f"{len(raw)} bytes, limit {max_bytes}")
    extra_json = None
    shape = constants.CURRENT_WIRE_SHAPE
    try:
        payload = _DECODER.decode(raw)
    except msgspec.DecodeError:
        payload, extra_json, shape = _decode_slow(raw, shapes)
    except RecursionError:
        raise PayloadError(NOT_MSGPACK, "nested too deeply") from None
    _check_required(payload)
    _check_ranges(payload)
    ts_us = to_epoch_us(payload.timestamp)
    if ts_us < _MIN_TS_US or ts_us > received_us + _MAX_FUTURE_US:
        raise PayloadError(
            BAD_TIMESTAMP, f"timestamp {payload.timestamp.isoformat()} is out of range"
        )
    return DecodedEvent(payload, ts_us, extra_json, result_json(payload.result), shape)


def _decode_slow(raw: bytes, shapes: WireShapes) -> tuple[WirePayload, str | None, int]:
    try:
        obj = msgspec.msgpack.decode(raw)
    except msgspec.DecodeError as error:
        raise PayloadError(NOT_MSGPACK, str(error)) from None
    except RecursionError:
        raise PayloadError(NOT_MSGPACK, "nested too deeply") from None
    if not isinstance(obj, dict):
        raise PayloadError(NOT_A_MAP, f"payload is a msgpack {type(obj).__name__}")
    if any(not isinstance(key, str) for key in obj):
        raise PayloadError(NOT_A_MAP, "map has non-string keys")
    obj, shape = shapes.to_current(obj)
    for key in ("event_type", "timestamp"):
        if obj.get(key) is None:
            raise PayloadError(MISSING_KEY, key)
    if isinstance(obj["event_type"], str):
        for key in required_keys(obj["event_type"]):
            if obj.get(key) is None:
                raise PayloadError(MISSING_KEY, f"{key} (required on {obj['event_type']})")
    known = {k: v for k, v in obj.items() if k in WIRE_KEYS}
    extra = {k: v for k, v in obj.items() if k not in WIRE_KEYS}
    try:
        payload = msgspec.convert(known, WirePayload)
    except msgspec.ValidationError as error:
        raise PayloadError(WRONG_TYPE, str(error)) from None
    return payload, (_to_json(extra) if extra else None), shape


def _check_required(payload: WirePayload) -> None:
    for key in required_keys(payload.event_type):
        if getattr(payload, key) is UNSET:
            raise PayloadError(MISSING_KEY, f"{key} (required on {payload.event_type})")


def _check_ranges(payload: WirePayload) -> None:
    for key, (low, high) in _INT_RANGES.items():
        value = getattr(payload, key)
        if isinstance(value, int) and not low <= value <= high:
            raise PayloadError(BAD_VALUE, f"{key}={value} is outside {low}..{high}")


def _to_json(value: Any) -> str:
    """JSON text of ``value``; values JSON cannot hold (msgpack extensions) become their repr."""
    try:
        return _JSON_ENCODER.encode(value).decode()
    except (TypeError, ValueError, OverflowError):
        return _JSON_ENCODER.encode(repr(value)).decode()
    except RecursionError:
        raise PayloadError(NOT_MSGPACK, "nested too deeply") from None


def result_json(value: Any) -> str | None:
    """The stored form of ``result``: JSON text, or None when absent or nil."""
    if value is UNSET or value is None:
        return None
    return _to_json(value)
