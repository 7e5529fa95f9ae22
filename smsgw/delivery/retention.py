"""Retention: single messages (with their segments and receipt events) and citizens' texts
once handled are deleted after ``[retention]`` messages_days and inbound_days. Consent records
and the audit log are kept: they are the proof of who agreed to what, and who did what.

It runs at start and then hourly, deleting in batches so that the writers that matter
(receipts, citizens' texts) get the database between them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

from smsgw.config import RetentionConfig
from smsgw.tasks import Tasks

_log = structlog.get_logger(__name__)


class RetentionStore(Protocol):
    async def purge_messages(self, before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` single messages created before ``before`` whose validity has
        ended, with their segments and events; returns how many messages."""

    async def purge_inbound(self, before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` handled citizens' texts received before ``before``."""


@dataclass(frozen=True, slots=True)
class Purged:
    messages: int
    inbound: int


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
        messages = await self._drain(
            self._store.purge_messages, now - timedelta(days=self._settings.messages_days)
        )
        inbound = await self._drain(
            self._store.purge_inbound, now - timedelta(days=self._settings.inbound_days)
        )
        purged = Purged(messages, inbound)
        if messages or inbound:
            _log.info("retention_purged", messages=messages, inbound=inbound)
        return purged

    async def _drain(self, purge: _Purge, before: datetime) -> int:
        total = 0
        while True:
            count = await purge(before, limit=self._batch)
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


class _Purge(Protocol):
    async def __call__(self, before: datetime, *, limit: int) -> int: ...
