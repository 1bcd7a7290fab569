"""Running tests with the wall clock moved, to catch time bombs the day they are written.

A test that builds its fixtures at fixed dates while the code under test reads the clock passes
until the calendar catches up with it, then fails on every run. Running the time-sensitive tests
(marked ``clock``) a year ahead makes such a test fail today instead.

The clock is moved with libfaketime (the ``libfaketime`` wheel ships the library): preloaded into
a process, it shifts what ``clock_gettime``/``gettimeofday`` return, so Python's ``datetime`` and
``time.time``, DuckDB's ``now()`` and every child process (the CLI under test) see the same moved
time, which keeps running at the normal rate. Monotonic clocks are left alone (timeouts and
waits keep working). A redis-server does not start under libfaketime: clock tests use the shared
Redis, never a private one.
"""

from __future__ import annotations

import os

import libfaketime

#: How far ahead the moved-clock run puts the wall clock.
MOVED_AHEAD = "+365d"


def moved_clock_environment(offset: str = MOVED_AHEAD) -> dict[str, str]:
    """This process's environment with the wall clock moved by ``offset`` (e.g. ``+365d``)."""
    _, preload = libfaketime.get_reload_information()
    env = {**os.environ, **preload, "FAKETIME": offset, "DONT_FAKE_MONOTONIC": "1"}
    ld_path = [preload["LD_LIBRARY_PATH"], os.environ.get("LD_LIBRARY_PATH", "")]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in ld_path if p)
    return env
