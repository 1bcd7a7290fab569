"""Issue 16 §3, the outage part: ingesters down for 60 s and Redis restarted (AOF) under load,
with the REAL AsyncTasQ 1.7.0, through a Redis Stream and through Pub/Sub.

One run (module fixture, ~85 s) on a private redis-server with ``--appendonly yes
--appendfsync always`` (``restartable_redis.RestartableRedis``: SIGKILLed and restarted on the
same port with the same dir, so every process keeps its URL). Real workers
(``worker_main.py``, stream emitter installed) run tasks of ``tasks_app.py``; a dispatcher
(AsyncTasQ's ``Dispatcher`` with its Pub/Sub emitter and a ``RedisStreamEmitter``, set up by
``scenario._client_config``) dispatches one task every :data:`DISPATCH_EVERY_S`. Two
``tasqlake ingest`` processes, each on its own lake: one ``--stream`` (consumer group), one
``--channel`` (Pub/Sub). A raw Pub/Sub capture (``RawCapturer(reconnect=True)``) records what was
published while Redis was up. Timeline:

1. both ingesters read / are subscribed, workers start, dispatch starts;
2. both ingesters SIGKILLed and kept down :data:`INGESTERS_DOWN_S` (60 s) while the workers run
   and tasks are dispatched; :data:`FIRST_OUTAGE_AFTER_S` into that window Redis is SIGKILLed,
   down :data:`REDIS_DOWN_S`, and restarted from its AOF;
3. both ingesters restarted; once they read / are subscribed, Redis is SIGKILLed and restarted
   again while they are up (they reconnect and carry on); dispatch goes on a little;
4. dispatch stops, the system goes quiet, the workers are SIGTERMed (``worker_offline``), the
   stream ingester catches up (group's last-delivered-id >= the stream's last-generated-id,
   nothing pending) and both ingesters are SIGTERMed (exit 0).

The dispatcher pauses while Redis is down (a dispatch that fails half-way would leave it unknown
whether the task exists): every dispatch of the run returned a task id.

**AsyncTasQ 1.7.0 workers exit when Redis goes away**: the worker loop's ``LMOVE`` raises
``ConnectionError`` and ``Worker.start()`` propagates it (its heartbeats and events are guarded,
its fetch is not). The harness restarts a crashed worker (new worker id, same queues), as a
process supervisor would; the crash's ``worker_offline`` fails on both paths, and the tasks it
had in flight stay in ``queue:<q>:processing`` with no end event.

What is proved (numbers printed with ``pytest -s``):

* the stream lake's ``events`` hold every entry of the stream (``XRANGE - +``) exactly once
  (``event_id`` of the payload), nothing pending in the group;
* the Redis restarts lost nothing that was XADDed: every event the raw Pub/Sub capture saw is in
  the stream lake (the capture sees what was published while Redis was up; an event that could
  not be published could not be XADDed either, and the other way round);
* the emitters' failures during the Redis outages, read from the worker logs (the stream
  emitter's warning ``could not add a … event to Redis stream …``, with its running count, and
  AsyncTasQ's ``Failed to publish … event to Redis``): each worker log that shows stream
  failures shows at least as many Pub/Sub failures: those events are lost on both paths, before
  any ingester is involved (the stream warning is rate-limited, so its count is a lower bound;
  the printed "not captured / captured and not in it" numbers compare the two paths event by
  event). The dispatcher's stream emitter failed on nothing;
* the Pub/Sub lake misses the events published during its 60 s downtime (and around the second
  restart), each one inside one of its ``ingest_gaps`` windows; what it has, the stream lake has;
* the stream lake has no ``ingest_gaps`` window and no gap record but the group's creation:
  neither the 60 s stop (a consumer group keeps the entries) nor the restarts (the group and its
  pending list are in the AOF, so reconnecting finds the group: ``BUSYGROUP``, no ``NOGROUP``)
  make one. (Had Redis come back without the group, the reconnecting ingester would record a
  "stream deleted or recreated" window: ``tests/ingest/test_ingest_reconnect.py``.)
* the views, reduced to what this run's ground truth can say (the full checks of
  ``tasqlake_checks`` need the scripted scenario and AsyncTasQ's own numbers, which a crashing
  worker leaves inconsistent: tasks stuck in ``processing``): the stream lake's ``tasks`` view
  has every dispatched task with its ``enqueued_at``, and every task the journal saw end (its
  last attempt ``ok``, or ``fail`` at ``max_attempts``) away from a Redis outage
  (:data:`OUTAGE_MARGIN_S`) is ``completed`` / ``failed`` with the journal's number of
  attempts. Tasks ending within an outage may have lost their end event on both paths
  (counted, printed).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from tasqlake import queries
from tasqlake.schemas.constants import (
    DEFAULT_CONSUMER_GROUP,
    DEFAULT_STREAM,
    STREAM_PAYLOAD_FIELD,
)
from tasqlake.schemas.decode import event_id

from . import tasqlake_checks as checks
from .capture import RawCapturer
from .procs import ProcessRegistry, left_behind
from .restartable_redis import Outage, RestartableRedis
from .scenario import ScenarioEnv, ScenarioSettings, _client_config, _dispatch, _Run
from .test_stream_path import (
    READY_TIMEOUT_S,
    WAL_FSYNC_S,
    Ingester,
    KillingHooks,
    _entry_id,
    _event_ids,
    _gaps,
    _in_a_gap,
    _stored_rows,
    _wait,
)
from .truth import Dispatch, in_flight

pytestmark = pytest.mark.interop

STREAM = DEFAULT_STREAM
GROUP = DEFAULT_CONSUMER_GROUP
PAYLOAD = STREAM_PAYLOAD_FIELD.encode()
#: Required by the issue: both ingesters stay down this long while the workers run.
INGESTERS_DOWN_S = 60.0
#: The first Redis restart falls this far into the ingesters' downtime.
FIRST_OUTAGE_AFTER_S = 20.0
REDIS_DOWN_S = 1.5
DISPATCH_EVERY_S = 0.2
#: Dispatched before the ingesters are killed, and after the second restart.
DISPATCHES_AROUND = 10
#: A task whose end is journaled this close to an outage may have lost its end event.
OUTAGE_MARGIN_S = 1.0
QUIET_TIMEOUT_S = 40.0
CATCH_UP_TIMEOUT_S = 30.0
#: (base role, queues, concurrency) of the workers; a crashed one is replaced by role-1, role-2…
WORKERS = [("w1", ["emails", "billing"], 4), ("w2", ["reports", "emails"], 2)]
QUEUES = sorted({q for _, qs, _ in WORKERS for q in qs})
#: The dispatch cycle: (task class, queue, sleep_s, fail_times).
MIX = [
    ("SendEmailTask", "emails", 0.05, 0),
    ("ChargeCardTask", "billing", 0.05, 1),  # fails once, retried after 1 s
    ("SendEmailTask", "emails", 0.02, 0),
    ("BuildReportTask", "reports", 0.5, 0),
    ("SyncLedgerTask", "billing", 0.02, 99),  # fails for good at max_attempts
]
STREAM_FAILURE = re.compile(
    rb"could not add a \S+ event to Redis stream .*?\((\d+) failed since the last warning, "
    rb"(\d+) in all"
)
PUBSUB_FAILURE = re.compile(
    rb"Failed to publish \S+ event to Redis|Global emit failed for RedisEventEmitter"
)


@dataclass
class Crash:
    role: str
    worker_id: str
    exit_code: int | None
    at: float


class Dispatching(threading.Thread):
    """Dispatches one task every DISPATCH_EVERY_S until :attr:`halt`; holds :attr:`gate` during
    each dispatch (the timeline takes it to pause dispatching while Redis is down); replaces a
    worker that exited on its own (a supervisor's job)."""

    def __init__(self, run: _Run) -> None:
        super().__init__(name="outage-dispatcher", daemon=True)
        self.scenario = run
        self.gate = threading.Lock()
        self.halt = threading.Event()
        self.current = {role: role for role, _, _ in WORKERS}
        self.crashes: list[Crash] = []
        self.dispatch_errors: list[str] = []
        self.emitter_failures = -1  # the dispatcher's stream emitter's, read at the end
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._loop())
        except BaseException as error:  # surfaced by the fixture
            self.error = error

    async def _loop(self) -> None:
        from asynctasq.monitoring import EventRegistry

        from tasqlake.emitter import RedisStreamEmitter

        run = self.scenario
        async with _client_config(run.settings, run.env.redis_url, STREAM) as dispatcher:
            (stream_emitter,) = [
                e for e in EventRegistry._emitters if isinstance(e, RedisStreamEmitter)
            ]
            n = 0
            while not self.halt.is_set():
                cls, queue, sleep_s, fail_times = MIX[n % len(MIX)]
                with self.gate:
                    self._supervise()
                    try:
                        await _dispatch(
                            run, dispatcher, cls, queue, 1, sleep_s=sleep_s, fail_times=fail_times
                        )
                    except (redis.RedisError, OSError) as error:
                        self.dispatch_errors.append(f"{type(error).__name__}: {error}")
                n += 1
                await asyncio.sleep(DISPATCH_EVERY_S)
            self.emitter_failures = stream_emitter.failures
            await dispatcher.driver.disconnect()

    def _supervise(self) -> None:
        run = self.scenario
        for base, queues, concurrency in WORKERS:
            role = self.current[base]
            proc = run.procs[role]
            if proc.poll() is None:
                continue
            self.crashes.append(
                Crash(role, run.workers[role].worker_id, proc.returncode, time.time())
            )
            self.current[base] = f"{base}-{len(self.crashes)}"
            run.start_worker(self.current[base], queues, concurrency)

    def live_roles(self) -> list[str]:
        return list(self.current.values())


