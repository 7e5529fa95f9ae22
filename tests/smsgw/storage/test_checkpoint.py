"""WAL checkpoints run on their own connection, not inside the writer's commits."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from smsgw.storage.sqlite import SqliteStore
from smsgw.storage.sqlite.checkpoint import Checkpointer


async def test_under_steady_writes_the_wal_starts_over_instead_of_growing(
    tmp_path: Path,
) -> None:
    """~60 MB of frames written, commit after commit, while the checkpointer runs: the WAL
    file stays near the writer's 16 MB bound (it grew to 200 MB before)."""
    path = tmp_path / "s.db"
    store = await SqliteStore.open(path)
    try:
        await store._conn.execute("CREATE TABLE filler (x TEXT)")
        wal = path.with_name("s.db-wal")
        largest = 0
        for _ in range(1200):
            await store._conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 1000,)] * 50)
            largest = max(largest, wal.stat().st_size)
    finally:
        await store.close()
    assert largest < 24_000_000, largest


async def test_the_checkpointer_copies_the_wal_back_while_the_writer_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wal.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # only the checkpointer checkpoints
    writer.execute("CREATE TABLE t (x TEXT)")
    checkpointer = Checkpointer(path, interval_s=0.01)
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
