"""SimulatorConfig validation and the simulator's life cycle."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from channels.simulator import SimulatorConfig, SimulatorStoppedError, run_simulator
from channels.simulator.server import Simulator
from channels.smpp.codec import Command

from .esme import RawEsme


@pytest.mark.parametrize(
    "fields",
    [
        {"receipt_mix": {"delivrd": 1.0}},
        {"receipt_mix": {"delivered": -1.0}},
        {"receipt_mix": {"delivered": 0.0}},
        {"tps": -1},
        {"port": 70000},
        {"receipt_format": "xml"},
        {"colour": "red"},
    ],
    ids=["unknown-outcome", "negative-weight", "zero-weights", "tps", "port", "format", "extra"],
)
def test_bad_config_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SimulatorConfig(**fields)


def test_config_is_frozen_and_documented() -> None:
    config = SimulatorConfig()
    with pytest.raises(ValidationError):
        setattr(config, "tps", 5)  # noqa: B010 - a plain assignment would not type-check
    undocumented = [n for n, f in SimulatorConfig.model_fields.items() if not f.description]
    assert undocumented == []


async def test_keep_submits_bounds_the_record() -> None:
    config = SimulatorConfig(port=0, control_port=None, keep_submits=10, receipts=False)
    async with Simulator(config) as simulator:
        esme = await RawEsme.connect(simulator.port)
        await esme.bind()
        for _ in range(30):
            esme.submit()
        async with asyncio.timeout(5):
            await simulator.wait_submits(30)
        assert 10 <= len(simulator.submits) <= 11
        assert simulator.submits[-1].sequence == 31  # sequence 1 was the bind
        assert simulator.submit_total == 30
        await esme.close()


async def test_stop_fails_whoever_still_waits() -> None:
    simulator = Simulator(SimulatorConfig(port=0, control_port=None))
    await simulator.start()
    waiter = asyncio.create_task(simulator.await_pdu(Command.SUBMIT_SM))
    await asyncio.sleep(0)  # one loop turn so the task registers its waiter
    await simulator.stop()
    with pytest.raises(SimulatorStoppedError):
        await waiter


async def test_run_simulator_serves_until_cancelled() -> None:
    started: asyncio.Future[Simulator] = asyncio.get_running_loop().create_future()
    config = SimulatorConfig(port=0, control_port=0)
    task = asyncio.create_task(run_simulator(config, on_started=started.set_result))
    async with asyncio.timeout(5):
        simulator = await started
    esme = await RawEsme.connect(simulator.port)
    assert (await esme.bind()).status == 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await esme.closed_by_peer()
    await esme.close()
