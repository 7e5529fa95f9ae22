"""A gateway on PostgreSQL among others: work another gateway left in the database reaches it
without a wake-up of its own."""

from __future__ import annotations

import asyncio
import time

import pytest

from channels.base import InboundSms
from channels.simulator import Simulator
from smsgw.config import Settings
from smsgw.delivery.message import DeliveryBatch
from smsgw.storage.postgres import PostgresStore
from tests.smsgw.testbed import WAIT, Client

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


async def test_a_text_another_gateway_stored_is_handled_and_answered(
    client: Client, settings: Settings, simulator: Simulator
) -> None:
    other = await PostgresStore.open(settings.database.url)  # the gateway that received it
    try:
        text = InboundSms("+5016012345", "1515", "HELP", "btl-1")
        await other.delivery.record(DeliveryBatch(inbound=[("elsewhere-1", text, time.time())]))
    finally:
        await other.close()
    async with asyncio.timeout(WAIT):  # no wake-up came: the handler looks every second
        await simulator.wait_submits(1)
    assert simulator.submits[0].destination_addr == "5016012345"
