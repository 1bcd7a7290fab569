"""Running the processor beside the receiver: in a thread, or in its own process.

In its own process (the default for the service) the processor has its own interpreter and GIL,
so decoding and Arrow building never take CPU time from the thread reading the socket; the two
share nothing but the WAL directory and a few counters in shared memory. The thread variant is
for embedding and tests. Both first recover the WAL, then tail it until told to finish.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import threading
import time
from typing import Any, Protocol

from tasqlake.ingest.processing.processor_config import ProcessorConfig
from tasqlake.ingest.service import logging_setup
from tasqlake.ingest.service.counters import Counters
from tasqlake.ingest.wal.state import WalState
from tasqlake.schemas.errors import StorageError, TasqlakeError

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
_LOCK_WAIT_S = 15.0  # an orphaned processor of a killed run notices within ~0.1 s


class SharedFlag:
    """A one-way flag between processes in shared memory, without any lock.

    ``multiprocessing.Event`` is built on a condition variable: ``set()`` waits for every
    waiter to acknowledge, and ``is_set()`` takes a lock. A parent SIGKILLed inside
    ``wait()`` therefore left the processor child blocked in ``set()`` for ever, still holding
    the WAL's processor lock, so no later ingester could start on that WAL. A byte in shared
    memory, written by one side and polled by the other, cannot block anyone.
    """

    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        self._value: Any = context.RawValue("b", 0)

    def set(self) -> None:
        self._value.value = 1

    def is_set(self) -> bool:
        return bool(self._value.value)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.is_set()


class ProcessorRunner(Protocol):
    def start(self) -> None: ...
    def wait_recovered(self) -> None: ...
    def finish(self) -> None: ...
    def alive(self) -> bool: ...


def _serve(
    config: ProcessorConfig,
    counters: Counters,
    recovered: threading.Event | SharedFlag,
    finishing: threading.Event | SharedFlag,
    parent_pid: int | None,
) -> None:
    from tasqlake.ingest.processing.processor import (
        Processor,  # Arrow and the decoder: only where it runs
    )

    state = WalState(Processor.wal_path(config))
    lock = state.lock("PROCESSOR.LOCK", wait_s=_LOCK_WAIT_S)
    try:
        processor = Processor(config, counters)
        processor.recover()
        recovered.set()

        def alive() -> bool:
            return parent_pid is None or os.getppid() == parent_pid

        processor.run(stopping=finishing.is_set, alive=alive)
    finally:
        os.close(lock)


class ThreadRunner:
    """The processor in a thread of this process."""

    def __init__(self, config: ProcessorConfig, counters: Counters) -> None:
        self._args = (config, counters)
        self._recovered = threading.Event()
        self._finishing = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="tasqlake-processor", daemon=True)

    def _main(self) -> None:
        try:
            _serve(*self._args, self._recovered, self._finishing, None)
        except BaseException as error:
            self.error = error
            self._recovered.set()

    def start(self) -> None:
        self._thread.start()

    def wait_recovered(self) -> None:
        self._recovered.wait()
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        self._finishing.set()
        self._thread.join()
        if self.error is not None:
            raise self.error

    def alive(self) -> bool:
        return self._thread.is_alive()


def _process_main(
    config: ProcessorConfig,
    counters: Counters,
    recovered: SharedFlag,
    finishing: SharedFlag,
    parent_pid: int,
    log_setup: tuple[str, int],
) -> None:
    # The service decides when to stop: a terminal's Ctrl-C or a group SIGTERM must not cut
    # the processor short while it drains.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging_setup.configure(*log_setup)
    # The system allocator hands freed batch memory back; Arrow's default pool keeps it (RSS).
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    _fixed_mmap_threshold()
    try:
        _serve(config, counters, recovered, finishing, parent_pid)
    except TasqlakeError as error:
        log.error("processor stopped: %s", error)
        raise SystemExit(error.exit_code) from None


def _fixed_mmap_threshold(threshold: int = 128 * 1024) -> None:
    """Serve allocations above ``threshold`` with mmap, always (glibc; a no-op elsewhere).

    glibc raises its mmap threshold each time a large block is freed, after which batch-sized
    buffers come from the heap and stay in RSS once freed; a fixed threshold returns them.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, threshold)
    except (OSError, AttributeError):
        return


class ProcessRunner:
    """The processor in a child process (spawned, so it shares no state by accident)."""

    def __init__(self, config: ProcessorConfig, counters: Counters) -> None:
        context = multiprocessing.get_context("spawn")
        self._recovered = SharedFlag(context)
        self._finishing = SharedFlag(context)
        self._process = context.Process(
            target=_process_main,
            args=(
                config,
                counters,
                self._recovered,
                self._finishing,
                os.getpid(),
                logging_setup.current_setup(),
            ),
            name="tasqlake-processor",
            daemon=False,
        )

    def start(self) -> None:
        self._process.start()

    def wait_recovered(self) -> None:
        while not self._recovered.wait(0.1):
            if not self._process.is_alive():
                raise StorageError(
                    f"the ingest processor exited with status {self._process.exitcode} while "
                    "recovering the write-ahead log: see the log above"
                )

    def finish(self) -> None:
        self._finishing.set()
        self._process.join()
        if self._process.exitcode:
            raise StorageError(
                f"the ingest processor exited with status {self._process.exitcode}: the "
                "write-ahead log keeps what was not committed; restart to recover it"
            )

    def alive(self) -> bool:
        return self._process.is_alive()
