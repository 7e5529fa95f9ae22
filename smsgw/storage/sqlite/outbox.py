"""The outbox in SQL: the fan-out (BroadcastOutbox) and the dispatcher's reads (OutboxStore),
plain functions over the sqlite3 connection, each run in one trip to the database thread.

The fan-out copies the audience into the outbox with INSERT … SELECT, a chunk of subscribers
per transaction, walking the audience index in number order from a cursor kept in the
broadcast's row: Python never holds the audience, other writers (receipts, citizens' texts)
get the database between chunks, and a crash resumes from the last committed chunk without
leaving anyone out or adding anyone twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from smsgw.broadcasts.model import Broadcast, BroadcastState
from smsgw.delivery.outbox import OutboxMessage, Priority
from smsgw.storage.sqlite.broadcasts import district_list
from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import maybe_timestamp, timestamp


class SqliteOutbox:
    """Implements BroadcastOutbox and OutboxStore on the store's connection."""

    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def fan_out_chunk(
        self,
        broadcast: Broadcast,
        *,
        chunk: int,
        carrier_of: Callable[[str], str | None],
        at: datetime,
    ) -> tuple[int, bool]:
        return await self._db.write(
            partial(fan_out_chunk, b=broadcast, chunk=chunk, carrier_of=carrier_of, at=at)
        )

    async def fanned_out(self, broadcast_id: int) -> bool:
        return await self._db.read(partial(fanned_out, broadcast_id=broadcast_id))

    async def queued_count(self, broadcast_id: int) -> int:
        return await self._db.read(partial(queued_count, broadcast_id=broadcast_id))

    async def expire_outbox(self, broadcast_id: int, *, at: datetime) -> int:
        return await self._db.write(partial(expire, broadcast_id=broadcast_id, at=at))

    async def take_ready(
        self, *, carrier: str, priority: Priority, after: int, limit: int
    ) -> list[OutboxMessage]:
        return await self._db.read(
            partial(take_ready, carrier=carrier, priority=priority, after=after, limit=limit)
        )

    async def take_retries(
        self, *, carrier: str, priority: Priority, now: datetime, limit: int
    ) -> list[OutboxMessage]:
        return await self._db.read(
            partial(take_retries, carrier=carrier, priority=priority, now=now, limit=limit)
        )

    async def release(self, carrier: str, ids: Sequence[int]) -> None:
        """Nothing to free: a take is a read here (one gateway per database)."""

    async def keep(self, carrier: str, holding: Collection[int]) -> None:
        """No claims to renew (one gateway per database)."""

    async def queued_by_priority(self) -> dict[Priority, int]:
        return await self._db.scan(queued_by_priority)


_NEXT_BOUNDARY = """SELECT msisdn FROM subscriptions
    WHERE service = ? AND left_at IS NULL AND msisdn > ? ORDER BY msisdn LIMIT 1 OFFSET ?"""
# carrier_of(number): the router's, registered on the connection for the statement (called
# once per row: the CTE is materialised). The upper bound is a plain comparison so that the
# index scan stops there (an "?8 IS NULL OR" form made every chunk read to the audience's end).
_FAN_OUT = """WITH chunk AS MATERIALIZED (
        SELECT s.msisdn, u.language, carrier_of(s.msisdn) AS carrier
        FROM subscriptions s JOIN subscribers u ON u.msisdn = s.msisdn
        WHERE s.service = ?6 AND s.left_at IS NULL AND u.opted_out_at IS NULL
          AND s.msisdn > ?7 AND s.msisdn <= ?8 AND (?9 IS NULL OR s.subscribed_at = ?9)
          AND (?10 IS NULL OR u.district IS NULL OR instr(?10, ',' || u.district || ',') > 0)
        ORDER BY s.msisdn)
    INSERT INTO outbox (broadcast, recipient, language, carrier, priority, state, error,
        updated_at)
    SELECT ?1, msisdn,
           CASE WHEN instr(?2, ',' || language || ',') > 0 THEN language ELSE ?3 END,
           carrier, ?4,
           CASE WHEN carrier IS NULL THEN 'rejected' ELSE 'queued' END,
           CASE WHEN carrier IS NULL THEN 'no_route' END, ?5
    FROM chunk ORDER BY msisdn"""
_END = "\uffff"  # sorts after every number: the cursor of a finished fan-out


