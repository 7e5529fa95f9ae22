"""Bind leases on a real PostgreSQL: one holder per bind, a dead holder's binds taken over
within lease_s, and a holder that cannot renew unbinds before another can bind (fencing)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest

from channels.base import ChannelSink, LinkState
from smsgw.cluster.leases import LeaseKeeper, LeaseStore, Timing
from smsgw.errors import StorageUnavailable
from smsgw.storage.postgres import PostgresStore
from tests import postgres
from tests.smsgw.testbed import eventually

CHANNELS = ("btl-1", "btl-2", "smart-1")
LEASE_S = 1.5  # (the config allows 3 s at least; tests go faster): R = 0.3 s, fencing at 0.7 s
TIMING = Timing.of(LEASE_S)


@pytest.fixture
async def store(postgres_database: str) -> AsyncIterator[PostgresStore]:
    store = await PostgresStore.open(postgres_database)
    await store.db.read(postgres.empty)
    yield store
    await store.close()


@dataclass
class Binds:
    """What the SMSC would see: who is bound on each channel entry, and when it changed."""

    bound: dict[str, str] = field(default_factory=dict)  # channel -> instance
    log: list[tuple[float, str, str, str]] = field(default_factory=list)
    overlaps: list[str] = field(default_factory=list)

    def start(self, channel: str, instance: str) -> None:
        if channel in self.bound:
            self.overlaps.append(f"{instance} bound {channel} held by {self.bound[channel]}")
        self.bound[channel] = instance
        self.log.append((time.monotonic(), "bind", channel, instance))

    def stop(self, channel: str, instance: str) -> None:
        if self.bound.get(channel) == instance:
            del self.bound[channel]
            self.log.append((time.monotonic(), "unbind", channel, instance))


class FakeChannel:
    def __init__(self, name: str, instance: str, binds: Binds) -> None:
        self.name = name
        self._instance = instance
        self._binds = binds
        self.state = LinkState.STOPPED

    async def start(self, sink: ChannelSink) -> None:
        self._binds.start(self.name, self._instance)
        self.state = LinkState.CONNECTING  # bound a moment later
        asyncio.get_running_loop().call_later(0.1, setattr, self, "state", LinkState.BOUND)

    async def stop(self, drain_s: float | None = None) -> None:
        self._binds.stop(self.name, self._instance)
        self.state = LinkState.STOPPED


class Cut:
    """A LeaseStore whose connection to the database can be cut: calls then hang."""

    def __init__(self, store: LeaseStore) -> None:
        self._store = store
        self.cut = False

    async def check_in(self, instance: str, valid_s: float) -> int:
        if self.cut:
            await asyncio.Event().wait()
        return await self._store.check_in(instance, valid_s)

    async def check_out(self, instance: str) -> None:
        if self.cut:
            raise StorageUnavailable("cut")
        await self._store.check_out(instance)

    async def hold(
        self, instance: str, channels: Sequence[str], valid_s: float, *, most: int | None = None
    ) -> dict[str, int]:
        if self.cut:
            await asyncio.Event().wait()
        return await self._store.hold(instance, channels, valid_s, most=most)

    async def let_go(self, instance: str, channels: Sequence[str]) -> None:
        if self.cut:
            raise StorageUnavailable("cut")
        await self._store.let_go(instance, channels)

    async def gateways(self) -> list[str]:
        return await self._store.gateways()

    async def leases(self) -> list:  # type: ignore[type-arg]
        return await self._store.leases()


def keeper(store: LeaseStore, instance: str, binds: Binds, *, balance: bool = True) -> LeaseKeeper:
    channels = [FakeChannel(name, instance, binds) for name in CHANNELS]
    return LeaseKeeper(
        store,
        channels,  # type: ignore[arg-type]
        sink=None,  # type: ignore[arg-type]
        instance=instance,
        lease_s=LEASE_S,
        balance=balance,
    )


async def test_a_free_lease_is_taken_kept_by_its_holder_and_refused_to_others(
    store: PostgresStore,
) -> None:
    leases = store.leases
    assert await leases.hold("a", ["btl-1", "smart-1"], 5) == {"btl-1": 1, "smart-1": 1}
    assert await leases.hold("b", CHANNELS, 5) == {"btl-2": 1}  # only the free one
    assert await leases.hold("a", ["btl-1"], 5) == {"btl-1": 1}  # renewed: same epoch
    await leases.let_go("a", ["btl-1"])
    assert await leases.hold("b", ["btl-1"], 5) == {"btl-1": 2}  # changed hands: new epoch
    holders = {lease.channel: (lease.instance, lease.epoch) for lease in await leases.leases()}
    assert holders == {"btl-1": ("b", 2), "btl-2": ("b", 1), "smart-1": ("a", 1)}


async def test_a_lapsed_lease_passes_to_another_and_its_old_holder_cannot_renew_it(
    store: PostgresStore,
) -> None:
    leases = store.leases
    assert await leases.hold("a", ["btl-1"], 0.2) == {"btl-1": 1}
    assert await leases.hold("b", ["btl-1"], 5) == {}
    await asyncio.sleep(0.3)
    assert await leases.hold("b", ["btl-1"], 5) == {"btl-1": 2}
    assert await leases.hold("a", ["btl-1"], 5) == {}


async def test_unbalanced_the_first_gateway_binds_everything_and_a_second_waits(
    store: PostgresStore,
) -> None:
    binds = Binds()
    first = keeper(store.leases, "a", binds, balance=False)
    second = keeper(store.leases, "b", binds, balance=False)
    await first.start()
    await second.start()
    try:
        assert (first.held, second.held) == (sorted(CHANNELS), [])
        await asyncio.sleep(TIMING.renew_s * 3)  # renewals keep it so
        assert (first.held, second.held) == (sorted(CHANNELS), [])
        assert binds.bound == dict.fromkeys(CHANNELS, "a")
    finally:
        await second.stop()
        await first.stop()


async def test_balanced_a_second_gateway_gets_its_share_handed_over_and_gives_it_back(
    store: PostgresStore,
) -> None:
    """Three binds, two gateways: the first holds them all until the second checks in, then
    hands one over (its share is two); never two bound on one; the second's clean stop gives
    it back."""
    binds = Binds()
    first, second = keeper(store.leases, "a", binds), keeper(store.leases, "b", binds)
    await first.start()
    assert first.held == sorted(CHANNELS)
    await second.start()
    try:
        await eventually(lambda: (len(first.held), len(second.held)) == (2, 1))
        await asyncio.sleep(TIMING.renew_s * 3)  # and it stays so
        assert (len(first.held), len(second.held)) == (2, 1)
        assert binds.overlaps == []
        await second.stop()
        await second.let_go()
        for name in CHANNELS:
            binds.stop(name, "b")
        await eventually(lambda: first.held == sorted(CHANNELS))
        assert binds.overlaps == []
    finally:
        await second.stop()
        await first.stop()


async def test_a_dead_gateway_s_binds_are_taken_over_within_lease_s(store: PostgresStore) -> None:
    binds = Binds()
    first, second = keeper(store.leases, "a", binds), keeper(store.leases, "b", binds)
    await first.start()
    await second.start()
    try:
        await first.stop()  # kill -9: no more renewals, no let_go; its binds die with it
        died = time.monotonic()
        for name in CHANNELS:
            binds.stop(name, "a")
        await eventually(lambda: second.held == sorted(CHANNELS))
        assert time.monotonic() - died <= LEASE_S + 0.5  # (the rounds' own time)
        assert binds.bound == dict.fromkeys(CHANNELS, "b")
        assert binds.overlaps == []
    finally:
        await second.stop()


async def test_a_clean_stop_hands_the_binds_over_at_once(store: PostgresStore) -> None:
    binds = Binds()
    first, second = keeper(store.leases, "a", binds), keeper(store.leases, "b", binds)
    await first.start()
    await second.start()
    try:
        await first.stop()
        for name in CHANNELS:
            binds.stop(name, "a")
        await first.let_go()
        started = time.monotonic()
        await eventually(lambda: second.held == sorted(CHANNELS))
        assert time.monotonic() - started <= TIMING.renew_s + 0.5  # its next round
        assert binds.overlaps == []
    finally:
        await second.stop()


async def test_a_gateway_cut_off_from_the_database_unbinds_before_another_binds(
    store: PostgresStore,
) -> None:
    """Fencing: its renewals hang (the network is cut); by its own clock it unbinds before its
    lease can lapse, so the other gateway never binds while it is still bound."""
    binds = Binds()
    cut = Cut(store.leases)
    first, second = keeper(cut, "a", binds), keeper(store.leases, "b", binds)
    await first.start()
    await second.start()
    try:
        cut.cut = True
        await eventually(lambda: second.held == sorted(CHANNELS))
        assert binds.overlaps == []  # never two bound on one channel entry
        assert first.held == []
        for name in CHANNELS:
            [unbound] = [
                t for t, what, ch, who in binds.log if (what, ch, who) == ("unbind", name, "a")
            ]
            [rebound] = [
                t for t, what, ch, who in binds.log if (what, ch, who) == ("bind", name, "b")
            ]
            assert rebound - unbound >= TIMING.renew_s / 2  # with time to spare
    finally:
        await second.stop()
        await first.stop()


async def test_a_bind_taken_over_says_when_it_is_up(store: PostgresStore) -> None:
    """So the dispatcher sends on it at once, not at its next look (a second)."""
    ups: list[float] = []
    channels = [FakeChannel(name, "a", Binds()) for name in CHANNELS]
    taker = LeaseKeeper(
        store.leases, channels, sink=None, instance="a", lease_s=LEASE_S,  # type: ignore[arg-type]
        on_bound=lambda: ups.append(time.monotonic()),
    )  # fmt: skip
    started = time.monotonic()
    await taker.start()
    try:
        await eventually(lambda: len(ups) == len(CHANNELS))
        assert all(up - started >= 0.1 for up in ups)  # once up, not when started
    finally:
        await taker.stop()