@dataclass
class OutageRun:
    workdir: Path
    redis: RestartableRedis
    stream: Ingester
    pubsub: Ingester
    dispatches: list[Dispatch]
    journal: list[dict[str, Any]]
    crashes: list[Crash]
    dispatch_errors: list[str]
    dispatcher_emitter_failures: int
    ingesters_down: tuple[float, float]  # epoch: SIGKILL, restart
    captured: list[bytes] = field(default_factory=list)
    stream_entries: list[bytes] = field(default_factory=list)  # XRANGE - + at the end
    pending_after_stop: int | None = None
    stop_codes: tuple[int | None, int | None] = (None, None)
    worker_logs: list[Path] = field(default_factory=list)
    process_groups: list[int] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def outages(self) -> list[Outage]:
        return self.redis.outages


def _log_count(ingester: Ingester, line: str) -> int:
    return _log_text(ingester).count(line)


def _log_text(ingester: Ingester) -> str:
    log = ingester.logs[-1]
    return log.read_text(errors="replace") if log.exists() else ""


def _read_up_to(client: redis.Redis, last: tuple[int, int]) -> bool:
    """The group was given every entry up to ``last`` (acknowledged or not)."""
    (group,) = [g for g in client.xinfo_groups(STREAM) if g["name"] == GROUP.encode()]
    return _entry_id(group["last-delivered-id"]) >= last


