from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from channels.simulator import Simulator
from tests.channels.conftest import MakeSimulator

from .esme import RawEsme

Connect = Callable[..., Awaitable[RawEsme]]


@pytest.fixture
async def simulator(make_simulator: MakeSimulator) -> Simulator:
    return await make_simulator()


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Opens raw ESME connections (bound as transceiver unless bind=None or another command)."""
    opened: list[RawEsme] = []

    async def open_esme(simulator: Simulator, bind: int | None = 0x09, **kwargs: Any) -> RawEsme:
        esme = await RawEsme.connect(simulator.port)
        opened.append(esme)
        if bind is not None:
            response = await esme.bind(command_id=bind, **kwargs)
            assert response.status == 0
        return esme

    yield open_esme
    for esme in opened:
        await esme.close()
