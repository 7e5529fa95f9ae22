"""The status callbacks' queue in SQL (delivery.callbacks.CallbackQueue); the rows are made by
the messages_callback trigger (migration 13) in the transaction that changes a message."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from functools import partial

from smsgw.delivery.callbacks import Callback
from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import maybe_timestamp, timestamp

# the first callback of each message not yet delivered nor given up: in order per message
_DUE = """SELECT c.id, c.message_id, c.url, c.token, c.payload, c.attempts, c.created_at
    FROM callbacks c INDEXED BY callbacks_due
    WHERE c.failed_at IS NULL AND c.next_at <= ?1
      AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.message_id = c.message_id
                      AND p.id < c.id AND p.failed_at IS NULL)
    ORDER BY c.next_at LIMIT ?2"""


class SqliteCallbacks:
    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def due_callbacks(self, now: datetime, *, limit: int) -> list[Callback]:
        return await self._db.read(partial(_due, now=timestamp(now), limit=limit))

    async def callback_delivered(self, callback_id: int) -> None:
        await self._db.write(
            lambda db: db.execute("DELETE FROM callbacks WHERE id = ?", (callback_id,))
        )

    async def callback_failed(
        self, callback_id: int, *, error: str, next_at: datetime | None
    ) -> None:
        at = maybe_timestamp(next_at)
        given_up = None if next_at else timestamp(datetime.now(UTC))
        await self._db.write(
            lambda db: db.execute(
                "UPDATE callbacks SET attempts = attempts + 1, error = ?,"
                " next_at = coalesce(?, next_at), failed_at = ? WHERE id = ?",
                (error, at, given_up, callback_id),
            )
        )


def _due(db: sqlite3.Connection, *, now: str, limit: int) -> list[Callback]:
    return [
        Callback(id_, message, url, token, payload, attempts, datetime.fromisoformat(created))
        for id_, message, url, token, payload, attempts, created in db.execute(_DUE, (now, limit))
    ]
