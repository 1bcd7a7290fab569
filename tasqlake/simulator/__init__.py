"""A model of a real AsyncTasQ deployment emitting byte-for-byte the real wire format.

>>> from tasqlake.simulator import SimulationSpec, iter_events
>>> for emit_at, payload in iter_events(SimulationSpec(seed=1, rate=100, duration=5)): ...
"""

from __future__ import annotations

from collections.abc import Iterator

from tasqlake.simulator.entities import GroundTruth, TaskTruth, WorkerTruth
from tasqlake.simulator.model import Simulation
from tasqlake.simulator.spec import DEFAULT_START, SimulationSpec

__all__ = [
    "DEFAULT_START",
    "GroundTruth",
    "Simulation",
    "SimulationSpec",
    "TaskTruth",
    "WorkerTruth",
    "iter_events",
    "simulate",
]


def iter_events(spec: SimulationSpec) -> Iterator[tuple[float, bytes]]:
    """``(emit_at, payload)`` in emission order; ``emit_at`` in seconds since ``spec.start``."""
    return Simulation(spec).events()


def simulate(spec: SimulationSpec) -> tuple[list[tuple[float, bytes]], GroundTruth]:
    """Every event of a run in a list, plus the ground truth (for tests and small runs)."""
    sim = Simulation(spec, record_truth=True)
    events = list(sim.events())
    return events, sim.truth()