def _quiet(run: _Run, live: list[str], client: redis.Redis) -> bool:
    """No task waiting (main lists, delayed sets) and no live worker mid-task."""
    for q in QUEUES:
        if client.llen(f"queue:{q}") or client.zcard(f"queue:{q}:delayed"):
            return False
    journal = run.journal()
    return not any(in_flight(journal, run.workers[role].worker_id) for role in live)


def _outage(redis_server: RestartableRedis, dispatching: Dispatching) -> None:
    with dispatching.gate:  # no dispatch in flight while Redis is down
        redis_server.kill()
        threading.Event().wait(REDIS_DOWN_S)
        redis_server.restart()


def _run_outages(workdir: Path, registry: ProcessRegistry) -> OutageRun:
    settings = ScenarioSettings()
    redis_server = RestartableRedis(registry, workdir)
    url = redis_server.start()
    env = ScenarioEnv(url, redis_server.port, settings.channel, workdir, registry)
    capturer = RawCapturer(url, settings.channel, reconnect=True)
    capturer.start()
    stream = Ingester(
        "stream",
        ["--stream", STREAM],
        "reading ",
        workdir / "stream-lake",
        {"TASQLAKE_WAL_FSYNC_INTERVAL": str(WAL_FSYNC_S)},
    )
    pubsub = Ingester(
        "pubsub", ["--channel", settings.channel], "subscribed to", workdir / "pubsub-lake"
    )
    run = _Run(env, settings, workdir / "journal.jsonl", STREAM)
    dispatching = Dispatching(run)
    try:
        for ingester in (stream, pubsub):
            ingester.start(env)
        _wait(stream.ready, READY_TIMEOUT_S, "the stream ingester to read")
        _wait(pubsub.ready, READY_TIMEOUT_S, "the Pub/Sub ingester to subscribe")
        # only now: a worker stamps worker_online up to ~1 s before it publishes it, and an
        # event stamped before the Pub/Sub ingester's first start lies outside every gap window
        for role, queues, concurrency in WORKERS:
            run.start_worker(role, queues, concurrency)
        asyncio.run(run.wait_started([role for role, _, _ in WORKERS]))
        dispatching.start()
        _wait(lambda: len(run.dispatches) >= DISPATCHES_AROUND, 30, "dispatching to start")

        stream.kill()
        pubsub.kill()
        down_at = time.time()
        pause = threading.Event()  # never set: the fixed downtime
        pause.wait(FIRST_OUTAGE_AFTER_S)
        _outage(redis_server, dispatching)
        pause.wait(max(0.0, down_at + INGESTERS_DOWN_S - time.time()))
        for ingester in (stream, pubsub):
            ingester.start(env)
        up_at = time.time()
        _wait(stream.ready, READY_TIMEOUT_S, "the restarted stream ingester to read")
        _wait(pubsub.ready, READY_TIMEOUT_S, "the restarted Pub/Sub ingester to subscribe")
        seen = capturer.count()
        with contextlib.closing(redis.Redis.from_url(url)) as client:
            backlog = _entry_id(client.xinfo_stream(STREAM)["last-generated-id"])
            _wait(lambda: _read_up_to(client, backlog), CATCH_UP_TIMEOUT_S, "the 60 s backlog")
        # an event published while it is subscribed: its gap windows cannot touch
        _wait(lambda: capturer.count() > seen, 30, "an event for the Pub/Sub ingester")

        _outage(redis_server, dispatching)  # with both ingesters up and busy
        _wait(lambda: _log_count(stream, "reading ") >= 2, 30, "the stream ingester to reconnect")
        _wait(lambda: _log_count(pubsub, "subscribed to") >= 2, 30, "the Pub/Sub resubscription")
        dispatched = len(run.dispatches)
        _wait(lambda: len(run.dispatches) >= dispatched + DISPATCHES_AROUND, 30, "dispatching")
        dispatching.halt.set()
        dispatching.join(30)
        assert not dispatching.is_alive(), "the dispatcher did not stop"
        if dispatching.error is not None:
            raise RuntimeError("the dispatcher failed") from dispatching.error

        with contextlib.closing(redis.Redis.from_url(url)) as client:
            live = dispatching.live_roles()
            _wait(lambda: _quiet(run, live, client), QUIET_TIMEOUT_S, "the workers to finish")
            for role in live:  # graceful: worker_offline reaches both paths
                registry.stop(run.procs[role], timeout=15)
            last = _entry_id(client.xinfo_stream(STREAM)["last-generated-id"])
            _wait(
                lambda: KillingHooks._consumed(client, last), CATCH_UP_TIMEOUT_S, "the stream end"
            )
            process_groups = registry.pids()
            stop_codes = (stream.terminate(), pubsub.terminate())
            (group,) = [g for g in client.xinfo_groups(STREAM) if g["name"] == GROUP.encode()]
            entries: Any = client.xrange(STREAM, "-", "+")
        captured = capturer.stop()
        return OutageRun(
            workdir=workdir,
            redis=redis_server,
            stream=stream,
            pubsub=pubsub,
            dispatches=list(run.dispatches),
            journal=run.journal(),
            crashes=list(dispatching.crashes),
            dispatch_errors=list(dispatching.dispatch_errors),
            dispatcher_emitter_failures=dispatching.emitter_failures,
            ingesters_down=(down_at, up_at),
            captured=captured,
            stream_entries=[bytes(fields[PAYLOAD]) for _, fields in entries],
            pending_after_stop=int(group["pending"]),
            stop_codes=stop_codes,
            worker_logs=sorted(workdir.glob("worker-*.log")),
            process_groups=process_groups,
        )
    finally:
        dispatching.halt.set()
        with contextlib.suppress(Exception):
            capturer.stop()


