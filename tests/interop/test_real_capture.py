"""The real AsyncTasQ 1.7.0 publisher and Redis driver, pinned down.

``test_live_*`` run the scenario (real workers, private redis-server, ~20 s) and check
the properties of the captured stream and the driver semantics documented in
DRIVER_SEMANTICS.md. ``test_recorded_*`` check the same on tests/data/real, plus the
exact numbers of that recording.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import msgspec
import pytest

pytest.importorskip("asynctasq", reason="asynctasq (==1.7.0, dev extra) is not installed")

from .capture import read_stream
from .event_rules import (
    TASK_EVENTS,
    TASK_KEYS,
    TIMESTAMP_RE,
    WORKER_EVENTS,
    WORKER_KEYS,
    driver_numbers_from_events,
    global_from_events,
)
from .live import ASYNCTASQ_RELEASES, LiveRun, LiveRuns
from .scenario import ScenarioResult

pytestmark = pytest.mark.interop
DATA = Path(__file__).resolve().parent.parent / "data" / "real"
Captured = tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]


def _decode(payloads: list[bytes]) -> list[dict[str, Any]]:
    return [msgspec.msgpack.decode(p) for p in payloads]


def _live(run: LiveRun) -> Captured:
    """A release's live run of this session (conftest.py; tasqlake ingest subscribed alongside)."""
    result: ScenarioResult = run.result
    return _decode(result.payloads), result.truth, result.driver_stats


@pytest.fixture(scope="module")
def recorded() -> Captured:
    events = _decode(read_stream(DATA / "stream.msgpack"))
    truth = json.loads((DATA / "truth.json").read_text())
    driver = json.loads((DATA / "driver_stats.json").read_text())
    return events, truth, driver


@pytest.fixture(params=[*(f"live-{r}" for r in ASYNCTASQ_RELEASES), "recorded"])
def cap(request: pytest.FixtureRequest) -> Captured:
    if request.param == "recorded":
        return request.getfixturevalue("recorded")  # type: ignore[no-any-return]
    runs: LiveRuns = request.getfixturevalue("live_runs")
    return _live(runs.get(request.param.removeprefix("live-")))


def _workers(truth: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["role"]: w for w in truth["workers"]}


def test_live_run_ran_the_release_it_names(live_run: LiveRun) -> None:
    """Each parametrised live run ran that AsyncTasQ release (workers, driver, dispatcher all
    run by the release's interpreter: scenario.py's ``--drive`` child)."""
    assert live_run.result.truth["settings"]["asynctasq"] == live_run.release


def test_keys_and_types(cap: Captured) -> None:
    events, _, _ = cap
    assert {e["event_type"] for e in events} <= TASK_EVENTS | WORKER_EVENTS
    for e in events:
        keys = TASK_KEYS if e["event_type"] in TASK_EVENTS else WORKER_KEYS
        assert list(e) == keys, e  # same keys, same (dataclass field) order
        assert TIMESTAMP_RE.match(e["timestamp"]), e["timestamp"]
        if e["event_type"] in TASK_EVENTS:
            assert isinstance(e["task_id"], str) and len(e["task_id"]) == 36
            assert isinstance(e["attempt"], int) and e["attempt"] >= 1
            assert e["result"] is None
            has_duration = e["event_type"] in ("task_completed", "task_failed", "task_reenqueued")
            assert isinstance(e["duration_ms"], int) if has_duration else e["duration_ms"] is None
            has_error = e["event_type"] in ("task_failed", "task_reenqueued")
            assert isinstance(e["error"], str) if has_error else e["error"] is None
            is_failed = e["event_type"] == "task_failed"
            assert isinstance(e["traceback"], str) if is_failed else e["traceback"] is None
            if e["event_type"] == "task_enqueued":
                assert e["worker_id"] == "dispatcher"
        else:
            assert isinstance(e["freq"], float)
            assert isinstance(e["active"], int) and isinstance(e["processed"], int)
            assert isinstance(e["queues"], list)
            assert (e["sw_ident"], e["sw_ver"]) == ("asynctasq", "1.0.0")
            if e["event_type"] == "worker_online":
                assert e["uptime_seconds"] is None
            else:
                assert isinstance(e["uptime_seconds"], int)
    assert Counter(e["event_type"] for e in events)["task_cancelled"] == 0


def test_attempt_quirks(cap: Captured) -> None:
    events, truth, _ = cap
    max_att = {t["task_id"]: t["max_attempts"] for t in truth["tasks"]}
    per_task: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for e in events:
        if e["event_type"] in TASK_EVENTS:
            per_task[e["task_id"]].append((e["event_type"], e["attempt"]))
    for tid, seq in per_task.items():
        by_type: dict[str, list[int]] = defaultdict(list)
        for et, a in seq:
            by_type[et].append(a)
        assert by_type["task_enqueued"] == [1]  # exactly one, retries do not re-emit it
        started = sorted(by_type["task_started"])
        assert started == list(range(1, len(started) + 1))
        assert all(a == 1 for a in by_type["task_completed"])  # always 1, even on attempt 3
        reenq = sorted(by_type["task_reenqueued"])
        assert reenq == list(range(1, len(reenq) + 1))
        if by_type["task_failed"]:
            assert by_type["task_failed"] == [max_att[tid]] == [len(started)]
        if by_type["task_completed"] or by_type["task_failed"]:
            assert len(reenq) == len(started) - 1


