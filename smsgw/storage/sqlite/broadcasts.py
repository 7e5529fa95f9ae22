"""Broadcasts in SQL (the BroadcastStore): plain functions over the sqlite3 connection, each
run in one trip to the database thread (thread.SqliteThread). Their outbox is in outbox.py."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from smsgw.broadcasts.model import Broadcast, BroadcastState, BroadcastStats, CarrierProgress
from smsgw.broadcasts.poll import Poll
from smsgw.broadcasts.store import Recipient, RecipientGroup
from smsgw.delivery.outbox import Priority
from smsgw.storage.sqlite import recipients as _recipients
from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import maybe_time, maybe_timestamp, timestamp

_COLUMNS = """id, service, ministry, texts, segments, encodings, default_language, priority,
    state, send_at, expires_at, audience, cost_estimate, created_by, created_at, updated_at,
    approved_by, approved_at, cancelled_by, cancelled_at, started_at, finished_at,
    cancel_reason, joined_at, districts, poll"""
_OPEN = "('awaiting_approval', 'scheduled', 'queued', 'sending')"
_BY_CARRIER = """SELECT coalesce(carrier, 'none'), state, count(*), min(submitted_at)
    FROM outbox WHERE broadcast = ? GROUP BY carrier, state"""


def district_list(districts: tuple[str, ...] | None) -> str | None:
    """The districts as the SQL's instr() looks them up: ",Cayo,Toledo," (names hold no
    comma: config checks)."""
    return None if districts is None else "," + ",".join(districts) + ","


class SqliteBroadcasts:
    """Implements BroadcastStore on the store's connection."""

    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def add_broadcast(self, broadcast: Broadcast) -> int:
        return await self._db.write(partial(add, b=broadcast))

    async def broadcast(self, broadcast_id: int) -> Broadcast | None:
        return await self._db.read(partial(get, broadcast_id=broadcast_id))

    async def broadcasts(
        self,
        *,
        ministry: str | None,
        before: int | None,
        limit: int,
        states: Collection[BroadcastState] | None = None,
    ) -> list[Broadcast]:
        return await self._db.read(
            partial(listing, ministry=ministry, before=before, limit=limit, states=states)
        )

    async def open_broadcasts(self) -> list[Broadcast]:
        return await self._db.read(open_broadcasts)

    async def open_of_service(self, service: str) -> list[Broadcast]:
        return await self._db.read(partial(open_of_service, service=service))

    async def approve_broadcast(
        self,
        broadcast_id: int,
        *,
        by: str,
        at: datetime,
        state: BroadcastState,
        expires_at: datetime,
    ) -> bool:
        return await self._db.write(
            partial(approve, broadcast_id=broadcast_id, by=by, at=at, state=state,
                    expires_at=expires_at)
        )  # fmt: skip

    async def cancel_broadcast(
        self, broadcast_id: int, *, by: str, at: datetime, reason: str | None = None
    ) -> int | None:
        return await self._db.write(
            partial(cancel, broadcast_id=broadcast_id, by=by, at=at, reason=reason)
        )

    async def set_broadcast_state(
        self,
        broadcast_id: int,
        state: BroadcastState,
        *,
        at: datetime,
        started: bool = False,
        finished: bool = False,
    ) -> bool:
        return await self._db.write(
            partial(set_state, broadcast_id=broadcast_id, state=state, at=at, started=started,
                    finished=finished)
        )  # fmt: skip

    async def audience_by_language(
        self, service: str, languages: list[str], default: str,
        districts: tuple[str, ...] | None = None,
    ) -> dict[str, int]:  # fmt: skip
        return await self._db.scan(
            partial(audience_by_language, service=service, languages=languages, default=default,
                    districts=districts)
        )  # fmt: skip

    async def started_since(self, since: datetime) -> list[Broadcast]:
        return await self._db.read(partial(started_since, since=since))

    async def broadcast_stats(self, broadcast_id: int) -> BroadcastStats:
        # for people to look at (a broadcast's page, the list): a report, not a send's scan
        return await self._db.report(partial(stats, broadcast_id=broadcast_id))

    async def carrier_progress(self, broadcast_id: int) -> CarrierProgress:
        rows = await self._db.report(lambda db: db.execute(_BY_CARRIER, (broadcast_id,)).fetchall())
        return CarrierProgress.of(
            (carrier, state, count, maybe_time(first)) for carrier, state, count, first in rows
        )

    def recipients(
        self, broadcast_id: int, *, batch: int = 5000
    ) -> AsyncIterator[Sequence[Recipient]]:
        return _recipients.recipients(self._db, broadcast_id, batch=batch)

    async def recipient_groups(self, broadcast_id: int) -> list[RecipientGroup]:
        return await _recipients.recipient_groups(self._db, broadcast_id)


