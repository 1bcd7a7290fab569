"""The flags between the service and its processor child survive either side being SIGKILLed."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading

from tasqlake.ingest.processing.processor_runner import SharedFlag

_SPAWN = multiprocessing.get_context("spawn")


def _wait_for(flag: SharedFlag, waiting: SharedFlag) -> None:
    waiting.set()  # the parent's cue: the next call is wait()
    flag.wait(60)


def test_setting_a_flag_whose_waiter_was_sigkilled_never_blocks() -> None:
    """Regression: with multiprocessing.Event, set() blocked for ever on a killed waiter (the
    processor child of a SIGKILLed service hung holding the WAL's processor lock)."""
    flag, waiting = SharedFlag(_SPAWN), SharedFlag(_SPAWN)
    waiter = _SPAWN.Process(target=_wait_for, args=(flag, waiting))
    waiter.start()
    assert waiting.wait(60), "the waiter never got to wait()"
    assert waiter.pid is not None and waiter.is_alive() and not flag.is_set()
    os.kill(waiter.pid, signal.SIGKILL)
    waiter.join()
    done = threading.Event()
    setter = threading.Thread(target=lambda: (flag.set(), done.set()), daemon=True)
    setter.start()
    assert done.wait(5), "set() blocked on a killed waiter"
    assert flag.is_set() and flag.wait(0)
