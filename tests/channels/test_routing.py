"""Routing numbers to channels by prefix, with failover among a carrier's binds."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from channels.base import LinkState, NotSent, PermanentSendError
from channels.routing import Router
from channels.simulator import Simulator, SimulatorConfig
from channels.smpp.channel import SmppChannel
from channels.smpp.config import SmppChannelConfig


@dataclass
class Bind:
    """A channel's routing face: the router reads only these attributes."""

    name: str
    carrier: str
    prefixes: tuple[str, ...]
    can_send: bool = True
    backlog: int = 0


def test_longest_prefix_wins_across_carriers() -> None:
    btl = Bind("btl-1", "btl", ("+501",))
    smart = Bind("smart-1", "smart", ("+5016",))
    router = Router([btl, smart])

    assert router.route("+5016012345") is smart
    assert router.route("+5012234567") is btl


def test_unknown_prefix_is_a_permanent_error_unless_a_default_exists() -> None:
    with pytest.raises(PermanentSendError) as caught:
        Router([Bind("btl-1", "btl", ("+501",))]).route("+14155550100")
    assert caught.value.code == "no_route"

    default = Bind("intl-1", "intl", ())
    assert Router([Bind("btl-1", "btl", ("+501",)), default]).route("+14155550100") is default


def test_a_prefix_claimed_by_two_carriers_is_refused() -> None:
    with pytest.raises(ValueError, match="claimed"):
        Router([Bind("a", "btl", ("+501",)), Bind("b", "smart", ("+501",))])


def test_load_is_spread_over_the_carriers_binds() -> None:
    one, two = Bind("btl-1", "btl", ("+501",)), Bind("btl-2", "btl", ("+501",))
    router = Router([one, two])

    picked = {router.route("+5016000000").name for _ in range(4)}
    assert picked == {"btl-1", "btl-2"}

    one.backlog = 10
    assert {router.route("+5016000000").name for _ in range(4)} == {"btl-2"}


def test_all_binds_down_is_a_temporary_error() -> None:
    router = Router([Bind("btl-1", "btl", ("+501",), can_send=False)])

    with pytest.raises(NotSent) as caught:  # nothing left: another bind or later, at once
        router.route("+5016000000")
    assert caught.value.code == "no_channel_up"


class NullSink:
    def segment_submitted(self, event: object) -> None: ...

    def received(self, item: object) -> None: ...


async def test_a_bind_that_is_down_fails_over_to_another_of_the_same_carrier() -> None:
    up = Simulator(SimulatorConfig(port=0, control_port=None, receipts=False))
    down = Simulator(SimulatorConfig(port=0, control_port=None, receipts=False))
    await up.start()
    await down.start()
    channels = [
        SmppChannel(
            SmppChannelConfig(
                name=f"btl-{i}",
                carrier="btl",
                host="127.0.0.1",
                port=simulator.port,
                system_id="smsgw",
                prefixes=("+501",),
                reconnect_min_s=0.05,
                reconnect_max_s=0.1,
            )
        )
        for i, simulator in enumerate((up, down))
    ]
    try:
        for channel in channels:
            await channel.start(NullSink())
            async with asyncio.timeout(10):
                await channel.wait_bound()
        await down.stop()
        async with asyncio.timeout(10):
            await channels[1].wait_for(lambda c: c.state is not LinkState.BOUND)

        router = Router(channels)
        assert {router.route("+5016000000").name for _ in range(4)} == {"btl-0"}
    finally:
        for channel in channels:
            await channel.stop()
        await up.stop()
