"""Moves broadcasts along: due → fanned out into the outbox (chunk by chunk) → done.

One chunk at a time, the most urgent broadcast first, re-reading the open broadcasts between
chunks: an emergency created while a million-subscriber routine broadcast is being fanned out
waits for one chunk (tens of milliseconds), not for the whole fan-out. Everything it knows is
in the store, so after a restart it simply carries on (a fan-out resumes at its cursor).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import structlog

from smsgw.broadcasts.model import Broadcast, BroadcastState
from smsgw.broadcasts.store import BroadcastOutbox, BroadcastStore
from smsgw.delivery.outbox import Priority
from smsgw.delivery.quiet import QuietHours
from smsgw.tasks import Tasks

_log = structlog.get_logger(__name__)


class Dispatch(Protocol):
    def wake(self, priority: Priority | None = None) -> None: ...

    def changed(self, broadcast: Broadcast) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    def __init__(
        self,
        store: BroadcastStore,
        outbox: BroadcastOutbox,
        dispatch: Dispatch,
        *,
        carrier_of: Callable[[str], str | None],
        quiet: QuietHours,
        chunk: int = 10_000,
        tick_s: float = 1.0,
        clock: Callable[[], datetime] = _utcnow,
        started: Callable[[], None] = lambda: None,
    ) -> None:
        """``started``: called as a fan-out begins (replies to it may come from then on)."""
        self._started = started
        self._store = store
        self._outbox = outbox
        self._dispatch = dispatch
        self._carrier_of = carrier_of
        self._quiet = quiet
        self._chunk = chunk
        self._tick = tick_s
        self._clock = clock
        self._wake = asyncio.Event()
        self._tasks = Tasks()

    def wake(self) -> None:
        """A broadcast was created, approved or cancelled."""
        self._wake.set()

    async def start(self) -> None:
        self._tasks.spawn(self._run(), name="broadcast-scheduler")

    async def stop(self) -> None:
        await self._tasks.cancel()

    async def _run(self) -> None:
        while True:
            try:
                busy = await self.step()
            except Exception:  # noqa: BLE001  # task root: try again at the next tick
                _log.exception("broadcast_scheduler_failed")
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._tick):
                        await self._wake.wait()
                self._wake.clear()

    async def step(self) -> bool:
        """One unit of work; True if there is more to do at once."""
        now = self._clock()
        for broadcast in await self._store.open_broadcasts():
            if broadcast.state is BroadcastState.SENDING:
                if not await self._outbox.fanned_out(broadcast.id):
                    await self._fan_out(broadcast, now)
                    return True
                await self._watch(broadcast, now)
            elif (broadcast.send_at is None or broadcast.send_at <= now) and await self._begin(
                broadcast, now
            ):
                return True
        return False

    async def _begin(self, broadcast: Broadcast, now: datetime) -> bool:
        """A due broadcast: expired, waiting out quiet hours, or its fan-out starts."""
        store = self._store
        if now >= broadcast.expires_at:
            await store.set_broadcast_state(
                broadcast.id, BroadcastState.DONE, at=now, finished=True
            )
            _log.warning("broadcast_expired_unsent", broadcast=broadcast.id)
            return True
        if broadcast.priority is Priority.NORMAL and self._quiet.active(now):
            if broadcast.state is BroadcastState.SCHEDULED:
                await store.set_broadcast_state(broadcast.id, BroadcastState.QUEUED, at=now)
            return False
        await store.set_broadcast_state(broadcast.id, BroadcastState.SENDING, at=now, started=True)
        self._started()
        _log.info("broadcast_sending", broadcast=broadcast.id, priority=broadcast.priority.label)
        await self._fan_out(broadcast, now)
        return True

    async def _fan_out(self, broadcast: Broadcast, now: datetime) -> None:
        added, finished = await self._outbox.fan_out_chunk(
            broadcast, chunk=self._chunk, carrier_of=self._carrier_of, at=now
        )
        if added:
            self._dispatch.wake(broadcast.priority)
        if finished:
            _log.info("broadcast_fanned_out", broadcast=broadcast.id)

    async def _watch(self, broadcast: Broadcast, now: datetime) -> None:
        """A sending broadcast: expire what its validity left queued; done when none is."""
        store = self._store
        if now >= broadcast.expires_at:
            expired = await self._outbox.expire_outbox(broadcast.id, at=now)
            if expired:
                _log.warning("broadcast_messages_expired", broadcast=broadcast.id, count=expired)
        if await self._outbox.queued_count(broadcast.id) == 0:
            await store.set_broadcast_state(
                broadcast.id, BroadcastState.DONE, at=now, finished=True
            )
            done = await store.broadcast(broadcast.id)
            if done is not None:
                self._dispatch.changed(done)
            _log.info("broadcast_done", broadcast=broadcast.id)
