"""Single messages with two gateways on one PostgreSQL database, one binding btl, the other
smart: a message taken by the one without its carrier's bind is sent, once, by the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest

from channels.routing import Router
from channels.simulator import Simulator
from channels.smpp.channel import SmppChannel
from smsgw.config import Settings
from smsgw.delivery.recorder import Recorder
from smsgw.delivery.sender import NewMessage, RetryPolicy, Sender
from smsgw.storage.postgres import PostgresStore
from tests import postgres
from tests.smsgw.testbed import CARRIERS, WAIT, eventually

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@dataclass
class Gateway:
    """The parts of one gateway that single messages go through."""

    store: PostgresStore
    sender: Sender
    bound: SmppChannel


async def _gateway(stack: AsyncExitStack, settings: Settings, name: str, binds: str) -> Gateway:
    store = await PostgresStore.open(settings.database.url, instance=name)
    stack.push_async_callback(store.close)
    recorder = Recorder(store.delivery, CARRIERS)
    await recorder.start()
    stack.push_async_callback(recorder.close)
    # a channel object per entry, as each gateway has; only the one it holds is started
    channels = [SmppChannel(c.model_copy(update={"registered_delivery": False}))
                for c in settings.channels]  # fmt: skip
    [bound] = [c for c in channels if c.name == binds]
    await bound.start(recorder)
    stack.push_async_callback(bound.stop)
    async with asyncio.timeout(WAIT):
        await bound.wait_bound()
    sender = Sender(
        Router(channels), store.messages, recorder, short_code="1515",
        policy=RetryPolicy(first_delay_s=0.01, max_delay_s=0.05), instance=name,
        carriers=lambda: {bound.carrier}, shared_poll_s=0.1,
    )  # fmt: skip
    await sender.resume()
    stack.push_async_callback(sender.stop)
    return Gateway(store, sender, bound)


@pytest.fixture
async def gateways(settings: Settings) -> AsyncIterator[tuple[Gateway, Gateway]]:
    async with AsyncExitStack() as stack:
        empty = await PostgresStore.open(settings.database.url)
        await empty.db.read(postgres.empty)
        await empty.close()
        yield (await _gateway(stack, settings, "gw-1", "btl-1"),
               await _gateway(stack, settings, "gw-2", "smart-1"))  # fmt: skip


async def test_each_message_goes_once_through_the_gateway_that_binds_its_carrier(
    gateways: tuple[Gateway, Gateway], simulator: Simulator
) -> None:
    first, second = gateways
    btl = [f"+50160{n:05d}" for n in range(20)]
    smart = [f"+50165{n:05d}" for n in range(20)]
    made = await first.sender.create_many(
        [NewMessage(to, "Your visa is ready", 1, "gsm7") for to in btl + smart]
    )
    assert {m.carrier for m in made} == {"btl", "smart"}
    await eventually(lambda: len(simulator.submits) >= 40)
    await asyncio.sleep(0.5)  # (and no more come)
    by_bind = {(s.system_id, "+" + s.destination_addr) for s in simulator.submits}
    assert len(simulator.submits) == 40  # each once
    assert by_bind == {("smsgw-btl", n) for n in btl} | {("smsgw-smart", n) for n in smart}

    async def all_submitted() -> bool:
        states = {(await second.store.messages.get_message(m.id)).state for m in made}  # type: ignore[union-attr]
        return states == {"submitted"}

    await eventually(all_submitted)
