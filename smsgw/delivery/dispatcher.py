"""The dispatcher: takes broadcast messages from the outbox and keeps every bind busy.

One feeder task per carrier (a carrier that is down stalls only its own feeder). A feeder
hands each bind about ``queue_ahead_s`` of its rate (its window at least) and no more, so an
emergency message overtakes the routine ones still in the outbox at once and those already
handed within about that time. It takes emergency messages first, then retries whose time has
come, then messages never tried, oldest first; routine ones wait out quiet hours.

What happens to each message is written through the delivery log (the Recorder): the segments
the carrier accepted (the message becomes submitted once all its parts are), a retry time after
a temporary failure, an expiry, a rejection. A message stays "taken" (in memory, never taken
twice) until that is stored; the outbox row still says queued meanwhile, so a crash sends it
again: the only duplicates, at most one window per bind (the window holds a slot until the
segment is stored; see channels.base.ChannelSink).

A message in flight when a link drops (UnknownOutcome) is sent again: a broadcast leaves no one
out, and a duplicate is bounded by the window.

A STOP (or leaving the service) since the fan-out is checked as messages are read from the
outbox, and a feeder reads only about what its binds take in ``queue_ahead_s``: so a STOP counts
for every message that has not left within a second or so of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol

import structlog

from channels.base import (
    Channel,
    NotSent,
    OutboundSms,
    PermanentSendError,
    SendResult,
    TemporarySendError,
    UnknownOutcome,
)
from smsgw.delivery.outbox import (
    OutboxBroadcast,
    OutboxMessage,
    OutboxOutcome,
    OutboxState,
    OutboxStore,
    Priority,
)
from smsgw.delivery.quiet import QuietHours
from smsgw.delivery.sender import RetryPolicy
from smsgw.errors import StorageUnavailable
from smsgw.metrics import Metrics
from smsgw.tasks import Tasks

_log = structlog.get_logger(__name__)

_PRIORITIES = tuple(Priority)  # most urgent first (iterating the Enum itself is slow)


class CarrierRouter(Protocol):
    @property
    def carriers(self) -> tuple[str, ...]: ...

    def binds(self, carrier: str) -> Sequence[Channel]: ...


class Broadcasts(Protocol):
    """Where the dispatcher looks up the broadcast of a message (the broadcasts' store)."""

    async def broadcast(self, broadcast_id: int) -> OutboxBroadcast | None: ...


class OutboxLog(Protocol):
    """Where outcomes go (the Recorder: batched, off the hot path)."""

    def outbox_outcome(self, outcome: OutboxOutcome) -> None: ...

    def committed(self) -> asyncio.Future[None]: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Feed:
    """One carrier's queues in memory: a small read-ahead of the outbox per priority."""

    def __init__(self, carrier: str, binds: Sequence[Channel]) -> None:
        self.carrier = carrier
        self.binds = tuple(binds)
        self.ready: dict[Priority, deque[OutboxMessage]] = {p: deque() for p in Priority}
        self.after: dict[Priority, int] = dict.fromkeys(Priority, 0)  # last id read, per priority
        self.stale: dict[Priority, bool] = dict.fromkeys(Priority, True)  # worth a read
        self.wake = asyncio.Event()  # new messages, a retry due, a slot free, a link up


class Dispatcher:
    def __init__(
        self,
        outbox: OutboxStore,
        broadcasts: Broadcasts,
        router: CarrierRouter,
        log: OutboxLog,
        *,
        short_code: str,
        quiet: QuietHours,
        queue_ahead_s: float = 0.5,
        policy: RetryPolicy | None = None,
        read_ahead: int = 500,
        clock: Callable[[], datetime] = _utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        self._outbox = outbox
        self._broadcast_store = broadcasts
        self._router = router
        self._log = log
        self._short_code = short_code
        self._quiet = quiet
        self._ahead_s = queue_ahead_s
        self._policy = policy or RetryPolicy()
        self._read_ahead = read_ahead
        self._clock = clock
        self._feeds = {c: _Feed(c, router.binds(c)) for c in router.carriers}
        self._aheads = {b.name: self._ahead(b) for f in self._feeds.values() for b in f.binds}
        self._broadcasts: dict[int, OutboxBroadcast] = {}
        self._taken: set[int] = set()  # outbox ids handed out, until their outcome is stored
        self._urgent: dict[str, int] = {}  # bind name → emergency segments handed, not done
        self._tasks = Tasks()
        self._metrics = metrics or Metrics()  # none given: counted, never read

    # ------------------------------------------------------------ control

    async def start(self) -> None:
        for feed in self._feeds.values():
            self._tasks.spawn(self._run(feed), name=f"dispatch-{feed.carrier}")
        self._tasks.spawn(self._tick(), name="dispatch-tick")

    async def stop(self) -> None:
        await self._tasks.cancel()

    def wake(self, priority: Priority | None = None) -> None:
        """New messages are in the outbox (after a fan-out chunk is committed)."""
        for feed in self._feeds.values():
            for p in _PRIORITIES if priority is None else (priority,):
                feed.stale[p] = True
            feed.wake.set()

    def changed(self, broadcast: OutboxBroadcast) -> None:
        """A broadcast was cancelled or ended: its messages read ahead are dropped."""
        if broadcast.open:
            self._broadcasts[broadcast.id] = broadcast
            return
        self._broadcasts.pop(broadcast.id, None)
        for feed in self._feeds.values():
            for queue in feed.ready.values():
                kept = [m for m in queue if m.broadcast != broadcast.id]
                queue.clear()
                queue.extend(kept)

    # ------------------------------------------------------------ feeding

    async def _tick(self) -> None:
        """Retries come due and links come up without anyone telling: look again each second."""
        while True:
            await asyncio.sleep(1.0)
            for feed in self._feeds.values():
                await self._let_go_idle(feed)
                holding = self._taken.union(*([m.id for m in q] for q in feed.ready.values()))
                try:
                    await self._outbox.keep(feed.carrier, holding)
                except StorageUnavailable as exc:  # they lapse at worst: sent again by others
                    _log.warning("outbox_claims_not_kept", carrier=feed.carrier, error=str(exc))
            self.wake()

    async def _let_go_idle(self, feed: _Feed) -> None:
        """Messages read ahead that cannot go now (every bind down, or quiet hours for routine
        ones) are let go: with several gateways they are claims, which another gateway (one
        whose binds are up) would otherwise wait out; they are read again when sending can go
        on."""
        sending = any(bind.can_send for bind in feed.binds)
        quiet = self._quiet.active(self._clock())
        for priority, queue in feed.ready.items():
            if not queue or (sending and not (quiet and priority is not Priority.EMERGENCY)):
                continue
            ids = [message.id for message in queue]
            queue.clear()
            feed.after[priority] = min(feed.after[priority], min(ids) - 1)  # read again
            feed.stale[priority] = True
            try:
                await self._outbox.release(feed.carrier, ids)
            except StorageUnavailable as exc:  # their claims lapse by themselves
                _log.warning("outbox_release_failed", carrier=feed.carrier, error=str(exc))

    def _ahead(self, bind: Channel) -> int:
        """Segments to keep handed to ``bind``: about queue_ahead_s of its rate and a window
        (binds without a cap get four windows)."""
        window, tps = bind.window, bind.tps
        return int(tps * self._ahead_s) + window if tps else window * 4

    def _roomiest(self, binds: list[Channel]) -> dict[Priority, Channel]:
        """Per priority, the bind that may take the most more segments, if one may take any.
        Emergency messages go ahead of routine ones on a bind (OutboundSms.urgent), so only
        their own load counts against them. (Runs once per message: kept plain.)"""
        found: dict[Priority, Channel] = {}
        best_urgent = best_routine = 0
        for bind in binds:
            ahead = self._aheads[bind.name]
            urgent = ahead - self._urgent.get(bind.name, 0)
            if urgent > best_urgent:
                best_urgent, found[Priority.EMERGENCY] = urgent, bind
            routine = ahead - bind.backlog
            if routine > best_routine:
                best_routine, found[Priority.NORMAL] = routine, bind
        return found

    async def _run(self, feed: _Feed) -> None:
        while True:
            try:
                await self._feed(feed)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001  # task root: a database hiccup must not stop sending
                _log.exception("dispatcher_failed", carrier=feed.carrier)
                await asyncio.sleep(1.0)

    async def _feed(self, feed: _Feed) -> None:
        while True:
            roomiest = self._roomiest([b for b in feed.binds if b.can_send])
            message = await self._next(feed, [p for p in _PRIORITIES if p in roomiest])
            if message is None:
                await self._wait(feed)
                continue
            await self._hand(feed, roomiest[message.priority], message)

    @staticmethod
    async def _wait(feed: _Feed) -> None:
        feed.wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await feed.wake.wait()

    async def _next(self, feed: _Feed, priorities: list[Priority]) -> OutboxMessage | None:
        """The next message of the first of ``priorities`` that has one."""
        if not priorities:
            return None
        quiet = self._quiet.active(self._clock())
        for priority in priorities:
            if quiet and priority is not Priority.EMERGENCY:
                continue
            queue = feed.ready[priority]
            if not queue and feed.stale[priority]:
                feed.stale[priority] = False
                queue.extend(await self._read(feed, priority))
            if queue:
                return queue.popleft()
        return None

    async def _read(self, feed: _Feed, priority: Priority) -> list[OutboxMessage]:
        # about what the binds take in queue_ahead_s: a STOP is checked when a message is read
        # (the join in the query), so what is read must leave soon after
        limit = min(self._read_ahead, max(20, sum(self._aheads[b.name] for b in feed.binds)))
        retries = await self._outbox.take_retries(
            carrier=feed.carrier, priority=priority, now=self._clock(),
            limit=limit + len(self._taken),
        )  # fmt: skip
        found = [m for m in retries if m.id not in self._taken][:limit]
        if len(found) < limit:
            fresh = await self._outbox.take_ready(
                carrier=feed.carrier, priority=priority, after=feed.after[priority],
                limit=limit - len(found),
            )  # fmt: skip
            if fresh:
                feed.after[priority] = fresh[-1].id
                feed.stale[priority] = True  # there may be more

            found.extend(m for m in fresh if m.id not in self._taken)
        if found:
            feed.stale[priority] = True
        return found

    async def _hand(self, feed: _Feed, bind: Channel, message: OutboxMessage) -> None:
        broadcast = await self._broadcast(message.broadcast)
        if broadcast is None or not broadcast.open:
            return  # cancelled: the store already marked its queued messages
        if message.excluded is not None:
            self._outcome(message, OutboxState.CANCELLED, message.excluded)
            return
        now = self._clock()
        if now >= broadcast.expires_at:
            self._outcome(message, OutboxState.EXPIRED, "validity_ended")
            return
        text = broadcast.texts.get(message.language) or broadcast.texts[broadcast.default_language]
        sms = OutboundSms(id=message.message_id, to=message.recipient, text=text,
                          sender=self._short_code,
                          urgent=message.priority is Priority.EMERGENCY)  # fmt: skip
        self._taken.add(message.id)
        try:
            future = bind.enqueue(sms)
        except (TemporarySendError, PermanentSendError) as exc:
            self._failed(message, broadcast, exc, bind.name)
            return
        if sms.urgent:
            load = broadcast.segments.get(message.language, 1)
            self._urgent[bind.name] = self._urgent.get(bind.name, 0) + load
            future.add_done_callback(partial(self._unload, bind.name, load))
        future.add_done_callback(partial(self._sent, feed, message, broadcast, bind.name))

    def _unload(self, bind: str, load: int, _future: asyncio.Future[SendResult]) -> None:
        self._urgent[bind] -= load

    async def _broadcast(self, broadcast_id: int) -> OutboxBroadcast | None:
        broadcast = self._broadcasts.get(broadcast_id)
        if broadcast is None:
            broadcast = await self._broadcast_store.broadcast(broadcast_id)
            if broadcast is not None and broadcast.open:
                self._broadcasts[broadcast_id] = broadcast
        return broadcast

    # ------------------------------------------------------------ outcomes

    def _sent(
        self, feed: _Feed, message: OutboxMessage, broadcast: OutboxBroadcast, bind: str,
        future: asyncio.Future[SendResult],
    ) -> None:  # fmt: skip
        feed.wake.set()  # a slot is free
        if future.cancelled():
            self._release(message)
            return
        error = future.exception()
        if error is None:
            self._release(message)  # its segments are recorded: submitted
        elif isinstance(error, TemporarySendError | PermanentSendError):
            self._failed(message, broadcast, error, bind)
        else:
            _log.error("broadcast_send_crashed", id=message.id, error=repr(error))
            self._outcome(message, OutboxState.FAILED, "internal_error")

    def _failed(
        self, message: OutboxMessage, broadcast: OutboxBroadcast,
        error: TemporarySendError | PermanentSendError, bind: str,
    ) -> None:  # fmt: skip
        self._metrics.send_failed(bind, error.code)
        if isinstance(error, PermanentSendError):
            self._outcome(message, OutboxState.REJECTED, error.code)
            return
        now = self._clock()
        if isinstance(error, UnknownOutcome | NotSent):
            # not the message's fault: again at once (another bind, or once the link is back)
            not_before, attempted = now, isinstance(error, UnknownOutcome)
        else:
            not_before = now + timedelta(seconds=self._policy.delay(message.attempts))
            attempted = True
        if not_before >= broadcast.expires_at:
            self._outcome(message, OutboxState.EXPIRED, error.code)
            return
        self._outcome(message, OutboxState.QUEUED, error.code, not_before, attempted=attempted)

    def _outcome(
        self,
        message: OutboxMessage,
        state: OutboxState,
        error: str,
        not_before: datetime | None = None,
        *,
        attempted: bool = False,
    ) -> None:
        self._taken.add(message.id)
        self._log.outbox_outcome(OutboxOutcome(message.id, state, error, not_before, attempted))
        self._release(message)

    def _release(self, message: OutboxMessage) -> None:
        """Forget the message once what happened to it is stored (until then the outbox still
        says queued, and a read must not take it again)."""
        self._log.committed().add_done_callback(partial(self._forget, message.id))

    def _forget(self, outbox_id: int, stored: asyncio.Future[None]) -> None:
        self._taken.discard(outbox_id)
        if not stored.cancelled():
            stored.exception()  # retrieved: the recorder logs a failed batch
