"""Recording a delivery batch in SQL: set-based statements, a handful per batch, none per row.

Order inside one batch: new messages; segments (so a receipt in the same batch finds its part)
and the states of their messages; receipts (early ones kept earlier are pulled back when their
part arrives) and the states of the messages they touched, recomputed in one statement; the
sender's outcomes; inbound texts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

import aiosqlite

from channels.base import DeliveryReceipt, ReceiptState
from smsgw.delivery.message import DeliveryBatch, DroppedReceipt
from smsgw.storage.sqlite.access import append_audit
from smsgw.storage.sqlite.thread import SqliteThread, in_transaction
from smsgw.storage.sqlite.times import timestamp

T = TypeVar("T")

# The SQL below spells out receipt states (channels.base.ReceiptState): intermediate ones are
# 'accepted' and 'enroute'; 'undeliverable', 'expired', 'rejected', 'unknown', 'deleted' fail.
_TEMP_TABLES = (
    """CREATE TEMP TABLE IF NOT EXISTS batch_receipts (
        seq INTEGER PRIMARY KEY, carrier TEXT, carrier_id TEXT, state TEXT, error TEXT,
        at TEXT, unmatched_id INTEGER)""",
    "CREATE TEMP TABLE IF NOT EXISTS touched (message_id TEXT PRIMARY KEY) WITHOUT ROWID",
)

_INSERT_MESSAGE = """INSERT INTO messages (id, recipient, sender, text, state, parts, encoding,
    channel, error, created_at, updated_at, expires_at, created_by, callback_url, carrier)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"""
_INSERT_PART = """INSERT OR REPLACE INTO message_parts
    (message_id, part, parts, carrier, carrier_id, channel, state, updated_at, submitted_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'submitted', ?7, ?7)"""
_PULL_EARLY = """INSERT INTO batch_receipts (carrier, carrier_id, state, error, at, unmatched_id)
    SELECT carrier, carrier_id, state, error, received_at, id FROM unmatched_receipts
    WHERE carrier = ? AND carrier_id = ? ORDER BY id"""
_PART_HISTORY = """INSERT INTO message_events (message_id, at, state, detail)
    SELECT p.message_id, max(r.at, p.updated_at), r.state,
           'part ' || p.part || '/' || p.parts || coalesce(', error ' || r.error, '')
    FROM batch_receipts r JOIN message_parts p USING (carrier, carrier_id)
    WHERE (p.parts > 1 OR r.state IN ('accepted', 'enroute'))
      AND substr(p.message_id, 1, 1) != 'o'
    ORDER BY r.seq"""
# An early receipt (before its submit response) is dated no earlier than its part: the history
# then reads submitted before delivered. Per part, the last final receipt of the batch wins over
# any intermediate one (receipts can come out of order).
_UPDATE_PARTS = """UPDATE message_parts AS p
    SET state = r.state, error = r.error, updated_at = max(r.at, p.updated_at)
    FROM (SELECT carrier, carrier_id, state, error, at,
                 max((state NOT IN ('accepted', 'enroute')) * 1000000000000 + seq)
          FROM batch_receipts GROUP BY carrier, carrier_id) AS r
    WHERE p.carrier = r.carrier AND p.carrier_id = r.carrier_id
      AND p.state IN ('submitted', 'accepted', 'enroute')"""
_KEEP_UNMATCHED = """INSERT INTO unmatched_receipts (carrier, carrier_id, state, error, received_at)
    SELECT r.carrier, r.carrier_id, r.state, r.error, r.at FROM batch_receipts r
    WHERE r.unmatched_id IS NULL AND NOT EXISTS (
        SELECT 1 FROM message_parts p WHERE p.carrier = r.carrier AND p.carrier_id = r.carrier_id)
    ORDER BY r.seq"""
# A message is delivered when all its parts are, failed when any part failed finally; receipt
# states "unknown" and "deleted" have no message state of their own: they count as failed.
_PARTS_BY_MESSAGE = """SELECT message_id, channel, at, submitted,
                 CASE WHEN failure IN ('unknown', 'deleted') THEN 'failed'
                      WHEN failure IS NOT NULL THEN failure
                      WHEN delivered = parts AND known = parts THEN 'delivered'
                      WHEN known < parts THEN 'partly_submitted'
                      ELSE 'submitted' END AS state,
                 CASE WHEN failure IS NOT NULL THEN coalesce(failure_error, failure) END AS error
          FROM (SELECT message_id, max(channel) AS channel, max(updated_at) AS at,
                       max(submitted_at) AS submitted, max(parts) AS parts,
                       count(*) AS known, sum(state = 'delivered') AS delivered,
                       max(CASE WHEN state IN ('undeliverable', 'expired', 'rejected',
                                               'unknown', 'deleted') THEN state END) AS failure,
                       max(CASE WHEN state IN ('undeliverable', 'expired', 'rejected',
                                               'unknown', 'deleted') THEN error END)
                         AS failure_error
                FROM message_parts WHERE message_id IN (SELECT message_id FROM touched
                                                        WHERE substr(message_id, 1, 1) {kind})
                GROUP BY message_id)"""
# A message is delivered when all its parts are, failed when any part failed finally; receipt
# states "unknown" and "deleted" have no message state of their own: they count as failed.
# 'unknown' (no final receipt by the end of its validity) is final, but a late receipt says
# what happened after all.
_RECOMPUTE = f"""UPDATE messages AS m
    SET state = replace(a.state, 'partly_submitted', 'submitted'), error = a.error,
        channel = a.channel, updated_at = a.at
    FROM ({_PARTS_BY_MESSAGE.format(kind="!= 'o'")}) AS a
    WHERE m.id = a.message_id AND m.state IN ('queued', 'submitted', 'unknown')
      AND m.state != replace(a.state, 'partly_submitted', 'submitted')
    RETURNING id, state, error, channel, updated_at"""
# A broadcast's message (outbox) counts as submitted once all its parts are: until then a
# crash leaves it queued, to be sent again whole. It may leave cancelled or expired: those
# are set in bulk, and a message already handed to a bind still went out.
_RECOMPUTE_OUTBOX = f"""UPDATE outbox AS o
    SET state = a.state, error = a.error, channel = a.channel, not_before = NULL,
        submitted_at = coalesce(o.submitted_at, a.submitted),
        done_at = CASE WHEN a.state != 'submitted' THEN a.at END, updated_at = a.at
    FROM ({_PARTS_BY_MESSAGE.format(kind="= 'o'")}) AS a
    WHERE o.id = CAST(substr(a.message_id, 2) AS INTEGER) AND a.state != 'partly_submitted'
      AND o.state IN ('queued', 'submitted', 'cancelled', 'expired') AND o.state != a.state"""
_OUTCOME_STATE = """UPDATE messages SET state = ?, error = ?, updated_at = ?
    WHERE id = ? AND state IN ('queued', 'submitted')"""
_OUTBOX_OUTCOME = """UPDATE outbox SET state = ?, error = ?, not_before = ?,
    attempts = attempts + ?, updated_at = ? WHERE id = ? AND state = 'queued'"""
_UNCONFIRMED = """UPDATE messages SET state = 'unknown', error = 'no_receipt', updated_at = ?1
    WHERE id IN (SELECT id FROM messages INDEXED BY messages_unconfirmed
                 WHERE state = 'submitted' AND expires_at < ?2 LIMIT 5000)
    RETURNING id"""
_EVENT = "INSERT INTO message_events (message_id, at, state, detail) VALUES (?, ?, ?, ?)"
_INBOUND = """INSERT INTO inbound (id, sender, recipient, text, channel, carrier_ids, received_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)"""


def _stamp(at: float) -> str:
    return timestamp(datetime.fromtimestamp(at, UTC))


def _error(receipt: DeliveryReceipt) -> str | None:
    """The carrier's error code, dropped for deliveries (they say "000": no error)."""
    return None if receipt.state is ReceiptState.DELIVERED else receipt.error


