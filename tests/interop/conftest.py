"""One live run of the real AsyncTasQ scenario per test session, with the real ``tasqlake
ingest`` subscribed before anything is dispatched; shared by every live interop test
(test_interop_tasqlake, test_real_capture, test_simulator_calibration), so the whole interop
suite runs the ~15 s scenario once.
"""

from __future__ import annotations

import time

import pytest

from .live import IngestHooks, LiveRun
from .procs import left_behind
from .scenario import run_scenario


@pytest.fixture(scope="session")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    pytest.importorskip("asynctasq", reason="asynctasq (==1.7.0, dev extra) is not installed")
    workdir = tmp_path_factory.mktemp("interop-live")
    ingest = IngestHooks()
    started = time.monotonic()
    try:
        result = run_scenario(hooks=ingest.hooks(), workdir=workdir)
    finally:
        leftovers = left_behind(ingest.process_groups)
    assert ingest.lake is not None and ingest.log is not None
    return LiveRun(
        result=result,
        lake=ingest.lake,
        ingest_exit_code=ingest.exit_code,
        ingest_log=ingest.log,
        ingest_started_at=ingest.started_at,
        ingest_stopped_s=ingest.stop_s,
        seconds=time.monotonic() - started,
        process_groups=ingest.process_groups,
        leftovers=leftovers,
    )
