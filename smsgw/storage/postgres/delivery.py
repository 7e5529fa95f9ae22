"""Recording a delivery batch in PostgreSQL: set-based statements over arrays, a handful per
batch, none per row (the SQLite backend's sqlite/delivery.py, in the same order).

Order inside one batch: new messages; segments (so a receipt in the same batch finds its part)
and the states of their messages; receipts (early ones kept earlier, by this gateway or
another, are pulled back when their part arrives) and the states of the messages they touched,
recomputed in one statement; the sender's outcomes; inbound texts.

Several gateways share the database: a receipt kept as unmatched by one and its part recorded
at the same moment by another would each miss the other's uncommitted row, and the receipt would
never match. A batch that records parts takes one advisory lock shared, a batch that may keep
unmatched receipts takes it exclusive: whichever commits second sees the other's rows. The lock
is the batch's first statement, before any row lock, so waiting for it closes no deadlock cycle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial

from channels.base import DeliveryReceipt, ReceiptState, SegmentSubmitted
from smsgw.delivery.message import DeliveryBatch, DroppedReceipt
from smsgw.delivery.store import MESSAGE_CLAIM
from smsgw.storage.postgres.access import append_audits
from smsgw.storage.postgres.db import Conn, Database

Segment = tuple[str, SegmentSubmitted, float]  # (carrier, segment, at)

_UNMATCHED_LOCK = 0x736D7275  # "smru": keeping unmatched receipts vs recording their parts

# The SQL below spells out receipt states (channels.base.ReceiptState): intermediate ones are
# 'accepted' and 'enroute'; 'undeliverable', 'expired', 'rejected', 'unknown', 'deleted' fail.
_LOCK = """SELECT CASE WHEN EXISTS (
        SELECT 1 FROM unnest($1::text[], $2::text[]) AS r (carrier, carrier_id)
        WHERE NOT EXISTS (SELECT 1 FROM message_parts p
                          WHERE p.carrier = r.carrier AND p.carrier_id = r.carrier_id))
    THEN pg_advisory_xact_lock($3) WHEN $4 THEN pg_advisory_xact_lock_shared($3) END"""
# $16, $17: the gateway making them holds them (claimed_by, for claimed_until): it sends them
_INSERT_MESSAGES = """WITH new AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                             $6::integer[], $7::text[], $8::text[], $9::text[],
                             $10::timestamptz[], $11::timestamptz[], $12::timestamptz[],
                             $13::text[], $14::text[], $15::text[])
        AS m (id, recipient, sender, text, state, parts, encoding, channel, error, created_at,
              updated_at, expires_at, created_by, callback_url, carrier)),
    stored AS (INSERT INTO messages (id, recipient, sender, text, state, parts, encoding, channel,
                                     error, created_at, updated_at, expires_at, created_by,
                                     callback_url, carrier, claimed_by, claimed_until)
               SELECT *, $16::text, CASE WHEN $16::text IS NOT NULL THEN now() + $17::interval END
               FROM new)
    INSERT INTO message_events (message_id, at, state) SELECT id, created_at, state FROM new"""
# What SQLite's INSERT OR REPLACE of a part does first: drop the rows it would conflict with, on
# the part or on the carrier's id (both unique); and, under the lock, take back the receipts
# kept for these carrier ids, oldest first. Three deletes of one statement, one snapshot.
_CLEAR_PARTS = """WITH s AS (
        SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[])
        AS s (message_id, part, carrier, carrier_id)),
    by_part AS (DELETE FROM message_parts p USING s
                WHERE p.message_id = s.message_id AND p.part = s.part),
    by_carrier AS (DELETE FROM message_parts p USING s
                   WHERE p.carrier = s.carrier AND p.carrier_id = s.carrier_id),
    pulled AS (DELETE FROM unmatched_receipts u USING (SELECT DISTINCT carrier, carrier_id FROM s) k
               WHERE u.carrier = k.carrier AND u.carrier_id = k.carrier_id
               RETURNING u.id, u.carrier, u.carrier_id, u.state, u.error, u.received_at)
    SELECT carrier, carrier_id, state, error, received_at FROM pulled ORDER BY id"""
_INSERT_PARTS = """INSERT INTO message_parts
        (message_id, part, parts, carrier, carrier_id, channel, state, updated_at, submitted_at)
    SELECT message_id, part, parts, carrier, carrier_id, channel, 'submitted', at, at
    FROM unnest($1::text[], $2::integer[], $3::integer[], $4::text[], $5::text[], $6::text[],
                $7::timestamptz[])
    AS s (message_id, part, parts, carrier, carrier_id, channel, at)"""
# One statement, one snapshot: the history reads the parts as they were (an early receipt is
# dated no earlier than its part: the history then reads submitted before delivered); per part,
# the last final receipt wins over any intermediate one (receipts can come out of order);
# receipts with no part are kept (not those pulled back: they had one). Returns the messages
# touched.
_APPLY_RECEIPTS = """WITH r AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                             $6::boolean[])
        WITH ORDINALITY AS r (carrier, carrier_id, state, error, at, pulled, seq)),
    matched AS (SELECT r.*, p.message_id, p.part, p.parts, p.updated_at AS part_at
                FROM r JOIN message_parts p USING (carrier, carrier_id)),
    history AS (INSERT INTO message_events (message_id, at, state, detail)
                SELECT message_id, greatest(at, part_at), state,
                       'part ' || part || '/' || parts || coalesce(', error ' || error, '')
                FROM matched
                WHERE (parts > 1 OR state IN ('accepted', 'enroute')) AND left(message_id, 1) <> 'o'
                ORDER BY seq),
    latest AS (SELECT DISTINCT ON (carrier, carrier_id) carrier, carrier_id, state, error, at
               FROM r ORDER BY carrier, carrier_id, state NOT IN ('accepted', 'enroute') DESC,
                               seq DESC),
    parts AS (UPDATE message_parts AS p
              SET state = l.state, error = l.error, updated_at = greatest(l.at, p.updated_at)
              FROM latest l WHERE p.carrier = l.carrier AND p.carrier_id = l.carrier_id
                AND p.state IN ('submitted', 'accepted', 'enroute')),
    kept AS (INSERT INTO unmatched_receipts (carrier, carrier_id, state, error, received_at)
             SELECT carrier, carrier_id, state, error, at FROM r
             WHERE NOT pulled AND NOT EXISTS (SELECT 1 FROM matched m WHERE m.seq = r.seq)
             ORDER BY seq)
    SELECT DISTINCT message_id FROM matched"""
# A message is delivered when all its parts are, failed when any part failed finally; receipt
# states "unknown" and "deleted" have no message state of their own: they count as failed.
# 'unknown' (no final receipt by the end of its validity) is final, but a late receipt says
# what happened after all. A broadcast's message (outbox, "o<id>") counts as submitted once all
# its parts are: until then a crash leaves it queued, to be sent again whole. It may leave
# cancelled or expired: those are set in bulk, and a message already handed to a bind still
# went out. Text maxima in byte order (COLLATE "C"), as SQLite compares.
_RECOMPUTE = """WITH a AS (
        SELECT message_id, channel, at, submitted,
               CASE WHEN failure IN ('unknown', 'deleted') THEN 'failed'
                    WHEN failure IS NOT NULL THEN failure
                    WHEN delivered = parts AND known = parts THEN 'delivered'
                    WHEN known < parts THEN 'partly_submitted'
                    ELSE 'submitted' END AS state,
               CASE WHEN failure IS NOT NULL THEN coalesce(failure_error, failure) END AS error,
               CASE WHEN left(message_id, 1) = 'o' THEN substr(message_id, 2)::bigint END
                 AS outbox_id
        FROM (SELECT message_id, max(channel COLLATE "C") AS channel, max(updated_at) AS at,
                     max(submitted_at) AS submitted, max(parts) AS parts, count(*) AS known,
                     count(*) FILTER (WHERE state = 'delivered') AS delivered,
                     max(state COLLATE "C") FILTER (WHERE state IN (
                         'undeliverable', 'expired', 'rejected', 'unknown', 'deleted'))
                       AS failure,
                     max(error COLLATE "C") FILTER (WHERE state IN (
                         'undeliverable', 'expired', 'rejected', 'unknown', 'deleted'))
                       AS failure_error
              -- joined to the ids, not "= ANY": without fresh statistics the planner takes
              -- ANY of a few hundred ids for much of the table, and scans it whole each batch
              FROM unnest($1::text[]) AS k (id)
              JOIN message_parts ON message_parts.message_id = k.id
              GROUP BY message_id) AS g),
    changed AS (UPDATE messages AS m
                SET state = replace(a.state, 'partly_submitted', 'submitted'), error = a.error,
                    channel = a.channel, updated_at = a.at
                FROM a WHERE m.id = a.message_id AND a.outbox_id IS NULL
                  AND m.state IN ('queued', 'submitted', 'unknown')
                  AND m.state <> replace(a.state, 'partly_submitted', 'submitted')
                RETURNING m.id, m.state, m.error, m.channel, m.updated_at),
    outbox AS (UPDATE outbox AS o
               SET state = a.state, error = a.error, channel = a.channel, not_before = NULL,
                   submitted_at = coalesce(o.submitted_at, a.submitted),
                   done_at = CASE WHEN a.state <> 'submitted' THEN a.at END, updated_at = a.at
               FROM a WHERE o.id = a.outbox_id AND a.state <> 'partly_submitted'
                 AND o.state IN ('queued', 'submitted', 'cancelled', 'expired')
                 AND o.state <> a.state)
    INSERT INTO message_events (message_id, at, state, detail)
    SELECT id, updated_at, state, CASE WHEN state = 'submitted' THEN channel ELSE error END
    FROM changed"""
_OUTCOME_STATE = """UPDATE messages SET state = $1, error = $2, updated_at = $3
    WHERE id = $4 AND state IN ('queued', 'submitted')"""
_OUTBOX_OUTCOME = """UPDATE outbox SET state = $1, error = $2, not_before = $3,
    attempts = attempts + $4, updated_at = $5 WHERE id = $6 AND state = 'queued'"""
_EVENTS = """INSERT INTO message_events (message_id, at, state, detail)
    SELECT message_id, at, state, detail
    FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[])
    WITH ORDINALITY AS e (message_id, at, state, detail, n) ORDER BY n"""
_INBOUND = """INSERT INTO inbound (id, sender, recipient, text, channel, carrier_ids, received_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::timestamptz[])"""
# Messages a receipt or another gateway's settling holds are skipped: the next round has them
_UNCONFIRMED = """WITH due AS (
        SELECT id FROM messages WHERE state = 'submitted' AND expires_at < $2
        LIMIT 5000 FOR UPDATE SKIP LOCKED),
    settled AS (UPDATE messages AS m SET state = 'unknown', error = 'no_receipt', updated_at = $1
                FROM due WHERE m.id = due.id RETURNING m.id),
    history AS (INSERT INTO message_events (message_id, at, state, detail)
                SELECT id, $1, 'unknown', 'no final receipt by the end of its validity'
                FROM settled)
    SELECT id FROM settled"""
_PURGE = """WITH dropped AS (
        DELETE FROM unmatched_receipts WHERE received_at < $1
        RETURNING id, carrier, carrier_id, state, received_at)
    SELECT carrier, carrier_id, state, received_at FROM dropped ORDER BY id"""


class PgDeliveryLog:
    """Implements DeliveryLog: each batch in its own transaction."""

    def __init__(
        self, db: Database, *, instance: str | None = None, claim: timedelta = MESSAGE_CLAIM
    ) -> None:
        """``instance``: the gateway that records; it holds the new messages it stores for
        ``claim`` (the sender sends them, renews its claims, or releases those it has no bind
        for)."""
        self._instance = instance
        self._claim = claim
        self._db = db

    async def record(self, batch: DeliveryBatch) -> None:
        await self._db.write(
            partial(_record, batch=batch, instance=self._instance, claim=self._claim)
        )

    async def purge_unmatched(self, before: datetime) -> list[DroppedReceipt]:
        return await self._db.write(partial(_purge, before=before))

    async def settle_unconfirmed(self, expired_before: datetime) -> list[str]:
        now = datetime.now(UTC)
        return await self._db.write(partial(_settle, now=now, before=expired_before))


async def _purge(conn: Conn, *, before: datetime) -> list[DroppedReceipt]:
    rows = await conn.fetch(_PURGE, before)
    return [DroppedReceipt(row[0], row[1], row[2], row[3]) for row in rows]


async def _settle(conn: Conn, *, now: datetime, before: datetime) -> list[str]:
    return [row[0] for row in await conn.fetch(_UNCONFIRMED, now, before)]


def _time(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _error(receipt: DeliveryReceipt) -> str | None:
    """The carrier's error code, dropped for deliveries (they say "000": no error)."""
    return None if receipt.state is ReceiptState.DELIVERED else receipt.error