def fan_out_chunk(
    db: sqlite3.Connection,
    b: Broadcast,
    *,
    chunk: int,
    carrier_of: Callable[[str], str | None],
    at: datetime,
) -> tuple[int, bool]:
    """Copies the next ``chunk`` subscribers into the outbox (in its own transaction, with the
    cursor); returns (rows added, whether the audience is exhausted)."""
    row = db.execute("SELECT fanout_cursor, state FROM broadcasts WHERE id = ?", (b.id,)).fetchone()
    if row is None or not BroadcastState(row[1]).open:  # cancelled meanwhile: nothing to add
        return 0, True
    cursor = row[0] or ""
    boundary_row = db.execute(_NEXT_BOUNDARY, (b.service, cursor, chunk - 1)).fetchone()
    boundary = boundary_row[0] if boundary_row else None
    db.create_function("carrier_of", 1, carrier_of, deterministic=True)
    languages = "," + ",".join(b.texts) + ","
    db.execute(
        _FAN_OUT,
        (b.id, languages, b.default_language, int(b.priority), timestamp(at), b.service,
         cursor, boundary or _END, maybe_timestamp(b.joined_at), district_list(b.districts)),
    )  # fmt: skip
    added = int(db.execute("SELECT changes()").fetchone()[0])  # rowcount is -1 after WITH
    db.execute(
        "UPDATE broadcasts SET fanout_cursor = ?, audience = coalesce(audience, 0) + ?,"
        " updated_at = ? WHERE id = ?",
        (boundary or _END, added, timestamp(at), b.id),
    )
    return added, boundary is None


def fanned_out(db: sqlite3.Connection, broadcast_id: int) -> bool:
    row = db.execute(
        "SELECT fanout_cursor FROM broadcasts WHERE id = ?", (broadcast_id,)
    ).fetchone()
    return bool(row and row[0] == _END)


# The STOP check just before sending: a number that opted out, or left the service, since the
# fan-out is not sent to (SPEC: opt-outs are enforced twice).
_TAKE_COLUMNS = """o.id, o.broadcast, o.recipient, o.language, o.priority, o.attempts,
    CASE WHEN u.opted_out_at IS NOT NULL THEN 'opted_out'
         WHEN NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.msisdn = o.recipient
                          AND s.service = b.service AND s.left_at IS NULL) THEN 'left' END"""
_TAKE_READY = f"""SELECT {_TAKE_COLUMNS}
    FROM outbox o JOIN broadcasts b ON b.id = o.broadcast
    LEFT JOIN subscribers u ON u.msisdn = o.recipient
    WHERE o.carrier = ? AND o.priority = ? AND o.state = 'queued' AND o.not_before IS NULL
      AND o.id > ? ORDER BY o.id LIMIT ?"""
_TAKE_RETRIES = f"""SELECT {_TAKE_COLUMNS}
    FROM outbox o JOIN broadcasts b ON b.id = o.broadcast
    LEFT JOIN subscribers u ON u.msisdn = o.recipient
    WHERE o.carrier = ? AND o.priority = ? AND o.state = 'queued'
      AND o.not_before IS NOT NULL AND o.not_before <= ?
    ORDER BY o.not_before LIMIT ?"""


def _outbox_message(row: Any) -> OutboxMessage:
    id_, broadcast, recipient, language, priority, attempts, excluded = row
    return OutboxMessage(
        id_, broadcast, recipient, language, Priority(priority), attempts, excluded
    )


def take_ready(
    db: sqlite3.Connection, *, carrier: str, priority: Priority, after: int, limit: int
) -> list[OutboxMessage]:
    """Queued messages never tried, oldest first, with ids above ``after``."""
    rows = db.execute(_TAKE_READY, (carrier, int(priority), after, limit)).fetchall()
    return [_outbox_message(row) for row in rows]


def take_retries(
    db: sqlite3.Connection, *, carrier: str, priority: Priority, now: datetime, limit: int
) -> list[OutboxMessage]:
    """Queued messages whose retry is due."""
    rows = db.execute(_TAKE_RETRIES, (carrier, int(priority), timestamp(now), limit)).fetchall()
    return [_outbox_message(row) for row in rows]


def queued_count(db: sqlite3.Connection, broadcast_id: int) -> int:
    row = db.execute(
        "SELECT count(*) FROM outbox WHERE broadcast = ? AND state = 'queued'", (broadcast_id,)
    ).fetchone()
    return int(row[0]) if row else 0


def queued_by_priority(db: sqlite3.Connection) -> dict[Priority, int]:
    """Every broadcast's queued messages, per priority (the metrics' queue depth)."""
    # through the two partial indexes of queued messages: a plain "state = 'queued'" matches
    # neither, and read the whole outbox (150 ms at a million rows, under the store's lock)
    rows = db.execute(
        """SELECT priority, count(*) FROM (
            SELECT priority FROM outbox WHERE state = 'queued' AND not_before IS NULL
            UNION ALL
            SELECT priority FROM outbox WHERE state = 'queued' AND not_before IS NOT NULL)
        GROUP BY priority"""
    ).fetchall()
    return {Priority(priority): count for priority, count in rows}


def expire(db: sqlite3.Connection, broadcast_id: int, *, at: datetime) -> int:
    """Its messages still queued expire (the validity ended)."""
    return db.execute(
        "UPDATE outbox SET state = 'expired', error = 'validity_ended', updated_at = ?"
        " WHERE broadcast = ? AND state = 'queued'",
        (timestamp(at), broadcast_id),
    ).rowcount
