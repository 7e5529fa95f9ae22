"""The PostgreSQL backend: pools of asyncpg connections shared by the repositories.

Opening connects, migrates (under an advisory lock: several gateways may start at once) and
hands out one repository per aggregate, as the SQLite backend does.
"""

from __future__ import annotations

from smsgw.storage.postgres.access import PgAudit, PgTokens
from smsgw.storage.postgres.broadcasts import PgBroadcasts
from smsgw.storage.postgres.callbacks import PgCallbacks
from smsgw.storage.postgres.catalogue import PgCatalogue
from smsgw.storage.postgres.db import Database
from smsgw.storage.postgres.delivery import PgDeliveryLog
from smsgw.storage.postgres.idempotency import PgIdempotency
from smsgw.storage.postgres.kpis import PgKpis
from smsgw.storage.postgres.leases import PgLeases
from smsgw.storage.postgres.messages import PgInbound, PgMessages
from smsgw.storage.postgres.migrations import migrate
from smsgw.storage.postgres.outbox import PgOutbox
from smsgw.storage.postgres.retention import PgRetention
from smsgw.storage.postgres.serving import ServingLock
from smsgw.storage.postgres.subscriptions import PgSubscriptions


class PostgresStore:
    """The repositories of one PostgreSQL database (storage.Store)."""

    def __init__(
        self, db: Database, serving: ServingLock | None = None, *, instance: str | None = None
    ) -> None:
        self.db = db
        self._serving = serving
        self.messages = PgMessages(db)
        self.delivery = PgDeliveryLog(db, instance=instance)
        self.inbound = PgInbound(db)
        self.tokens = PgTokens(db)
        self.audit = PgAudit(db)
        self.catalogue = PgCatalogue(db)
        self.subscriptions = PgSubscriptions(db)
        self.broadcasts = PgBroadcasts(db)
        self.outbox = PgOutbox(db)
        self.kpis = PgKpis(db)
        self.retention = PgRetention(db)
        self.idempotency = PgIdempotency(db)
        self.leases = PgLeases(db)
        self.callbacks = PgCallbacks(db)

    @classmethod
    async def open(
        cls, dsn: str, *, serving: bool = False, where: str = "", instance: str | None = None
    ) -> PostgresStore:
        """``serving``: for the gateway itself, which binds the carriers: a second one on the
        same database is refused (commands such as ``smsgw token`` may share it). ``instance``:
        the gateway's name, which holds the messages it makes."""
        db = await Database.open(dsn)
        lock = None
        try:
            await db.read(migrate)
            if serving:
                lock = await ServingLock.take(dsn, where or "PostgreSQL")
        except BaseException:
            await db.close()
            raise
        return cls(db, lock, instance=instance)

    async def migrate(self) -> int:
        return await self.db.read(migrate)

    async def close(self) -> None:
        await self.db.close()
        if self._serving is not None:
            await self._serving.release()
