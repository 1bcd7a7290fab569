"""What the notebooks of ``notebooks/`` share: the demo lake, their "now", a plot style.

The demo lake is a small, deterministic simulated AsyncTasQ deployment (:data:`DEMO_SPEC`: about
30 000 events over ten minutes, six queues one of which has no consumer, retries, permanent
failures, graceful stops and crashes) stored through the real write path: the simulator writes a
msgpack stream and :func:`tasqlake.ingest.importer.import_files` stores it, exactly as
``tasqlake simulate --out`` + ``tasqlake import`` would. It is built once, under the user's cache
directory, and reused by every notebook::

    from tasqlake import notebook_support as nb
    lake = nb.open_lake(None)                 # None: the demo lake (built if missing)
    as_of = nb.resolve_as_of(lake, None)      # None: the end of the stored log
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from tasqlake import queries
from tasqlake.ingest.importer import import_files
from tasqlake.lake import layout
from tasqlake.lake.storage import Lake
from tasqlake.schemas.errors import ConfigError
from tasqlake.simulator import SimulationSpec
from tasqlake.simulator.publish import write_stream

#: The demo deployment: ten minutes at 50 events/s, heartbeats every 10 s (so a crashed worker is
#: detected 30 s later), failures twice as frequent as the simulator's default catalogue.
DEMO_SPEC = SimulationSpec(
    seed=7,
    rate=50.0,
    duration=600.0,
    heartbeat_freq=10.0,
    failure_scale=2.0,
    stop_probability=0.2,
    crash_probability=0.15,
)

#: Committed last: a lake holding it is a complete demo lake of the spec whose fingerprint it holds.
MARKER = ".tasqlake-demo-lake"
#: Present while a build is in progress (a build interrupted half-way is redone, not trusted).
BUILDING = ".tasqlake-demo-building"
_LOCK = ".tasqlake-demo.lock"
_OURS = frozenset({MARKER, BUILDING, _LOCK})

#: matplotlib rcParams used by every notebook (no matplotlib import here: it is a dev extra).
PLOT_STYLE: dict[str, object] = {
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.figsize": (10.0, 4.0),
    "figure.constrained_layout.use": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "font.size": 10,
}


def spec_fingerprint(spec: SimulationSpec) -> str:
    """A stable hash of every field of ``spec`` (a changed spec means a different demo lake)."""
    fields = dataclasses.asdict(spec)
    text = "\n".join(f"{name}={fields[name]!r}" for name in sorted(fields))
    return hashlib.sha256(text.encode()).hexdigest()


def default_demo_path(spec: SimulationSpec = DEMO_SPEC) -> Path:
    """Where the demo lake of ``spec`` lives: ``$XDG_CACHE_HOME/tasqlake/demo-lake-<hash>``."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
    return cache / "tasqlake" / f"demo-lake-{spec_fingerprint(spec)[:12]}"


def build_demo_lake(
    path: str | os.PathLike[str] | None = None, spec: SimulationSpec = DEMO_SPEC
) -> Lake:
    """The demo lake of ``spec`` at ``path`` (default :func:`default_demo_path`), built if missing.

    Building simulates ``spec`` into a msgpack stream and imports it through the ingest write
    path. Safe when several notebooks start at once (a file lock serialises builds). A directory
    holding anything this function did not write is refused, never overwritten.
    """
    lake = Lake(path if path is not None else default_demo_path(spec))
    fingerprint = spec_fingerprint(spec)
    if _complete(lake, fingerprint):
        return lake
    lake.ensure()
    with _locked(lake):
        if _complete(lake, fingerprint):
            return lake
        foreign = sorted(p.name for p in lake.root.iterdir() if p.name not in _OURS)
        if foreign and not (lake.exists(MARKER) or lake.exists(BUILDING)):
            raise ConfigError(
                f"{lake.root} already holds data that is not a tasqlake demo lake "
                f"({', '.join(foreign[:3])}…): give another path for the demo lake"
            )
        lake.commit_bytes(BUILDING, fingerprint.encode())
        lake.delete(MARKER)
        for directory in (layout.EVENTS_DIR, layout.QUARANTINE_DIR):
            if lake.exists(directory):
                lake.delete_tree(directory)
        with tempfile.TemporaryDirectory(prefix="tasqlake-demo-") as scratch:
            stream = Path(scratch) / "demo.msgpack"
            write_stream(spec, stream)
            import_files([stream], lake)
        lake.commit_bytes(MARKER, fingerprint.encode())
        lake.delete(BUILDING)
    return lake


def open_lake(path: str | os.PathLike[str] | None) -> Lake:
    """The lake at ``path`` (it must exist), or the demo lake (built if missing) for ``None``."""
    if path is None:
        return build_demo_lake()
    return queries.as_lake(path).require_readable()


def log_window(lake: Lake) -> tuple[datetime, datetime] | None:
    """Timestamps of the first and the last stored event; ``None`` for an empty lake."""
    with queries.connect(lake) as con:
        ((first, last),) = con.execute(
            'SELECT min("timestamp"), max("timestamp") FROM stored_events'
        ).fetchall()
    if first is None or last is None:
        return None
    return first, last


def resolve_as_of(lake: Lake, as_of: datetime | str | None) -> datetime:
    """``as_of`` as an aware UTC datetime; ``None``: the last stored event (the end of the log).

    For a lake fed by a live ingester the end of the log is (within a flush interval) now; for a
    finished recording such as the demo lake it is the moment the recording stopped, where "now"
    would see every worker as long gone.
    """
    moment = queries.normalise_as_of(as_of)
    if moment is not None:
        return moment
    window = log_window(lake)
    if window is None:
        raise ConfigError(f"lake {lake.location} holds no events yet: nothing to look at")
    return window[1]


@contextlib.contextmanager
def _locked(lake: Lake) -> Iterator[None]:
    with open(lake.path(_LOCK), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _complete(lake: Lake, fingerprint: str) -> bool:
    if not lake.exists(MARKER) or lake.exists(BUILDING):
        return False
    try:
        return lake.path(MARKER).read_text().strip() == fingerprint
    except OSError:
        return False
