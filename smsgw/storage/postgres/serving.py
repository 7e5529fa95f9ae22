"""One serving gateway per PostgreSQL database, until the channels are leased per bind (issue
14, item 3): two ``smsgw run`` on one database would both bind every carrier.

A session-level advisory lock, held on a connection of its own for as long as the gateway
runs: PostgreSQL lets it go when that connection ends, however the process ends.
"""

from __future__ import annotations

import asyncpg

from smsgw.errors import ConfigError

_KEY = 0x736D7367_0001  # "smsg" 1: the serving gateway


class ServingLock:
    def __init__(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        self._conn = conn

    @classmethod
    async def take(cls, dsn: str, where: str) -> ServingLock:
        conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(dsn)
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _KEY):
                holder = await conn.fetchval(
                    "SELECT a.client_addr::text || ' pid ' || a.pid FROM pg_locks l"
                    " JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory'"
                    " AND l.objid = $1::bigint % 4294967296 AND l.granted LIMIT 1",
                    _KEY,
                )
                raise ConfigError(
                    f"{where}: another smsgw ({holder or 'unknown'}) is serving this database;"
                    " stop it first, or give this one its own [database] url"
                )
            await conn.execute("SELECT set_config('application_name', 'smsgw serving', false)")
        except BaseException:
            await conn.close()
            raise
        return cls(conn)

    async def release(self) -> None:
        await self._conn.close()  # the lock goes with its session
