"""Broadcasts and their outbox in SQL: plain functions over the sqlite3 connection, each run in
one trip to the database thread (thread.SqliteThread).

The fan-out copies the audience into the outbox with INSERT … SELECT, a chunk of subscribers
per transaction, walking the audience index in number order from a cursor kept in the
broadcast's row: Python never holds the audience, other writers (receipts, citizens' texts)
get the database between chunks, and a crash resumes from the last committed chunk without
leaving anyone out or adding anyone twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from smsgw.broadcasts.model import (
    Broadcast,
    BroadcastState,
    BroadcastStats,
    OutboxMessage,
    Priority,
)
from smsgw.storage.sqlite.delivery import timestamp

_COLUMNS = """id, service, ministry, texts, segments, encodings, default_language, priority,
    state, send_at, expires_at, audience, cost_estimate, created_by, created_at, updated_at,
    approved_by, approved_at, cancelled_by, cancelled_at, started_at, finished_at"""
_OPEN = "('awaiting_approval', 'scheduled', 'queued', 'sending')"


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _stamp(at: datetime | None) -> str | None:
    return timestamp(at) if at is not None else None


def _broadcast(row: Any) -> Broadcast:
    (id_, service, ministry, texts, segments, encodings, default_language, priority, state,
     send_at, expires_at, audience, cost, created_by, created_at, updated_at, approved_by,
     approved_at, cancelled_by, cancelled_at, started_at, finished_at) = row  # fmt: skip
    return Broadcast(
        id=id_,
        service=service,
        ministry=ministry,
        texts=json.loads(texts),
        segments=json.loads(segments),
        encodings=json.loads(encodings),
        default_language=default_language,
        priority=Priority(priority),
        state=BroadcastState(state),
        send_at=_time(send_at),
        expires_at=datetime.fromisoformat(expires_at),
        audience=audience,
        cost_estimate=cost,
        created_by=created_by,
        created_at=datetime.fromisoformat(created_at),
        updated_at=datetime.fromisoformat(updated_at),
        approved_by=approved_by,
        approved_at=_time(approved_at),
        cancelled_by=cancelled_by,
        cancelled_at=_time(cancelled_at),
        started_at=_time(started_at),
        finished_at=_time(finished_at),
    )


def add(db: sqlite3.Connection, b: Broadcast) -> int:
    cursor = db.execute(
        """INSERT INTO broadcasts (service, ministry, texts, segments, encodings,
            default_language, priority, state, send_at, expires_at, cost_estimate, created_by,
            created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        (
            b.service, b.ministry, json.dumps(b.texts, ensure_ascii=False),
            json.dumps(b.segments), json.dumps(b.encodings), b.default_language,
            int(b.priority), b.state.value, _stamp(b.send_at), timestamp(b.expires_at),
            b.cost_estimate, b.created_by, timestamp(b.created_at), timestamp(b.updated_at),
        ),
    )  # fmt: skip
    assert cursor.lastrowid is not None  # noqa: S101 - an INSERT into a rowid table
    return cursor.lastrowid


def get(db: sqlite3.Connection, broadcast_id: int) -> Broadcast | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM broadcasts WHERE id = ?", (broadcast_id,)).fetchone()  # noqa: S608
    return _broadcast(row) if row else None


def listing(
    db: sqlite3.Connection, *, ministry: str | None, before: int | None, limit: int
) -> list[Broadcast]:
    """Newest first; ``ministry`` None: every ministry's (compared as officers' scopes are:
    case and surrounding spaces do not matter)."""
    db.create_function("scope", 1, lambda text: text.strip().casefold(), deterministic=True)
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM broadcasts"  # noqa: S608
        " WHERE (?1 IS NULL OR scope(ministry) = scope(?1))"
        " AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
        (ministry, before, limit),
    ).fetchall()
    return [_broadcast(row) for row in rows]


