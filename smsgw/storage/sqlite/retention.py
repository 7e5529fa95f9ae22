"""Retention in SQL (the RetentionStore): each batch one transaction in the database thread,
found through the age indexes of migration 13."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from functools import partial

from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import timestamp

_IDS = "CREATE TEMP TABLE IF NOT EXISTS purged_ids (id TEXT PRIMARY KEY) WITHOUT ROWID"
_OLD_MESSAGES = """INSERT INTO purged_ids SELECT id FROM messages INDEXED BY messages_age
    WHERE created_at < ?1 AND expires_at < ?1 ORDER BY created_at LIMIT ?2"""
_OLD_INBOUND = """DELETE FROM inbound WHERE rowid IN (SELECT rowid FROM inbound
    INDEXED BY inbound_handled_age WHERE received_at < ? AND handled_at IS NOT NULL
    ORDER BY received_at LIMIT ?)"""


class SqliteRetention:
    """Implements RetentionStore on the store's connection."""

    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def purge_messages(self, before: datetime, *, limit: int) -> int:
        return await self._db.write(partial(_purge_messages, before=timestamp(before), limit=limit))

    async def purge_inbound(self, before: datetime, *, limit: int) -> int:
        return await self._db.write(partial(_purge_inbound, before=timestamp(before), limit=limit))


def _purge_messages(db: sqlite3.Connection, *, before: str, limit: int) -> int:
    db.execute(_IDS)
    count = db.execute(_OLD_MESSAGES, (before, limit)).rowcount
    for table in ("message_events", "message_parts"):
        db.execute(f"DELETE FROM {table} WHERE message_id IN (SELECT id FROM purged_ids)")
    db.execute("DELETE FROM messages WHERE id IN (SELECT id FROM purged_ids)")
    db.execute("DELETE FROM purged_ids")
    return count


def _purge_inbound(db: sqlite3.Connection, *, before: str, limit: int) -> int:
    return db.execute(_OLD_INBOUND, (before, limit)).rowcount
