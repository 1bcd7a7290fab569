"""Wire shapes: detection, the upcaster chain, and the record of shapes in file metadata.

AsyncTasQ has only ever published shape 1, so the older shapes here are the tests' own
hypothetical ones, registered through the module's public API (``WireShapes``/``OlderShape``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tasqlake.schemas import decode as d
from tasqlake.schemas.batch import EventColumns
from tasqlake.schemas.constants import WIRE_SHAPES_METADATA_KEY
from tasqlake.schemas.errors import PayloadError
from tasqlake.schemas.wire_shapes import (
    SHAPES,
    OlderShape,
    WireShapes,
    shape_name,
    shapes_metadata,
    wire_shapes_of,
)
from tests.schemas.helpers import (
    RECEIVED_US,
    SHAPE_0,
    WITH_0,
    pack,
    task_event,
    to_shape_0,
    upcast_0_to_1,
    worker_event,
)


def test_asynctasq_payloads_are_shape_1_and_nothing_older_is_known() -> None:
    assert SHAPES.versions == (1,) and shape_name(SHAPES.current) == "asynctasq-events/1"
    assert SHAPES.detect(task_event()) == 1
    assert d.decode(pack(task_event(extra_key=1)), RECEIVED_US).wire_shape == 1  # slow path


@pytest.mark.parametrize("event", [task_event(result={"ok": [1]}), worker_event()])
def test_an_older_shape_decodes_to_exactly_what_the_current_shape_decodes_to(
    event: dict[str, Any],
) -> None:
    current = d.decode(pack(event), RECEIVED_US)
    older = d.decode(pack(to_shape_0(event)), RECEIVED_US, shapes=WITH_0)
    assert older.payload == current.payload
    assert (older.timestamp_us, older.extra_json, older.result_json) == (
        current.timestamp_us,
        current.extra_json,
        current.result_json,
    )
    assert (older.wire_shape, current.wire_shape) == (0, 1)


def test_the_chain_applies_every_step_in_order() -> None:
    # shape -1: like shape 0 but ``task`` for task_id.
    def upcast_minus_1(payload: dict[str, Any]) -> dict[str, Any]:
        return {("task_id" if k == "task" else k): v for k, v in payload.items()}

    # The chain's predicates must not overlap: shape 0's is narrowed to leave shape -1 out.
    shape_0 = OlderShape(0, lambda p: SHAPE_0.recognise(p) and "task" not in p, upcast_0_to_1)
    chain = WireShapes([OlderShape(-1, lambda p: "task" in p, upcast_minus_1), shape_0])
    assert chain.versions == (-1, 0, 1)
    event = task_event()
    oldest = {("task" if k == "task_id" else k): v for k, v in to_shape_0(event).items()}
    decoded = d.decode(pack(oldest), RECEIVED_US, shapes=chain)
    assert decoded.wire_shape == -1
    assert decoded.payload == d.decode(pack(event), RECEIVED_US).payload


def test_without_its_upcaster_an_older_shape_is_quarantined_not_stored_as_garbage() -> None:
    with pytest.raises(PayloadError) as caught:
        d.decode(pack(to_shape_0(task_event())), RECEIVED_US)
    assert caught.value.reason == d.MISSING_KEY


@pytest.mark.parametrize("declared", [2, 99, "2", 1.0, None, True])
def test_a_payload_declaring_a_shape_not_read_is_quarantined_saying_what_to_do(
    declared: object,
) -> None:
    with pytest.raises(PayloadError) as caught:
        d.decode(pack(task_event(wire_shape=declared)), RECEIVED_US)
    assert caught.value.reason == d.UNKNOWN_SHAPE == "unknown wire shape"
    assert f"wire_shape={declared!r}" in caught.value.detail
    assert "asynctasq-events/1" in caught.value.detail
    assert "upgrade tasqlake" in caught.value.detail and "--from-quarantine" in caught.value.detail


def test_a_declared_known_shape_is_used_and_not_kept_in_the_row() -> None:
    plain = d.decode(pack(task_event()), RECEIVED_US)
    declared = d.decode(pack(task_event(wire_shape=1)), RECEIVED_US)
    assert (declared.payload, declared.extra_json, declared.wire_shape) == (plain.payload, None, 1)
    older = d.decode(
        pack({**to_shape_0(task_event()), "wire_shape": 0}), RECEIVED_US, shapes=WITH_0
    )
    assert older.wire_shape == 0 and older.payload == plain.payload


def test_an_upcaster_that_fails_quarantines_the_payload() -> None:
    with pytest.raises(PayloadError) as caught:
        d.decode(pack({"type": "task_started", "ts": "not a number"}), RECEIVED_US, shapes=WITH_0)
    assert caught.value.reason == d.UPCAST_FAILED
    assert caught.value.detail.startswith("asynctasq-events/0 -> asynctasq-events/1: TypeError")


def test_a_chain_must_be_consecutive() -> None:
    with pytest.raises(ValueError, match="consecutive"):
        WireShapes([OlderShape(-1, lambda p: False, dict)])


def test_shapes_metadata_round_trips_sorted_by_number() -> None:
    metadata = shapes_metadata(["asynctasq-events/10", "asynctasq-events/2", "asynctasq-events/2"])
    assert metadata == {WIRE_SHAPES_METADATA_KEY: b"asynctasq-events/2,asynctasq-events/10"}
    assert wire_shapes_of(metadata) == ("asynctasq-events/2", "asynctasq-events/10")


def test_metadata_without_the_record_reads_as_shape_1() -> None:
    assert wire_shapes_of(None) == wire_shapes_of({b"other": b"x"}) == ("asynctasq-events/1",)


def test_event_columns_record_the_shapes_of_each_hour() -> None:
    columns = EventColumns()
    early = task_event(timestamp="2026-11-29T16:10:00+00:00")
    late = task_event(timestamp="2026-11-29T17:10:00+00:00", attempt=2)
    for raw in (pack(to_shape_0(early)), pack(to_shape_0(late)), pack(late)):
        columns.append(raw, d.decode(raw, RECEIVED_US, shapes=WITH_0), RECEIVED_US, "c", "i")
    recorded = [(p.hour, wire_shapes_of(t.schema.metadata)) for p, t in columns.to_partitions()]
    assert recorded == [
        (16, ("asynctasq-events/0",)),
        (17, ("asynctasq-events/0", "asynctasq-events/1")),
    ]
    assert wire_shapes_of(columns.to_table().schema.metadata) == recorded[1][1]
