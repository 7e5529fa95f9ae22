"""A gateway on PostgreSQL among others: work another gateway left in the database reaches it
without a wake-up of its own."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import asyncpg
import pytest

from channels.base import InboundSms
from channels.simulator import Simulator
from smsgw.app import Gateway
from smsgw.config import Settings
from smsgw.delivery.message import DeliveryBatch
from smsgw.storage.postgres import PostgresStore
from subscriptions.models import Service
from tests.smsgw.api.catalogue_testbed import add_service, health_body
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


@pytest.mark.parametrize("simulator", [{"tps": 50}], indirect=True)
async def test_a_broadcast_cancelled_through_another_gateway_stops_here_at_once(
    client: Client, gateway: Gateway, settings: Settings, simulator: Simulator,
    admin: dict[str, str],
) -> None:  # fmt: skip
    """The other gateway's cancel reaches this one by NOTIFY: what it had read ahead is dropped,
    only what was already handed to a bind still goes (as with a cancel made here)."""
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 400))
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic open."})
    await eventually(lambda: len(simulator.submits) >= 20)
    other = await PostgresStore.open(settings.database.url)
    try:
        assert await other.broadcasts.cancel_broadcast(
            created["id"], by="elsewhere", at=datetime.now(UTC)
        )
    finally:
        await other.close()
    at_cancel = len(simulator.submits)
    await asyncio.sleep(2.0)  # what was handed to btl's bind drains (50 TPS); nothing follows
    sent = len(simulator.submits)
    # the bind's window, and up to a second of sending while the NOTIFY makes its way on a
    # loaded machine: still well under the two seconds' worth an unheard cancel would let go
    handed = sum(c.window * 4 if not c.tps else c.tps + c.window
                 for c in settings.channels if c.carrier == "btl")  # fmt: skip
    assert sent <= at_cancel + handed  # not also what was read ahead for it
    await asyncio.sleep(1.0)
    assert len(simulator.submits) == sent < 400


async def test_a_service_added_through_another_gateway_answers_here_at_once(
    client: Client, settings: Settings, simulator: Simulator
) -> None:
    """The keyword engine keeps the catalogue in memory: the other gateway's new service
    reaches it by NOTIFY, and a citizen texting its keyword joins it."""
    other = await PostgresStore.open(settings.database.url)
    try:
        body = health_body(keyword="WEATHER", aliases=["CLIMA"])
        await other.catalogue.add_service(Service(**{**body, "aliases": ("CLIMA",)}))
        text = InboundSms("+5016012345", "1515", "WEATHER", "btl-1")
        await asyncio.sleep(0.5)  # the notification's way (no poll would reload the catalogue)
        await other.delivery.record(DeliveryBatch(inbound=[("elsewhere-2", text, time.time())]))
    finally:
        await other.close()
    async with asyncio.timeout(WAIT):
        await simulator.wait_submits(1)
    assert "Welcome" in simulator.submits[0].short_message.decode("latin-1")
