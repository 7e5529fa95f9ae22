"""Idempotency keys in PostgreSQL (access.idempotency.IdempotencyStore), one row per token and
key: the primary key decides which of two requests with one key, on any gateway, goes first."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from smsgw.access.idempotency import KEPT, Remembered
from smsgw.storage.postgres.db import Conn, Database

# A new key is inserted; a key last taken before ``since`` (past KEPT) is taken anew. Either
# way a row comes back: this request goes first. No row: the key is in use, and ON CONFLICT
# has locked its row (even when its WHERE is false) until this transaction ends.
_TAKE = """INSERT INTO idempotency (token, key, digest, created_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (token, key) DO UPDATE
        SET digest = excluded.digest, created_at = excluded.created_at, status = NULL, body = NULL
        WHERE idempotency.created_at < $5
    RETURNING true"""


class PgIdempotency:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, token: str, key: str, digest: str, *, at: datetime) -> Remembered | None:
        return await self._db.write(
            partial(_claim, token=token, key=key, digest=digest, at=at, since=at - KEPT)
        )

    async def remember(self, token: str, key: str, *, status: int, body: str) -> None:
        await self._db.write(partial(_remember, token=token, key=key, status=status, body=body))

    async def forget(self, token: str, key: str) -> None:
        await self._db.write(partial(_forget, token=token, key=key))


async def _claim(
    conn: Conn, *, token: str, key: str, digest: str, at: datetime, since: datetime
) -> Remembered | None:
    if await conn.fetchval(_TAKE, token, key, digest, at, since):
        return None
    # the row ON CONFLICT locked: committed by the first request, and ours to read until commit
    row = await conn.fetchrow(
        "SELECT digest, status, body FROM idempotency WHERE token = $1 AND key = $2", token, key
    )
    assert row is not None  # noqa: S101 - locked by _TAKE in this transaction
    return Remembered(row["digest"], row["status"], row["body"])


async def _remember(conn: Conn, *, token: str, key: str, status: int, body: str) -> None:
    await conn.execute(
        "UPDATE idempotency SET status = $3, body = $4 WHERE token = $1 AND key = $2",
        token, key, status, body,
    )  # fmt: skip


async def _forget(conn: Conn, *, token: str, key: str) -> None:
    await conn.execute(
        "DELETE FROM idempotency WHERE token = $1 AND key = $2 AND status IS NULL", token, key
    )