@pytest.fixture(scope="module")
def outage_run(tmp_path_factory: pytest.TempPathFactory) -> OutageRun:
    pytest.importorskip("asynctasq", reason="asynctasq (==1.7.0, dev extra) is not installed")
    workdir = tmp_path_factory.mktemp("interop-outage")
    registry = ProcessRegistry()
    started = time.monotonic()
    try:
        result = _run_outages(workdir, registry)
    finally:
        groups = registry.pids()
        registry.kill_all()
    result.seconds = time.monotonic() - started
    result.leftovers = left_behind(groups)
    return result


def _emitter_failures(logs: list[Path]) -> dict[str, tuple[int, int]]:
    """Per worker log: (stream events lost, Pub/Sub events lost). The stream emitter warns on
    the first failure of an outage with its running total ("N in all"); the last warning's
    total is a lower bound (later failures within 10 s are only counted by the next one).
    AsyncTasQ logs every failed PUBLISH."""
    out: dict[str, tuple[int, int]] = {}
    for log in logs:
        text = log.read_bytes()
        totals = [int(m.group(2)) for m in STREAM_FAILURE.finditer(text)]
        out[log.stem] = (max(totals, default=0), len(PUBSUB_FAILURE.findall(text)))
    return out


def _near_an_outage(t: float, outages: list[Outage]) -> bool:
    return any(o.killed_at - OUTAGE_MARGIN_S <= t <= o.up_at + OUTAGE_MARGIN_S for o in outages)


