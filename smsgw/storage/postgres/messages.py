"""Single messages and the inbound queue in PostgreSQL. What changes them (new messages,
segments, receipts, texts) is in delivery.py.

The inbound queue is shared by the gateways on one database: handing texts out is a claim (see
:data:`_TAKE`), so each text goes to one handler, and a number's texts to one handler at a time,
in arrival order (a JOIN then a STOP must not be handled the other way round elsewhere).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from functools import partial

import asyncpg

from smsgw.delivery.message import Message, MessageEvent, MessageState
from smsgw.delivery.store import MESSAGE_CLAIM, MessageFilter
from smsgw.inbound.queue import HandledInbound, StoredInbound
from smsgw.storage.postgres.db import Conn, Database

_COLUMNS = """id, recipient, sender, text, state, parts, encoding, channel, error,
    created_at, updated_at, expires_at, created_by, callback_url, carrier"""
_SELECT = f"SELECT {_COLUMNS} FROM messages"

# The oldest queued messages on the carriers given (or on none), free, lapsed or already the
# caller's (a burst it keeps out of memory), bar those it holds in memory; SKIP LOCKED: a
# message another gateway is taking now is left to it
_TAKE_QUEUED = f"""WITH picked AS (
        SELECT id FROM messages
        WHERE state = 'queued' AND (carrier = ANY($2::text[]) OR carrier IS NULL)
          AND (claimed_by = $1 OR claimed_until IS NULL OR claimed_until <= now())
          AND id <> ALL($4::text[])
        ORDER BY created_at, id LIMIT $3
        FOR UPDATE SKIP LOCKED)
    UPDATE messages m SET claimed_by = $1, claimed_until = now() + $5::interval
    FROM picked WHERE m.id = picked.id
    RETURNING {", ".join("m." + c.strip() for c in _COLUMNS.split(","))}"""

# How long a handler has to mark the texts it took: far beyond a batch's time (one trip for its
# consent changes, its replies queued). A gateway that dies holding texts leaves them to the
# others (or to itself once restarted) when it lapses; a handler slower than this may see a
# text handled twice, which the handler's idempotence makes a repeated reply at worst.
LEASE = timedelta(minutes=2)
_TAKING = 0x736D7367_0002  # "smsg" 2: the advisory lock takers queue on

# The oldest texts neither handled nor taken (or whose lease lapsed), none of a number that has
# a text taken: that number's texts wait for the handler holding one. Takers go one at a time
# (the advisory lock, taken in the statement before), so each sees the leases of the last.
_TAKE = """WITH busy AS MATERIALIZED (
        SELECT DISTINCT sender FROM inbound
        WHERE handled_at IS NULL AND taken_until IS NOT NULL AND taken_until > now()
    ), batch AS (
        SELECT id FROM inbound
        WHERE handled_at IS NULL AND (taken_until IS NULL OR taken_until <= now())
          AND sender NOT IN (SELECT sender FROM busy)
        ORDER BY received_at, id LIMIT $1
        FOR UPDATE SKIP LOCKED
    )
    UPDATE inbound SET taken_until = now() + $2::interval FROM batch WHERE inbound.id = batch.id
    RETURNING inbound.id, sender, recipient, text, channel, received_at"""

_MARK = """UPDATE inbound SET handled_at = h.at, outcome = h.outcome
    FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS h (id, at, outcome)
    WHERE inbound.id = h.id"""


class PgMessages:
    """Implements MessageStore; ``claim``: how long a take or a renewal holds a message."""

    def __init__(self, db: Database, *, claim: timedelta = MESSAGE_CLAIM) -> None:
        self._db = db
        self._claim = claim

    async def get_message(self, message_id: str) -> Message | None:
        return await self._db.read(partial(_get_message, message_id=message_id))

    async def message_states(self, message_ids: Collection[str]) -> dict[str, MessageState]:
        return await self._db.read(partial(_states, ids=list(message_ids)))

    async def message_history(self, message_id: str) -> list[MessageEvent]:
        return await self._db.read(partial(_history, message_id=message_id))

    async def take_queued(
        self,
        *,
        instance: str,
        carriers: Collection[str],
        limit: int,
        excluding: Collection[str] = (),
    ) -> list[Message]:
        async def take(conn: Conn) -> list[Message]:
            rows = await conn.fetch(
                _TAKE_QUEUED, instance, list(carriers), limit, list(excluding), self._claim
            )
            return sorted(map(_message, rows), key=lambda m: (m.created_at, m.id))

        return await self._db.write(take)

    async def renew_messages(self, instance: str, ids: Collection[str]) -> None:
        if ids:
            await self._db.write(
                partial(_renew, instance=instance, ids=list(ids), claim=self._claim)
            )

    async def release_messages(self, instance: str, ids: Collection[str]) -> None:
        if ids:
            await self._db.write(partial(_release, instance=instance, ids=list(ids)))

    async def sent_by(self, token_id: str, *, since: datetime) -> int:
        return await self._db.read(partial(_sent_by, token_id=token_id, since=since))

    async def find_messages(self, where: MessageFilter, *, limit: int) -> list[Message]:
        return await self._db.report(partial(_find, where=where, limit=limit))


class PgInbound:
    """Implements InboundQueue for several gateways: a text handed out is leased to the caller
    (LEASE) until marked handled; others are not handed it, nor that number's later texts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def unhandled_inbound(self, limit: int) -> list[StoredInbound]:
        return await self._db.write(partial(_take_inbound, limit=limit))

    async def mark_inbound_handled(self, handled: list[HandledInbound]) -> None:
        if not handled:
            return
        ids = [h.id for h in handled]
        ats = [h.at for h in handled]
        outcomes = [h.outcome.value for h in handled]
        await self._db.write(lambda conn: conn.execute(_MARK, ids, ats, outcomes))


