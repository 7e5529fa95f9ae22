"""Retention: single messages (with their segments and receipt events) and citizens' texts
once handled are deleted after ``[retention]`` messages_days and inbound_days; a broadcast's
per-recipient outbox rows (with theirs) ``outbox_days`` after it finished, once summed up so
that its figures and the KPIs stay as they were. Citizens' questions go ``inbound_days`` after
their ticket's last change once no longer waiting for an answer, and poll answers lose their
number ``inbound_days`` after the poll closed (its results stay). Consent records and the
audit log are kept: they are the proof of who agreed to what, and who did what.

It runs at start and then hourly, deleting in batches so that the writers that matter
(receipts, citizens' texts) get the database between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

from smsgw.access.idempotency import KEPT
from smsgw.config import RetentionConfig
from smsgw.tasks import Tasks

_log = structlog.get_logger(__name__)


class RetentionStore(Protocol):
    async def purge_messages(self, before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` single messages created before ``before`` whose validity has
        ended, with their segments and events; returns how many messages."""

    async def purge_inbound(self, before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` handled citizens' texts received before ``before``."""

    async def purge_keys(self, before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` idempotency keys first used before ``before``."""

    async def summarise_broadcast(self, finished_before: datetime) -> int | None:
        """Sum up the outbox of one broadcast done or cancelled before ``finished_before``
        and not yet summed up; returns its id (None: none left)."""

    async def purge_outbox(self, *, limit: int) -> int:
        """Delete up to ``limit`` outbox rows of summed-up broadcasts, with their segments
        and events; returns how many."""

    async def purge_tickets(self, before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` tickets no longer waiting for an answer (answered or
        closed) and unchanged since ``before``, with their threads; returns how many."""

    async def forget_poll_numbers(self, closed_before: datetime, *, limit: int) -> int:
        """Replace the number of up to ``limit`` answers to polls closed before
        ``closed_before`` by an opaque one (the tally, by option, language and district,
        stays); returns how many."""


@dataclass(frozen=True, slots=True)
class Purged:
    messages: int
    inbound: int
    broadcasts: int = 0  # summed up
    outbox: int = 0  # their recipients' rows
    tickets: int = 0  # with their threads
    poll_answers: int = 0  # numbers forgotten


class Retention:
    def __init__(
        self,
        store: RetentionStore,
        settings: RetentionConfig,
        *,
        batch: int = 2000,
        every_s: float = 3600.0,
    ) -> None:
        self._store = store
        self._settings = settings
        self._batch = batch
        self._every_s = every_s
        self._tasks = Tasks()

    async def purge(self, now: datetime | None = None) -> Purged:
        """Delete everything past its time; returns how much went."""
        now = now or datetime.now(UTC)
        store, settings = self._store, self._settings
        old_messages = now - timedelta(days=settings.messages_days)
        messages = await self._drain(lambda n: store.purge_messages(old_messages, limit=n))
        old_texts = now - timedelta(days=settings.inbound_days)
        inbound = await self._drain(lambda n: store.purge_inbound(old_texts, limit=n))
        tickets = await self._drain(lambda n: store.purge_tickets(old_texts, limit=n))
        answers = await self._drain(lambda n: store.forget_poll_numbers(old_texts, limit=n))
        old_keys = now - KEPT
        await self._drain(lambda n: store.purge_keys(old_keys, limit=n))
        broadcasts = 0
        finished_before = now - timedelta(days=settings.outbox_days)
        while await store.summarise_broadcast(finished_before) is not None:
            broadcasts += 1
            await asyncio.sleep(0.05)
        outbox = await self._drain(lambda n: store.purge_outbox(limit=n))
        purged = Purged(messages, inbound, broadcasts, outbox, tickets, answers)
        if purged != Purged(0, 0):
            _log.info(
                "retention_purged", messages=messages, inbound=inbound,
                broadcasts_summed_up=broadcasts, outbox=outbox, tickets=tickets,
                poll_numbers_forgotten=answers,
            )  # fmt: skip
        return purged

    async def _drain(self, purge: Callable[[int], Awaitable[int]]) -> int:
        """Call ``purge(batch)`` until it deletes less than a batch; returns the total."""
        total = 0
        while True:
            count = await purge(self._batch)
            total += count
            if count < self._batch:
                return total
            await asyncio.sleep(0.05)  # others' writes first: this can wait

    async def start(self) -> None:
        self._tasks.spawn(self._run(), "retention")

    async def stop(self) -> None:
        await self._tasks.cancel()

    async def _run(self) -> None:
        while True:
            try:
                await self.purge()
            except Exception:  # noqa: BLE001  # task root: try again at the next round
                _log.exception("retention_failed")
            await asyncio.sleep(self._every_s)
