"""Bind leases in a table (cluster.leases.LeaseStore): one statement takes or renews them all,
on the database's clock, on a connection of its own: a renewal never waits behind a busy pool
(a gateway sending flat out would otherwise miss renewals and fence itself for nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg

from smsgw.cluster.leases import Lease
from smsgw.storage.postgres.db import Conn, Database, Operation, T, storage_errors

# ours and still valid: renewed, same epoch
_RENEW = """UPDATE channel_leases SET expires_at = now() + make_interval(secs => $3)
    WHERE instance = $1 AND channel = ANY($2::text[]) AND expires_at > now()
    RETURNING channel, epoch"""
# free or lapsed (ours included): taken, a new epoch; a gateway taking it meanwhile wins
_FREE = """SELECT c.channel FROM unnest($1::text[]) AS c (channel)
    LEFT JOIN channel_leases l USING (channel)
    WHERE l.channel IS NULL OR l.expires_at <= now() ORDER BY c.channel"""
_TAKE = """INSERT INTO channel_leases AS l (channel, instance, epoch, expires_at)
    SELECT channel, $1, 1, now() + make_interval(secs => $3)
    FROM unnest($2::text[]) AS c (channel)
    ON CONFLICT (channel) DO UPDATE SET
        instance = excluded.instance, epoch = l.epoch + 1, expires_at = excluded.expires_at
    WHERE l.expires_at <= now()
    RETURNING channel, epoch"""
_CHECK_IN = """WITH me AS (
        INSERT INTO gateways (instance, seen_until) VALUES ($1, now() + make_interval(secs => $2))
        ON CONFLICT (instance) DO UPDATE SET seen_until = excluded.seen_until)
    SELECT count(*) + 1 FROM gateways WHERE seen_until > now() AND instance <> $1"""


class PgLeases:
    def __init__(self, db: Database, *, name: str = "smsgw leases") -> None:
        self._db = db
        self._name = name
        self._conn: asyncpg.Connection[asyncpg.Record] | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the connection

    async def check_in(self, instance: str, valid_s: float) -> int:
        async def check_in(conn: Conn) -> int:
            return int(await conn.fetchval(_CHECK_IN, instance, valid_s))

        return await self._run(check_in)

    async def check_out(self, instance: str) -> None:
        async def check_out(conn: Conn) -> None:
            await conn.execute("DELETE FROM gateways WHERE instance = $1", instance)

        await self._run(check_out)

    async def hold(
        self, instance: str, channels: Sequence[str], valid_s: float, *, most: int | None = None
    ) -> dict[str, int]:
        async def hold(conn: Conn) -> dict[str, int]:
            async with conn.transaction():
                rows = await conn.fetch(_RENEW, instance, list(channels), valid_s)
                held: dict[str, int] = {row[0]: row[1] for row in rows}
                room = len(channels) if most is None else most - len(held)
                if room > 0:
                    free = [row[0] for row in await conn.fetch(_FREE, list(channels))][:room]
                    if free:
                        rows = await conn.fetch(_TAKE, instance, free, valid_s)
                        held.update((row[0], row[1]) for row in rows)
                return held

        return await self._run(hold)

    async def let_go(self, instance: str, channels: Sequence[str]) -> None:
        async def let_go(conn: Conn) -> None:
            await conn.execute(
                "UPDATE channel_leases SET expires_at = now()"
                " WHERE instance = $1 AND channel = ANY($2::text[])",
                instance, list(channels),
            )  # fmt: skip

        await self._run(let_go)

    async def _run(self, fn: Operation[T]) -> T:
        async with self._lock:
            with storage_errors():
                try:
                    if self._conn is None or self._conn.is_closed():
                        self._conn = await asyncpg.connect(
                            self._db.dsn, server_settings={"application_name": self._name}
                        )
                    return await fn(self._conn)
                except BaseException:  # a timed-out or cut statement: a new connection next
                    if self._conn is not None:
                        self._conn.terminate()
                        self._conn = None
                    raise

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def gateways(self) -> list[str]:
        async def read(conn: Conn) -> list[str]:
            rows = await conn.fetch(
                "SELECT instance FROM gateways WHERE seen_until > now() ORDER BY instance"
            )
            return [row[0] for row in rows]

        return await self._db.report(read)

    async def leases(self) -> list[Lease]:
        async def read(conn: Conn) -> list[Lease]:
            rows = await conn.fetch(
                "SELECT channel, instance, epoch, expires_at FROM channel_leases ORDER BY channel"
            )
            return [Lease(*row) for row in rows]

        return await self._db.report(read)
