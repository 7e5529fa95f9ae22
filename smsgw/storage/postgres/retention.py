"""Retention in SQL (the RetentionStore): each batch one short statement in its own transaction,
found through the age indexes, so that the other gateways sharing the database wait on no
purge. A broadcast's outbox rows go only once summed up (summaries.py).

Rows another transaction holds (a receipt being recorded, a callback being sent) are skipped,
not waited for: they go in a later batch or at the next round.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from smsgw.storage.postgres.db import Conn, Database
from smsgw.storage.postgres.summaries import summarise_one

# A message's segments, events and callbacks go with it, in the same statement (its CTEs
# share one snapshot and run once each)
_PURGE_MESSAGES = """WITH gone AS (
        SELECT id FROM messages WHERE created_at < $1 AND expires_at < $1
        ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED),
    events AS (DELETE FROM message_events WHERE message_id IN (SELECT id FROM gone)),
    parts AS (DELETE FROM message_parts WHERE message_id IN (SELECT id FROM gone)),
    callbacks AS (DELETE FROM callbacks WHERE message_id IN (SELECT id FROM gone)),
    deleted AS (DELETE FROM messages WHERE id IN (SELECT id FROM gone) RETURNING 1)
    SELECT count(*) FROM deleted"""
# partial index inbound_handled_age: the unhandled ones wait, whatever their age
_PURGE_INBOUND = """DELETE FROM inbound WHERE id IN (
        SELECT id FROM inbound WHERE received_at < $1 AND handled_at IS NOT NULL
        ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)"""
_PURGE_KEYS = """DELETE FROM idempotency WHERE (token, key) IN (
        SELECT token, key FROM idempotency WHERE created_at < $1
        ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)"""
# A recipient's id in message_parts and message_events: 'o' + its outbox id
_PURGE_OUTBOX = """WITH gone AS (
        SELECT o.id, 'o' || o.id::text AS message_id
        FROM broadcasts b JOIN outbox o ON o.broadcast = b.id
        WHERE b.outbox_summary IS NOT NULL LIMIT $1 FOR UPDATE OF o SKIP LOCKED),
    events AS (DELETE FROM message_events WHERE message_id IN (SELECT message_id FROM gone)),
    parts AS (DELETE FROM message_parts WHERE message_id IN (SELECT message_id FROM gone)),
    deleted AS (DELETE FROM outbox WHERE id IN (SELECT id FROM gone) RETURNING 1)
    SELECT count(*) FROM deleted"""

# partial index tickets_quiet: a ticket waiting for an answer stays, whatever its age
_PURGE_TICKETS = """WITH gone AS (
        SELECT id FROM tickets WHERE updated_at < $1 AND state <> 'open'
        ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED),
    entries AS (DELETE FROM ticket_entries WHERE ticket IN (SELECT id FROM gone)),
    deleted AS (DELETE FROM tickets WHERE id IN (SELECT id FROM gone) RETURNING 1)
    SELECT count(*) FROM deleted"""
# partial index poll_answers_numbered; answered before $1 is a cheap bound (an answer comes
# before its poll closes), the poll's closing time decides
_FORGET_NUMBERS = """WITH gone AS (
        SELECT a.broadcast, a.msisdn FROM poll_answers a JOIN broadcasts b ON b.id = a.broadcast
        WHERE a.answered_at < $1 AND substr(a.msisdn, 1, 1) <> '~'
          AND (b.poll::jsonb ->> 'closes_at')::timestamptz < $1
        LIMIT $2 FOR UPDATE OF a SKIP LOCKED),
    forgotten AS (UPDATE poll_answers p
        SET msisdn = '~' || replace(gen_random_uuid()::text, '-', '') FROM gone
        WHERE p.broadcast = gone.broadcast AND p.msisdn = gone.msisdn RETURNING 1)
    SELECT count(*) FROM forgotten"""


class PgRetention:
    """Implements RetentionStore on the database's main pool."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def purge_messages(self, before: datetime, *, limit: int) -> int:
        return await self._db.write(partial(_counted, sql=_PURGE_MESSAGES, args=(before, limit)))

    async def purge_inbound(self, before: datetime, *, limit: int) -> int:
        return await self._db.write(partial(_deleted, sql=_PURGE_INBOUND, args=(before, limit)))

    async def purge_keys(self, before: datetime, *, limit: int) -> int:
        return await self._db.write(partial(_deleted, sql=_PURGE_KEYS, args=(before, limit)))

    async def summarise_broadcast(self, finished_before: datetime) -> int | None:
        return await self._db.write(partial(summarise_one, before=finished_before))

    async def purge_tickets(self, before: datetime, *, limit: int) -> int:
        return await self._db.write(partial(_counted, sql=_PURGE_TICKETS, args=(before, limit)))

    async def forget_poll_numbers(self, closed_before: datetime, *, limit: int) -> int:
        args = (closed_before, limit)
        return await self._db.write(partial(_counted, sql=_FORGET_NUMBERS, args=args))

    async def purge_outbox(self, *, limit: int) -> int:
        return await self._db.write(partial(_counted, sql=_PURGE_OUTBOX, args=(limit,)))


async def _counted(conn: Conn, *, sql: str, args: tuple[object, ...]) -> int:
    """A statement that selects how many rows it deleted."""
    return int(await conn.fetchval(sql, *args))


async def _deleted(conn: Conn, *, sql: str, args: tuple[object, ...]) -> int:
    """A DELETE's count, from its status ("DELETE 12")."""
    status = await conn.execute(sql, *args)
    return int(status.rsplit(" ", 1)[-1])