def _broadcast(row: Any) -> Broadcast:
    (id_, service, ministry, texts, segments, encodings, default_language, priority, state,
     send_at, expires_at, audience, cost, created_by, created_at, updated_at, approved_by,
     approved_at, cancelled_by, cancelled_at, started_at, finished_at,
     cancel_reason, joined_at, districts, poll) = row  # fmt: skip
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
        send_at=maybe_time(send_at),
        expires_at=datetime.fromisoformat(expires_at),
        audience=audience,
        cost_estimate=cost,
        created_by=created_by,
        created_at=datetime.fromisoformat(created_at),
        updated_at=datetime.fromisoformat(updated_at),
        approved_by=approved_by,
        approved_at=maybe_time(approved_at),
        cancelled_by=cancelled_by,
        cancelled_at=maybe_time(cancelled_at),
        started_at=maybe_time(started_at),
        finished_at=maybe_time(finished_at),
        cancel_reason=cancel_reason,
        joined_at=maybe_time(joined_at),
        districts=None if districts is None else tuple(json.loads(districts)),
        poll=None if poll is None else Poll.from_json(json.loads(poll)),
    )


def add(db: sqlite3.Connection, b: Broadcast) -> int:
    cursor = db.execute(
        """INSERT INTO broadcasts (service, ministry, texts, segments, encodings,
            default_language, priority, state, send_at, expires_at, cost_estimate, created_by,
            created_at, updated_at, joined_at, districts, poll)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        (
            b.service, b.ministry, json.dumps(b.texts, ensure_ascii=False),
            json.dumps(b.segments), json.dumps(b.encodings), b.default_language,
            int(b.priority), b.state.value, maybe_timestamp(b.send_at), timestamp(b.expires_at),
            b.cost_estimate, b.created_by, timestamp(b.created_at), timestamp(b.updated_at),
            maybe_timestamp(b.joined_at),
            None if b.districts is None else json.dumps(b.districts, ensure_ascii=False),
            None if b.poll is None else json.dumps(b.poll.to_json(), ensure_ascii=False),
        ),
    )  # fmt: skip
    assert cursor.lastrowid is not None  # noqa: S101 - an INSERT into a rowid table
    return cursor.lastrowid


def started_since(db: sqlite3.Connection, since: datetime) -> list[Broadcast]:
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM broadcasts WHERE started_at >= ? ORDER BY started_at DESC",
        (timestamp(since),),
    ).fetchall()
    return [_broadcast(row) for row in rows]


def get(db: sqlite3.Connection, broadcast_id: int) -> Broadcast | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM broadcasts WHERE id = ?", (broadcast_id,)).fetchone()
    return _broadcast(row) if row else None


def listing(
    db: sqlite3.Connection,
    *,
    ministry: str | None,
    before: int | None,
    limit: int,
    states: Collection[BroadcastState] | None = None,
) -> list[Broadcast]:
    """Newest first; ``ministry`` None: every ministry's (compared as officers' scopes are:
    case and surrounding spaces do not matter); ``states`` None: in any."""
    db.create_function("scope", 1, lambda text: text.strip().casefold(), deterministic=True)
    wanted = None if states is None else "," + ",".join(s.value for s in states) + ","
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM broadcasts"
        " WHERE (?1 IS NULL OR scope(ministry) = scope(?1))"
        " AND (?2 IS NULL OR id < ?2) AND (?4 IS NULL OR instr(?4, ',' || state || ',') > 0)"
        " ORDER BY id DESC LIMIT ?3",
        (ministry, before, limit, wanted),
    ).fetchall()
    return [_broadcast(row) for row in rows]


def open_of_service(db: sqlite3.Connection, service: str) -> list[Broadcast]:
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM broadcasts WHERE service = ? AND state IN {_OPEN} ORDER BY id",
        (service,),
    ).fetchall()
    return [_broadcast(row) for row in rows]


def open_broadcasts(db: sqlite3.Connection) -> list[Broadcast]:
    """Scheduled, queued and sending ones (awaiting approval is left to people)."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM broadcasts"
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


