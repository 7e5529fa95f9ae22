"""When each API token was last used, kept to the minute: a request notes its token in memory
(no write on the request's way), and the notes go to the store in one batch a minute, so that
an admin sees which systems still use their tokens without a write per API call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from smsgw.access.store import TokenStore
from smsgw.errors import StorageUnavailable
from smsgw.tasks import Tasks, every

_log = structlog.get_logger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class TokenUsage:
    def __init__(
        self, store: TokenStore, *, every_s: float = 60.0, clock: Callable[[], datetime] = _now
    ) -> None:
        self._store = store
        self._every_s = every_s
        self._clock = clock
        self._pending: dict[str, datetime] = {}  # token id -> its last use since the last write
        self._tasks = Tasks()

    def used(self, token_id: str) -> None:
        self._pending[token_id] = self._clock()

    async def flush(self) -> None:
        """Writes the uses noted since the last write (kept for the next, if the store fails)."""
        if not self._pending:
            return
        uses, self._pending = self._pending, {}
        try:
            await self._store.tokens_used(uses)
        except StorageUnavailable as exc:
            _log.warning("token_uses_not_written", tokens=len(uses), error=str(exc))
            self._pending = uses | self._pending  # the later notes win

    async def start(self) -> None:
        self._tasks.spawn(
            every(self._every_s, self.flush, failed="token_uses_failed"), name="token-usage"
        )

    async def stop(self) -> None:
        await self._tasks.cancel()
        try:
            await self.flush()  # the last minute's uses too
        except Exception:  # noqa: BLE001 - a best-effort note: never what stops a shutdown
            _log.exception("token_uses_failed")