async def _record(
    conn: Conn, *, batch: DeliveryBatch, instance: str | None, claim: timedelta
) -> None:
    await _lock(conn, batch)
    if batch.messages:
        await _insert_messages(conn, batch, instance, claim)
    if batch.audit:
        await append_audits(conn, batch.audit)
    receipts: list[tuple[object, ...]] = []
    if batch.segments:
        receipts = await _insert_segments(conn, batch.segments)
    receipts += [
        (carrier, r.carrier_id, str(r.state), _error(r), _time(at), False)
        for carrier, r, at in batch.receipts
    ]
    if receipts:
        touched = await conn.fetch(_APPLY_RECEIPTS, *_columns(receipts, 6))
        await _recompute(conn, [row[0] for row in touched])
    if batch.outcomes:
        await _apply_outcomes(conn, batch)
    if batch.outbox:
        await conn.executemany(
            _OUTBOX_OUTCOME,
            [
                (str(o.state), o.error, o.not_before, int(o.attempted), _time(at), o.id)
                for o, at in batch.outbox
            ],
        )
    if batch.inbound:
        rows = [
            (id_, s.sender, s.to, s.text, s.channel, json.dumps(s.carrier_ids), _time(at))
            for id_, s, at in batch.inbound
        ]
        await conn.execute(_INBOUND, *_columns(rows, 7))


