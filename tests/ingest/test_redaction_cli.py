"""The payload redaction policy through the real CLI: ``tasqlake import`` and ``ingest``."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import redis

from tasqlake.schemas.decode import event_id
from tasqlake.schemas.redaction import METADATA_KEY
from tasqlake.schemas.streams import write_msgpack_stream
from tests.ingest.helpers import (
    TASQLAKE,
    Ingester,
    count_events,
    events_glob,
    publish,
    query,
    simulated_payloads,
    wait_until,
)

#: 20 KiB of traceback whose byte 16,384 falls inside a 3-byte character.
LONG_TRACEBACK = "T" * 16_383 + "€" * 1_500
SECRET_ERROR = "card 4111-1111-1111-1111 declined"


def sensitive_payloads(seed: int) -> list[bytes]:
    """Realistic payloads; completed tasks get a result, every task that ended or was re-enqueued
    gets the same secret error and a 20 KiB traceback."""
    out = []
    for raw in simulated_payloads(seed=seed, duration=1):
        obj = msgspec.msgpack.decode(raw)
        if obj["event_type"] == "task_completed":
            obj["result"] = {"charged": 42, "currency": "EUR"}
        if obj["event_type"] in ("task_completed", "task_reenqueued", "task_failed"):
            obj.update(error=SECRET_ERROR, traceback=LONG_TRACEBACK)
        out.append(msgspec.msgpack.encode(obj))
    return out


def stored(lake: Path) -> dict[int, tuple[str | None, str | None, str | None]]:
    rows = query(f"SELECT event_id, result, error, traceback FROM {events_glob(lake)}")
    return {row[0]: row[1:] for row in rows}


def policies_on_disk(lake: Path) -> set[bytes]:
    files = list(lake.glob("events/*/*/*.parquet"))
    assert files
    return {pq.read_schema(f).metadata[METADATA_KEY] for f in files}


def test_import_stores_a_20_kib_traceback_truncated_by_the_default_policy(
    tmp_path: Path,
) -> None:
    payloads = sensitive_payloads(seed=71)
    stream = tmp_path / "events.bin"
    with open(stream, "wb") as out:
        write_msgpack_stream(out, payloads)
    lake = tmp_path / "lake"
    done = subprocess.run(
        [TASQLAKE, "import", str(stream), "--lake", str(lake)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = stored(lake)
    assert len(rows) == len(payloads)
    long_ones = [r for r in rows.values() if r[2] is not None]
    assert long_ones
    for _, error, traceback in long_ones:
        assert error == SECRET_ERROR
        assert traceback == "T" * 16_383  # first 16,384 bytes, cut before the split '€'
    assert {r[0] for r in rows.values()} - {None} == {'{"charged":42,"currency":"EUR"}'}
    assert policies_on_disk(lake) == {b"result=cap:65536,error=keep,traceback=truncate:16384"}

    again = subprocess.run(
        [TASQLAKE, "import", str(stream), "--lake", str(lake), "--redact", "traceback=drop"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert count_events(lake) == len(payloads)  # same names: replaced, not duplicated
    assert all(r[2] is None for r in stored(lake).values())
    assert policies_on_disk(lake) == {b"result=cap:65536,error=keep,traceback=drop"}


def test_ingest_with_redact_drops_results_and_hashes_errors(
    redis_client: redis.Redis, channel: str, lake: Path, ingesters: list[Ingester]
) -> None:
    payloads = sensitive_payloads(seed=72)
    ingester = Ingester(
        lake, channel, "--flush-interval", "0.2", "--redact", "result=drop,error=hash"
    ).start()
    ingesters.append(ingester)
    publish(redis_client, channel, payloads)
    wait_until(lambda: ingester.received() >= len(payloads), 30, "all events received")
    assert ingester.stop() == 0

    rows = stored(lake)
    assert set(rows) == {event_id(p) for p in payloads}
    for raw in payloads:
        sent = msgspec.msgpack.decode(raw)
        result, error, traceback = rows[event_id(raw)]
        assert result is None
        want_error = sent.get("error")
        if want_error is not None:
            want_error = "sha256:" + hashlib.sha256(want_error.encode()).hexdigest()
        assert error == want_error
        assert traceback == (None if sent.get("traceback") is None else "T" * 16_383)
    hashed = "sha256:" + hashlib.sha256(SECRET_ERROR.encode()).hexdigest()
    assert hashed in {error for _, error, _ in rows.values()}
    assert policies_on_disk(lake) == {b"result=drop,error=hash,traceback=truncate:16384"}
    assert SECRET_ERROR.encode() not in b"".join(
        f.read_bytes() for f in lake.glob("events/*/*/*.parquet")
    )


def test_a_bad_policy_is_one_clear_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [TASQLAKE, "import", str(tmp_path / "x.bin"), "--redact", "password=drop"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--redact" in done.stderr and "password=drop" in done.stderr
