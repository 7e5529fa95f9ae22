"""A gateway on PostgreSQL among others: work another gateway left in the database reaches it
without a wake-up of its own."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from channels.base import InboundSms
from channels.simulator import Simulator
from smsgw.app import Gateway
from smsgw.config import Settings
from smsgw.delivery.message import DeliveryBatch
from smsgw.storage.postgres import PostgresStore
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed
from tests.smsgw.testbed import WAIT, Client, eventually

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


@pytest.mark.parametrize("simulator", [{"tps": 50}], indirect=True)
async def test_messages_read_ahead_are_let_go_when_the_binds_go_down(
    client: Client, gateway: Gateway, settings: Settings, simulator: Simulator,
    admin: dict[str, str],
) -> None:  # fmt: skip
    """Taken outbox rows are claims another gateway would wait out (a minute): a gateway that
    cannot send them gives them back within a second or two."""
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 400))
    created = await create(client, admin, service="health", texts={"en": "Clinic open."})
    await eventually(lambda: len(simulator.submits) >= 20)  # under way, paced at 50 TPS
    simulator.refuse_binds()
    simulator.drop_links()
    conn = await asyncpg.connect(settings.database.url)
    try:

        async def no_claim_held() -> bool:
            held = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE broadcast = $1 AND state = 'queued'"
                " AND not_before > now() + interval '20 seconds'", created["id"],
            )  # fmt: skip
            return bool(held == 0)

        await eventually(no_claim_held)
        queued = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE broadcast = $1 AND state = 'queued'", created["id"]
        )
        assert queued > 0  # still to send, by whoever holds a bind
    finally:
        await conn.close()
