"""One running gateway per instance name on a PostgreSQL database: two under one name would
each take the other's bind leases for their own (a lease is held by a name), and both bind.

A session-level advisory lock keyed by the name, held on a connection of its own for as long
as the gateway runs: PostgreSQL lets it go when that connection ends, however the process ends
(kill -9 included), so a restarted gateway takes its name back at once.
"""

from __future__ import annotations

import asyncpg

from smsgw.errors import ConfigError

_SPACE = 0x736D7367  # "smsg"; two keys: apart from the one-key locks of migrations and takes


class ServingLock:
    def __init__(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        self._conn = conn

    @classmethod
    async def take(cls, dsn: str, where: str, instance: str) -> ServingLock:
        conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
            dsn, server_settings={"application_name": f"smsgw {instance} serving"}
        )
        try:
            if not await conn.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", _SPACE, instance
            ):
                holder = await conn.fetchval(
                    "SELECT coalesce(client_addr::text, 'local') || ' pid ' || pid"
                    " FROM pg_stat_activity WHERE application_name = $1 LIMIT 1",
                    f"smsgw {instance} serving",
                )
                raise ConfigError(
                    f"{where}: a gateway named {instance!r} ({holder or 'unknown'}) is already"
                    " serving this database; give this one its own [cluster] instance"
                )
        except BaseException:
            await conn.close()
            raise
        return cls(conn)

    async def release(self) -> None:
        await self._conn.close()  # the lock goes with its session
