"""WAL checkpoints run on their own connection, not inside the writer's commits."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from smsgw.storage.sqlite import SqliteStore
from smsgw.storage.sqlite.checkpoint import Checkpointer
from smsgw.storage.sqlite.thread import StoreLock


async def test_under_steady_writes_the_wal_starts_over_instead_of_growing(
    tmp_path: Path,
) -> None:
    """Six seconds of commits, 50 a second (~17 MB of WAL frames a second here), while the
    checkpointer runs: the WAL file keeps to about a second's worth. With PASSIVE checkpoints
    alone a commit lands during each one, the WAL never starts over and holds everything
    (37 MB here; 200 MB within a minute of the soak)."""
    path = tmp_path / "s.db"
    store = await SqliteStore.open(path)
    try:
        await store._conn.execute("CREATE TABLE filler (x TEXT)")
        wal = path.with_name("s.db-wal")
        largest = 0
        for _ in range(300):
            async with store._lock.held():  # as every write of the store's own is made
                await store._conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 1000,)] * 60)
            largest = max(largest, wal.stat().st_size)
            await asyncio.sleep(0.02)
    finally:
        await store.close()
    assert largest < 26_000_000, largest


async def test_the_checkpointer_copies_the_wal_back_while_the_writer_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wal.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # only the checkpointer checkpoints
    writer.execute("CREATE TABLE t (x TEXT)")
    checkpointer = Checkpointer(path, StoreLock(), interval_s=0.01)
    await checkpointer.start()
    try:
        writer.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 2000)
        async with asyncio.timeout(10):
            while checkpointer.checkpointed == 0:
                await checkpointer.wait_round()
    finally:
        await checkpointer.stop()
        writer.close()
    assert checkpointer.checkpointed > 0