def _ended_tasks(r: OutageRun) -> dict[str, tuple[str, int, float]]:
    """task id -> (expected state, attempts, when) of each task whose journal shows its end."""
    max_attempts = {d.task_id: d.max_attempts for d in r.dispatches}
    last: dict[str, dict[str, Any]] = {}
    for rec in r.journal:
        if rec.get("task_id") in max_attempts:
            last[rec["task_id"]] = rec
    out = {}
    for task_id, rec in last.items():
        if rec["kind"] == "ok":
            out[task_id] = ("completed", int(rec["attempt"]), float(rec["t"]))
        elif rec["kind"] == "fail" and rec["attempt"] >= max_attempts[task_id]:
            out[task_id] = ("failed", int(rec["attempt"]), float(rec["t"]))
    return out


# --- the run itself ---------------------------------------------------------------------------
def test_the_run_went_as_planned(outage_run: OutageRun) -> None:
    r = outage_run
    down_at, up_at = r.ingesters_down
    assert up_at - down_at >= INGESTERS_DOWN_S
    assert len(r.outages) == 2
    first, second = r.outages
    assert down_at < first.killed_at < first.up_at < up_at < second.killed_at
    assert all(REDIS_DOWN_S <= o.seconds < REDIS_DOWN_S + 10 for o in r.outages)
    assert r.redis.incarnations == 3
    for ingester in (r.stream, r.pubsub):
        assert ingester.exit_codes() == [-signal.SIGKILL, 0], ingester.name
    assert r.stop_codes == (0, 0), "SIGTERM: commit what was received, then exit 0"
    assert r.dispatch_errors == [], "no dispatch while Redis was down, none failed after"
    assert r.dispatcher_emitter_failures == 0, "the dispatcher's XADDs all succeeded"
    # AsyncTasQ 1.7.0 workers exit on a Redis outage (see the module's docstring): each live
    # worker at each restart, replaced by the harness
    assert r.crashes, "AsyncTasQ 1.7.0's workers exit when Redis goes away"
    assert all(c.exit_code not in (None, 0) for c in r.crashes)
    assert r.leftovers == []


