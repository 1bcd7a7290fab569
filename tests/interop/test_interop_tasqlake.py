"""tasqlake against the real AsyncTasQ 1.7.0, end to end.

Live (``-m interop``): the scenario of ``scenario.py`` (real workers, dispatcher, Redis driver
and Redis event emitter on a private redis-server) with the INSTALLED ``tasqlake ingest``
subscribed before anything is dispatched and stopped with SIGTERM at quiescence (exit 0); then
tasqlake's views, read from the lake the ingester wrote, are compared queue by queue with the
driver's ``MonitoringService`` numbers (``driver_queue_stats``: exactly) and with the ground
truth the scenario knows (``queue_stats``, ``tasks``, ``global_stats``, ``worker_stats``,
``worker_sessions``).

Recorded (always runs, no asynctasq needed): the same comparisons on ``tests/data/real``,
imported with ``tasqlake import``.

What each field means, what the log cannot know and why every view is read ``as of`` the
MonitoringService read: ``tasqlake_checks.py`` (docstrings) and ``DRIVER_SEMANTICS.md``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tasqlake import queries

from . import tasqlake_checks as checks
from .capture import read_stream
from .live import ASYNCTASQ_RELEASES, IngestHooks, LiveRun, LiveRuns, cli_env, tasqlake_argv
from .procs import left_behind
from .scenario import ScenarioEnv, ScenarioHooks, run_scenario

DATA = Path(__file__).resolve().parent.parent / "data" / "real"


def _decode(payloads: list[bytes]) -> list[dict]:  # type: ignore[type-arg]
    return [msgspec.msgpack.decode(p) for p in payloads]


def _observed(run: LiveRun) -> checks.Observed:
    r = run.result
    return checks.Observed(_decode(r.payloads), r.truth, r.driver_stats, run.lake)


@pytest.fixture(scope="module")
def live_observed(live_run: LiveRun) -> checks.Observed:
    return _observed(live_run)


@pytest.fixture(scope="module")
def recorded_observed(tmp_path_factory: pytest.TempPathFactory) -> checks.Observed:
    lake = tmp_path_factory.mktemp("recorded") / "lake"
    done = subprocess.run(
        [*tasqlake_argv(), "import", str(DATA / "stream.msgpack"), "--lake", str(lake)],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "234 events stored, 0 quarantined" in done.stdout, done.stdout
    return checks.Observed(
        _decode(read_stream(DATA / "stream.msgpack")),
        json.loads((DATA / "truth.json").read_text()),
        json.loads((DATA / "driver_stats.json").read_text()),
        lake,
    )


@pytest.fixture(
    params=[
        *(pytest.param(f"live-{r}", marks=pytest.mark.interop) for r in ASYNCTASQ_RELEASES),
        "recorded",
    ]
)
def observed(request: pytest.FixtureRequest) -> checks.Observed:
    """Each release's live run (conftest.py), and the recorded one."""
    if request.param == "recorded":
        return request.getfixturevalue("recorded_observed")  # type: ignore[no-any-return]
    runs: LiveRuns = request.getfixturevalue("live_runs")
    return _observed(runs.get(request.param.removeprefix("live-")))


# --- the ingester, as a user runs it ----------------------------------------------------------
@pytest.mark.interop
def test_ingester_subscribed_first_and_sigterm_commits_everything(live_run: LiveRun) -> None:
    assert live_run.ingest_exit_code == 0, live_run.ingest_log.read_text()[-3000:]
    assert live_run.ingest_stopped_s < 10, "SIGTERM: commit what was received, then exit"
    assert "stopped" in live_run.ingest_log.read_text()
    started = [r["t"] for r in live_run.result.truth["journal"] if r["kind"] == "worker_start"]
    assert live_run.ingest_started_at < min(started), "subscribed before any worker or dispatch"


def test_lake_holds_every_published_event(observed: checks.Observed) -> None:
    """The lake (ingester live, importer recorded) has every event published up to T."""
    checks.check_lake_holds_the_capture(observed)