def test_worker_event_quirks(cap: Captured) -> None:
    events, truth, _ = cap
    w = _workers(truth)
    by_worker: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["event_type"] in WORKER_EVENTS:
            by_worker[e["worker_id"]].append(e)
    freq = truth["settings"]["heartbeat_s"]
    for role, row in w.items():
        evs = by_worker[row["worker_id"]]
        online = [e for e in evs if e["event_type"] == "worker_online"]
        assert len(online) == 1
        assert (online[0]["freq"], online[0]["queues"]) == (freq, row["queues"])
        assert (online[0]["active"], online[0]["processed"]) == (0, 0)
        beats = [e for e in evs if e["event_type"] == "worker_heartbeat"]
        assert beats and all(b["freq"] == freq and b["queues"] == row["queues"] for b in beats)
        offline = [e for e in evs if e["event_type"] == "worker_offline"]
        if role == "graceful":  # SIGTERM: drains, then the defaults-only worker_offline
            assert len(offline) == 1
            o = offline[0]
            assert (o["freq"], o["queues"], o["active"]) == (60.0, [], 0)
            assert o["processed"] == row["processed"]
            assert abs(o["uptime_seconds"] - (row["exited_at"] - row["started_at"])) <= 1.5
            tids = set(row["in_flight_at_signal"])
            assert tids, "the graceful worker must be busy at SIGTERM"
            done = {e["task_id"] for e in events if e["event_type"] == "task_completed"}
            assert tids <= done  # in-flight tasks finish before offline
        else:
            assert offline == []  # SIGKILL: no goodbye; live workers: still running
        if role == "doomed":
            assert len(row["in_flight_at_signal"]) == 3
            assert all(b["active"] == 3 and b["processed"] == 0 for b in beats)
        if row["final_state"] == "alive":
            assert beats[-1]["processed"] == row["processed"]  # `processed` is reliable
            assert abs(beats[-1]["uptime_seconds"] - row["uptime_at_snapshot_s"]) <= freq + 1.0


def test_driver_matches_event_rules(cap: Captured) -> None:
    events, _, driver = cap
    from_events = driver_numbers_from_events(events)
    listed = [s["name"] for s in driver["get_all_queue_stats"]]
    assert listed == sorted(from_events)  # queues with any task event, sorted by name
    for q, ev in from_events.items():
        d = driver["get_queue_stats"][q]
        assert d["completed_total"] == ev["completed_total"], q
        assert d["failed_total"] == ev["failed_total"], q
        assert d["processing"] == ev["processing"], q
        # the event log cannot tell the main list from the delayed zset
        delayed = len(driver["redis_contents"][q]["delayed"])
        assert d["depth"] + delayed == ev["waiting"], q
        assert d["avg_duration_ms"] is None and d["throughput_per_minute"] is None
    g = driver["get_global_stats"]
    ge = global_from_events(from_events)
    assert (g["running"], g["completed"], g["failed"]) == (
        ge["running"],
        ge["completed"],
        ge["failed"],
    )
    assert g["pending"] == sum(driver["get_queue_stats"][q]["depth"] for q in listed)
    assert g["total"] == g["pending"] + g["running"] + g["completed"] + g["failed"]
    assert driver["get_worker_stats"] == []


def test_driver_vs_truth(cap: Captured) -> None:
    _, truth, driver = cap
    for q, t in truth["queues"].items():
        d, contents = driver["get_queue_stats"][q], driver["redis_contents"][q]
        assert t["retrying"] == [] and t["running"] == []  # quiescent
        assert d["failed_total"] == len(t["failed"])
        assert d["completed_total"] == len(t["completed"]) + t["attempts_failed_then_retried"]
        assert sorted(contents["processing"]) == t["running_lost"]
        assert sorted(contents["main"] + contents["delayed"]) == t["pending"]
        assert sorted(contents["delayed"]) == t["pending_delayed"]
    assert truth["queues"]["orphan"]["pending_delayed"], "delayed tasks stay in the zset"
    assert len(truth["queues"]["crunch"]["running_lost"]) == 3


def test_recorded_exact_numbers(recorded: Captured) -> None:
    events, _, driver = recorded
    assert driver["get_global_stats"] == {
        "pending": 6,
        "running": 3,
        "completed": 62,
        "failed": 5,
        "total": 76,
    }
    assert Counter(e["event_type"] for e in events)["worker_offline"] == 1
    # the `active` bug: idle live workers still report active > 0 in their last heartbeat
    last: dict[str, dict[str, Any]] = {}
    for e in events:
        if e["event_type"] == "worker_heartbeat":
            last[e["worker_id"]] = e
    _, truth, _ = recorded
    alive = [w["worker_id"] for w in truth["workers"] if w["final_state"] == "alive"]
    assert any(last[w]["active"] > 0 for w in alive)