# --- the stream lake --------------------------------------------------------------------------
def test_stream_lake_holds_every_stream_entry_exactly_once(outage_run: OutageRun) -> None:
    r = outage_run
    lake_ids = _event_ids(r.stream.lake)
    assert lake_ids and max(lake_ids.values()) == 1, "the events view holds each id once"
    in_stream = Counter(event_id(p) for p in r.stream_entries)
    assert max(in_stream.values()) == 1, "every entry is a distinct event"
    assert lake_ids == in_stream, "the lake holds exactly the stream's entries"
    assert r.pending_after_stop == 0, "nothing left pending in the consumer group"


def test_redis_restarts_lost_nothing_that_was_xadded(outage_run: OutageRun) -> None:
    """Every event published while Redis was up (the raw capture) was XADDed by the same
    process just before or after, and survived both SIGKILLs of Redis in its AOF."""
    r = outage_run
    lake_ids = set(_event_ids(r.stream.lake))
    captured = {event_id(p) for p in r.captured}
    assert captured, "the capture saw the run"
    assert not captured - lake_ids, f"{len(captured - lake_ids)} captured events not in the lake"


def test_outage_failures_are_lost_on_both_paths(outage_run: OutageRun) -> None:
    failures = _emitter_failures(outage_run.worker_logs)
    stream_lost = sum(s for s, _ in failures.values())
    assert stream_lost > 0, "the workers' XADDs failed while Redis was down"
    for log, (in_stream, in_pubsub) in failures.items():
        assert in_pubsub >= in_stream, f"{log}: a failed XADD's event was published after all?"


def test_stream_lake_has_no_gaps(outage_run: OutageRun) -> None:
    """Neither the 60 s stop nor the Redis restarts are gaps of a consumer group: its records
    are start-up instants (``ingest_gaps`` has no window)."""
    assert _gaps(outage_run.stream.lake) == []
    with queries.connect(outage_run.stream.lake) as con:
        reasons = con.execute("SELECT DISTINCT reason FROM stored_gaps").fetchall()
    assert reasons == [("start-up",)], "the group's creation, once: never lost nor recreated"
    for log in outage_run.stream.logs:
        text = log.read_text(errors="replace")
        assert "NOGROUP" not in text and "recreated" not in text, "the AOF kept the group"


def test_stream_lake_tasks_view_agrees_with_the_dispatches_and_the_journal(
    outage_run: OutageRun,
) -> None:
    r = outage_run
    with queries.connect(r.stream.lake) as con:
        rows = checks.fetch(con, "SELECT task_id, state, attempts, enqueued_at FROM tasks")
    tasks = {row["task_id"]: row for row in rows}
    dispatched = [d.task_id for d in r.dispatches]
    assert not [t for t in dispatched if t not in tasks or tasks[t]["enqueued_at"] is None], (
        "every dispatched task is in the tasks view with its task_enqueued"
    )
    ended = _ended_tasks(r)
    checked = {t: e for t, e in ended.items() if not _near_an_outage(e[2], r.outages)}
    assert len(checked) > len(dispatched) / 2, "most tasks ended away from the outages"
    wrong = {
        t: (tasks[t]["state"], tasks[t]["attempts"], state, attempts)
        for t, (state, attempts, _) in checked.items()
        if (tasks[t]["state"], tasks[t]["attempts"]) != (state, attempts)
    }
    assert not wrong, f"state/attempts differ from the journal: {wrong}"


