"""Shared samples: simulated runs decoded once per session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from tasqlake.simulator import GroundTruth, SimulationSpec, simulate

#: A run with every quirk turned up: fast heartbeats, many stops and crashes, a ms clock.
QUIRKY = SimulationSpec(
    seed=7,
    rate=400,
    duration=40,
    heartbeat_freq=2.0,
    stop_probability=0.3,
    crash_probability=0.3,
    late_workers=2,
    clock_resolution_us=1000,
)


@dataclass
class Run:
    spec: SimulationSpec
    events: list[tuple[float, bytes]]
    decoded: list[dict[str, Any]]
    truth: GroundTruth

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.decoded if e["event_type"] == event_type]


def run(spec: SimulationSpec) -> Run:
    events, truth = simulate(spec)
    return Run(spec, events, [msgspec.msgpack.decode(p) for _, p in events], truth)


@pytest.fixture(scope="session")
def quirky() -> Run:
    return run(QUIRKY)


@pytest.fixture(scope="session")
def drained() -> Run:
    """Dispatch for 20 s, then everything finishes and every live worker goes offline."""
    return run(
        SimulationSpec(
            seed=11,
            rate=300,
            duration=20,
            heartbeat_freq=5.0,
            drain=True,
            stop_probability=0.2,
            crash_probability=0.2,
        )
    )
