"""Bind leases in a table (cluster.leases.LeaseStore): one statement takes or renews them all,
on the database's clock."""

from __future__ import annotations

from collections.abc import Sequence

from smsgw.cluster.leases import Lease
from smsgw.storage.postgres.db import Conn, Database

# free, lapsed or ours: ours now. The epoch stays while the same gateway renews in time, and
# grows when the lease changes hands or lapsed
_HOLD = """INSERT INTO channel_leases AS l (channel, instance, epoch, expires_at)
    SELECT channel, $1, 1, now() + make_interval(secs => $3)
    FROM unnest($2::text[]) AS c (channel)
    ON CONFLICT (channel) DO UPDATE SET
        instance = excluded.instance,
        epoch = CASE WHEN l.instance = excluded.instance AND l.expires_at > now()
                     THEN l.epoch ELSE l.epoch + 1 END,
        expires_at = excluded.expires_at
    WHERE l.instance = excluded.instance OR l.expires_at <= now()
    RETURNING channel, epoch"""


class PgLeases:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def hold(self, instance: str, channels: Sequence[str], valid_s: float) -> dict[str, int]:
        async def hold(conn: Conn) -> dict[str, int]:
            return {row[0]: row[1] for row in await conn.fetch(_HOLD, instance, channels, valid_s)}

        return await self._db.write(hold)

    async def let_go(self, instance: str, channels: Sequence[str]) -> None:
        async def let_go(conn: Conn) -> None:
            await conn.execute(
                "UPDATE channel_leases SET expires_at = now()"
                " WHERE instance = $1 AND channel = ANY($2::text[])",
                instance, list(channels),
            )  # fmt: skip

        await self._db.write(let_go)

    async def leases(self) -> list[Lease]:
        async def read(conn: Conn) -> list[Lease]:
            rows = await conn.fetch(
                "SELECT channel, instance, epoch, expires_at FROM channel_leases ORDER BY channel"
            )
            return [Lease(*row) for row in rows]

        return await self._db.report(read)
