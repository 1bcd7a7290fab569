"""Re-importing quarantined payloads (``tasqlake import --from-quarantine``): exactly once."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
import redis

from tasqlake.ingest.requeue import Selection, requeue_quarantine
from tasqlake.lake import layout
from tasqlake.lake.storage import Lake
from tasqlake.schemas.decode import event_id
from tasqlake.schemas.errors import StorageError
from tasqlake.schemas.streams import write_msgpack_stream
from tests.ingest.helpers import (
    TASQLAKE,
    Ingester,
    events_glob,
    publish,
    query,
    simulated_payloads,
    wait_until,
)

pytestmark = pytest.mark.clock  # compares with the clock: also run a year ahead (test_moved_clock)

BIG = 1024 * 1024 + 10


def _variant(raw: bytes, **changes: object) -> bytes:
    return msgspec.msgpack.encode({**msgspec.msgpack.decode(raw), **changes})


def payload_mix(seed: int) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(good, too large, hopeless): too large ones have a 1 MiB error; hopeless never pass."""
    good = simulated_payloads(seed=seed, duration=1)
    too_large = [_variant(raw, error="e" * BIG) for raw in good[:3]]
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    hopeless = [b"\xc1 not msgpack", _variant(good[5], timestamp=future)]
    return good, too_large, hopeless


def write_stream(path: Path, payloads: list[bytes]) -> Path:
    with open(path, "wb") as out:
        write_msgpack_stream(out, payloads)
    return path


