"""The SQLite backend: one connection (the single writer), WAL, operations serialised.

Opening sets the pragmas, migrates, starts the checkpointer and hands out one repository per
aggregate, all on that connection and its lock.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import aiosqlite

from smsgw.storage.sqlite.access import SqliteAudit, SqliteTokens
from smsgw.storage.sqlite.alerts import SqliteAlerts
from smsgw.storage.sqlite.broadcasts import SqliteBroadcasts
from smsgw.storage.sqlite.callbacks import SqliteCallbacks
from smsgw.storage.sqlite.catalogue import SqliteCatalogue
from smsgw.storage.sqlite.checkpoint import WRITER_PRAGMA, Checkpointer
from smsgw.storage.sqlite.delivery import SqliteDeliveryLog, create_temp_tables
from smsgw.storage.sqlite.idempotency import SqliteIdempotency
from smsgw.storage.sqlite.inbox import SqliteInbox, SqlitePolls
from smsgw.storage.sqlite.kpis import SqliteKpis
from smsgw.storage.sqlite.leases import LocalLeases
from smsgw.storage.sqlite.messages import SqliteInbound, SqliteMessages
from smsgw.storage.sqlite.migrations import migrate
from smsgw.storage.sqlite.outbox import SqliteOutbox
from smsgw.storage.sqlite.people import SqlitePeople
from smsgw.storage.sqlite.retention import SqliteRetention
from smsgw.storage.sqlite.serving import ServingLock
from smsgw.storage.sqlite.subscriptions import SqliteSubscriptions
from smsgw.storage.sqlite.thread import ReadPool, SqliteThread, StoreLock

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",  # readers never block the writer
    "PRAGMA synchronous = NORMAL",  # with WAL: durable across crashes of the process, fast
    "PRAGMA busy_timeout = 5000",  # another process (smsgw token create) holding the lock
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -32000",  # 32 MB
    WRITER_PRAGMA,  # checkpoints run on another connection (checkpoint.py)
)
_READER_PRAGMAS = (
    "PRAGMA busy_timeout = 5000",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -32000",
)
# heavy reads at once, in each of two pools (the sends' scans, the reports); more wait their
# turn, never the writer
READERS = 2


class SqliteStore:
    """The repositories of one SQLite database (storage.Store)."""

    def __init__(
        self,
        conn: aiosqlite.Connection,
        *,
        unmatched: int,
        readers: ReadPool | None = None,
        reports: ReadPool | None = None,
    ) -> None:
        self._conn = conn
        self._pools = [pool for pool in (readers, reports) if pool is not None]
        self._serving: ServingLock | None = None
        self._lock = StoreLock()
        self._checkpointer: Checkpointer | None = None
        # one trip to aiosqlite's thread per operation, under the lock; heavy reads apart
        self._thread = db = SqliteThread(conn, self._lock, readers, reports)
        self.messages = SqliteMessages(db)
        self.delivery = SqliteDeliveryLog(db, unmatched=unmatched)
        self.inbound = SqliteInbound(db)
        self.tokens = SqliteTokens(db)
        self.audit = SqliteAudit(db)
        self.people = SqlitePeople(db)
        self.catalogue = SqliteCatalogue(db)
        self.subscriptions = SqliteSubscriptions(db)
        self.broadcasts = SqliteBroadcasts(db)
        self.outbox = SqliteOutbox(db)
        self.kpis = SqliteKpis(db)
        self.retention = SqliteRetention(db)
        self.idempotency = SqliteIdempotency(db)
        self.alerts = SqliteAlerts(db)
        self.inbox = SqliteInbox(db)
        self.polls = SqlitePolls(db)
        self.leases = LocalLeases()
        self.shared_quota = None  # one gateway per database: it counts alone
        self.callbacks = SqliteCallbacks(db)

    @classmethod
    async def open(cls, path: Path, *, serving: bool = False) -> SqliteStore:
        """``serving``: for the gateway itself, which binds the carriers: a second one on the
        same database is refused (commands such as ``smsgw token`` may share it)."""
        _private(path)
        lock = ServingLock.take(path) if serving else None
        # isolation_level None: we issue BEGIN/COMMIT ourselves, one transaction per operation
        conn = await aiosqlite.connect(path, isolation_level=None)
        readers = reports = None
        try:
            for pragma in _PRAGMAS:
                await conn.execute(pragma)
            await migrate(conn)
            await create_temp_tables(conn)
            async with conn.execute("SELECT count(*) FROM unmatched_receipts") as cursor:
                row = await cursor.fetchone()
            readers = await ReadPool.open(str(path), READERS, _READER_PRAGMAS)
            reports = await ReadPool.open(str(path), READERS, _READER_PRAGMAS)
        except BaseException:
            for pool in (readers, reports):
                if pool is not None:
                    await pool.close()
            await conn.close()
            if lock is not None:
                lock.release()
            raise
        store = cls(conn, unmatched=row[0] if row else 0, readers=readers, reports=reports)
        store._serving = lock
        store._checkpointer = Checkpointer(path, store._lock)
        await store._checkpointer.start()
        return store

    def watch(self, topic: str, watcher: Callable[[str], object]) -> None:
        """One gateway per database: its parts wake each other directly, no news comes."""

    async def migrate(self) -> int:
        async with self._lock.held():
            return await migrate(self._conn)

    async def close(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer.stop()
        for pool in self._pools:
            await pool.close()
        await self._conn.close()
        if self._serving is not None:
            self._serving.release()


def _private(path: Path) -> None:
    """The data folder 0700 when we create it, the database 0600 (numbers and consent are
    personal data); SQLite gives its -wal and -shm files the database's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    path.chmod(0o600)
