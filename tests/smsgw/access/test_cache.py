"""The token cache: a token revoked by another process (smsgw token revoke) stops working
within ttl_s; an unknown secret is asked about every time (never kept)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from smsgw.access.cache import TokenCache
from smsgw.access.tokens import Role, issue
from smsgw.storage.sqlite import SqliteStore


async def test_a_token_revoked_elsewhere_is_refused_once_its_ttl_has_passed(
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    store = await SqliteStore.open(tmp_path / "s.db")
    try:
        _, token = issue(Role.ADMIN, now=now, person="Tax office")
        await store.tokens.add_token(token)
        clock = [100.0]
        cache = TokenCache(store.tokens, ttl_s=5.0, clock=lambda: clock[0])
        assert await cache.token_by_hash(token.token_hash) == token
        other = await SqliteStore.open(tmp_path / "s.db")  # as `smsgw token revoke` does
        try:
            await other._conn.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (now.isoformat(), token.id)
            )
        finally:
            await other.close()
        clock[0] += 4.9
        assert await cache.token_by_hash(token.token_hash) == token  # still within ttl_s
        clock[0] += 0.2
        found = await cache.token_by_hash(token.token_hash)
        assert found is not None
        assert found.revoked_at == now
        assert not found.usable(now)
        assert await cache.token_by_hash("0" * 64) is None
    finally:
        await store.close()
