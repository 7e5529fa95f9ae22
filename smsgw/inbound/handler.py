"""Works through stored inbound texts in arrival order: subscription commands, then replies.

Texts are stored (and only then acknowledged to the carrier) by the Recorder; this handler takes
them from that persisted queue in batches, so a storm of texts after a radio announcement waits
in SQLite, not in memory, and nothing is lost across a restart. A batch's consent changes are
stored in one trip to the database (SubscriptionStore.apply): per text, the trip and the
store's lock cost more than the change itself. A text is marked handled in the
batch after its replies are queued: a crash in between handles it again, which the store's
idempotence (joining twice changes nothing) makes harmless beyond a repeated reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from smsgw.errors import StorageUnavailable
from smsgw.inbound.guard import Guard
from smsgw.inbound.queue import HandledInbound, InboundOutcome, InboundQueue, StoredInbound
from smsgw.inbound.said import Said, Taker, wanted
from smsgw.metrics import Metrics
from smsgw.tasks import Tasks
from subscriptions.numbers import InvalidNumber, is_short_or_alphanumeric, normalise_msisdn
from subscriptions.service import Handled, IncomingText, SubscriptionService

_log = structlog.get_logger(__name__)

Reply = Callable[[str, str, str], Awaitable[object]]  # (to, text, via channel) → queued


def _utcnow() -> datetime:
    return datetime.now(UTC)


class InboundHandler:
    def __init__(
        self,
        queue: InboundQueue,
        service: SubscriptionService,
        reply: Reply,
        *,
        region: str,
        guard: Guard | None = None,
        batch: int = 200,
        clock: Callable[[], datetime] = _utcnow,
        metrics: Metrics | None = None,
        poll_s: float | None = None,
        inbox: Taker | None = None,
    ) -> None:
        """``inbox``: takes questions, replies to broadcasts and poll answers (None: each
        gets the usual reply)."""
        self._queue = queue
        self._inbox = inbox
        self._service = service
        self._reply = reply
        self._region = region
        self._guard = guard or Guard()
        self._batch = batch
        self._clock = clock
        self._wake = asyncio.Event()
        # with several gateways on one database, texts stored by another (or left by one that
        # died, once their claim lapses) send no wake-up here: look at least this often
        self._poll_s = poll_s
        self._tasks = Tasks()
        self.handled = 0
        self._metrics = metrics or Metrics()  # none given: counted, never read

    def wake(self) -> None:
        """New texts are stored (the Recorder calls this after each commit holding some)."""
        self._wake.set()

    async def start(self) -> None:
        self._wake.set()  # texts left unhandled by the previous run
        self._tasks.spawn(self._run(), name="inbound-handler")

    async def stop(self) -> None:
        await self._tasks.cancel()

    async def _run(self) -> None:
        pause = 0.1
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                while texts := await self._queue.unhandled_inbound(self._batch):
                    await self._handle_batch(texts)
            except StorageUnavailable as exc:  # the texts stay stored: handled once it is back
                _log.warning("inbound_queue_unavailable", error=str(exc), retry_s=pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
                self._wake.set()
            else:
                pause = 0.1

    async def _handle_batch(self, texts: list[StoredInbound]) -> None:
        outcomes: dict[str, InboundOutcome] = {}
        admitted: list[tuple[StoredInbound, IncomingText]] = []
        for text in texts:
            refused = self._admit(text)
            if isinstance(refused, InboundOutcome):
                outcomes[text.id] = refused
                self._metrics.mo("none")
            else:
                admitted.append((text, refused))
        replies: list[asyncio.Future[object]] = []
        try:
            # one trip to the database for the whole batch's consent changes
            answers = await self._service.handle_many([incoming for _, incoming in admitted])
        except Exception:  # noqa: BLE001  # task root: the queue must go on
            _log.exception("inbound_batch_failed", texts=len(admitted))
            outcomes.update((text.id, InboundOutcome.FAILED) for text, _ in admitted)
        else:
            answers = await self._conversations(admitted, answers)
            for (text, incoming), handled in zip(admitted, answers, strict=True):
                outcomes[text.id] = self._answer(text, incoming.msisdn, handled, replies)
        # The batch is marked handled once all its replies are stored (see the module docstring).
        for result in await asyncio.gather(*replies, return_exceptions=True):
            if isinstance(result, BaseException):
                _log.error("reply_not_queued", error=repr(result))
        now = self._clock()
        await self._queue.mark_inbound_handled(
            [HandledInbound(text.id, outcomes[text.id], now) for text in texts]
        )
        self.handled += len(texts)

    async def _conversations(
        self, admitted: list[tuple[StoredInbound, IncomingText]], answers: list[Handled]
    ) -> list[Handled]:
        """The answers, with the inbox's replies to the texts it took."""
        if self._inbox is None:
            return answers
        said = [
            (
                i,
                Said(
                    incoming.msisdn,
                    incoming.text,
                    handled.command,
                    handled.language,
                    text.channel,
                    text.id,
                    incoming.received_at,
                ),
            )
            for i, ((text, incoming), handled) in enumerate(zip(admitted, answers, strict=True))
            if wanted(handled.command, incoming.text)
        ]
        if not said:
            return answers
        try:
            taken = await self._inbox.take([item for _, item in said])
        except StorageUnavailable:
            raise
        except Exception:  # noqa: BLE001  # the usual replies go; the texts stay stored
            _log.exception("inbox_failed", texts=len(said))
            return answers
        answers = list(answers)
        for (i, _), replies in zip(said, taken, strict=True):
            if replies is not None:
                answers[i] = dataclasses.replace(answers[i], replies=replies)
        return answers

    def _admit(self, text: StoredInbound) -> IncomingText | InboundOutcome:
        """The text to handle, or why it is not handled."""
        if is_short_or_alphanumeric(text.sender):
            _log.info("inbound_not_answered", id=text.id, reason="short_or_alphanumeric_sender")
            return InboundOutcome.NOT_ANSWERED
        try:
            msisdn = normalise_msisdn(text.sender, self._region)
        except InvalidNumber as exc:
            _log.warning("inbound_invalid_number", id=text.id, error=str(exc))
            return InboundOutcome.INVALID_NUMBER
        if self._guard.is_duplicate(msisdn, text.text, text.received_at):
            _log.info("inbound_duplicate", id=text.id, sender=msisdn)
            return InboundOutcome.DUPLICATE
        return IncomingText(msisdn, text.text, text.id, text.received_at)

    def _answer(
        self,
        text: StoredInbound,
        msisdn: str,
        handled: Handled,
        replies: list[asyncio.Future[object]],
    ) -> InboundOutcome:
        self._metrics.mo(handled.command.verb)
        _log.info(
            "inbound_handled",
            id=text.id,
            sender=msisdn,
            command=handled.command.verb,
            service=handled.command.service,
            replies=len(handled.replies),
        )
        if not self._guard.may_reply(msisdn, self._clock(), len(handled.replies)):
            _log.warning("replies_rate_limited", id=text.id, sender=msisdn)
            return InboundOutcome.SILENCED
        replies.extend(
            asyncio.ensure_future(self._reply(msisdn, body, text.channel))
            for body in handled.replies
        )
        return InboundOutcome.ANSWERED
