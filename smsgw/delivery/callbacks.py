"""Status callbacks: each change of state of a message that names a ``callback_url`` is POSTed
there as JSON ``{id, state, at, error, parts}``, signed, at least once and in order per message.

The database queues each change in the transaction that makes it (a trigger on messages, see
migration 13), so none is lost to a crash; the Notifier delivers them: a message's next change
only once the one before it was taken (2xx), a failed POST (an error status, a refused
connection, no answer within ``timeout_s``) tried again with back-off, a callback given up only
after a day of tries. Metric ``smsgw_callbacks_total{outcome}``.

Signature: ``X-Smsgw-Timestamp: <unix seconds>`` and ``X-Smsgw-Signature: sha256=<hex>``, an
HMAC-SHA256 of ``timestamp + "." + body`` keyed with the SHA-256 (hex) of the sending token's
secret: the integrator derives the key from the token it holds; the gateway, which keeps only
that hash, can sign without keeping the token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import aiohttp
import structlog

from smsgw.access.store import TokenStore
from smsgw.metrics import Metrics
from smsgw.tasks import Tasks

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Callback:
    id: int
    message_id: str
    url: str
    token: str | None  # the token that sent the message: its hash keys the signature
    payload: str  # the JSON body, as queued
    attempts: int
    created_at: datetime


class CallbackQueue(Protocol):
    async def due_callbacks(self, now: datetime, *, limit: int) -> list[Callback]:
        """Callbacks whose time has come, each the first not yet delivered of its message."""

    async def callback_delivered(self, callback_id: int) -> None: ...

    async def callback_failed(
        self, callback_id: int, *, error: str, next_at: datetime | None
    ) -> None:
        """Try again at ``next_at``; None: give it up."""


def signature(key: str, timestamp: str, body: bytes) -> str:
    """The X-Smsgw-Signature value: ``key`` is the SHA-256 (hex) of the token."""
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


class Notifier:
    def __init__(
        self,
        queue: CallbackQueue,
        tokens: TokenStore,
        *,
        metrics: Metrics | None = None,
        poll_s: float = 0.5,
        timeout_s: float = 10.0,
        first_retry_s: float = 5.0,
        max_retry_s: float = 600.0,
        give_up: timedelta = timedelta(hours=24),
        concurrency: int = 16,
    ) -> None:
        self._queue = queue
        self._tokens = tokens
        self._metrics = metrics or Metrics()
        self._poll_s = poll_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._first_retry_s = first_retry_s
        self._max_retry_s = max_retry_s
        self._give_up = give_up
        self._slots = asyncio.Semaphore(concurrency)
        # message id -> the callback being posted: one POST at a time per message
        self._in_flight: dict[str, int] = {}
        # message id -> its next callback, handed out while the one before was being settled
        # (on PostgreSQL a claim: skipped, it would wait out its lease)
        self._next: dict[str, Callback] = {}
        self._keys: dict[str, str | None] = {}  # token id -> its hash (the signing key)
        self._tasks = Tasks()
        self._posting: set[asyncio.Task[None]] = set()  # one task per POST under way
        self._session: aiohttp.ClientSession | None = None
        self._closing = False

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        self._tasks.spawn(self._run(), "callbacks")

    async def stop(self) -> None:
        self._closing = True
        await self._tasks.cancel()  # a POST cut short is sent again after the restart
        for task in list(self._posting):
            task.cancel()
        await asyncio.gather(*self._posting, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            try:
                await self._round()
            except Exception:  # noqa: BLE001  # task root: the next round tries again
                _log.exception("callbacks_round_failed")
            await asyncio.sleep(self._poll_s)

    async def _round(self) -> None:
        due = await self._queue.due_callbacks(datetime.now(UTC), limit=100)
        for callback in due:
            posting = self._in_flight.get(callback.message_id)
            if posting is None:
                self._start(callback)
            elif posting != callback.id:
                self._next[callback.message_id] = callback

    def _start(self, callback: Callback) -> None:
        self._in_flight[callback.message_id] = callback.id
        task = asyncio.create_task(self._deliver(callback), name=f"callback-{callback.id}")
        self._posting.add(task)
        task.add_done_callback(self._posting.discard)

    async def _deliver(self, callback: Callback) -> None:
        try:
            async with self._slots:
                error = await self._post(callback)
            if error is None:
                await self._queue.callback_delivered(callback.id)
                self._metrics.callback("delivered")
                return
            now = datetime.now(UTC)
            wait = min(self._max_retry_s, self._first_retry_s * 2 ** min(callback.attempts, 20))
            next_at: datetime | None = now + timedelta(seconds=wait)
            if now - callback.created_at >= self._give_up:
                next_at = None
            await self._queue.callback_failed(callback.id, error=error, next_at=next_at)
            self._metrics.callback("failed" if next_at else "abandoned")
            log = _log.warning if next_at else _log.error
            log("callback_failed", id=callback.message_id, error=error,
                attempts=callback.attempts + 1, gave_up=next_at is None)  # fmt: skip
        finally:
            del self._in_flight[callback.message_id]
            following = self._next.pop(callback.message_id, None)
            if following is not None and not self._closing:
                self._start(following)

    async def _post(self, callback: Callback) -> str | None:
        """None once taken (2xx), else why not."""
        assert self._session is not None  # noqa: S101 - started
        body = callback.payload.encode()
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Smsgw-Timestamp": stamp}
        key = await self._key(callback.token)
        if key is not None:
            headers["X-Smsgw-Signature"] = signature(key, stamp, body)
        try:
            async with self._session.post(callback.url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except TimeoutError:
            return f"no answer within {self._timeout.total:g} s"
        except aiohttp.ClientError as exc:
            return type(exc).__name__ + (f": {exc}" if str(exc) else "")

    async def _key(self, token_id: str | None) -> str | None:
        if token_id is None:
            return None
        if token_id not in self._keys:
            token = await self._tokens.token(token_id)
            self._keys[token_id] = token.token_hash if token else None
        return self._keys[token_id]
