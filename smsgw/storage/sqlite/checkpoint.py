"""WAL checkpoints off the writer's path.

SQLite's automatic checkpoint runs on the connection that commits, inside its COMMIT: every
~1,000 pages the writer stops to copy the WAL back into the database, a stall of 100–400 ms
measured here (bench/mo_throughput.py: p95 272 ms at 500 texts/s with it, 51 ms without).
So a second connection, on its own thread, checkpoints every second: first PASSIVE, which
copies what it can without blocking the writer or waiting for it; then, holding the store's
lock (no statement of ours runs meanwhile), RESTART, which copies the few frames committed
since and makes the next write start the WAL over: a pause of a few milliseconds a second.

PASSIVE alone never lets the WAL start over under steady writes (it restarts only when a write
begins with every frame copied back, and some commit always lands while PASSIVE copies): the WAL
grew to the writer's safety limit, 200 MB, within a minute of bench/soak.py, and the writer then
checkpointed it inside a commit. A smaller automatic checkpoint on the writer instead bounded
the WAL but took citizens' texts from p95 57 ms to 1.9 s at 900 MO/s (bench/mo_throughput.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import structlog

from smsgw.storage.sqlite.thread import Locked
from smsgw.tasks import Tasks

_log = structlog.get_logger(__name__)

# ~200 MB of WAL before the writer checkpoints itself: reached only if the checkpointer stops.
WRITER_PRAGMA = "PRAGMA wal_autocheckpoint = 50000"


class Checkpointer:
    def __init__(self, path: Path, lock: Locked, *, interval_s: float = 1.0) -> None:
        self._path = path
        self._lock = lock
        self._interval_s = interval_s
        self._tasks = Tasks()
        self._conn: aiosqlite.Connection | None = None
        self.checkpointed = 0  # WAL frames copied back so far
        self._round = asyncio.Event()

    async def wait_round(self) -> None:
        """Returns after the next checkpoint round (for tests)."""
        self._round.clear()
        await self._round.wait()

    async def start(self) -> None:
        self._conn = conn = await aiosqlite.connect(self._path, isolation_level=None)
        await conn.execute("PRAGMA busy_timeout = 0")  # another process writing: next round
        self._tasks.spawn(self._run(conn), name="sqlite-checkpointer")

    async def stop(self) -> None:
        await self._tasks.cancel()
        if self._conn is not None:  # here, not in _run: a task cancelled unstarted runs nothing
            await self._conn.close()
            self._conn = None

    async def _run(self, conn: aiosqlite.Connection) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                async with conn.execute("PRAGMA wal_checkpoint(PASSIVE)") as cursor:
                    row = await cursor.fetchone()
                self.checkpointed += row[2] if row else 0
                restart = "PRAGMA wal_checkpoint(RESTART)"
                async with self._lock.held(), conn.execute(restart) as cursor:
                    await cursor.fetchone()
            except aiosqlite.Error as exc:  # a busy database: the next round catches up
                _log.warning("wal_checkpoint_failed", error=str(exc))
            self._round.set()
