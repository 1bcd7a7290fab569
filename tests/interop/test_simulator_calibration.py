"""The simulator, calibrated against the real AsyncTasQ 1.7.0 publisher.

``tasqlake simulate --out`` (the CLI, as a user runs it) and ``tasqlake.simulator.iter_events``
must publish what the real workers and dispatcher publish — compared with the recorded capture
(``tests/data/real``, always) and with this session's live capture (``-m interop``):

* the same event types, the same keys per event type in the same order, the same value types
  per (event type, key), the same msgpack encoding (a map of 11 str keys, canonical msgspec
  bytes: re-encoding the decoded payload gives the same bytes);
* the same formats: timestamps, task ids (UUID4), worker ids (``worker-`` + 8 hex, or
  ``dispatcher`` on ``task_enqueued``), ``sw_ident``/``sw_ver``;
* the same quirks (each checked on BOTH streams by the same function, and each must actually be
  exercised by both): ``task_completed.attempt`` always 1; one ``task_enqueued`` per task,
  none on retry; ``task_started`` 1..n; ``task_reenqueued`` carries the failed attempt;
  ``task_failed`` the last; ``worker_offline`` says freq 60.0, queues [], active 0 with a real
  ``processed``; ``worker_online`` has uptime nil, active 0, processed 0; heartbeats an int
  uptime; ``error`` is ``str(exc)`` without the class, the class is in the traceback's last
  line, and the traceback is only on ``task_failed``; task events of a stopped worker come
  before its ``worker_offline``; events arrive out of timestamp order per worker.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tasqlake.simulator import SimulationSpec, iter_events

from .capture import read_stream
from .event_rules import TASK_EVENTS, TASK_KEYS, TIMESTAMP_RE, WORKER_EVENTS, WORKER_KEYS
from .live import LiveRun, cli_env, tasqlake_argv

DATA = Path(__file__).resolve().parent.parent / "data" / "real"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
WORKER_ID = re.compile(r"^worker-[0-9a-f]{8}$")
DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
TRACEBACK_HEAD = "Traceback (most recent call last):\n"
TIMEOUT_ERROR = "Task exceeded timeout"

Stream = tuple[list[bytes], list[dict[str, Any]]]


def _stream(payloads: list[bytes]) -> Stream:
    return payloads, [msgspec.msgpack.decode(p) for p in payloads]


# --- the streams ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recorded() -> Stream:
    return _stream(read_stream(DATA / "stream.msgpack"))


@pytest.fixture(scope="module")
def live(installed_live_run: LiveRun) -> Stream:
    """The installed release's live run: the simulator is calibrated against 1.7.0."""
    return _stream(installed_live_run.result.payloads)


