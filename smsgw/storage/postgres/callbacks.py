"""The status callbacks' queue in PostgreSQL (delivery.callbacks.CallbackQueue); the rows are
made by the messages_callback trigger (migration 13) in the transaction that changes a message.

Several gateways post from one queue, so handing a callback out is a claim: its ``next_at``
moves a lease ahead, and no gateway (this one included) is handed it again before then unless
it is failed (``callback_failed`` sets the next try) or its lease lapses (the gateway that took
it died: it is posted again, at least once). Order per message holds across gateways: a
message's next callback is due only once the one before it is delivered or given up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

from smsgw.delivery.callbacks import Callback
from smsgw.storage.postgres.db import Conn, Database

# Longer than a round's callbacks take to be posted: a round hands out at most ``limit`` (100)
# of them, posted 16 at a time with a timeout of at most 120 s (CallbacksConfig.timeout_s)
LEASE = timedelta(minutes=5)

# the first callback of each message not yet delivered nor given up, whose time has come;
# SKIP LOCKED: a callback another gateway is claiming now is left to it
_CLAIM = """WITH due AS (
        SELECT c.id, c.next_at FROM callbacks c
        WHERE c.failed_at IS NULL AND c.next_at <= $1
          AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.message_id = c.message_id
                          AND p.id < c.id AND p.failed_at IS NULL)
        ORDER BY c.next_at LIMIT $2
        FOR UPDATE OF c SKIP LOCKED
    )
    UPDATE callbacks SET next_at = $3 FROM due WHERE callbacks.id = due.id
    RETURNING callbacks.id, message_id, url, token, payload, attempts, created_at,
        due.next_at AS due_at"""


class PgCallbacks:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def due_callbacks(self, now: datetime, *, limit: int) -> list[Callback]:
        return await self._db.write(partial(_claim, now=now, limit=limit))

    async def callback_delivered(self, callback_id: int) -> None:
        await self._db.write(
            lambda conn: conn.execute("DELETE FROM callbacks WHERE id = $1", callback_id)
        )

    async def callback_failed(
        self, callback_id: int, *, error: str, next_at: datetime | None
    ) -> None:
        given_up = None if next_at else datetime.now(UTC)
        await self._db.write(
            partial(_failed, callback_id=callback_id, error=error, next_at=next_at, at=given_up)
        )


async def _claim(conn: Conn, *, now: datetime, limit: int) -> list[Callback]:
    rows = await conn.fetch(_CLAIM, now, limit, now + LEASE)
    return [
        Callback(id_, message, url, token, payload, attempts, created)
        for id_, message, url, token, payload, attempts, created, _ in sorted(
            rows, key=lambda row: (row["due_at"], row["id"])
        )
    ]


async def _failed(
    conn: Conn, *, callback_id: int, error: str, next_at: datetime | None, at: datetime | None
) -> None:
    await conn.execute(
        "UPDATE callbacks SET attempts = attempts + 1, error = $2,"
        " next_at = coalesce($3, next_at), failed_at = $4 WHERE id = $1",
        callback_id, error, next_at, at,
    )  # fmt: skip
