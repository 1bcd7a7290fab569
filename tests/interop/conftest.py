"""One live run of the real AsyncTasQ scenario per AsyncTasQ release and test session, with the
real ``tasqlake ingest`` subscribed before anything is dispatched; shared by every live interop
test (test_interop_tasqlake, test_real_capture, test_simulator_calibration), so the whole
interop suite runs the ~15 s scenario once per release.

``live_run`` is parametrised over :data:`ASYNCTASQ_RELEASES` (the installed 1.7.0 and 1.4.1,
whose environment ``scripts/asynctasq-env`` builds): every test using it runs against both.
``installed_live_run`` is the installed release's run alone (the simulator is calibrated
against it).
"""

from __future__ import annotations

import pytest

from .live import ASYNCTASQ_RELEASES, LiveRun, LiveRuns
from .scenario import INSTALLED_ASYNCTASQ


@pytest.fixture(scope="session")
def live_runs(tmp_path_factory: pytest.TempPathFactory) -> LiveRuns:
    pytest.importorskip("asynctasq", reason="asynctasq (==1.7.0, dev extra) is not installed")
    return LiveRuns(tmp_path_factory)


@pytest.fixture(scope="session", params=ASYNCTASQ_RELEASES, ids=lambda r: f"asynctasq-{r}")
def live_run(request: pytest.FixtureRequest, live_runs: LiveRuns) -> LiveRun:
    return live_runs.get(request.param)


@pytest.fixture(scope="session")
def installed_live_run(live_runs: LiveRuns) -> LiveRun:
    return live_runs.get(INSTALLED_ASYNCTASQ)