def tasqlake(*args: str) -> str:
    done = subprocess.run([TASQLAKE, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def rows(lake: Path) -> list[tuple]:
    return query(
        f"SELECT event_id, epoch_us(received_at), channel, ingester_id FROM {events_glob(lake)}"
    )


def quarantine_count(lake: Path) -> int:
    return query(f"SELECT count(*) FROM read_parquet('{lake}/quarantine/*/*/*.parquet')")[0][0]


def test_requeue_after_raising_the_limit_stores_each_once_and_leaves_the_rest(
    tmp_path: Path,
) -> None:
    good, too_large, hopeless = payload_mix(seed=81)
    lake = tmp_path / "lake"
    stream = write_stream(tmp_path / "a.bin", [*good, *too_large, *hopeless])
    # The same payloads again in another file: quarantined twice, as by two HA ingesters.
    copy = write_stream(tmp_path / "b.bin", too_large[:1])
    out = tasqlake("import", str(stream), str(copy), "--lake", str(lake))
    assert f"{len(good)} events stored, {len(too_large) + len(hopeless) + 1} quarantined" in out
    quarantined = quarantine_count(lake)
    copies: dict[int, set[tuple[int, str, str]]] = {}
    for eid, received_us, channel_name, ingester_name in query(
        "SELECT event_id, epoch_us(received_at), channel, ingester_id "
        f"FROM read_parquet('{lake}/quarantine/*/*/*.parquet')"
    ):
        copies.setdefault(eid, set()).add((received_us, channel_name, ingester_name))
    assert len(copies[event_id(too_large[0])]) == 2  # quarantined twice

    out = tasqlake(
        "import", "--from-quarantine", "--lake", str(lake), "--max-payload-bytes", str(2 * BIG)
    )
    assert "5 payloads examined, 3 now stored, 2 still quarantined" in out
    assert "1 already re-imported" in out  # the second copy of a payload is not stored again
    stored = rows(lake)
    assert len(stored) == len(good) + len(too_large)
    requeued = {r[0]: r for r in stored if r[0] in {event_id(p) for p in too_large}}
    assert set(requeued) == {event_id(p) for p in too_large}
    for eid, (_, received_us, channel, ingester) in requeued.items():
        # as if ingested when (and where) one of its quarantined copies was received
        assert (received_us, channel, ingester) in copies[eid]
    assert quarantine_count(lake) == quarantined  # quarantine files are never changed
    assert (lake / layout.REQUEUED_DIR).is_dir()

    again = tasqlake(
        "import", "--from-quarantine", "--lake", str(lake), "--max-payload-bytes", str(2 * BIG)
    )
    assert "2 payloads examined, 0 now stored" in again and "4 already re-imported" in again
    assert sorted(rows(lake)) == sorted(stored)


def test_reason_and_since_select_what_is_tried(tmp_path: Path) -> None:
    _, too_large, hopeless = payload_mix(seed=82)
    lake = tmp_path / "lake"
    tasqlake(
        "import",
        str(write_stream(tmp_path / "a.bin", [*too_large, *hopeless])),
        "--lake",
        str(lake),
    )
    out = tasqlake(
        "import",
        "--from-quarantine",
        "--lake",
        str(lake),
        "--reason",
        "absurd timestamp",
        "--max-payload-bytes",
        str(2 * BIG),
    )
    assert "1 payloads examined, 0 now stored, 1 still quarantined (1 absurd timestamp)" in out
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    out = tasqlake(
        "import",
        "--from-quarantine",
        "--lake",
        str(lake),
        "--since",
        later,
        "--max-payload-bytes",
        str(2 * BIG),
    )
    assert "0 payloads examined" in out
    done = subprocess.run(
        [TASQLAKE, "import", "--from-quarantine", "--lake", str(lake), "--reason", "bogus"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--reason" in done.stderr
    done = subprocess.run(
        [TASQLAKE, "import", "--lake", str(lake)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "--from-quarantine" in done.stderr


def test_a_run_interrupted_before_its_marker_is_completed_never_duplicated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, too_large, _ = payload_mix(seed=83)
    lake_dir = tmp_path / "lake"
    tasqlake(
        "import",
        str(write_stream(tmp_path / "a.bin", [*good, *too_large])),
        "--lake",
        str(lake_dir),
    )
    lake = Lake(lake_dir)
    real_commit_bytes = Lake.commit_bytes

    def crash_on_marker(self: Lake, relpath: str, data: bytes) -> None:
        if relpath.endswith(".done"):
            raise StorageError("simulated crash before the marker")
        real_commit_bytes(self, relpath, data)

    monkeypatch.setattr(Lake, "commit_bytes", crash_on_marker)
    with pytest.raises(StorageError):
        requeue_quarantine(lake, 2 * BIG)
    files_after_crash = sorted(p.name for p in lake_dir.glob("events/*/*/requeue-*.parquet"))
    assert files_after_crash
    monkeypatch.setattr(Lake, "commit_bytes", real_commit_bytes)

    summary = requeue_quarantine(lake, 2 * BIG)  # completes the run, takes nothing again
    assert summary.completed_runs == 1 and summary.stored == 0
    assert summary.already_requeued == len(too_large)
    ids = query(f"SELECT count(*), count(DISTINCT event_id) FROM {events_glob(lake_dir)}")
    assert ids == [(len(good) + len(too_large), len(good) + len(too_large))]
    assert sorted(p.name for p in lake_dir.glob("events/*/*/requeue-*.parquet")) == (
        files_after_crash
    )
    assert requeue_quarantine(lake, 2 * BIG, selection=Selection()).completed_runs == 0


def test_payloads_the_service_quarantined_come_back_as_if_ingested(
    redis_client: redis.Redis, channel: str, lake: Path, ingesters: list[Ingester]
) -> None:
    payloads = simulated_payloads(seed=84, duration=1)
    limit = sorted(len(p) for p in payloads)[len(payloads) // 2]
    ingester = Ingester(
        lake,
        channel,
        "--flush-interval",
        "0.2",
        "--ingester-id",
        "ing-q",
        env={"TASQLAKE_MAX_PAYLOAD_BYTES": str(limit)},
    ).start()
    ingesters.append(ingester)
    publish(redis_client, channel, payloads)
    wait_until(lambda: ingester.received() >= len(payloads), 30, "all payloads read")
    assert ingester.stop() == 0
    too_large = [p for p in payloads if len(p) > limit]
    assert quarantine_count(lake) == len(too_large) > 0

    tasqlake("import", "--from-quarantine", "--lake", str(lake))
    stored = rows(lake)
    assert sorted(r[0] for r in stored) == sorted(event_id(p) for p in payloads)
    assert {(r[2], r[3]) for r in stored} == {(channel, "ing-q")}
