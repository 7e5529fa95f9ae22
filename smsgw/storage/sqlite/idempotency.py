"""Idempotency keys in SQL (access.idempotency.IdempotencyStore), one row per token and key."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from functools import partial

from smsgw.access.idempotency import KEPT, Remembered
from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import timestamp


class SqliteIdempotency:
    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def claim(self, token: str, key: str, digest: str, *, at: datetime) -> Remembered | None:
        return await self._db.write(
            partial(_claim, token=token, key=key, digest=digest, at=timestamp(at),
                    since=timestamp(at - KEPT))
        )  # fmt: skip

    async def remember(self, token: str, key: str, *, status: int, body: str) -> None:
        await self._db.write(
            lambda db: db.execute(
                "UPDATE idempotency SET status = ?, body = ? WHERE token = ? AND key = ?",
                (status, body, token, key),
            )
        )

    async def forget(self, token: str, key: str) -> None:
        await self._db.write(
            lambda db: db.execute(
                "DELETE FROM idempotency WHERE token = ? AND key = ? AND status IS NULL",
                (token, key),
            )
        )


def _claim(
    db: sqlite3.Connection, *, token: str, key: str, digest: str, at: str, since: str
) -> Remembered | None:
    row = db.execute(
        "SELECT digest, status, body FROM idempotency WHERE token = ? AND key = ?"
        " AND created_at >= ?",
        (token, key, since),
    ).fetchone()
    if row is not None:
        return Remembered(*row)
    db.execute(
        "INSERT OR REPLACE INTO idempotency (token, key, digest, created_at) VALUES (?, ?, ?, ?)",
        (token, key, digest, at),
    )  # an older use of the key, past KEPT, is replaced
    return None
