"""Idempotency keys: a client that did not get the answer to a send (a timeout, a dropped
connection, a double click) sends it again with the same ``Idempotency-Key`` and gets the first
answer back instead of a second message or broadcast (SPEC: 24 hours, per token)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

KEPT = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Remembered:
    digest: str  # of the request the key was first used with (method, path, query, body)
    status: int | None  # None: the first request is still being answered
    body: str | None


class IdempotencyStore(Protocol):
    async def claim(self, token: str, key: str, digest: str, *, at: datetime) -> Remembered | None:
        """Take ``key`` for this request of ``token`` (None), or, when it was taken within
        KEPT, what is remembered of its first use."""

    async def remember(self, token: str, key: str, *, status: int, body: str) -> None:
        """The first use's answer, to be given again."""

    async def forget(self, token: str, key: str) -> None:
        """The first use failed (nothing was done): the key is free again."""
