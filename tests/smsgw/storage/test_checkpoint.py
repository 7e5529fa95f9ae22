"""WAL checkpoints run on their own connection, not inside the writer's commits."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from smsgw.storage.sqlite import SqliteStore
from smsgw.storage.sqlite.checkpoint import Checkpointer


async def test_the_writer_leaves_checkpoints_to_the_checkpointer(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "s.db")
    try:
        async with store._conn.execute("PRAGMA wal_autocheckpoint") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        assert row[0] == 50_000
    finally:
        await store.close()


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
