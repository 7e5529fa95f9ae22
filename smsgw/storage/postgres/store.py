"""The PostgreSQL backend: pools of asyncpg connections shared by the repositories.

Opening connects, migrates (under an advisory lock: several gateways may start at once) and
hands out one repository per aggregate, as the SQLite backend does.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import structlog

from smsgw.errors import StorageUnavailable
from smsgw.storage.postgres.access import PgAudit, PgTokens
from smsgw.storage.postgres.alerts import PgAlerts
from smsgw.storage.postgres.broadcasts import PgBroadcasts
from smsgw.storage.postgres.callbacks import PgCallbacks
from smsgw.storage.postgres.catalogue import PgCatalogue
from smsgw.storage.postgres.db import Conn, Database
from smsgw.storage.postgres.delivery import PgDeliveryLog
from smsgw.storage.postgres.idempotency import PgIdempotency
from smsgw.storage.postgres.inbox import PgInbox, PgPolls
from smsgw.storage.postgres.kpis import PgKpis
from smsgw.storage.postgres.leases import PgLeases
from smsgw.storage.postgres.listen import Listener, Topic, Watcher
from smsgw.storage.postgres.messages import PgInbound, PgMessages
from smsgw.storage.postgres.migrations import migrate
from smsgw.storage.postgres.outbox import PgOutbox
from smsgw.storage.postgres.people import PgPeople
from smsgw.storage.postgres.quota import PgQuota
from smsgw.storage.postgres.retention import PgRetention
from smsgw.storage.postgres.serving import ServingLock
from smsgw.storage.postgres.subscriptions import PgSubscriptions
from smsgw.tasks import Tasks

_log = structlog.get_logger(__name__)


class PostgresStore:
    """The repositories of one PostgreSQL database (storage.Store)."""

    def __init__(
        self,
        db: Database,
        serving: ServingLock | None = None,
        *,
        instance: str | None = None,
        claim: timedelta | None = None,
    ) -> None:
        self.db = db
        self._serving = serving
        self._tasks = Tasks()
        self._listener: Listener | None = None
        claims = {} if claim is None else {"claim": claim}
        self.messages = PgMessages(db, **claims)
        self.delivery = PgDeliveryLog(db, instance=instance, **claims)
        self.inbound = PgInbound(db)
        self.tokens = PgTokens(db)
        self.audit = PgAudit(db)
        self.people = PgPeople(db)
        self.catalogue = PgCatalogue(db)
        self.inbox = PgInbox(db)
        self.polls = PgPolls(db)
        self.subscriptions = PgSubscriptions(db)
        self.broadcasts = PgBroadcasts(db)
        self.outbox = PgOutbox(db, **({} if claim is None else {"lease": claim}))
        self.kpis = PgKpis(db)
        self.retention = PgRetention(db)
        self.idempotency = PgIdempotency(db)
        self.alerts = PgAlerts(db)
        self.leases = PgLeases(db, name=f"smsgw {instance} leases")
        self.shared_quota: PgQuota | None = PgQuota(db)
        self.callbacks = PgCallbacks(db)

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        serving: bool = False,
        where: str = "",
        instance: str | None = None,
        claim: timedelta | None = None,
    ) -> PostgresStore:
        """``serving``: for a running gateway, named ``instance`` among the gateways sharing
        the database: a second one of the same name is refused (commands such as ``smsgw
        token`` open it without). ``instance``: also who holds the messages it makes;
        ``claim``: how long its claims on messages and outbox rows last unless renewed (a
        dead gateway's pass to the others after that)."""
        db = await Database.open(dsn)
        lock = None
        try:
            await db.read(migrate)
            autovacuum = await db.read(_statistics) if serving else True
            if serving:
                lock = await ServingLock.take(dsn, where or "PostgreSQL", instance or "")
        except BaseException:
            await db.close()
            raise
        store = cls(db, lock, instance=instance, claim=claim)
        if serving:
            store._listener = Listener(dsn, instance or "")
        if not autovacuum:
            store._tasks.spawn(_analyze_often(db), name="postgres-analyze")
        return store

    async def migrate(self) -> int:
        return await self.db.read(migrate)

    def watch(self, topic: Topic, watcher: Watcher) -> None:
        """``watcher`` is called when another gateway (or this one) notifies ``topic``: only
        for a serving store (listen.py)."""
        if self._listener is not None:
            self._listener.watch(topic, watcher)

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        await self._tasks.cancel()
        await self.leases.close()
        await self.db.close()
        if self._serving is not None:
            await self._serving.release()


# the tables whose plans go wrong without statistics (a scan of all parts for every receipt)
_BUSY = ("messages", "message_parts", "message_events", "outbox", "inbound", "subscriptions",
         "subscribers", "callbacks")  # fmt: skip
ANALYZE_EVERY_S = 10.0


async def _statistics(conn: Conn) -> bool:
    """Fresh statistics now (a sample of each table: quick at a million rows); whether
    autovacuum keeps them fresh from here."""
    await conn.execute("ANALYZE")
    on = await conn.fetchval("SELECT current_setting('autovacuum') = 'on'")
    if not on:
        _log.warning("postgres_autovacuum_off", analyze_every_s=ANALYZE_EVERY_S,
                     advice="turn autovacuum on: dead rows pile up, plans go stale")  # fmt: skip
    return bool(on)


async def _analyze_often(db: Database) -> None:
    """Without autovacuum the planner would keep the statistics of an empty database, and scan
    whole tables where an index does (a broadcast from a new database ran 4x slower): the busy
    tables analysed after 1, 2, 4 and 8 s (they grow fastest from empty), then every 10 s."""
    for pause in itertools.chain((1.0, 2.0, 4.0, 8.0), itertools.repeat(ANALYZE_EVERY_S)):
        await asyncio.sleep(pause)
        try:
            await db.read(lambda conn: conn.execute(f"ANALYZE {', '.join(_BUSY)}"))
        except StorageUnavailable as exc:
            _log.warning("postgres_analyze_failed", error=str(exc))