async def _states(conn: Conn, *, ids: list[str]) -> dict[str, MessageState]:
    rows = await conn.fetch("SELECT id, state FROM messages WHERE id = ANY($1::text[])", ids)
    return {row["id"]: MessageState(row["state"]) for row in rows}


async def _get_message(conn: Conn, *, message_id: str) -> Message | None:
    row = await conn.fetchrow(_SELECT + " WHERE id = $1", message_id)
    return _message(row) if row else None


async def _history(conn: Conn, *, message_id: str) -> list[MessageEvent]:
    rows = await conn.fetch(
        "SELECT at, state, detail FROM message_events WHERE message_id = $1 ORDER BY at, id",
        message_id,
    )
    return [MessageEvent(row["at"], row["state"], row["detail"]) for row in rows]


async def _renew(conn: Conn, *, instance: str, ids: list[str], claim: timedelta) -> None:
    await conn.execute(
        "UPDATE messages SET claimed_until = now() + $3::interval"
        " WHERE id = ANY($2::text[]) AND claimed_by = $1 AND state = 'queued'",
        instance, ids, claim,
    )  # fmt: skip


async def _release(conn: Conn, *, instance: str, ids: list[str]) -> None:
    await conn.execute(
        "UPDATE messages SET claimed_by = NULL, claimed_until = NULL"
        " WHERE id = ANY($2::text[]) AND claimed_by = $1",
        instance, ids,
    )  # fmt: skip
    await conn.execute("SELECT pg_notify('smsgw_messages', '')")  # for their carriers' holders


async def _sent_by(conn: Conn, *, token_id: str, since: datetime) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM messages WHERE created_by = $1 AND created_at >= $2",
        token_id, since,
    )  # fmt: skip
    return int(count)


async def _find(conn: Conn, *, where: MessageFilter, limit: int) -> list[Message]:
    # only the filters given, each a fixed clause with its value bound: the planner then picks
    # the index of the most selective one (recipient, created_by) or walks messages_age
    clauses, params = ["true"], list[object]()
    for clause, value in (
        ("state = ${}", where.state.value if where.state else None),
        ("recipient = ${}", where.to),
        ("created_by = ${}", where.created_by),
        ("created_at >= ${}", where.since),
    ):
        if value is not None:
            params.append(value)
            clauses.append(clause.format(len(params)))
    if where.before is not None:
        params += where.before
        clauses.append(f"(created_at, id) < (${len(params) - 1}, ${len(params)})")
    rows = await conn.fetch(
        _SELECT + f" WHERE {' AND '.join(clauses)}"  # clauses: literals above
        f" ORDER BY created_at DESC, id DESC LIMIT ${len(params) + 1}",
        *params, limit,
    )  # fmt: skip
    return [_message(row) for row in rows]


async def _take_inbound(conn: Conn, *, limit: int) -> list[StoredInbound]:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _TAKING)
    rows = await conn.fetch(_TAKE, limit, LEASE)
    return [
        StoredInbound(*row) for row in sorted(rows, key=lambda row: (row["received_at"], row["id"]))
    ]


def _message(row: asyncpg.Record) -> Message:
    return Message(
        id=row["id"],
        to=row["recipient"],
        sender=row["sender"],
        text=row["text"],
        state=MessageState(row["state"]),
        parts=row["parts"],
        encoding=row["encoding"],
        channel=row["channel"],
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
        created_by=row["created_by"],
        callback_url=row["callback_url"],
        carrier=row["carrier"],
    )
