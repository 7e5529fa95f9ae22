"""Broadcasts in PostgreSQL (the BroadcastStore): plain async functions over one connection, as
sqlite/broadcasts.py's are over its one. Their outbox is in outbox.py.

Several gateways may share the database: each change is one UPDATE conditional on the state it
leaves from, which PostgreSQL checks again on the row as committed by a concurrent one: of two
gateways approving (or cancelling) one broadcast at once, the second is told it was no longer
awaiting approval (open), as a second call on SQLite is.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from smsgw.access.tokens import ministry_key
from smsgw.broadcasts.model import Broadcast, BroadcastState, BroadcastStats, CarrierProgress
from smsgw.broadcasts.poll import Poll
from smsgw.broadcasts.store import Recipient, RecipientGroup
from smsgw.delivery.outbox import Priority
from smsgw.storage.postgres import recipients as _recipients
from smsgw.storage.postgres.db import Conn, Database

_COLUMNS = """id, service, ministry, texts, segments, encodings, default_language, priority,
    state, send_at, expires_at, audience, cost_estimate, created_by, created_at, updated_at,
    approved_by, approved_at, cancelled_by, cancelled_at, started_at, finished_at,
    cancel_reason, joined_at, districts, poll"""
_OPEN = "('awaiting_approval', 'scheduled', 'queued', 'sending')"
_BY_CARRIER = """SELECT coalesce(carrier, 'none'), state, count(*), min(submitted_at)
    FROM outbox WHERE broadcast = $1 GROUP BY carrier, state"""

_ADD = """INSERT INTO broadcasts (service, ministry, texts, segments, encodings,
    default_language, priority, state, send_at, expires_at, cost_estimate, created_by,
    created_at, updated_at, joined_at, districts, poll)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
    RETURNING id"""
_GET = f"SELECT {_COLUMNS} FROM broadcasts WHERE id = $1"
_STARTED_SINCE = f"""SELECT {_COLUMNS} FROM broadcasts WHERE started_at >= $1
    ORDER BY started_at DESC"""
# ministries compared as officers' scopes are (access.tokens.ministry_key, Python's casefold,
# which SQL's lower() is not): the few distinct ones are keyed in Python, then matched exactly
_MINISTRIES = "SELECT DISTINCT ministry FROM broadcasts"
_LISTING = f"""SELECT {_COLUMNS} FROM broadcasts
    WHERE ($1::text[] IS NULL OR ministry = ANY($1)) AND ($2::bigint IS NULL OR id < $2)
    AND ($4::text[] IS NULL OR state = ANY($4)) ORDER BY id DESC LIMIT $3"""
_OF_SERVICE = f"""SELECT {_COLUMNS} FROM broadcasts
    WHERE service = $1 AND state IN {_OPEN} ORDER BY id"""
# through the partial index broadcasts_open
_OPEN_BROADCASTS = f"""SELECT {_COLUMNS} FROM broadcasts
    WHERE state IN ('scheduled', 'queued', 'sending') ORDER BY priority, id"""
_APPROVE = """UPDATE broadcasts SET state = $1, approved_by = $2, approved_at = $3,
    updated_at = $3, expires_at = $4 WHERE id = $5 AND state = 'awaiting_approval'"""
_CANCEL = f"""UPDATE broadcasts SET state = 'cancelled', cancelled_by = $1, cancelled_at = $2,
    cancel_reason = $3, updated_at = $2 WHERE id = $4 AND state IN {_OPEN}"""
_CANCEL_OUTBOX = """UPDATE outbox SET state = 'cancelled', error = 'cancelled', updated_at = $1
    WHERE broadcast = $2 AND state = 'queued'"""
_SET_STATE = f"""UPDATE broadcasts SET state = $1, updated_at = $2,
    started_at = CASE WHEN $3 THEN coalesce(started_at, $2) ELSE started_at END,
    finished_at = CASE WHEN $4 THEN $2 ELSE finished_at END
    WHERE id = $5 AND state IN {_OPEN}"""
# the partial index subscriptions_audience (service, msisdn) WHERE left_at IS NULL
_AUDIENCE = """SELECT u.language, count(*) FROM subscriptions s
    JOIN subscribers u ON u.msisdn = s.msisdn
    WHERE s.service = $1 AND s.left_at IS NULL AND u.opted_out_at IS NULL
      AND ($2::text[] IS NULL OR u.district IS NULL OR u.district = ANY($2))
    GROUP BY u.language"""

_SUMMARY = "SELECT outbox_summary FROM broadcasts WHERE id = $1"
_BY_STATE = "SELECT state, count(*) FROM outbox WHERE broadcast = $1 GROUP BY state"
# submit → final receipt, in seconds: the $2-th and $3-th smallest (from 0, as SQLite's
# OFFSET takes them, a missing time first as SQLite sorts it), in one sort
_PERCENTILES = """SELECT n, latency FROM (
        SELECT extract(epoch FROM done_at - submitted_at)::double precision AS latency,
            row_number() OVER (ORDER BY done_at - submitted_at NULLS FIRST) - 1 AS n
        FROM outbox WHERE broadcast = $1 AND state = 'delivered' AND submitted_at IS NOT NULL
    ) AS ranked WHERE n IN ($2, $3)"""
_SUBMITS = "SELECT min(submitted_at), max(submitted_at) FROM outbox WHERE broadcast = $1"


class PgBroadcasts:
    """Implements BroadcastStore."""

    def __init__(self, db: Database) -> None:
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

    async def started_since(self, since: datetime) -> list[Broadcast]:
        return await self._db.read(partial(_all, sql=_STARTED_SINCE, args=(since,)))

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

    async def broadcast_stats(self, broadcast_id: int) -> BroadcastStats:
        # for people to look at (a broadcast's page, the list): a report, not a send's scan
        return await self._db.report(partial(stats, broadcast_id=broadcast_id))

    async def carrier_progress(self, broadcast_id: int) -> CarrierProgress:
        rows = await self._db.report(partial(_fetch, sql=_BY_CARRIER, args=(broadcast_id,)))
        return CarrierProgress.of(
            (carrier, state, count, first) for carrier, state, count, first in rows
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
        send_at=send_at,
        expires_at=expires_at,
        audience=audience,
        cost_estimate=cost,
        created_by=created_by,
        created_at=created_at,
        updated_at=updated_at,
        approved_by=approved_by,
        approved_at=approved_at,
        cancelled_by=cancelled_by,
        cancelled_at=cancelled_at,
        started_at=started_at,
        finished_at=finished_at,
        cancel_reason=cancel_reason,
        joined_at=joined_at,
        districts=None if districts is None else tuple(districts),
        poll=None if poll is None else Poll.from_json(json.loads(poll)),
    )


async def _all(conn: Conn, sql: str, args: tuple[Any, ...]) -> list[Broadcast]:
    return [_broadcast(row) for row in await conn.fetch(sql, *args)]


def _count(status: str) -> int:
    """Rows an INSERT/UPDATE/DELETE touched, from its command tag ("UPDATE 3")."""
    return int(status.rsplit(" ", 1)[-1])


async def add(conn: Conn, b: Broadcast) -> int:
    broadcast_id = await conn.fetchval(
        _ADD,
        b.service, b.ministry, json.dumps(b.texts, ensure_ascii=False), json.dumps(b.segments),
        json.dumps(b.encodings), b.default_language, int(b.priority), b.state.value, b.send_at,
        b.expires_at, b.cost_estimate, b.created_by, b.created_at, b.updated_at, b.joined_at,
        None if b.districts is None else list(b.districts),
        None if b.poll is None else json.dumps(b.poll.to_json(), ensure_ascii=False),
    )  # fmt: skip
    return int(broadcast_id)


async def get(conn: Conn, broadcast_id: int) -> Broadcast | None:
    row = await conn.fetchrow(_GET, broadcast_id)
    return _broadcast(row) if row else None


async def listing(
    conn: Conn,
    *,
    ministry: str | None,
    before: int | None,
    limit: int,
    states: Collection[BroadcastState] | None = None,
) -> list[Broadcast]:
    """Newest first; ``ministry`` None: every ministry's (compared as officers' scopes are:
    case and surrounding spaces do not matter); ``states`` None: in any."""
    spellings = None
    if ministry is not None:
        wanted = ministry_key(ministry)
        spellings = [m for (m,) in await conn.fetch(_MINISTRIES) if ministry_key(m) == wanted]
    names = None if states is None else [state.value for state in states]
    rows = await conn.fetch(_LISTING, spellings, before, limit, names)
    return [_broadcast(row) for row in rows]


async def open_of_service(conn: Conn, service: str) -> list[Broadcast]:
    return [_broadcast(row) for row in await conn.fetch(_OF_SERVICE, service)]


async def open_broadcasts(conn: Conn) -> list[Broadcast]:
    """Scheduled, queued and sending ones (awaiting approval is left to people)."""
    return [_broadcast(row) for row in await conn.fetch(_OPEN_BROADCASTS)]


async def approve(
    conn: Conn,
    broadcast_id: int,
    *,
    by: str,
    at: datetime,
    state: BroadcastState,
    expires_at: datetime,
) -> bool:
    status = await conn.execute(_APPROVE, state.value, by, at, expires_at, broadcast_id)
    return _count(status) == 1


async def cancel(
    conn: Conn, broadcast_id: int, *, by: str, at: datetime, reason: str | None
) -> int | None:
    """Cancels an open broadcast and its messages still queued (how many: None if it was not
    open). Messages already handed to a bind may still go out; their receipts then show."""
    if _count(await conn.execute(_CANCEL, by, at, reason, broadcast_id)) != 1:
        return None
    return _count(await conn.execute(_CANCEL_OUTBOX, at, broadcast_id))


async def set_state(
    conn: Conn,
    broadcast_id: int,
    state: BroadcastState,
    *,
    at: datetime,
    started: bool = False,
    finished: bool = False,
) -> bool:
    """Moves an open broadcast on (a cancelled one stays cancelled)."""
    status = await conn.execute(_SET_STATE, state.value, at, started, finished, broadcast_id)
    return _count(status) == 1


async def audience_by_language(
    conn: Conn, service: str, languages: list[str], default: str,
    districts: tuple[str, ...] | None = None,
) -> dict[str, int]:  # fmt: skip
    """Active subscribers of ``service`` (global opt-outs excluded) by the language they would
    get: their own when it is one of ``languages``, else ``default``."""
    counts: dict[str, int] = {}
    chosen = None if districts is None else list(districts)
    for language, count in await conn.fetch(_AUDIENCE, service, chosen):
        key = language if language in languages else default
        counts[key] = counts.get(key, 0) + count
    return counts


async def stats(conn: Conn, broadcast_id: int) -> BroadcastStats:
    """From the outbox rows, or from their summary once retention deleted them."""
    summary = await conn.fetchval(_SUMMARY, broadcast_id)
    if summary:
        kept = json.loads(summary)["stats"]
        return BroadcastStats(
            kept["by_state"], kept["latency_p50_s"], kept["latency_p95_s"],
            _maybe_time(kept["first_submit_at"]), _maybe_time(kept["last_submit_at"]),
        )  # fmt: skip
    return await live_stats(conn, broadcast_id)


async def live_stats(conn: Conn, broadcast_id: int) -> BroadcastStats:
    """From the outbox rows (summaries.py keeps these in a broadcast's summary)."""
    by_state = {row[0]: row[1] for row in await conn.fetch(_BY_STATE, broadcast_id)}
    delivered = by_state.get("delivered", 0)
    p50 = p95 = None
    if delivered:
        n50, n95 = (delivered - 1) // 2, (delivered * 95 - 1) // 100
        found = {row[0]: row[1] for row in await conn.fetch(_PERCENTILES, broadcast_id, n50, n95)}
        p50, p95 = found.get(n50), found.get(n95)
    first, last = await conn.fetchrow(_SUBMITS, broadcast_id) or (None, None)
    return BroadcastStats(by_state, p50, p95, first, last)


def _maybe_time(text: str | None) -> datetime | None:
    """A time a summary kept (sqlite/times.timestamp's form, on both backends)."""
    return datetime.fromisoformat(text) if text is not None else None


async def _fetch(conn: Conn, *, sql: str, args: tuple[object, ...]) -> list[Any]:
    return list(await conn.fetch(sql, *args))
