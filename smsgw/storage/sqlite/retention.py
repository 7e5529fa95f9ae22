"""Retention in SQL (the RetentionStore): each batch one transaction in the database thread,
found through the age indexes of migration 13. A broadcast's outbox rows go only once summed
up (summaries.py)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from functools import partial

from smsgw.broadcasts.poll import Poll
from smsgw.storage.sqlite.summaries import summarise_one
from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import timestamp

_IDS = "CREATE TEMP TABLE IF NOT EXISTS purged_ids (id TEXT PRIMARY KEY) WITHOUT ROWID"
_OLD_MESSAGES = """INSERT INTO purged_ids SELECT id FROM messages INDEXED BY messages_age
    WHERE created_at < ?1 AND expires_at < ?1 ORDER BY created_at LIMIT ?2"""
_OLD_INBOUND = """DELETE FROM inbound WHERE rowid IN (SELECT rowid FROM inbound
    INDEXED BY inbound_handled_age WHERE received_at < ? AND handled_at IS NOT NULL
    ORDER BY received_at LIMIT ?)"""
# partial index tickets_quiet: a ticket waiting for an answer stays, whatever its age
_TICKET_IDS = "CREATE TEMP TABLE IF NOT EXISTS purged_tickets (id INTEGER PRIMARY KEY)"
_OLD_TICKETS = """INSERT INTO purged_tickets SELECT id FROM tickets INDEXED BY tickets_quiet
    WHERE updated_at < ? AND state != 'open' ORDER BY updated_at LIMIT ?"""
# partial index poll_answers_numbered: the polls with numbers left, then theirs in batches
_NUMBERED_POLLS = """SELECT id, poll FROM broadcasts WHERE id IN (
    SELECT DISTINCT broadcast FROM poll_answers INDEXED BY poll_answers_numbered
    WHERE answered_at < ? AND substr(msisdn, 1, 1) != '~')"""
_FORGET_NUMBERS = """UPDATE poll_answers SET msisdn = '~' || lower(hex(randomblob(8)))
    WHERE broadcast = ? AND msisdn IN (SELECT msisdn FROM poll_answers
        WHERE broadcast = ? AND substr(msisdn, 1, 1) != '~' LIMIT ?)"""
_OUTBOX_IDS = "CREATE TEMP TABLE IF NOT EXISTS purged_outbox (id INTEGER PRIMARY KEY)"
_SUMMED_UP = """INSERT INTO purged_outbox SELECT o.id FROM broadcasts b
    JOIN outbox o ON o.broadcast = b.id WHERE b.outbox_summary IS NOT NULL LIMIT ?"""


class SqliteRetention:
    """Implements RetentionStore on the store's connection."""

    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def purge_messages(self, before: datetime, *, limit: int) -> int:
        return await self._db.write(partial(_purge_messages, before=timestamp(before), limit=limit))

    async def purge_inbound(self, before: datetime, *, limit: int) -> int:
        return await self._db.write(partial(_purge_inbound, before=timestamp(before), limit=limit))

    async def purge_keys(self, before: datetime, *, limit: int) -> int:
        return await self._db.write(partial(_purge_keys, before=timestamp(before), limit=limit))

    async def summarise_broadcast(self, finished_before: datetime) -> int | None:
        return await self._db.write(partial(summarise_one, before=timestamp(finished_before)))

    async def purge_tickets(self, before: datetime, *, limit: int) -> int:
        return await self._db.write(partial(_purge_tickets, before=timestamp(before), limit=limit))

    async def forget_poll_numbers(self, closed_before: datetime, *, limit: int) -> int:
        return await self._db.write(partial(_forget_numbers, before=closed_before, limit=limit))

    async def purge_outbox(self, *, limit: int) -> int:
        return await self._db.write(partial(_purge_outbox, limit=limit))


def _purge_messages(db: sqlite3.Connection, *, before: str, limit: int) -> int:
    db.execute(_IDS)
    count = db.execute(_OLD_MESSAGES, (before, limit)).rowcount
    for table in ("message_events", "message_parts", "callbacks"):
        db.execute(f"DELETE FROM {table} WHERE message_id IN (SELECT id FROM purged_ids)")
    db.execute("DELETE FROM messages WHERE id IN (SELECT id FROM purged_ids)")
    db.execute("DELETE FROM purged_ids")
    return count


def _purge_inbound(db: sqlite3.Connection, *, before: str, limit: int) -> int:
    return db.execute(_OLD_INBOUND, (before, limit)).rowcount


def _purge_outbox(db: sqlite3.Connection, *, limit: int) -> int:
    db.execute(_OUTBOX_IDS)
    count = db.execute(_SUMMED_UP, (limit,)).rowcount
    for table in ("message_events", "message_parts"):  # a recipient's id there: 'o' + row id
        db.execute(f"DELETE FROM {table} WHERE message_id IN (SELECT 'o' || id FROM purged_outbox)")
    db.execute("DELETE FROM outbox WHERE id IN (SELECT id FROM purged_outbox)")
    db.execute("DELETE FROM purged_outbox")
    return count


def _purge_keys(db: sqlite3.Connection, *, before: str, limit: int) -> int:
    return db.execute(
        "DELETE FROM idempotency WHERE (token, key) IN (SELECT token, key FROM idempotency"
        " INDEXED BY idempotency_age WHERE created_at < ? ORDER BY created_at LIMIT ?)",
        (before, limit),
    ).rowcount


def _purge_tickets(db: sqlite3.Connection, *, before: str, limit: int) -> int:
    db.execute(_TICKET_IDS)
    db.execute(_OLD_TICKETS, (before, limit))
    db.execute("DELETE FROM ticket_entries WHERE ticket IN (SELECT id FROM purged_tickets)")
    count = db.execute("DELETE FROM tickets WHERE id IN (SELECT id FROM purged_tickets)").rowcount
    db.execute("DELETE FROM purged_tickets")
    return count


def _forget_numbers(db: sqlite3.Connection, *, before: datetime, limit: int) -> int:
    """Answered before ``before`` is a cheap bound (an answer comes before its poll closes);
    the poll's closing time decides."""
    closed = [id_ for id_, poll in db.execute(_NUMBERED_POLLS, (timestamp(before),))
              if Poll.from_json(json.loads(poll)).closes_at < before]  # fmt: skip
    count = 0
    for broadcast in closed:
        count += db.execute(_FORGET_NUMBERS, (broadcast, broadcast, limit - count)).rowcount
        if count >= limit:
            break
    return count