async def _lock(conn: Conn, batch: DeliveryBatch) -> None:
    """Exclusive if a receipt may be kept unmatched (its part neither stored nor in this batch:
    looked up before the lock, so at worst exclusive for nothing); else shared if the batch
    records parts (it pulls back kept receipts)."""
    recorded = {(carrier, s.carrier_id) for carrier, s, _ in batch.segments}
    loose = {(carrier, r.carrier_id) for carrier, r, _ in batch.receipts} - recorded
    if loose or recorded:
        keys = _columns(list(loose), 2)
        await conn.execute(_LOCK, *keys, _UNMATCHED_LOCK, bool(recorded))


async def _insert_messages(
    conn: Conn, batch: DeliveryBatch, instance: str | None, claim: timedelta
) -> None:
    rows = [
        (m.id, m.to, m.sender, m.text, str(m.state), m.parts, m.encoding, m.channel, m.error,
         m.created_at, m.updated_at, m.expires_at, m.created_by, m.callback_url, m.carrier)
        for m in batch.messages
    ]  # fmt: skip
    await conn.execute(_INSERT_MESSAGES, *_columns(rows, 15), instance, claim)


async def _insert_segments(conn: Conn, segments: list[Segment]) -> list[tuple[object, ...]]:
    """Record the parts, and make their messages submitted (before any receipt of this batch is
    applied, so the history reads submitted, then delivered); returns the receipts kept for
    them before, to apply first."""
    keys = [(s.sms_id, s.part, carrier, s.carrier_id) for carrier, s, _ in segments]
    pulled = await conn.fetch(_CLEAR_PARTS, *_columns(keys, 4))
    rows = [
        (s.sms_id, s.part, s.parts, carrier, s.carrier_id, s.channel, _time(at))
        for carrier, s, at in _replaced(segments)
    ]
    await conn.execute(_INSERT_PARTS, *_columns(rows, 7))
    await _recompute(conn, list({s.sms_id for _, s, _ in segments}))
    return [(*row, True) for row in pulled]


