"""The fast columnar path must mean exactly what the canonical decoder means."""

from __future__ import annotations

import time

import msgspec
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasqlake.ingest.processing.columnar import BatchBuilder
from tasqlake.schemas.batch import EventColumns, QuarantineColumns
from tasqlake.schemas.decode import decode
from tasqlake.schemas.errors import PayloadError
from tasqlake.schemas.redaction import (
    DEFAULT_POLICY,
    FIELDS,
    METADATA_KEY,
    FieldAction,
    RedactionPolicy,
)
from tests.ingest.helpers import simulated_payloads

REAL = simulated_payloads(seed=31, duration=2)
NOW_US = time.time_ns() // 1000


def canonical(
    payloads: list[bytes], policy: RedactionPolicy = DEFAULT_POLICY
) -> tuple[pa.Table, list[tuple[bytes, str]]]:
    events, quarantine = EventColumns(policy), QuarantineColumns()
    for raw in payloads:
        try:
            events.append(raw, decode(raw, NOW_US), NOW_US, "c", "i")
        except PayloadError as error:
            quarantine.append(raw, error.reason, error.detail, NOW_US, "c", "i")
    rejected = quarantine.to_table().select(["raw", "reason"]).to_pylist()
    return events.to_table(), sorted((r["raw"], r["reason"]) for r in rejected)


def fast(
    payloads: list[bytes], policy: RedactionPolicy = DEFAULT_POLICY
) -> tuple[pa.Table, list[tuple[bytes, str]]]:
    builder = BatchBuilder("i", redaction=policy)
    for start in range(0, len(payloads), 7):  # several socket reads
        builder.add(payloads[start : start + 7], NOW_US, "c")
    built = builder.build()
    events = [t for _, t in built.events]
    table = pa.concat_tables(events) if events else EventColumns(policy).to_table()
    rejected = [r for _, t in built.quarantine for r in t.select(["raw", "reason"]).to_pylist()]
    return table, sorted((r["raw"], r["reason"]) for r in rejected)


def same(payloads: list[bytes], policy: RedactionPolicy = DEFAULT_POLICY) -> None:
    want_events, want_rejected = canonical(payloads, policy)
    got_events, got_rejected = fast(payloads, policy)
    assert got_rejected == want_rejected
    key = [("event_id", "ascending")]
    assert got_events.sort_by(key).to_pylist() == want_events.sort_by(key).to_pylist()
    assert got_events.schema.metadata[METADATA_KEY] == str(policy).encode()
    assert got_events.schema == want_events.schema


def test_real_payloads_build_the_same_rows_as_the_canonical_decoder() -> None:
    same(REAL)


#: msgpack holds integers in [-2**63, 2**64 - 1]; the edges of the stored columns' ranges
#: (int32 attempt/active, int64 counters) are drawn on purpose.
_MSGPACK_INT_MIN, _MSGPACK_INT_MAX = -(2**63), 2**64 - 1
_EDGES = [0, 1, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63]
_values = st.one_of(
    st.none(),
    st.integers(min_value=_MSGPACK_INT_MIN, max_value=_MSGPACK_INT_MAX),
    st.sampled_from([*_EDGES, _MSGPACK_INT_MIN, _MSGPACK_INT_MAX]),
    st.text(max_size=8),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=4), max_size=3),
    st.booleans(),
    st.sampled_from(
        [
            "2026-11-29T17:19:39+00:00",
            "1999-12-31T23:59:59Z",
            "9999-01-01T00:00:00",
            "2026-11-29T17:19:39.5+05:30",
            "not a time",
        ]
    ),
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real payload with keys changed, dropped or added, or its bytes damaged."""
    raw = draw(st.sampled_from(REAL))
    if draw(st.booleans()):
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data[: draw(st.integers(0, len(data)))])
    obj = msgspec.msgpack.decode(raw)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(
            st.sampled_from([*obj.keys(), "extra_key", "event_type", "timestamp", "wire_shape"])
        )
        if draw(st.booleans()) and key in obj:
            del obj[key]
        else:
            obj[key] = draw(_values)
    return msgspec.msgpack.encode(obj)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=12), st.lists(st.sampled_from(REAL), max_size=5))
def test_mutated_payloads_are_judged_exactly_like_the_canonical_decoder(
    bad: list[bytes], good: list[bytes]
) -> None:
    same([*good, *bad])


def test_conservation_over_a_large_mixed_batch() -> None:
    junk = [b"", b"\x90", b"\xc1", REAL[0][:-3], b"x" * (1024 * 1024 + 1)]
    payloads = REAL * 3 + junk
    builder = BatchBuilder("i")
    builder.add(payloads, NOW_US, "c")
    built = builder.build()
    assert built.stored + built.quarantined == len(payloads)
    assert built.quarantined == len(junk)


_actions = st.one_of(
    st.sampled_from([FieldAction("keep"), FieldAction("drop"), FieldAction("hash")]),
    st.builds(FieldAction, st.sampled_from(["truncate", "cap"]), st.integers(1, 24)),
)
_policies = st.builds(RedactionPolicy, st.fixed_dictionaries({name: _actions for name in FIELDS}))
#: Text with 1- to 4-byte UTF-8 characters, so byte limits fall inside characters.
_sensitive_text = st.text(
    alphabet=st.sampled_from(["a", "Z", " ", "\n", "é", "ß", "€", "中", "😀", "\u200d"]),
    max_size=30,
)


@st.composite
def with_sensitive_fields(draw: st.DrawFn) -> bytes:
    """A real payload whose result/error/traceback are replaced by drawn text (or nil)."""
    obj = msgspec.msgpack.decode(draw(st.sampled_from(REAL)))
    for name in FIELDS:
        if draw(st.booleans()):
            obj[name] = draw(st.one_of(st.none(), _sensitive_text))
    if draw(st.booleans()):
        obj["result"] = {"rows": draw(st.lists(_sensitive_text, max_size=3))}
    return msgspec.msgpack.encode(obj)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _policies,
    st.lists(with_sensitive_fields(), min_size=1, max_size=20),
    st.lists(mutated(), max_size=4),
)
def test_any_redaction_policy_is_applied_exactly_like_the_canonical_columns(
    policy: RedactionPolicy, sensitive: list[bytes], bad: list[bytes]
) -> None:
    same([*sensitive, *bad], policy)


def test_the_default_policy_truncates_long_tracebacks_on_a_character_boundary() -> None:
    obj = msgspec.msgpack.decode(REAL[0])
    obj.update(
        event_type="task_failed", traceback="x" * 16_383 + "€" * 2000, error="e", result=None
    )
    payload = msgspec.msgpack.encode(obj)
    table, _ = fast([payload])
    traceback = table.column("traceback")[0].as_py()
    assert traceback == "x" * 16_383  # the euro sign's 3 bytes do not fit in 16,384
    same([payload])
