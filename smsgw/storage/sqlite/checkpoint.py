"""WAL checkpoints off the writer's path.

SQLite's automatic checkpoint runs on the connection that commits, inside its COMMIT: every
~1,000 pages the writer stops to copy the WAL back into the database, a stall of 100–400 ms
measured here (bench/mo_throughput.py: p95 272 ms at 500 texts/s with it, 51 ms without).
So a second connection, on its own thread, runs PASSIVE checkpoints every second: PASSIVE
copies what it can without blocking the writer or waiting for it.

That alone never lets the WAL start over under steady writes: the WAL restarts from its
beginning only when a write begins with every frame copied back, and a commit always lands
while the checkpointer copies. The WAL then grew to the writer's limit (200 MB within a minute
of bench/soak.py) and the writer checkpointed it all inside one commit. So the writer keeps a
modest automatic checkpoint (4,000 pages, 16 MB): when it fires, the checkpointer has already
copied all but the last second's frames, the writer copies those (measured: the worst commit
31–39 ms, against 116–121 ms with no checkpointer), and the next write starts the WAL over.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import structlog

_log = structlog.get_logger(__name__)

# The writer's own checkpoint, in a commit: bounds the WAL at ~16 MB (see above).
WRITER_PRAGMA = "PRAGMA wal_autocheckpoint = 4000"


class Checkpointer:
    def __init__(self, path: Path, *, interval_s: float = 1.0) -> None:
        self._path = path
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._conn: aiosqlite.Connection | None = None
        self.checkpointed = 0  # WAL frames copied back so far
        self._round = asyncio.Event()

    async def wait_round(self) -> None:
        """Returns after the next checkpoint round (for tests)."""
        self._round.clear()
        await self._round.wait()

    async def start(self) -> None:
        self._conn = conn = await aiosqlite.connect(self._path, isolation_level=None)
        await conn.execute("PRAGMA busy_timeout = 5000")
        self._task = asyncio.create_task(self._run(conn), name="sqlite-checkpointer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
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
            except aiosqlite.Error as exc:  # a busy database: the next round catches up
                _log.warning("wal_checkpoint_failed", error=str(exc))
            self._round.set()