def _replaced(segments: list[Segment]) -> list[Segment]:
    """The segments left once each has replaced the earlier ones it conflicts with, on its part
    or on its carrier id (a part sent again, whose two submit responses share a batch)."""
    kept: dict[int, Segment] = {}
    by_part: dict[tuple[str, int], int] = {}
    by_carrier: dict[tuple[str, str], int] = {}
    for n, (carrier, s, at) in enumerate(segments):
        for earlier in (by_part.get((s.sms_id, s.part)), by_carrier.get((carrier, s.carrier_id))):
            if earlier is not None:
                kept.pop(earlier, None)
        by_part[s.sms_id, s.part] = by_carrier[carrier, s.carrier_id] = n
        kept[n] = (carrier, s, at)
    return list(kept.values())


async def _recompute(conn: Conn, message_ids: list[str]) -> None:
    if message_ids:
        await conn.execute(_RECOMPUTE, message_ids)


async def _apply_outcomes(conn: Conn, batch: DeliveryBatch) -> None:
    """Each in turn (executemany: one statement per row, sent together): the first that ends a
    message wins, as the later ones find it no longer queued or submitted."""
    rows = [(o, _time(at)) for o, at in batch.outcomes]
    updates = [(str(o.state), o.detail, at, o.message_id) for o, at in rows if o.state is not None]
    if updates:
        await conn.executemany(_OUTCOME_STATE, updates)
    events = [(o.message_id, at, o.event, o.detail) for o, at in rows]
    await conn.execute(_EVENTS, *_columns(events, 4))


def _columns(rows: Sequence[Sequence[object]], width: int) -> list[list[object]]:
    """Rows as columns, one array parameter each (``width`` given: no rows, empty arrays)."""
    return [[row[i] for row in rows] for i in range(width)]