@pytest.fixture(params=[pytest.param("live", marks=pytest.mark.interop), "recorded"])
def real(request: pytest.FixtureRequest) -> Stream:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def cli_sim(tmp_path_factory: pytest.TempPathFactory) -> Stream:
    """``tasqlake simulate --out``: heartbeat 1 s like the real scenario, workers stopped
    gracefully at the end (--drain) so that worker_offline is there to compare."""
    out = tmp_path_factory.mktemp("sim") / "sim.msgpack"
    done = subprocess.run(
        [
            *tasqlake_argv(),
            "simulate",
            "--out",
            str(out),
            "--duration",
            "20",
            "--rate",
            "60",
            "--seed",
            "7",
            "--heartbeat-freq",
            "1",
            "--workers",
            "4",
            "--drain",
        ],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return _stream(read_stream(out))


@pytest.fixture(scope="module")
def api_sim() -> Stream:
    """``iter_events`` with crashes, graceful stops and heavier failures, default heartbeat."""
    spec = SimulationSpec(
        seed=11,
        rate=80,
        duration=240,
        stop_probability=0.3,
        crash_probability=0.3,
        failure_scale=3.0,
        drain=True,
    )
    return _stream([payload for _, payload in iter_events(spec)])


@pytest.fixture(params=["cli_sim", "api_sim"])
def sim(request: pytest.FixtureRequest) -> Stream:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


# --- shape: keys, order, value types, encoding ------------------------------------------------
def _type_name(value: Any) -> str:
    if isinstance(value, list):
        return "list[" + ",".join(sorted({_type_name(v) for v in value}) or ["-"]) + "]"
    return type(value).__name__


def shape(stream: Stream) -> dict[str, dict[str, set[str]]]:
    """event type -> key (in order) -> value type names (lists: element types; [] as list[-])."""
    out: dict[str, dict[str, set[str]]] = {}
    orders: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for e in stream[1]:
        orders[e["event_type"]].add(tuple(e))
        per_key = out.setdefault(e["event_type"], {k: set() for k in e})
        for k, v in e.items():
            per_key[k].add(_type_name(v))
    for et, seen in orders.items():
        assert len(seen) == 1, f"{et}: several key orders {seen}"
        assert list(next(iter(seen))) == (TASK_KEYS if et in TASK_EVENTS else WORKER_KEYS)
    for per_key in out.values():  # an empty queues list says nothing about element types
        if "queues" in per_key and len(per_key["queues"]) > 1:
            per_key["queues"].discard("list[-]")
    return out


def test_same_event_types_keys_order_and_value_types(real: Stream, sim: Stream) -> None:
    theirs, ours = shape(real), shape(sim)
    assert sorted(ours) == sorted(theirs), "event types"
    for et, keys in theirs.items():
        assert list(ours[et]) == list(keys), f"{et}: key order"
        for k, types in keys.items():
            assert ours[et][k] == types, f"{et}.{k}: simulator {ours[et][k]} vs real {types}"


def test_same_msgpack_encoding(real: Stream, sim: Stream) -> None:
    for payloads, events in (real, sim):
        for raw, e in zip(payloads, events, strict=True):
            assert raw[0] == 0x8B, "a msgpack map of 11 entries"
            assert msgspec.msgpack.encode(e) == raw, "canonical msgspec encoding of the dict"
            if e["event_type"] in WORKER_EVENTS:  # freq: a float64 even when integral
                assert b"\xa4freq\xcb" in raw


# --- formats ----------------------------------------------------------------------------------
def format_violations(events: list[dict[str, Any]]) -> list[str]:
    bad = []
    for e in events:
        et = e["event_type"]
        if not TIMESTAMP_RE.match(e["timestamp"]):
            bad.append(f"timestamp {e['timestamp']!r}")
        if et in WORKER_EVENTS and (e["sw_ident"], e["sw_ver"]) != ("asynctasq", "1.0.0"):
            bad.append(f"sw {e['sw_ident']} {e['sw_ver']}")  # 1.7.0 says 1.0.0
        if et in TASK_EVENTS:
            if not UUID4.match(e["task_id"]):
                bad.append(f"task_id {e['task_id']!r}")
            if not DOTTED.match(e["task_name"]) or not e["queue"]:
                bad.append(f"task_name/queue {e['task_name']!r} {e['queue']!r}")
            want_dispatcher = et == "task_enqueued"
            if want_dispatcher != (e["worker_id"] == "dispatcher"):
                bad.append(f"{et} worker_id {e['worker_id']!r}")
        if e["worker_id"] != "dispatcher" and not WORKER_ID.match(e["worker_id"]):
            bad.append(f"worker_id {e['worker_id']!r}")
        if et in WORKER_EVENTS and not e["hostname"]:
            bad.append("empty hostname")
    return bad


def test_same_formats(real: Stream, sim: Stream) -> None:
    assert format_violations(real[1]) == []
    assert format_violations(sim[1]) == []
    # timestamps: six fraction digits, absent only at microsecond 0 (datetime.isoformat())
    for _, events in (real, sim):
        assert all(len(e["timestamp"]) in (25, 32) for e in events)


# --- quirks: the same function on both streams ------------------------------------------------
def quirks(events: list[dict[str, Any]]) -> tuple[list[str], Counter[str]]:
    """(violations of the 1.7.0 quirks, how often each quirk was exercised)."""
    bad: list[str] = []
    seen: Counter[str] = Counter()
    per_task: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    per_worker: dict[str, list[dict[str, Any]]] = defaultdict(list)
    finished_by: Counter[str] = Counter()
    for e in events:
        et = e["event_type"]
        if et in TASK_EVENTS:
            per_task[e["task_id"]][et].append(e["attempt"])
            if et in ("task_completed", "task_failed"):
                finished_by[e["worker_id"]] += 1
            if e["result"] is not None:
                bad.append(f"{et}: result {e['result']!r}")
            ended = et in ("task_completed", "task_failed", "task_reenqueued")
            if ended != (type(e["duration_ms"]) is int and e["duration_ms"] >= 0):
                bad.append(f"{et}: duration_ms {e['duration_ms']!r}")
            errs = et in ("task_failed", "task_reenqueued")
            if errs != isinstance(e["error"], str):
                bad.append(f"{et}: error {e['error']!r}")
            if (et == "task_failed") != isinstance(e["traceback"], str):
                bad.append(f"{et}: traceback only on task_failed")
            if et == "task_failed":
                seen["traceback names the class, error does not"] += 1
                tb, err = e["traceback"].rstrip("\n"), e["error"]
                if err == TIMEOUT_ERROR:  # worker.py: error of a NEW TimeoutError("Task exceeded
                    # timeout"); format_exc() shows the one being handled, without a message
                    seen["timeout: error 'Task exceeded timeout', traceback bare TimeoutError"] += 1
                    last_line = tb.rsplit("\n", 1)[-1]
                    if not tb.startswith(TRACEBACK_HEAD) or last_line != "TimeoutError":
                        bad.append(f"timeout traceback ends {last_line!r}")
                elif not tb.startswith(TRACEBACK_HEAD) or not tb.endswith(": " + err):
                    bad.append(f"traceback does not end with '<class>: {err}'")
                else:
                    cls = tb[: -len(err) - 2].rsplit("\n", 1)[-1]  # "pkg.mod.Error: <err>"
                    if not DOTTED.match(cls) or err.startswith(cls.rsplit(".", 1)[-1] + ":"):
                        bad.append(f"error {err!r} / class {cls!r}")
        else:
            per_worker[e["worker_id"]].append(e)
    for tid, by in per_task.items():
        started, reenq = sorted(by["task_started"]), sorted(by["task_reenqueued"])
        if by["task_enqueued"] not in ([1], []):
            bad.append(f"{tid}: task_enqueued attempts {by['task_enqueued']} (one, attempt 1)")
        if started != list(range(1, len(started) + 1)):
            bad.append(f"{tid}: task_started attempts {started}")
        if reenq != list(range(1, len(reenq) + 1)) or len(reenq) > len(started):
            bad.append(f"{tid}: task_reenqueued attempts {reenq} vs started {started}")
        if any(a != 1 for a in by["task_completed"]):
            bad.append(f"{tid}: task_completed attempt {by['task_completed']}")
        if by["task_completed"] and reenq:
            seen["completed after a retry, attempt still 1"] += 1
        if reenq:
            seen["retried without a new task_enqueued"] += 1
        if by["task_failed"]:
            if by["task_failed"] != [len(started)] or len(reenq) != len(started) - 1:
                bad.append(f"{tid}: task_failed {by['task_failed']} after starts {started}")
            seen["task_failed carries the last attempt"] += 1
        if len(by["task_completed"]) + len(by["task_failed"]) > 1:
            bad.append(f"{tid}: two terminal events")
    inversions = 0
    for wid, evs in per_worker.items():
        online = [e for e in evs if e["event_type"] == "worker_online"]
        beats = [e for e in evs if e["event_type"] == "worker_heartbeat"]
        offline = [e for e in evs if e["event_type"] == "worker_offline"]
        for e in online:
            seen["worker_online: uptime nil, active 0, processed 0"] += 1
            if (e["uptime_seconds"], e["active"], e["processed"]) != (None, 0, 0) or not e[
                "queues"
            ]:
                bad.append(f"{wid}: worker_online {e}")
        freqs = {e["freq"] for e in online + beats}
        if len(freqs) != 1:
            bad.append(f"{wid}: freq {freqs} on online/heartbeat")
        for e in beats:
            if type(e["uptime_seconds"]) is not int or e["uptime_seconds"] < 0:
                bad.append(f"{wid}: heartbeat uptime {e['uptime_seconds']!r}")
        for e in offline:
            seen["worker_offline: freq 60, queues [], active 0"] += 1
            if (e["freq"], e["queues"], e["active"]) != (60.0, [], 0):
                bad.append(f"{wid}: worker_offline {e}")
            if type(e["uptime_seconds"]) is not int:
                bad.append(f"{wid}: worker_offline uptime {e['uptime_seconds']!r}")
            if e["processed"] != finished_by[wid]:  # completed + failed for good, not retries
                bad.append(f"{wid}: offline processed {e['processed']} != {finished_by[wid]}")
            seen["offline processed = completed + failed"] += 1
            last_task = max(
                (
                    x["timestamp"]
                    for x in events
                    if x["event_type"] in TASK_EVENTS and x["worker_id"] == wid
                ),
                default="",
            )
            if last_task > e["timestamp"]:
                bad.append(f"{wid}: task event after worker_offline")
        stamps = [datetime.fromisoformat(x["timestamp"]) for x in events if x["worker_id"] == wid]
        inversions += sum(b < a for a, b in itertools.pairwise(stamps))
    if inversions:
        seen["out of timestamp order per worker"] += 1
    return bad, seen


def test_same_quirks(real: Stream, sim: Stream) -> None:
    real_bad, real_seen = quirks(real[1])
    sim_bad, sim_seen = quirks(sim[1])
    assert real_bad == [], f"the real publisher no longer behaves as documented: {real_bad[:5]}"
    assert sim_bad == [], f"the simulator drifted from the real publisher: {sim_bad[:5]}"
    must = set(real_seen) - {"out of timestamp order per worker"}  # timing: not every run
    must -= {k for k in real_seen if k.startswith("timeout:")}  # the scenario has no timeouts
    missing = must - set(sim_seen)
    assert not missing, f"the simulator never exercises {missing}"
    if real_seen["out of timestamp order per worker"]:
        assert sim_seen["out of timestamp order per worker"]


def test_real_stream_exercises_the_quirks(recorded: Stream) -> None:
    """The recorded capture covers every quirk checked above (so the comparison means something)."""
    _, seen = quirks(recorded[1])
    assert set(seen) == {
        "traceback names the class, error does not",
        "completed after a retry, attempt still 1",
        "retried without a new task_enqueued",
        "task_failed carries the last attempt",
        "worker_online: uptime nil, active 0, processed 0",
        "worker_offline: freq 60, queues [], active 0",
        "offline processed = completed + failed",
        "out of timestamp order per worker",
    }


def test_heartbeats_like_the_real_worker(real: Stream, cli_sim: Stream) -> None:
    """With the same 1 s interval: first heartbeat says uptime 1, beats about 1 s apart,
    freq echoed as a float, and the stopped worker's uptime on worker_offline is an int."""
    for _, events in (real, cli_sim):
        beats: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in events:
            if e["event_type"] == "worker_heartbeat":
                beats[e["worker_id"]].append(e)
        assert beats
        for evs in beats.values():
            evs.sort(key=lambda e: e["timestamp"])
            assert evs[0]["uptime_seconds"] == 1 and evs[0]["freq"] == 1.0
            ups = [e["uptime_seconds"] for e in evs]
            assert ups == sorted(ups)
            gaps = [
                (
                    datetime.fromisoformat(b["timestamp"]) - datetime.fromisoformat(a["timestamp"])
                ).total_seconds()
                for a, b in itertools.pairwise(evs)
            ]
            assert all(0.8 <= g <= 1.6 for g in gaps), gaps
