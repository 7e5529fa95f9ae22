"""Fixtures every channel test shares: SMSC simulators on free ports, stopped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from channels.simulator import Simulator, SimulatorConfig

# Tiny intervals: tests await events, never sleep.
FAST = {"port": 0, "control_port": None, "receipt_delay_s": 0.01, "seed": 7}

MakeSimulator = Callable[..., Awaitable[Simulator]]


@pytest.fixture
async def make_simulator() -> AsyncIterator[MakeSimulator]:
    """Starts a simulator with FAST settings overridden by keyword arguments."""
    started: list[Simulator] = []

    async def make(**overrides: Any) -> Simulator:
        simulator = Simulator(SimulatorConfig(**{**FAST, **overrides}))
        await simulator.start()
        started.append(simulator)
        return simulator

    yield make
    for simulator in started:
        await simulator.stop()