# --- the comparisons (docstrings of tasqlake_checks say field by field why) ------------------
def test_driver_queue_stats_equals_the_driver(observed: checks.Observed) -> None:
    checks.check_driver_queue_stats(observed)


def test_queue_stats_equals_the_ground_truth(observed: checks.Observed) -> None:
    checks.check_queue_stats(observed)


def test_tasks_and_orphans_equal_the_ground_truth(observed: checks.Observed) -> None:
    checks.check_tasks(observed)


def test_global_stats_vs_get_global_stats(observed: checks.Observed) -> None:
    checks.check_global_stats(observed)


def test_workers_lost_offline_idle_with_uptimes(observed: checks.Observed) -> None:
    checks.check_workers(observed)


def test_a_crash_is_known_after_three_silent_heartbeats(observed: checks.Observed) -> None:
    checks.check_lost_is_decided_by_silence(observed)


def test_monitoring_service_mirror(observed: checks.Observed) -> None:
    checks.check_monitoring_mirror(observed)


@pytest.mark.interop
def test_live_hostname_is_this_machine(live_observed: checks.Observed) -> None:
    (row,) = {r["hostname"] for r in live_observed.views["worker_sessions"]}
    assert row == socket.gethostname()


@pytest.mark.interop
def test_results_table(live_run: LiveRun, live_observed: checks.Observed) -> None:
    """The driver next to tasqlake for this run (in the run's workdir, and on stdout with -s)."""
    table = checks.results_table(live_observed)
    results = live_run.result.workdir / "results.md"
    results.write_text(table + "\n")
    print(f"\n{table}\n\nscenario + ingest + teardown: {live_run.seconds:.1f} s")
    _assert_results_table(live_observed, table)
    assert results.read_text() == table + "\n"


def test_results_table_of_the_recorded_run(recorded_observed: checks.Observed) -> None:
    _assert_results_table(recorded_observed, checks.results_table(recorded_observed))


def _assert_results_table(o: checks.Observed, table: str) -> None:
    """The table puts the driver's numbers next to tasqlake's for every queue the driver lists
    (each field, then retried / orphaned), every global counter and every worker of the run;
    where driver_queue_stats is exact, its column reads the driver's number (depth: plus the
    delayed zset, which the driver leaves out)."""
    head, queues, totals, workers = table.split("\n\n")
    assert head == f"as of {o.as_of.isoformat()} (the MonitoringService read)"
    rows = {(r[0], r[1]): r[2:] for r in _markdown_rows(queues, columns=6)}
    names = [s["name"] for s in o.driver["get_all_queue_stats"]]
    fields = ("depth", "processing", "completed_total", "failed_total")
    assert list(rows) == [(q, f) for q in names for f in (*fields, "retried / orphaned")]
    for q in names:
        driver = o.driver["get_queue_stats"][q]
        for f in ("processing", "completed_total", "failed_total"):
            assert rows[q, f][:2] == [str(driver[f])] * 2, (q, f, rows[q, f])
        assert rows[q, "depth"][:2] == [str(driver["depth"]), str(driver["depth"] + o.delayed(q))]
    keys = [r[0] for r in _markdown_rows(totals, columns=3)]
    assert keys == ["pending", "running", "completed", "failed", "total"]
    shown = [r[0].split(" (")[0] for r in _markdown_rows(workers, columns=7)]
    assert shown == [w["worker_id"] for w in o.truth["workers"]]


def _markdown_rows(section: str, columns: int) -> list[list[str]]:
    """The body rows of a markdown table, as cell texts; each row has ``columns`` cells."""
    header, rule, *body = section.splitlines()
    assert header.count("|") == columns + 1 and rule == "|---" * columns + "|", section
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in body]
    assert rows and all(len(row) == columns for row in rows), section
    return rows


# --- nothing left behind ----------------------------------------------------------------------
@pytest.mark.interop
def test_live_run_left_no_process(live_run: LiveRun) -> None:
    assert len(live_run.process_groups) >= 6  # redis, ingester, 4 workers (+ their children)
    assert live_run.leftovers == []