async def create_temp_tables(conn: aiosqlite.Connection) -> None:
    for statement in _TEMP_TABLES:
        await conn.execute(statement)


class SqliteDeliveryLog:
    """Implements DeliveryLog: each batch in its own transaction, one trip to the thread."""

    def __init__(self, db: SqliteThread, *, unmatched: int) -> None:
        self._db = db
        self._writer = DeliveryWriter(unmatched=unmatched)

    async def record(self, batch: DeliveryBatch) -> None:
        await self._write(partial(self._writer.record, batch=batch))

    async def purge_unmatched(self, before: datetime) -> list[DroppedReceipt]:
        return await self._write(partial(self._writer.purge_unmatched, before=timestamp(before)))

    async def settle_unconfirmed(self, expired_before: datetime) -> list[str]:
        now = timestamp(datetime.now(UTC))
        return await self._write(
            partial(_settle_unconfirmed, now=now, before=timestamp(expired_before))
        )

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` in its own transaction; the count of unmatched receipts is put back when the
        transaction is rolled back.

        The count is saved and put back in the database thread, where ``fn`` changes it: a
        caller cancelled while waiting does not withdraw ``fn`` (thread.run_in_db), which then
        runs whole and commits; put back from here, the count would undo a committed change.
        """
        writer = self._writer

        def counted(db: sqlite3.Connection) -> T:
            unmatched = writer.unmatched
            try:
                return in_transaction(fn, db)
            except BaseException:
                writer.unmatched = unmatched
                raise

        return await self._db.run(counted)


class DeliveryWriter:
    """The SQL of :meth:`SqliteDeliveryLog.record`: plain functions over the sqlite3 connection, run
    in aiosqlite's thread in one trip (thread.run_in_db) inside the caller's transaction."""

    def __init__(self, *, unmatched: int) -> None:
        # rows in unmatched_receipts, so the look-up is skipped when there are none; read and
        # changed only in the connection's thread, put back by the store when a transaction is
        # rolled back
        self.unmatched = unmatched

    def record(self, db: sqlite3.Connection, batch: DeliveryBatch) -> None:
        if batch.messages:
            self._insert_messages(db, batch)
        for entry in batch.audit:
            append_audit(db, entry=entry)
        pulled = 0
        if batch.segments:
            self._insert_segments(db, batch)
            if self.unmatched:
                pulled = self._pull_early(db, batch)
        if batch.receipts:
            db.executemany(
                "INSERT INTO batch_receipts (carrier, carrier_id, state, error, at)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (carrier, r.carrier_id, r.state, _error(r), _stamp(at))
                    for carrier, r, at in batch.receipts
                ],
            )
        if batch.receipts or pulled:
            self._apply_receipts(db)
            _recompute(db)
        if batch.outcomes:
            _apply_outcomes(db, batch)
        if batch.outbox:
            _apply_outbox_outcomes(db, batch)
        if batch.inbound:
            db.executemany(
                _INBOUND,
                [
                    (id_, s.sender, s.to, s.text, s.channel, json.dumps(s.carrier_ids), _stamp(at))
                    for id_, s, at in batch.inbound
                ],
            )

    def _insert_messages(self, db: sqlite3.Connection, batch: DeliveryBatch) -> None:
        rows = [
            (m.id, m.to, m.sender, m.text, m.state, m.parts, m.encoding, m.channel, m.error,
             timestamp(m.created_at), timestamp(m.updated_at), timestamp(m.expires_at),
             m.created_by, m.callback_url, m.carrier)
            for m in batch.messages
        ]  # fmt: skip
        db.executemany(_INSERT_MESSAGE, rows)
        db.executemany(_EVENT, [(row[0], row[9], row[4], None) for row in rows])

    def _insert_segments(self, db: sqlite3.Connection, batch: DeliveryBatch) -> None:
        """Record the parts, and make their messages submitted (before any receipt of this
        batch is applied, so the history reads submitted, then delivered)."""
        db.executemany(
            _INSERT_PART,
            [
                (s.sms_id, s.part, s.parts, carrier, s.carrier_id, s.channel, _stamp(at))
                for carrier, s, at in batch.segments
            ],
        )
        touched = {s.sms_id for _, s, _ in batch.segments}
        db.executemany("INSERT OR IGNORE INTO touched VALUES (?)", [(id_,) for id_ in touched])
        _recompute(db)

    def _pull_early(self, db: sqlite3.Connection, batch: DeliveryBatch) -> int:
        """Receipts kept before their part was known, for the parts of this batch."""
        keys = [(carrier, s.carrier_id) for carrier, s, _ in batch.segments]
        db.executemany(_PULL_EARLY, keys)
        cursor = db.execute(
            "DELETE FROM unmatched_receipts WHERE id IN"
            " (SELECT unmatched_id FROM batch_receipts WHERE unmatched_id IS NOT NULL)"
        )
        self.unmatched -= cursor.rowcount
        return cursor.rowcount

    def _apply_receipts(self, db: sqlite3.Connection) -> None:
        db.execute(_PART_HISTORY)
        db.execute(
            "INSERT OR IGNORE INTO touched SELECT p.message_id"
            " FROM batch_receipts r JOIN message_parts p USING (carrier, carrier_id)"
        )
        db.execute(_UPDATE_PARTS)
        cursor = db.execute(_KEEP_UNMATCHED)
        self.unmatched += cursor.rowcount
        db.execute("DELETE FROM batch_receipts")

    def purge_unmatched(self, db: sqlite3.Connection, before: str) -> list[DroppedReceipt]:
        rows = db.execute(
            "DELETE FROM unmatched_receipts WHERE received_at < ?"
            " RETURNING carrier, carrier_id, state, received_at",
            (before,),
        ).fetchall()
        self.unmatched -= len(rows)
        return [
            DroppedReceipt(carrier, carrier_id, state, datetime.fromisoformat(at))
            for carrier, carrier_id, state, at in rows
        ]


def _recompute(db: sqlite3.Connection) -> None:
    changed = db.execute(_RECOMPUTE).fetchall()
    db.execute(_RECOMPUTE_OUTBOX)
    db.execute("DELETE FROM touched")
    if changed:
        db.executemany(
            _EVENT,
            [
                (id_, at, state, channel if state == "submitted" else error)
                for id_, state, error, channel, at in changed
            ],
        )


def _apply_outcomes(db: sqlite3.Connection, batch: DeliveryBatch) -> None:
    rows = [(o, _stamp(at)) for o, at in batch.outcomes]
    updates = [(o.state, o.detail, at, o.message_id) for o, at in rows if o.state is not None]
    if updates:
        db.executemany(_OUTCOME_STATE, updates)
    db.executemany(_EVENT, [(o.message_id, at, o.event, o.detail) for o, at in rows])


def _apply_outbox_outcomes(db: sqlite3.Connection, batch: DeliveryBatch) -> None:
    """The broadcast dispatcher's outcomes: retries (back to the queue with a time), expiries,
    rejections; a message a bind accepted meanwhile is no longer queued and keeps its state."""
    db.executemany(
        _OUTBOX_OUTCOME,
        [
            (o.state.value, o.error, timestamp(o.not_before) if o.not_before else None,
             int(o.attempted), _stamp(at), o.id)
            for o, at in batch.outbox
        ],
    )  # fmt: skip


def _settle_unconfirmed(db: sqlite3.Connection, *, now: str, before: str) -> list[str]:
    ids = [row[0] for row in db.execute(_UNCONFIRMED, (now, before)).fetchall()]
    db.executemany(
        _EVENT,
        [(id_, now, "unknown", "no final receipt by the end of its validity") for id_ in ids],
    )
    return ids
