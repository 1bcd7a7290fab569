"""Scheduled lake maintenance while the ingest service runs: compaction and retention.

``tasqlake ingest --compact-every 1h`` compacts closed partitions (and deletes files superseded
past their grace period) on that schedule; ``--retention 90d`` deletes hour partitions past the
period, checked hourly. Each run happens in a spawned child process, so its CPU (DuckDB) and
memory never compete with the receiver for the GIL or inflate the service's RSS. Both jobs are
crash-safe on their own (see tasqlake.lake.compaction and tasqlake.lake.retention), so stopping the
service terminates a run in progress instead of waiting for it.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.process import BaseProcess

from tasqlake.ingest.service import logging_setup
from tasqlake.lake.s3_options import S3Options
from tasqlake.lake.storage import Lake
from tasqlake.schemas import constants
from tasqlake.schemas.settings import Settings

log = logging.getLogger(__name__)

#: How often retention runs when compaction is not scheduled.
RETENTION_CHECK_S = 3600.0


@dataclass(frozen=True)
class MaintenancePlan:
    lake_root: str
    compact_every: float | None
    retention: float | None
    allowed_lateness: float = constants.DEFAULT_ALLOWED_LATENESS_S
    s3: S3Options | None = None

    @classmethod
    def from_settings(cls, settings: Settings, lake: Lake) -> MaintenancePlan | None:
        if settings.compact_every is None and settings.retention is None:
            return None
        return cls(
            lake.location,
            settings.compact_every,
            settings.retention,
            settings.allowed_lateness,
            lake.s3_options,
        )

    @property
    def interval(self) -> float:
        return self.compact_every or RETENTION_CHECK_S


def run_once(plan: MaintenancePlan, log_setup: tuple[str, int]) -> None:
    """One maintenance run (the child process's entry point)."""
    from tasqlake.lake.compaction import compact  # DuckDB and Arrow: only in the child
    from tasqlake.lake.retention import prune

    logging_setup.configure(*log_setup)
    lake = Lake(plan.lake_root, s3=plan.s3)
    if plan.compact_every is not None:
        report = compact(lake, allowed_lateness=timedelta(seconds=plan.allowed_lateness))
        if report.partitions or report.deleted_files:
            log.info(
                "compaction: %d partitions, %d files into %d rows (%d duplicates removed), "
                "%d superseded files deleted",
                len(report.partitions),
                report.files_in,
                report.rows_out,
                report.duplicates_removed,
                report.deleted_files,
            )
    if plan.retention is not None:
        pruned = prune(lake, timedelta(seconds=plan.retention))
        if pruned.partitions:
            log.info(
                "retention: deleted %d partitions (%d files, %d bytes) older than %s",
                len(pruned.partitions),
                pruned.files,
                pruned.bytes,
                pruned.cutoff.isoformat(),
            )


class MaintenanceScheduler:
    """Runs :func:`run_once` in a child process every ``plan.interval`` seconds."""

    def __init__(self, plan: MaintenancePlan) -> None:
        self.plan = plan
        self.runs = 0
        self.failures = 0
        self._stop = threading.Event()
        self._child: BaseProcess | None = None
        self._thread = threading.Thread(target=self._loop, name="tasqlake-maintenance", daemon=True)

    def start(self) -> MaintenanceScheduler:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        child = self._child
        if child is not None and child.is_alive():
            child.terminate()
        self._thread.join(timeout)

    def _loop(self) -> None:
        context = multiprocessing.get_context("spawn")
        while not self._stop.wait(self.plan.interval):
            started = time.monotonic()
            child = context.Process(
                target=run_once,
                args=(self.plan, logging_setup.current_setup()),
                name="tasqlake-maintenance",
                daemon=True,
            )
            self._child = child
            child.start()
            child.join()
            self._child = None
            if self._stop.is_set():
                return
            self.runs += 1
            if child.exitcode != 0:
                self.failures += 1
                log.error(
                    "lake maintenance failed (exit status %s); it is retried at the next run",
                    child.exitcode,
                )
            else:
                log.debug("lake maintenance took %.1f s", time.monotonic() - started)