# --- the Pub/Sub lake -------------------------------------------------------------------------
def test_pubsub_lake_misses_events_inside_its_gaps(outage_run: OutageRun) -> None:
    r = outage_run
    captured = {event_id(p): msgspec.msgpack.decode(p) for p in r.captured}
    stream_ids = set(_event_ids(r.stream.lake))
    pubsub_ids = set(_event_ids(r.pubsub.lake))
    missing = set(captured) - pubsub_ids
    gaps = _gaps(r.pubsub.lake)
    unexplained = [i for i in missing if not _in_a_gap(captured[i], gaps)]
    _report(r, stream_ids, pubsub_ids, missing, gaps, unexplained)
    assert missing, "the Pub/Sub ingester, down 60 s, lost events"
    assert not unexplained, "every event it misses was published in one of its gap windows"
    assert sum(float(g["duration_s"]) for g in gaps) >= INGESTERS_DOWN_S
    assert len(gaps) == 3, "its first start-up, the 60 s down, the Redis restart while up"
    assert any(reason.startswith("disconnected") for reason in gaps[-1]["reasons"])
    assert not pubsub_ids - stream_ids, "what it has, the stream lake has"


def _report(
    r: OutageRun,
    stream_ids: set[int],
    pubsub_ids: set[int],
    missing: set[int],
    gaps: list[dict[str, Any]],
    unexplained: list[int],
) -> None:
    failures = _emitter_failures(r.worker_logs)
    ended = _ended_tasks(r)
    near = sum(_near_an_outage(e[2], r.outages) for e in ended.values())
    outages = ", ".join(f"{o.seconds:.2f} s" for o in r.outages)
    stream_gaps = _gaps(r.stream.lake)
    print(
        f"\nissue 16 §3, outages, one live run ({r.seconds:.1f} s): ingesters down "
        f"{r.ingesters_down[1] - r.ingesters_down[0]:.1f} s, Redis (AOF, fsync always) SIGKILLed "
        f"twice, down {outages}\n"
        f"  dispatched {len(r.dispatches)} tasks ({len(r.dispatch_errors)} errors); "
        f"{len(ended)} ended per the journal, {near} of them within {OUTAGE_MARGIN_S} s of an "
        f"outage; {len(r.crashes)} AsyncTasQ worker exits on the outages (replaced)\n"
        f"  published while Redis was up (raw capture): {len(r.captured)} events; in the "
        f"stream: {len(r.stream_entries)} ({len(_stream_ids(r) - _captured_ids(r))} of them not "
        f"captured, {len(_captured_ids(r) - _stream_ids(r))} captured and not in it)\n"
        f"  emitter failures during the outages (worker logs, stream / Pub/Sub): "
        f"{sum(s for s, _ in failures.values())} / {sum(p for _, p in failures.values())} "
        f"({', '.join(f'{k} {s}/{p}' for k, (s, p) in failures.items() if s or p)}); "
        f"dispatcher's stream emitter: {r.dispatcher_emitter_failures}\n"
        f"  stream lake: {len(stream_ids)} in events ({_stored_rows(r.stream.lake)} rows "
        f"stored), pending {r.pending_after_stop}, ingest_gaps {len(stream_gaps)}\n"
        f"  Pub/Sub lake: {len(pubsub_ids)} in events, {len(_captured_ids(r) & pubsub_ids)}/"
        f"{len(r.captured)} captured events, missing {len(missing)} ({len(unexplained)} outside "
        f"its gaps), ingest_gaps {len(gaps)} windows, "
        f"{sum(float(g['duration_s']) for g in gaps):.2f} s in all: "
        + ", ".join(f"{float(g['duration_s']):.2f} s" for g in gaps)
    )


def _captured_ids(r: OutageRun) -> set[int]:
    return {event_id(p) for p in r.captured}


def _stream_ids(r: OutageRun) -> set[int]:
    return {event_id(p) for p in r.stream_entries}
