"""The daily quota's shared counter (access.quota.SharedQuota): one row per token and day."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from smsgw.storage.postgres.db import Conn, Database

# the first time in a day: from the messages the token sent since the day began
_SEED = """INSERT INTO quota_usage (token, day, used)
    SELECT $1, $2, (SELECT count(*) FROM messages WHERE created_by = $1 AND created_at >= $2)
    ON CONFLICT DO NOTHING"""
# the row locked, so gateways reserving at once count one after the other
_RESERVE = """UPDATE quota_usage q SET used = q.used + g.granted
    FROM (SELECT least($3, greatest($4 - used, 0)) AS granted FROM quota_usage
          WHERE token = $1 AND day = $2 FOR UPDATE) AS g
    WHERE q.token = $1 AND q.day = $2
    RETURNING g.granted"""


class PgQuota:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def reserve(self, token_id: str, day: datetime, wanted: int, limit: int) -> int:
        return await self._db.write(
            partial(_reserve, token_id=token_id, day=day, wanted=wanted, limit=limit)
        )


async def _reserve(conn: Conn, *, token_id: str, day: datetime, wanted: int, limit: int) -> int:
    await conn.execute(_SEED, token_id, day)
    return int(await conn.fetchval(_RESERVE, token_id, day, wanted, limit))
