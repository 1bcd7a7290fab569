"""Payloads are exactly what AsyncTasQ 1.7.0's Redis emitter publishes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from tasqlake.simulator.wire import Clock, task_id, worker_id
from tests.interop.event_rules import (
    TASK_EVENTS,
    TASK_KEYS,
    TIMESTAMP_RE,
    WORKER_EVENTS,
    WORKER_KEYS,
)

# what real AsyncTasQ 1.7.0 publishes, as the interop tests established it
TASK_TYPES, WORKER_TYPES = TASK_EVENTS, WORKER_EVENTS
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_keys_in_order_and_types(quirky: Any) -> None:
    seen = set()
    for event in quirky.decoded:
        kind = event["event_type"]
        seen.add(kind)
        if kind in TASK_TYPES:
            assert list(event) == TASK_KEYS
            assert UUID4.match(event["task_id"])
            assert all(isinstance(event[k], str) for k in TASK_KEYS[:6])
            assert type(event["attempt"]) is int and event["attempt"] >= 1
            has_duration = kind in {"task_completed", "task_failed", "task_reenqueued"}
            assert (type(event["duration_ms"]) is int) == has_duration
            assert event["duration_ms"] is None or event["duration_ms"] >= 0
            assert event["result"] is None
            assert isinstance(event["error"], str) == (kind in {"task_failed", "task_reenqueued"})
            assert isinstance(event["traceback"], str) == (kind == "task_failed")
        else:
            assert kind in WORKER_TYPES
            assert list(event) == WORKER_KEYS
            assert re.match(r"^worker-[0-9a-f]{8}$", event["worker_id"])
            assert type(event["freq"]) is float
            assert type(event["active"]) is int and type(event["processed"]) is int
            assert isinstance(event["queues"], list)
            assert (event["sw_ident"], event["sw_ver"]) == ("asynctasq", "1.0.0")
            if kind == "worker_online":
                assert event["uptime_seconds"] is None
            else:
                assert type(event["uptime_seconds"]) is int
    assert seen == TASK_TYPES - {"task_cancelled"} | WORKER_TYPES


def test_bytes_identical_to_the_real_emitter(quirky: Any) -> None:
    """Rebuild each event as AsyncTasQ's own dataclass; its serializer gives the same bytes."""
    types = pytest.importorskip("asynctasq.monitoring.types")
    emitters = pytest.importorskip("asynctasq.monitoring.emitters")
    emitter = emitters.RedisEventEmitter(redis_url="redis://unused:6379", channel="unused")
    for (_, payload), event in zip(quirky.events, quirky.decoded, strict=True):
        fields = dict(event)
        fields["event_type"] = types.EventType(fields["event_type"])
        fields["timestamp"] = datetime.fromisoformat(fields["timestamp"])
        if "queues" in fields:
            fields["queues"] = tuple(fields["queues"])
            real = types.WorkerEvent(**fields)
        else:
            real = types.TaskEvent(**fields)
        assert emitter._serialize_event(real) == payload


def test_timestamps_are_isoformat_of_aware_utc(quirky: Any) -> None:
    stamps = [e["timestamp"] for e in quirky.decoded]
    for text in stamps:
        assert TIMESTAMP_RE.match(text), text
        parsed = datetime.fromisoformat(text)
        assert parsed.tzinfo is not None and parsed.isoformat() == text
    # With a millisecond clock some instants fall on a whole second: no fraction then.
    assert any("." not in s for s in stamps)
    assert any("." in s for s in stamps)


def test_clock_formats_like_datetime_isoformat() -> None:
    start = datetime(2026, 11, 29, 17, 19, 39, tzinfo=UTC)
    clock = Clock(start)
    assert clock.iso(0.0) == "2026-11-29T17:19:39+00:00"
    assert clock.iso(0.447117) == "2026-11-29T17:19:39.447117+00:00"
    assert clock.iso(3600.000001) == "2026-11-29T18:19:39.000001+00:00"
    assert Clock(start, resolution_us=1000).iso(1.0004) == "2026-11-29T17:19:40+00:00"
    for t in (0.5, 86399.999999, 12345.678901):
        expected = datetime.fromtimestamp(start.timestamp() + t, UTC)
        assert abs(datetime.fromisoformat(clock.iso(t)) - expected).total_seconds() < 2e-6


def test_ids_look_real() -> None:
    import random

    rng = random.Random(1)
    ids = {task_id(rng) for _ in range(1000)}
    assert len(ids) == 1000 and all(UUID4.match(i) for i in ids)
    assert re.match(r"^worker-[0-9a-f]{8}$", worker_id(rng))


def test_every_payload_is_a_msgpack_map(quirky: Any) -> None:
    for _, payload in quirky.events:
        assert payload[0] == 0x8B  # fixmap of 11 entries, as msgspec encodes the dict
        assert isinstance(msgspec.msgpack.decode(payload), dict)
