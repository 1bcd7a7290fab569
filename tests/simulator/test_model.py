"""The model: deterministic, every AsyncTasQ 1.7.0 quirk present, lifecycles consistent."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

import msgspec

from tasqlake.simulator import Simulation, SimulationSpec, iter_events
from tasqlake.simulator.catalog import UNCONSUMED_QUEUE

ENDS = {"task_completed", "task_failed", "task_reenqueued"}


def _ts(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["timestamp"])


def _by_task(run: Any) -> dict[str, list[dict[str, Any]]]:
    tasks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in run.decoded:
        if "task_id" in event:
            tasks[event["task_id"]].append(event)
    return tasks


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    spec = SimulationSpec(seed=5, rate=500, duration=10, heartbeat_freq=3)
    first = list(iter_events(spec))
    assert first == list(iter_events(spec))
    assert len(first) > 1000
    assert [p for _, p in first] != [p for _, p in iter_events(spec.replace(seed=6))]


def test_emitted_in_emission_order(quirky: Any) -> None:
    times = [at for at, _ in quirky.events]
    assert times == sorted(times)
    assert times[0] >= 0
    assert quirky.truth.events == len(quirky.events)


def test_rate_is_roughly_honoured() -> None:
    for rate in (100.0, 2000.0):
        spec = SimulationSpec(seed=3, rate=rate, duration=60)
        n = sum(1 for at, _ in iter_events(spec) if at < spec.duration)
        assert 0.85 * rate <= n / spec.duration <= 1.1 * rate, (rate, n / spec.duration)


def test_generator_is_lazy() -> None:
    """A day-long run at a high rate starts yielding at once (nothing is precomputed)."""
    started = time.perf_counter()
    first = list(itertools.islice(iter_events(SimulationSpec(rate=50_000, duration=86_400)), 5000))
    assert len(first) == 5000
    assert time.perf_counter() - started < 5


def test_each_task_lifecycle_is_consistent(quirky: Any) -> None:
    truth = quirky.truth.tasks
    tasks = _by_task(quirky)
    assert set(tasks) == set(truth)
    for tid, events in tasks.items():
        kinds = [e["event_type"] for e in events]
        assert kinds.count("task_enqueued") == 1, tid
        started = sorted(e["attempt"] for e in events if e["event_type"] == "task_started")
        assert started == list(range(1, len(started) + 1)), tid
        retried = sorted(e["attempt"] for e in events if e["event_type"] == "task_reenqueued")
        assert retried == list(range(1, len(retried) + 1)), tid
        assert len(retried) in (len(started) - 1, len(started)), tid
        terminal = [e for e in events if e["event_type"] in {"task_completed", "task_failed"}]
        assert len(terminal) <= 1, tid
        if terminal:
            assert len(retried) == len(started) - 1
        # Within one worker's clock, each attempt's end comes after its start.
        starts = {e["attempt"]: e for e in events if e["event_type"] == "task_started"}
        for end in (e for e in events if e["event_type"] in ENDS):
            attempt = len(started) if end["event_type"] == "task_completed" else end["attempt"]
            assert end["worker_id"] == starts[attempt]["worker_id"]
            assert _ts(end) >= _ts(starts[attempt])
        t = truth[tid]
        assert t.attempts == len(started)
        expected = {"completed": "task_completed", "failed": "task_failed"}.get(t.status)
        assert (terminal[0]["event_type"] if terminal else None) == expected, (tid, t.status)
    statuses = {t.status for t in truth.values()}
    assert {"completed", "failed", "running", "lost", "pending"} <= statuses


def test_retries_quirks(quirky: Any) -> None:
    """Retry: reenqueued (failed attempt's number) then started attempt+1, no new enqueued;
    completed says attempt 1 even after retries."""
    late_successes = 0
    for events in _by_task(quirky).values():
        for e in events:
            if e["event_type"] == "task_enqueued":
                assert e["worker_id"] == "dispatcher" and e["attempt"] == 1
            if e["event_type"] == "task_completed":
                assert e["attempt"] == 1
                if any(x["event_type"] == "task_reenqueued" for x in events):
                    late_successes += 1
        failed = [e for e in events if e["event_type"] == "task_failed"]
        if failed:
            starts = [e["attempt"] for e in events if e["event_type"] == "task_started"]
            assert failed[0]["attempt"] == max(starts)
    assert late_successes > 0
    assert any(e["attempt"] > 1 for e in quirky.of_type("task_failed"))
    assert any(e["attempt"] == 1 for e in quirky.of_type("task_failed"))  # max_attempts=1 types


def test_failures_carry_error_text_and_tracebacks(quirky: Any) -> None:
    failed = quirky.of_type("task_failed")
    assert len({e["traceback"].splitlines()[-1].split(":")[0] for e in failed}) >= 3
    assert any("\n" in e["error"] for e in failed + quirky.of_type("task_reenqueued"))
    for e in failed:
        tb = e["traceback"]
        assert tb.startswith('Traceback (most recent call last):\n  File "')
        assert tb.endswith("\n")
        if e["error"] == "Task exceeded timeout":
            assert tb.endswith("\nTimeoutError\n")
        else:
            assert tb.endswith(f": {e['error']}\n")
            exc_class = tb[: -len(e["error"]) - 3].rsplit("\n", 1)[-1]
            assert exc_class.replace(".", "").isidentifier(), exc_class
            assert not e["error"].startswith(exc_class)
    errors = {e["error"] for e in quirky.of_type("task_reenqueued") + failed}
    assert any(any(ch.isdigit() for ch in err) for err in errors)  # ids need normalising
    assert len(errors) > 10


def test_emission_order_is_not_causal(quirky: Any) -> None:
    started_first = 0
    for events in _by_task(quirky).values():
        kinds = [e["event_type"] for e in events]
        if "task_started" in kinds and kinds.index("task_started") < kinds.index("task_enqueued"):
            started_first += 1
    assert started_first > 0
    last_seen: dict[str, datetime] = {}
    backwards = 0
    for e in quirky.decoded:
        if e["event_type"] in ENDS | {"task_started"}:
            ts = _ts(e)
            if ts < last_seen.get(e["worker_id"], ts):
                backwards += 1
            last_seen[e["worker_id"]] = max(ts, last_seen.get(e["worker_id"], ts))
    assert backwards > 0


def test_processes_have_their_own_clock_skew(quirky: Any) -> None:
    QUIRKY = quirky.spec
    sim = Simulation(QUIRKY)
    skews = sim.emit.dispatcher_skews + [w.skew for w in sim.workers]
    assert len(set(skews)) == len(skews)
    assert all(abs(s) <= QUIRKY.max_clock_skew for s in skews)
    assert any(abs(s) > 0.0005 for s in skews)


def test_worker_events_quirks(quirky: Any) -> None:
    online = {e["worker_id"]: e for e in quirky.of_type("worker_online")}
    assert all(e["freq"] == 2.0 and e["queues"] and e["active"] == 0 for e in online.values())
    for e in quirky.of_type("worker_offline"):
        assert (e["freq"], e["queues"], e["active"]) == (60.0, [], 0)
    for e in quirky.of_type("worker_heartbeat"):
        assert e["freq"] == 2.0 and e["queues"] == online[e["worker_id"]]["queues"]


def test_processed_and_stuck_active(quirky: Any) -> None:
    """``processed`` = completed + permanently failed so far; ``active`` may stay > 0 idle."""
    done: dict[str, int] = defaultdict(int)
    running: dict[str, set[str]] = defaultdict(set)
    stuck = 0
    # Replay by timestamp (one worker's clock) to know what each worker did before each beat.
    for e in sorted(quirky.decoded, key=_ts):
        kind, wid = e["event_type"], e["worker_id"]
        if kind == "task_started":
            running[wid].add(e["task_id"])
        elif kind in ENDS:
            running[wid].discard(e["task_id"])
            if kind != "task_reenqueued":
                done[wid] += 1
        elif kind == "worker_offline":
            assert e["processed"] == done[wid]
        elif kind == "worker_heartbeat":
            assert abs(e["processed"] - done[wid]) <= 2  # ms of fire-and-forget lag
            if e["active"] > 0 and not running[wid]:
                stuck += 1
    assert stuck > 0
    for wid, w in quirky.truth.workers.items():
        assert w.processed == done[wid]


def test_stops_crashes_and_new_workers(quirky: Any) -> None:
    workers = quirky.truth.workers
    fates = {w.fate for w in workers.values()}
    assert fates == {"running", "stopped", "crashed"}
    offline = {e["worker_id"]: e for e in quirky.of_type("worker_offline")}
    assert set(offline) == {wid for wid, w in workers.items() if w.fate == "stopped"}
    last_task_event: dict[str, datetime] = {}
    for e in quirky.decoded:
        if "task_id" in e and e["worker_id"] in offline:
            wid = e["worker_id"]
            last_task_event[wid] = max(_ts(e), last_task_event.get(wid, _ts(e)))
    for wid, e in offline.items():
        assert _ts(e) >= last_task_event.get(wid, _ts(e))
    crashed = {wid for wid, w in workers.items() if w.fate == "crashed"}
    lost = [t for t in quirky.truth.tasks.values() if t.status == "lost"]
    assert lost and all(t.worker_id in crashed for t in lost)
    assert any(w.online_at > 5 for w in workers.values())  # late joiners and replacements


def test_unconsumed_queue_piles_up(quirky: Any) -> None:
    pile = [t for t in quirky.truth.tasks.values() if t.queue == UNCONSUMED_QUEUE]
    assert len(pile) > 5 and all(t.status == "pending" and t.attempts == 0 for t in pile)
    assert all(UNCONSUMED_QUEUE not in e["queues"] for e in quirky.of_type("worker_online"))


def test_cancelled_only_when_enabled(quirky: Any) -> None:
    assert not quirky.of_type("task_cancelled")
    spec = SimulationSpec(seed=2, rate=300, duration=20, cancel_probability=0.2)
    cancelled = [msgspec.msgpack.decode(p) for _, p in iter_events(spec) if b"task_cancelled" in p]
    assert cancelled and all(e["worker_id"] == "dispatcher" for e in cancelled)


def test_drain_ends_with_every_live_worker_offline(drained: Any) -> None:
    truth = drained.truth
    times = [at for at, _ in drained.events]
    assert times == sorted(times)
    assert {w.fate for w in truth.workers.values()} <= {"stopped", "crashed"}
    assert len(drained.of_type("worker_offline")) == sum(
        w.fate == "stopped" for w in truth.workers.values()
    )
    for t in truth.tasks.values():
        assert t.status in {"completed", "failed", "lost", "pending"}, t
        if t.status == "pending":  # only where nobody consumes any more
            assert t.queue == UNCONSUMED_QUEUE or t.attempts == 0
    assert drained.decoded[-1]["event_type"] == "worker_offline"
