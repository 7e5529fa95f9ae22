"""Bind leases: each ``[[channels]]`` entry is bound by one gateway at a time.

A lease is a row in the database (the channel, the gateway holding it, an epoch, an expiry),
taken or renewed in one statement every ``lease_s / 5``. The keeper binds what it holds and
unbinds what it no longer holds. Timing, for ``lease_s`` = L and a renewal every R = L / 5:

- a lease lasts V = L - R from the renewal (the database's clock), so a dead gateway's binds
  pass to another within V + R = L;
- a gateway that could not renew (the database gone, the network cut) unbinds by its own clock
  at V - M after its last successful renewal began, M = max(R, min(1 s, L / 3)): before the
  lease can pass, with M to spare for the unbind itself and a busy event loop (fencing: never
  two gateways bound on one channel entry). It unbinds at once, without waiting for what is in
  flight (sent again by the next holder: one window at most);
- the epoch grows each time a lease changes hands (or lapses and is taken again), so a holder
  can tell its lease from a later one of the same name.

Balanced (``[cluster] balance``, the default): each gateway checks in every round, and takes
free binds only up to its share, ceil(binds / live gateways); one holding more than its share
(the others started after it) hands one bind over per round: it lets what is in flight be
answered (up to R), unbinds, and ends the lease, which a gateway under its share takes at its
next round. Unbalanced: the first gateway holds every bind, the others stand by.

On SQLite there is one gateway per database (its serving lock), which holds every bind.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog

from channels.base import Channel, ChannelSink, LinkState
from smsgw.errors import StorageUnavailable
from smsgw.tasks import Tasks

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Lease:
    channel: str
    instance: str
    epoch: int
    expires_at: datetime


class LeaseStore(Protocol):
    async def check_in(self, instance: str, valid_s: float) -> int:
        """``instance`` is alive for ``valid_s`` from now; returns how many gateways are
        (itself included)."""

    async def hold(
        self, instance: str, channels: Sequence[str], valid_s: float, *, most: int | None = None
    ) -> dict[str, int]:
        """Renew ``instance``'s leases among ``channels`` and take free or lapsed ones while it
        holds fewer than ``most`` (None: all it can), for ``valid_s`` from now (the database's
        clock); returns those held now, with their epoch."""

    async def let_go(self, instance: str, channels: Sequence[str]) -> None:
        """End ``instance``'s leases of ``channels`` now (a clean stop: others take over)."""

    async def check_out(self, instance: str) -> None:
        """``instance`` stops: no longer counted among the live gateways."""

    async def gateways(self) -> list[str]:
        """The gateways alive, by name."""

    async def leases(self) -> list[Lease]:
        """Every lease, lapsed or not, by channel."""


@dataclass(frozen=True, slots=True)
class Timing:
    renew_s: float  # R
    valid_s: float  # V: how long a lease lasts after a renewal
    fence_s: float  # V - M: unbind this long after a renewal began, unless renewed since

    @classmethod
    def of(cls, lease_s: float) -> Timing:
        renew = lease_s / 5
        margin = max(renew, min(1.0, lease_s / 3))
        return cls(renew_s=renew, valid_s=lease_s - renew, fence_s=lease_s - renew - margin)


