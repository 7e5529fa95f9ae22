"""Sending API messages: route, submit, and retry temporary failures until the validity ends.

New messages, and what went wrong with them (:class:`Outcome`), are written through the
Recorder in batches; what the carrier says (segment ids, receipts) reaches it from the channel.

A message in flight when its link dropped (:class:`~channels.base.UnknownOutcome`) is sent
again at once, as a broadcast's is: the carrier may have had it, so a duplicate is possible,
bounded as for broadcasts by one window per bind per cut (SPEC: delivery guarantee); a lost
message nobody notices is worse. Its history says so (``resent``, ``link_lost``).

At most ``in_memory`` messages are held in memory at once (a task each, their SMS encoded);
the rest of a burst (an integrator's 100,000 in batches) waits in the store, already safe, and
is read back in creation order as those in memory go: memory stays flat whatever is posted.

A message still queued when its validity has ended (the gateway was down meanwhile) expires
rather than arriving late; one accepted but never given a final receipt becomes ``unknown``
(delivery.store.DeliveryLog.settle_unconfirmed): every message reaches a final state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast

import structlog

from channels.base import (
    Channel,
    OutboundSms,
    PermanentSendError,
    TemporarySendError,
    UnknownOutcome,
)
from channels.text import text_info
from smsgw.access.audit import AuditEntry
from smsgw.delivery.message import Message, MessageState, Outcome
from smsgw.delivery.store import MESSAGE_CLAIM, MessageStore
from smsgw.errors import StorageUnavailable
from smsgw.ids import new_id
from smsgw.metrics import Metrics
from smsgw.tasks import Tasks

_log = structlog.get_logger(__name__)


class Router(Protocol):
    @property
    def channels(self) -> Sequence[Channel]: ...

    def route(self, number: str) -> Channel:
        """The channel for ``number``; PermanentSendError("no_route") when no prefix matches,
        NotSent("no_channel_up") when every bind of its carrier is down."""

    def try_carrier(self, number: str) -> str | None:
        """The carrier of ``number`` by its prefix; None: no channel serves it."""


class MessageLog(Protocol):
    """Where the sender writes (the Recorder: batched, off the hot path)."""

    storage_error: str | None  # set while the database cannot be written

    def messages_queued(self, messages: list[Message]) -> asyncio.Future[None]:
        """Store new messages, in one transaction; done once committed."""

    def committed(self) -> asyncio.Future[None]:
        """Done once everything handed over so far is stored."""

    def outcome(self, outcome: Outcome) -> None: ...

    def audited(self, entry: AuditEntry) -> None:
        """Store ``entry`` in the transaction of the messages handed over with it."""


Audit = Callable[[list[Message]], AuditEntry]  # the audit entry of new messages, once made


@dataclass(frozen=True, slots=True)
class NewMessage:
    to: str  # E.164
    text: str
    segments: int
    encoding: str
    callback_url: str | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    first_delay_s: float = 1.0
    max_delay_s: float = 60.0
    validity: timedelta = timedelta(hours=24)  # then a message still not accepted expires

    def delay(self, attempt: int) -> float:
        """1 s, 2 s, 4 s … capped: ``attempt`` counts from 0."""
        return min(self.max_delay_s, self.first_delay_s * (1 << min(attempt, 32)))


# Held at once: enough to keep every bind's window full while the next ones are read back (a
# read takes milliseconds); 100,000 held took ~450 MB (bench/batch_accept.py --batches 100)
IN_MEMORY = 2_000


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Sender:
    """Owns one task per message being sent (at most ``in_memory``; the others wait in the
    store); :meth:`stop` ends them cleanly."""

    def __init__(
        self,
        router: Router,
        store: MessageStore,
        log: MessageLog,
        *,
        short_code: str,
        policy: RetryPolicy | None = None,
        shutdown_grace_s: float = 5.0,
        clock: Callable[[], datetime] = _utcnow,
        metrics: Metrics | None = None,
        in_memory: int = IN_MEMORY,
        instance: str = "local",
        carriers: Callable[[], Collection[str]] | None = None,
        shared_poll_s: float | None = None,
        claim: timedelta = MESSAGE_CLAIM,
    ) -> None:
        """``instance``, ``carriers``, ``shared_poll_s``, ``claim``: with several gateways on
        one database, this one's name, the carriers it holds a bind of now (default: every
        one), how often it looks for messages others left to it (None: no other gateway), and
        how long the store's claims on messages last (renewed every third of it)."""
        self._router = router
        self._instance = instance
        every = {channel.carrier for channel in router.channels}
        self._carriers = carriers or (lambda: every)
        self._shared_poll_s = shared_poll_s
        self._claim = claim
        self._to_release: list[str] = []  # made here for a carrier another gateway binds
        self._by_name = {channel.name: channel for channel in router.channels}
        self._store = store
        self._log = log
        self._short_code = short_code
        self._policy = policy or RetryPolicy()
        self._grace = shutdown_grace_s
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._sending: set[asyncio.Task[None]] = set()  # inside channel.send: let them finish
        self._closing = False
        self._metrics = metrics or Metrics()  # none given: counted, never read
        self._in_memory = in_memory
        self._held: dict[str, Message] = {}  # the messages with a task, by id
        self._task_of: dict[str, asyncio.Task[None]] = {}
        self._backlog = False  # queued messages wait in the store, not in memory
        self._skipped = 0  # submits left to the store since the last read back began
        self._done_since: set[str] | None = None  # ids whose task ended during a read back
        self._reader: asyncio.Task[None] | None = None
        self._upkeep = Tasks()
        self._news = asyncio.Event()  # another gateway gave messages back (wake())

    async def create(
        self,
        to: str,
        text: str,
        *,
        segments: int,
        encoding: str,
        via: str | None = None,
        created_by: str | None = None,
        callback_url: str | None = None,
        audit: Audit | None = None,
    ) -> Message:
        """Store a new message for ``to`` (E.164) and start sending it; ``via`` names the
        channel to prefer (a reply goes back the way its text came, while that bind is up)."""
        new = NewMessage(to, text, segments, encoding, callback_url)
        [message] = await self.create_many([new], via=via, created_by=created_by, audit=audit)
        return message

    async def create_many(
        self,
        new: Sequence[NewMessage],
        *,
        via: str | None = None,
        created_by: str | None = None,
        audit: Audit | None = None,
    ) -> list[Message]:
        """Store new messages together, in one transaction with their ``audit`` entry (handed
        to the recorder in one turn of the loop, they make one batch), then start sending
        each."""
        if self._log.storage_error is not None:  # it would wait in memory until the disk is back
            raise StorageUnavailable(self._log.storage_error)
        now = self._clock()  # one moment for a batch: it is stored in one transaction
        messages = [self._new(item, via, created_by, now) for item in new]
        stored = self._log.messages_queued(messages)
        if audit is not None and messages:
            self._log.audited(audit(messages))
        await stored
        if len(messages) == 1:
            _log.info("message_queued", id=messages[0].id, to=messages[0].to,
                      segments=messages[0].parts)  # fmt: skip
        else:
            _log.info("messages_queued", count=len(messages))
        for message in messages:
            self.submit(message)
        return messages

    def _new(
        self, new: NewMessage, via: str | None, created_by: str | None, now: datetime
    ) -> Message:
        return Message(
            carrier=self._router.try_carrier(new.to),
            id=new_id(),
            to=new.to,
            sender=self._short_code,
            text=new.text,
            state=MessageState.QUEUED,
            parts=new.segments,
            encoding=new.encoding,
            channel=via,
            error=None,
            created_at=now,
            updated_at=now,
            expires_at=now + self._policy.validity,
            created_by=created_by,
            callback_url=new.callback_url,
        )

    async def reply(self, to: str, text: str, via: str) -> Message:
        """A reply to a citizen's text, back through the channel it came in on."""
        info = text_info(text)
        return await self.create(to, text, segments=info.segments, encoding=info.encoding, via=via)

    @property
    def held(self) -> int:
        """Messages being sent from memory now (the rest of a burst waits in the store)."""
        return len(self._tasks)

    def submit(self, message: Message) -> None:
        """Send a stored, queued message in the background, or leave it to be read back from
        the store when ``in_memory`` are held already (ignored once stopping: the message stays
        queued and is picked up at the next start)."""
        if self._closing:
            return
        # (one gateway per database holds every carrier: no check on its hot path)
        shared = self._shared_poll_s is not None
        if shared and message.carrier is not None and message.carrier not in self._carriers():
            self._to_release.append(message.id)  # for the gateway that binds its carrier
            return
        if self._backlog or len(self._tasks) >= self._in_memory:
            self._backlog = True  # in creation order: no later message overtakes it
            self._skipped += 1
            self._read_back_soon()
            return
        self._start(message)

    def wake(self) -> None:
        """Another gateway gave messages back (for a carrier this one may bind): look now,
        not at the next poll."""
        self._news.set()

    async def resume(self) -> int:
        """Pick up the messages left queued by the previous run (the first ``in_memory`` now,
        the others as those go); returns how many were picked up now."""
        self._backlog = True
        taken = await self._read_back_once()
        if taken:
            _log.info("queued_messages_resumed", count=taken, more=self._backlog)
        self._read_back_soon()
        if self._shared_poll_s is not None and not self._upkeep.running:
            self._upkeep.spawn(self._keep_up(self._shared_poll_s), name="send-upkeep")
        return taken

    def _start(self, message: Message) -> None:
        task = asyncio.create_task(self._deliver(message), name=f"send-{message.id}")
        self._tasks.add(task)
        self._held[message.id] = message
        self._task_of[message.id] = task
        task.add_done_callback(lambda done: self._ended(done, message.id))

    def _ended(self, task: asyncio.Task[None], message_id: str) -> None:
        self._tasks.discard(task)
        self._held.pop(message_id, None)
        self._task_of.pop(message_id, None)
        if self._done_since is not None:
            self._done_since.add(message_id)
        if self._backlog:
            self._read_back_soon()

    def _read_back_soon(self) -> None:
        """Once half of those held are gone, read the next ones back (in batches, not one by
        one)."""
        reading = self._reader is not None and not self._reader.done()
        if reading or self._closing or len(self._tasks) > self._in_memory // 2:
            return
        self._reader = asyncio.create_task(self._read_back(), name="send-read-back")

    async def _read_back(self) -> None:
        pause = 0.1
        while self._backlog and not self._closing:
            try:
                if len(self._tasks) > self._in_memory // 2 or not await self._read_back_once():
                    return  # the next end of a send calls again
                pause = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001  # the database refused: the messages stay queued
                _log.exception("send_read_back_failed")
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _read_back_once(self) -> int:
        """Starts the oldest queued messages not held, up to ``in_memory``; clears the backlog
        when none is left in the store."""
        room = self._in_memory - len(self._tasks)
        self._skipped = 0
        # A message whose send just ended may not be stored as sent yet: its id is kept apart
        # until everything handed to the recorder before this read is stored.
        self._done_since = set()
        try:
            await self._log.committed()
            limit = room + len(self._held)
            found = await self._store.take_queued(
                instance=self._instance, carriers=self._carriers(), limit=limit,
                excluding=list(self._held),
            )  # fmt: skip
            busy = self._held.keys() | self._done_since
        finally:
            self._done_since = None
        fresh = [message for message in found if message.id not in busy]
        now = self._clock()
        for message in fresh[:room]:
            if now >= message.expires_at:  # the gateway was down past it: too late to send
                _log.info("send_expired", id=message.id, code="validity_ended", attempts=0)
                self._record(message, "expired", MessageState.EXPIRED, "validity_ended")
            else:
                self._start(message)
        if len(found) < limit and len(fresh) <= room and self._skipped == 0:
            self._backlog = False  # every queued message is held now (or ended)
        return min(len(fresh), room)

    async def _keep_up(self, poll_s: float) -> None:
        """With other gateways on the database: each ``poll_s``, give back the messages made
        here for a carrier another binds, and look for those left to this one; every third of
        MESSAGE_CLAIM, renew the holds on those sent from memory, and give back those whose
        carrier this gateway no longer binds (its lease passed) and that wait for a retry."""
        renew_every = self._claim.total_seconds() / 3
        next_renewal = asyncio.get_running_loop().time() + renew_every
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_s):
                    await self._news.wait()
            self._news.clear()
            try:
                await self._release_others()
                if asyncio.get_running_loop().time() >= next_renewal:
                    await self._renew_holds()
                    next_renewal = asyncio.get_running_loop().time() + renew_every
            except StorageUnavailable as exc:  # the holds lapse at worst: others send them
                _log.warning("send_holds_not_kept", error=str(exc))
            self._backlog = True
            self._read_back_soon()

    async def _release_others(self) -> None:
        released, self._to_release = self._to_release, []
        if released:
            try:
                await self._store.release_messages(self._instance, released)
            except BaseException:
                self._to_release.extend(released)
                raise

    async def _renew_holds(self) -> None:
        carriers = self._carriers()
        mine: list[str] = []
        for message_id, message in list(self._held.items()):
            task = self._task_of[message_id]
            if task in self._sending or message.carrier is None or message.carrier in carriers:
                mine.append(message_id)
            else:  # waiting for a bind this gateway lost: the new holder sends it
                task.cancel()
                self._to_release.append(message_id)
        await self._store.renew_messages(self._instance, mine)
        await self._release_others()

    async def join(self) -> None:
        """Wait until every message being sent now, or waiting in the store, is submitted or
        has failed."""
        while self._tasks or (self._reader is not None and not self._reader.done()):
            waiting = set(self._tasks)
            if self._reader is not None and not self._reader.done():
                waiting.add(self._reader)
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)

    async def stop(self, grace: float | None = None) -> None:
        """Cancel waiting retries at once; give sends in flight ``grace`` seconds (default
        ``shutdown_grace_s``) to end."""
        self._closing = True
        await self._upkeep.cancel()
        if self._reader is not None:
            self._reader.cancel()
        for task in self._tasks - self._sending:
            task.cancel()
        if self._sending:
            await asyncio.wait(self._sending, timeout=self._grace if grace is None else grace)
        if self._sending:
            _log.warning("sends_interrupted", count=len(self._sending))
        for task in self._tasks:
            task.cancel()
        reader = [self._reader] if self._reader is not None else []
        await asyncio.gather(*self._tasks, *reader, return_exceptions=True)

    async def _deliver(self, message: Message) -> None:
        try:
            await self._attempts(message)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001  # task root: log it, fail the message, not the gateway
            _log.exception("send_crashed", id=message.id)
            self._record(message, "failed", MessageState.FAILED, "internal_error")

    async def _attempts(self, message: Message) -> None:
        sms = OutboundSms(id=message.id, to=message.to, text=message.text, sender=message.sender)
        task = cast("asyncio.Task[None]", asyncio.current_task())  # the one submit() made
        attempt = 0
        while True:
            via = "unknown"  # until a channel is chosen (no route, every bind down)
            try:
                channel = self._channel_for(message)
                via = channel.name
                self._sending.add(task)
                try:
                    await channel.send(sms)
                finally:
                    self._sending.discard(task)
            except UnknownOutcome as exc:
                self._metrics.send_failed(via, exc.code)
                _log.warning("send_outcome_unknown", id=message.id, code=exc.code)
                if self._clock() >= message.expires_at:
                    self._record(message, "expired", MessageState.EXPIRED, exc.code)
                    return
                if self._closing:
                    return  # still queued in the store: the next start sends it
                self._record(message, "resent", None, f"{exc.code}; the first may have arrived")
                continue  # at once: another bind, or this one when it is back (NotSent waits)
            except PermanentSendError as exc:
                self._metrics.send_failed(via, exc.code)
                _log.info("send_rejected", id=message.id, to=message.to, code=exc.code)
                self._record(message, "rejected", MessageState.REJECTED, exc.code)
                return
            except TemporarySendError as exc:
                self._metrics.send_failed(via, exc.code)
                delay = self._policy.delay(attempt)
                attempt += 1
                if self._clock() + timedelta(seconds=delay) > message.expires_at:
                    _log.info("send_expired", id=message.id, code=exc.code, attempts=attempt)
                    self._record(message, "expired", MessageState.EXPIRED, exc.code)
                    return
                if self._closing:
                    return  # still queued in the store: the next start sends it
                self._record(message, "retry_scheduled", None, f"{exc.code}; retry in {delay:g} s")
                await asyncio.sleep(delay)
            else:
                return

    def _channel_for(self, message: Message) -> Channel:
        preferred = self._by_name.get(message.channel or "")
        if preferred is not None and preferred.can_send:
            return preferred
        return self._router.route(message.to)

    def _record(
        self, message: Message, event: str, state: MessageState | None, detail: str
    ) -> None:
        self._log.outcome(Outcome(message.id, event, state, detail))