@pytest.mark.interop
def test_no_process_left_when_a_hook_fails(tmp_path: Path) -> None:
    """A failure after the ingester (and its processor child) and redis are up: the harness's
    teardown still kills every process group it started."""
    ingest = IngestHooks()

    def failing(env: ScenarioEnv) -> None:
        ingest.before_dispatch(env)
        assert left_behind(ingest.process_groups, grace_s=0)  # really running now
        raise RuntimeError("hook failed on purpose")

    t = time.monotonic()
    with pytest.raises(RuntimeError, match="on purpose"):
        run_scenario(hooks=ScenarioHooks(before_dispatch=failing), workdir=tmp_path)
    assert ingest.process_groups and left_behind(ingest.process_groups) == []
    assert time.monotonic() - t < 20


# --- a queue name with ':' ---------------------------------------------------------------------
@pytest.mark.interop
def test_queue_name_with_colon(tmp_path: Path) -> None:
    """The driver lists queues as ``key.split(":")[1]`` of the ``queue:*`` keys, so a queue
    ``mail:bulk`` is listed as ``mail`` and left out of get_all_queue_stats/get_global_stats,
    although get_queue_stats("mail:bulk") reports it correctly. tasqlake keys by the full name
    from the events: driver_queue_stats has a ``mail:bulk`` row equal to
    get_queue_stats("mail:bulk"), and global_stats counts its tasks. (Real driver, real
    dispatcher and emitter; no worker needed.)"""
    pytest.importorskip("asynctasq", reason="asynctasq (==1.7.0, dev extra) is not installed")
    import asyncio

    from asynctasq.drivers.redis_driver import RedisDriver
    from asynctasq.monitoring import MonitoringService

    from .capture import RawCapturer, write_stream
    from .procs import ProcessRegistry, start_private_redis
    from .scenario import ScenarioSettings, _client_config, _dispatch, _Run

    registry = ProcessRegistry()
    try:
        url, port = start_private_redis(registry, tmp_path)
        settings = ScenarioSettings()
        capturer = RawCapturer(url, settings.channel)
        capturer.start()
        env = ScenarioEnv(url, port, settings.channel, tmp_path, registry)
        run = _Run(env, settings, tmp_path / "journal.jsonl")

        async def go() -> tuple[list[str], dict[str, Any], dict[str, int]]:
            async with _client_config(settings, url) as dispatcher:
                await _dispatch(run, dispatcher, "SendEmailTask", "mail:bulk", 2)
                await _dispatch(run, dispatcher, "SendEmailTask", "mail", 1)
                await dispatcher.driver.disconnect()
            driver = RedisDriver(url=url)
            try:
                mon = MonitoringService(driver)
                listed = [s.name for s in await mon.get_all_queue_stats()]
                per = {q: asdict(await mon.get_queue_stats(q)) for q in ("mail", "mail:bulk")}
                return listed, per, await mon.get_global_stats()
            finally:
                await driver.disconnect()

        listed, per, glob = asyncio.run(go())
        time.sleep(0.2)
        write_stream(tmp_path / "colon.msgpack", capturer.stop())
    finally:
        registry.kill_all()
    assert listed == ["mail"], "the driver truncates queue names at the first ':'"
    assert (per["mail"]["depth"], per["mail:bulk"]["depth"], glob["pending"]) == (1, 2, 1)

    lake = tmp_path / "lake"
    done = subprocess.run(
        [*tasqlake_argv(), "import", str(tmp_path / "colon.msgpack"), "--lake", str(lake)],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with queries.connect(lake) as con:
        rows = checks.fetch(con, "SELECT * FROM driver_queue_stats")
        (g,) = checks.fetch(con, "SELECT * FROM global_stats")
    ours = {r["queue"]: r for r in rows}
    assert [r["queue"] for r in rows] == ["mail", "mail:bulk"]  # full names, not the listing
    for q in ("mail", "mail:bulk"):
        for f in ("depth", "processing", "completed_total", "failed_total"):
            assert ours[q][f] == per[q][f], (q, f)  # == get_queue_stats(q), exactly
    assert g["pending"] == 3 != glob["pending"]