def open_broadcasts(db: sqlite3.Connection) -> list[Broadcast]:
    """Scheduled, queued and sending ones (awaiting approval is left to people)."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM broadcasts"  # noqa: S608
        " WHERE state IN ('scheduled', 'queued', 'sending') ORDER BY priority, id"
    ).fetchall()
    return [_broadcast(row) for row in rows]


def approve(
    db: sqlite3.Connection,
    broadcast_id: int,
    *,
    by: str,
    at: datetime,
    state: BroadcastState,
    expires_at: datetime,
) -> bool:
    cursor = db.execute(
        "UPDATE broadcasts SET state = ?, approved_by = ?, approved_at = ?, updated_at = ?,"
        " expires_at = ? WHERE id = ? AND state = 'awaiting_approval'",
        (state.value, by, timestamp(at), timestamp(at), timestamp(expires_at), broadcast_id),
    )
    return cursor.rowcount == 1


def cancel(db: sqlite3.Connection, broadcast_id: int, *, by: str, at: datetime) -> int | None:
    """Cancels an open broadcast and its messages still queued (how many: None if it was not
    open). Messages already handed to a bind may still go out; their receipts then show."""
    stamp = timestamp(at)
    cursor = db.execute(
        f"UPDATE broadcasts SET state = 'cancelled', cancelled_by = ?, cancelled_at = ?,"  # noqa: S608
        f" updated_at = ? WHERE id = ? AND state IN {_OPEN}",
        (by, stamp, stamp, broadcast_id),
    )
    if cursor.rowcount != 1:
        return None
    cursor = db.execute(
        "UPDATE outbox SET state = 'cancelled', error = 'cancelled', updated_at = ?"
        " WHERE broadcast = ? AND state = 'queued'",
        (stamp, broadcast_id),
    )
    return cursor.rowcount


def set_state(
    db: sqlite3.Connection,
    broadcast_id: int,
    state: BroadcastState,
    *,
    at: datetime,
    started: bool = False,
    finished: bool = False,
) -> bool:
    """Moves an open broadcast on (a cancelled one stays cancelled)."""
    stamp = timestamp(at)
    cursor = db.execute(
        f"""UPDATE broadcasts SET state = ?, updated_at = ?,
            started_at = CASE WHEN ? THEN coalesce(started_at, ?) ELSE started_at END,
            finished_at = CASE WHEN ? THEN ? ELSE finished_at END
            WHERE id = ? AND state IN {_OPEN}""",  # noqa: S608
        (state.value, stamp, started, stamp, finished, stamp, broadcast_id),
    )
    return cursor.rowcount == 1


def audience_by_language(
    db: sqlite3.Connection, service: str, languages: list[str], default: str
) -> dict[str, int]:
    """Active subscribers of ``service`` (global opt-outs excluded) by the language they would
    get: their own when it is one of ``languages``, else ``default``."""
    counts: dict[str, int] = {}
    rows = db.execute(
        """SELECT u.language, count(*) FROM subscriptions s
            JOIN subscribers u ON u.msisdn = s.msisdn
            WHERE s.service = ? AND s.left_at IS NULL AND u.opted_out_at IS NULL
            GROUP BY u.language""",
        (service,),
    ).fetchall()
    for language, count in rows:
        key = language if language in languages else default
        counts[key] = counts.get(key, 0) + count
    return counts


_NEXT_BOUNDARY = """SELECT msisdn FROM subscriptions
    WHERE service = ? AND left_at IS NULL AND msisdn > ? ORDER BY msisdn LIMIT 1 OFFSET ?"""
# carrier_of(number): the router's, registered on the connection for the statement (called
# once per row: the CTE is materialised). The upper bound is a plain comparison so that the
# index scan stops there (an "?8 IS NULL OR" form made every chunk read to the audience's end).
_FAN_OUT = """WITH chunk AS MATERIALIZED (
        SELECT s.msisdn, u.language, carrier_of(s.msisdn) AS carrier
        FROM subscriptions s JOIN subscribers u ON u.msisdn = s.msisdn
        WHERE s.service = ?6 AND s.left_at IS NULL AND u.opted_out_at IS NULL
          AND s.msisdn > ?7 AND s.msisdn <= ?8
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
    row = db.execute("SELECT fanout_cursor FROM broadcasts WHERE id = ?", (b.id,)).fetchone()
    cursor = (row[0] if row else None) or ""
    boundary_row = db.execute(_NEXT_BOUNDARY, (b.service, cursor, chunk - 1)).fetchone()
    boundary = boundary_row[0] if boundary_row else None
    db.create_function("carrier_of", 1, carrier_of, deterministic=True)
    languages = "," + ",".join(b.texts) + ","
    db.execute(
        _FAN_OUT,
        (b.id, languages, b.default_language, int(b.priority), timestamp(at), b.service,
         cursor, boundary or _END),
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
      AND o.id > ? ORDER BY o.id LIMIT ?"""  # noqa: S608
_TAKE_RETRIES = f"""SELECT {_TAKE_COLUMNS}
    FROM outbox o JOIN broadcasts b ON b.id = o.broadcast
    LEFT JOIN subscribers u ON u.msisdn = o.recipient
    WHERE o.carrier = ? AND o.priority = ? AND o.state = 'queued'
      AND o.not_before IS NOT NULL AND o.not_before <= ?
    ORDER BY o.not_before LIMIT ?"""  # noqa: S608


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


_PERCENTILE = """SELECT (julianday(done_at) - julianday(submitted_at)) * 86400.0 AS latency
    FROM outbox WHERE broadcast = ? AND state = 'delivered' AND submitted_at IS NOT NULL
    ORDER BY latency LIMIT 1 OFFSET ?"""


def stats(db: sqlite3.Connection, broadcast_id: int) -> BroadcastStats:
    by_state = dict(
        db.execute(
            "SELECT state, count(*) FROM outbox WHERE broadcast = ? GROUP BY state",
            (broadcast_id,),
        ).fetchall()
    )
    delivered = by_state.get("delivered", 0)
    p50 = p95 = None
    if delivered:
        p50 = db.execute(_PERCENTILE, (broadcast_id, (delivered - 1) // 2)).fetchone()[0]
        p95 = db.execute(_PERCENTILE, (broadcast_id, (delivered * 95 - 1) // 100)).fetchone()[0]
    first, last = db.execute(
        "SELECT min(submitted_at), max(submitted_at) FROM outbox WHERE broadcast = ?",
        (broadcast_id,),
    ).fetchone()
    return BroadcastStats(by_state, p50, p95, _time(first), _time(last))