def cancel(
    db: sqlite3.Connection, broadcast_id: int, *, by: str, at: datetime, reason: str | None
) -> int | None:
    """Cancels an open broadcast and its messages still queued (how many: None if it was not
    open). Messages already handed to a bind may still go out; their receipts then show."""
    stamp = timestamp(at)
    cursor = db.execute(
        f"UPDATE broadcasts SET state = 'cancelled', cancelled_by = ?, cancelled_at = ?,"
        f" cancel_reason = ?, updated_at = ? WHERE id = ? AND state IN {_OPEN}",
        (by, stamp, reason, stamp, broadcast_id),
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
            WHERE id = ? AND state IN {_OPEN}""",
        (state.value, stamp, started, stamp, finished, stamp, broadcast_id),
    )
    return cursor.rowcount == 1


def audience_by_language(
    db: sqlite3.Connection, service: str, languages: list[str], default: str,
    districts: tuple[str, ...] | None = None,
) -> dict[str, int]:  # fmt: skip
    """Active subscribers of ``service`` (global opt-outs excluded) by the language they would
    get: their own when it is one of ``languages``, else ``default``; with ``districts``, only
    theirs and those who never said."""
    counts: dict[str, int] = {}
    rows = db.execute(
        """SELECT u.language, count(*) FROM subscriptions s
            JOIN subscribers u ON u.msisdn = s.msisdn
            WHERE s.service = ? AND s.left_at IS NULL AND u.opted_out_at IS NULL
              AND (?2 IS NULL OR u.district IS NULL OR instr(?2, ',' || u.district || ',') > 0)
            GROUP BY u.language""",
        (service, district_list(districts)),
    ).fetchall()
    for language, count in rows:
        key = language if language in languages else default
        counts[key] = counts.get(key, 0) + count
    return counts


_PERCENTILE = """SELECT (julianday(done_at) - julianday(submitted_at)) * 86400.0 AS latency
    FROM outbox WHERE broadcast = ? AND state = 'delivered' AND submitted_at IS NOT NULL
    ORDER BY latency LIMIT 1 OFFSET ?"""


def stats(db: sqlite3.Connection, broadcast_id: int) -> BroadcastStats:
    """From the outbox rows, or from their summary once retention deleted them."""
    row = db.execute(
        "SELECT outbox_summary FROM broadcasts WHERE id = ?", (broadcast_id,)
    ).fetchone()
    if row and row[0]:
        kept = json.loads(row[0])["stats"]
        return BroadcastStats(
            kept["by_state"], kept["latency_p50_s"], kept["latency_p95_s"],
            maybe_time(kept["first_submit_at"]), maybe_time(kept["last_submit_at"]),
        )  # fmt: skip
    return live_stats(db, broadcast_id)


def live_stats(db: sqlite3.Connection, broadcast_id: int) -> BroadcastStats:
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
    return BroadcastStats(by_state, p50, p95, maybe_time(first), maybe_time(last))
