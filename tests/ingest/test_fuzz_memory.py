"""Fuzzing the whole fast path (BatchBuilder: decode, columns, redaction, quarantine, hour split)
with mutated real AsyncTasQ payloads: no crash, no hang, memory bounded, nothing lost.

Memory is measured two ways: Python allocations with ``tracemalloc`` (peak per batch) and
Arrow's own pool with ``pyarrow.total_allocated_bytes`` (which tracemalloc does not see).
"""

from __future__ import annotations

import random
import time
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import msgspec
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasqlake.ingest.processing.columnar import BatchBuilder
from tasqlake.schemas.redaction import RedactionPolicy
from tasqlake.schemas.streams import iter_msgpack_stream

STREAM = Path(__file__).parents[1] / "data" / "real" / "stream.msgpack"
with open(STREAM, "rb") as _source:
    REAL = list(iter_msgpack_stream(_source, STREAM.name))
NOW_US = time.time_ns() // 1000
#: Fixed allowance per batch on top of what the input itself may justify.
BASE_BYTES = 8 * 1024 * 1024
#: Python + Arrow bytes a batch may use per input byte (columns, JSON text, raw copies).
PER_INPUT_BYTE = 24

#: Prefixes that claim far more data than follows: str32, bin32, array32, map32, ext32.
HUGE_CLAIMS = [
    b"\xdb\xff\xff\xff\xff",
    b"\xc6\xff\xff\xff\xff",
    b"\xdd\xff\xff\xff\xff",
    b"\xdf\xff\xff\xff\xff",
    b"\xc9\xff\xff\xff\xff\x01",
]


@st.composite
def mutated_real(draw: st.DrawFn) -> bytes:
    """A real payload, damaged in one of the ways a broken or hostile publisher would."""
    raw = draw(st.sampled_from(REAL))
    how = draw(st.integers(0, 6))
    if how == 0:  # flipped bytes
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if how == 1:  # truncated
        return raw[: draw(st.integers(0, len(raw)))]
    if how == 2:  # a huge claimed length spliced in
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.sampled_from(HUGE_CLAIMS)) + raw[at:]
    if how == 3:  # deep nesting in a field
        obj = msgspec.msgpack.decode(raw)
        depth = draw(st.integers(1, 20_000))
        key = draw(st.sampled_from(["result", "extra", "task_id"]))
        return _with_nested(obj, key, depth)
    if how == 4:  # a big but legal value (near and over the size limit)
        obj = msgspec.msgpack.decode(raw)
        obj[draw(st.sampled_from(["traceback", "result", "error"]))] = "x" * draw(
            st.sampled_from([70_000, 600_000, 1024 * 1024 + 1])
        )
        return msgspec.msgpack.encode(obj)
    if how == 5:  # two payloads glued together
        return raw + draw(st.sampled_from(REAL))
    return draw(st.binary(max_size=64))  # noise


def _with_nested(obj: dict[str, object], key: str, depth: int) -> bytes:
    """``obj`` encoded with ``key`` set to ``depth`` nested one-element arrays (raw bytes)."""
    body = msgspec.msgpack.encode({k: v for k, v in obj.items() if k != key})
    count = body[0] & 0x0F  # fixmap (real payloads have < 16 keys)
    assert body[0] & 0xF0 == 0x80
    nested = b"\x91" * depth + b"\xc0"
    return bytes([0x80 | (count + 1)]) + body[1:] + msgspec.msgpack.encode(key) + nested


def _build(payloads: list[bytes], policy: RedactionPolicy) -> tuple[int, int, int]:
    """Run the fast path; returns (stored, quarantined, peak bytes Python + Arrow)."""
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    arrow_before = pa.total_allocated_bytes()
    builder = BatchBuilder("fuzz", redaction=policy)
    for start in range(0, len(payloads), 5):  # several socket reads
        builder.add(payloads[start : start + 5], NOW_US, "c")
    arrow_peak = pa.total_allocated_bytes() - arrow_before
    built = builder.build()
    arrow_peak = max(arrow_peak, pa.total_allocated_bytes() - arrow_before)
    _, peak = tracemalloc.get_traced_memory()
    return built.stored, built.quarantined, (peak - before) + arrow_peak


@pytest.fixture(scope="module", autouse=True)
def traced() -> Iterator[None]:
    tracemalloc.start()
    yield
    tracemalloc.stop()


@settings(
    max_examples=120,
    deadline=timedelta(seconds=5),  # a hang or quadratic blow-up fails the example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.lists(mutated_real(), min_size=1, max_size=30),
    st.lists(st.sampled_from(REAL), max_size=10),
    st.sampled_from(["", "result=hash,error=truncate:7", "traceback=cap:100,result=drop"]),
)
def test_fuzzed_batches_never_crash_never_lose_and_stay_within_memory(
    bad: list[bytes], good: list[bytes], policy_text: str
) -> None:
    payloads = [*good, *bad]
    stored, quarantined, peak = _build(payloads, RedactionPolicy.parse(policy_text))
    assert stored + quarantined == len(payloads)  # conservation
    assert stored >= len(good)
    budget = BASE_BYTES + PER_INPUT_BYTE * sum(map(len, payloads))
    assert peak <= budget, f"{peak:,} bytes for {sum(map(len, payloads)):,} input bytes"


def test_huge_claimed_lengths_allocate_nothing_like_what_they_claim() -> None:
    payloads = [claim + b"\x00" * 16 for claim in HUGE_CLAIMS] * 200
    stored, quarantined, peak = _build(payloads, RedactionPolicy.parse(""))
    assert (stored, quarantined) == (0, len(payloads))
    assert peak < BASE_BYTES  # 1,000 claims of 4 GiB each: far below a single one


def test_repeated_batches_do_not_grow_memory() -> None:
    rng = random.Random(5)
    batch = []
    for raw in REAL * 8:
        data = bytearray(raw)
        if rng.random() < 0.3:
            data[rng.randrange(len(data))] = rng.randrange(256)
        batch.append(bytes(data))
    policy = RedactionPolicy.parse("error=hash")
    for _ in range(5):  # warm-up: caches, interned strings, Arrow pool
        _build(batch, policy)
    tracemalloc.reset_peak()
    python_before, _ = tracemalloc.get_traced_memory()
    arrow_before = pa.total_allocated_bytes()
    for _ in range(40):
        stored, quarantined, _ = _build(batch, policy)
        assert stored + quarantined == len(batch)
    python_after, _ = tracemalloc.get_traced_memory()
    growth = (python_after - python_before) + (pa.total_allocated_bytes() - arrow_before)
    assert growth < 1024 * 1024, f"grew {growth:,} bytes over 40 batches"


def test_deep_nesting_is_quarantined_not_a_crash_of_the_fast_path() -> None:
    """Regression: msgspec's RecursionError escaped BatchBuilder.add (a poison pill in the WAL)."""
    obj = msgspec.msgpack.decode(REAL[0])
    payload = _with_nested(obj, "result", 20_000)
    builder = BatchBuilder("fuzz")
    builder.add([payload, REAL[0]], NOW_US, "c")
    built = builder.build()
    assert (built.stored, built.quarantined) == (1, 1)
    reasons = [r for _, t in built.quarantine for r in t["reason"].to_pylist()]
    assert reasons == ["not msgpack"]
