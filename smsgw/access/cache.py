"""Tokens kept in memory for a few seconds: every API request looks its token up, and a trip
to the database for each (queued behind the writer's transactions) cost more than the rest of
a POST /messages. A token revoked through this process is forgotten at once; one revoked by
another process (``smsgw token revoke``) stops working within ``ttl_s``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime

from smsgw.access.audit import AuditEntry
from smsgw.access.store import TokenStore
from smsgw.access.tokens import ApiToken

MOST = 10_000  # tokens kept at once (only found ones: unknown secrets are never kept)


class TokenCache:
    """A TokenStore in front of another."""

    def __init__(
        self, store: TokenStore, *, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._by_hash: dict[str, tuple[ApiToken, float]] = {}

    async def token_by_hash(self, token_hash: str) -> ApiToken | None:
        now = self._clock()
        kept = self._by_hash.get(token_hash)
        if kept is not None and now - kept[1] < self._ttl_s:
            return kept[0]
        token = await self._store.token_by_hash(token_hash)
        if token is None:
            self._by_hash.pop(token_hash, None)
            return None
        if len(self._by_hash) >= MOST:
            self._by_hash.clear()
        self._by_hash[token_hash] = (token, now)
        return token

    async def add_token(self, token: ApiToken, audit: AuditEntry | None = None) -> None:
        await self._store.add_token(token, audit)

    async def token(self, token_id: str) -> ApiToken | None:
        return await self._store.token(token_id)

    async def tokens(self) -> list[ApiToken]:
        return await self._store.tokens()

    async def revoke_token(self, token_id: str, *, at: datetime, audit: AuditEntry) -> bool:
        revoked = await self._store.revoke_token(token_id, at=at, audit=audit)
        self._by_hash.clear()  # its hash is not at hand: forget them all (revokes are rare)
        return revoked

    async def tokens_used(self, uses: Mapping[str, datetime]) -> None:
        await self._store.tokens_used(uses)  # the cache's copies keep their older time