class LeaseKeeper:
    """Holds what leases it can for this gateway, binds what it holds, unbinds what it lost or
    can no longer prove it holds."""

    def __init__(
        self,
        store: LeaseStore,
        channels: Sequence[Channel],
        sink: ChannelSink,
        *,
        instance: str,
        lease_s: float,
        balance: bool = True,
        on_bound: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``on_bound``: called when a bind taken over is up (the dispatcher sends at once
        rather than at its next look)."""
        self._store = store
        self._channels = {channel.name: channel for channel in channels}
        self._sink = sink
        self.instance = instance
        self.timing = Timing.of(lease_s)
        self._balance = balance
        self._on_bound = on_bound
        self._waiting = Tasks()  # for binds just started to come up
        self._clock = clock
        self._bound: dict[str, float] = {}  # channel -> fence deadline (clock)
        self.epochs: dict[str, int] = {}
        self.holders: dict[str, str] = {}  # channel -> the gateway holding it, at the last round
        self.gateways: list[str] = [instance]  # those alive, at the last round
        self._tasks = Tasks()

    @property
    def held(self) -> list[str]:
        """The channels this gateway holds and has started, by name."""
        return sorted(self._bound)

    async def start(self) -> None:
        """A first round at once (the binds this gateway can have start now), then one every
        renew_s."""
        await self._round()
        self._tasks.spawn(self._run(), name="lease-keeper")
        self._tasks.spawn(self._watch(), name="lease-fence")

    async def stop(self) -> None:
        """Stop renewing; the caller stops the channels (with their drain), then let_go()."""
        await self._waiting.cancel()
        await self._tasks.cancel()

    async def let_go(self) -> None:
        """Give the leases back at once, so another gateway need not wait for them to lapse."""
        held, self._bound = list(self._bound), {}
        try:
            if held:
                await self._store.let_go(self.instance, held)
            await self._store.check_out(self.instance)
        except StorageUnavailable as exc:  # they lapse by themselves
            _log.warning("leases_not_released", channels=held, error=str(exc))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.timing.renew_s)
            await self._round()

    async def _round(self) -> None:
        asked = self._clock()
        names, valid = list(self._channels), self.timing.valid_s
        try:
            async with asyncio.timeout(self.timing.renew_s):
                share = None
                if self._balance:
                    live = await self._store.check_in(self.instance, valid)
                    share = -(-len(names) // max(1, live))
                held = await self._store.hold(self.instance, names, valid, most=share)
        except (StorageUnavailable, TimeoutError) as exc:  # _watch unbinds when it is time
            _log.warning("lease_renewal_failed", error=str(exc) or "timed out",
                         channels=self.held)  # fmt: skip
            return
        deadline = asked + self.timing.fence_s
        await self._note_holders()
        for name in sorted(set(self._bound) - set(held)):  # taken by another: cannot happen
            _log.error("lease_lost", channel=name, instance=self.instance)  # unless it lapsed
            await self._unbind(name, "lease_lost")
        for name, epoch in held.items():
            if name not in self._bound or self.epochs.get(name) != epoch:
                if name in self._bound:  # it lapsed and came back: a new epoch, a new bind
                    await self._unbind(name, "lease_lapsed")
                _log.info("lease_taken", channel=name, instance=self.instance, epoch=epoch)
                self.epochs[name] = epoch
                await self._channels[name].start(self._sink)
                if self._on_bound is not None:
                    self._waiting.forget_done()
                    self._waiting.spawn(self._until_up(self._channels[name]), name="bind-up")
            self._bound[name] = deadline
        if share is not None and len(self._bound) > share:
            await self._hand_over(sorted(self._bound)[-1])

    async def _until_up(self, channel: Channel) -> None:
        """Tells on_bound once ``channel`` is up (looked at every 20 ms, for one lease)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.timing.valid_s):
                while channel.state is not LinkState.BOUND:  # noqa: ASYNC110  # no link event
                    await asyncio.sleep(0.02)
                if self._on_bound is not None:
                    self._on_bound()

    async def _hand_over(self, name: str) -> None:
        """One bind over this gateway's share, to a gateway under it: a clean unbind (what is
        in flight answered and stored, up to R), then the lease ends."""
        if self._bound.pop(name, None) is None:
            return
        await self._channels[name].stop(drain_s=self.timing.renew_s)
        try:
            await self._store.let_go(self.instance, [name])
        except StorageUnavailable as exc:  # it lapses by itself
            _log.warning("leases_not_released", channels=[name], error=str(exc))
        _log.info("bind_released", channel=name, reason="balance")

    async def _note_holders(self) -> None:
        """Who holds each bind, for /healthz and the console (a read; a failure leaves the
        last known)."""
        try:
            leases = await self._store.leases()
            self.gateways = await self._store.gateways() or [self.instance]
        except StorageUnavailable:
            return
        now = datetime.now(UTC)
        self.holders = {lease.channel: lease.instance for lease in leases if lease.expires_at > now}

    async def _watch(self) -> None:
        """Unbinds at its deadline a bind whose lease was not renewed in time, whatever the
        renewal is doing meanwhile (a statement hanging on a cut network)."""
        while True:
            now = self._clock()
            for name, deadline in sorted(self._bound.items()):
                if now >= deadline:
                    # not renewed in time: unbound before the lease can pass to another
                    _log.error("lease_fenced", channel=name, instance=self.instance)
                    await self._unbind(name, "lease_fenced")
            soonest = min(self._bound.values(), default=now + self.timing.renew_s)
            await asyncio.sleep(max(0.01, soonest - self._clock()))

    async def _unbind(self, name: str, reason: str) -> None:
        if self._bound.pop(name, None) is None:
            return  # the other task got there first
        # at once: another gateway may bind it soon; what is in flight is resent (one window)
        await self._channels[name].stop(drain_s=0.0)
        _log.info("bind_released", channel=name, reason=reason)
