"""The outbox in PostgreSQL: the fan-out (BroadcastOutbox) and the dispatchers' takes
(OutboxStore), for several gateways sharing the database.

The fan-out copies the audience into the outbox a chunk per transaction, walking the audience
index in number order from the cursor kept in the broadcast's row, as sqlite/outbox.py does:
resumable after a crash, no one left out nor added twice. The numbers of a chunk pass through
Python only to be routed (``carrier_of`` is the router's); the rows go in with one COPY. The
broadcast's row is locked for the chunk (FOR UPDATE): two gateways
fanning out one broadcast at once take turns, each the chunk after the other's.

A take is a claim. SQLite's reads leave rows queued and rely on the one dispatcher remembering
what it took; here several dispatchers take from one outbox, so a take moves each row's
``not_before`` a lease ahead (FOR UPDATE SKIP LOCKED: a row another gateway is claiming now is
left to it). No one is handed a claimed row again until the dispatcher's outcome rewrites
``not_before`` (a retry time) or the state (submitted, rejected…), or the lease lapses: the
gateway that took it died, and the row comes back as a due retry for any gateway (sent again,
as SQLite sends it again after a crash). This gateway keeps its claims alive while it holds
them (:class:`_Claims`), and hands its own unsettled retries back to its dispatcher, as
SQLite's read does: the dispatcher asks for as many more as it has in hand, and drops those.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from functools import partial
from time import monotonic
from typing import Any

from smsgw.broadcasts.model import Broadcast, BroadcastState
from smsgw.delivery.outbox import OutboxMessage, Priority
from smsgw.storage.postgres.db import Conn, Database

# How long a claim holds without news from its gateway: past the time between two takes on a
# carrier (a second or so; claims older than a quarter of it are renewed on each take), and
# the delay before another gateway sends what a dead one had taken.
LEASE = timedelta(seconds=60)

_CURSOR = "SELECT fanout_cursor, state FROM broadcasts WHERE id = $1 FOR UPDATE"
# the next ``chunk`` subscriptions after the cursor (through subscriptions_audience), each
# with whether it gets a message: not under a STOP, and for an import's confirmations, joined
# at that moment (a subscription without its subscriber row counts, and gets none, as SQLite's)
_CHUNK = """SELECT s.msisdn, u.language,
        u.msisdn IS NOT NULL AND u.opted_out_at IS NULL
        AND ($4::timestamptz IS NULL OR s.subscribed_at = $4)
        AND ($5::text[] IS NULL OR u.district IS NULL OR u.district = ANY($5)) AS included
    FROM subscriptions s LEFT JOIN subscribers u ON u.msisdn = s.msisdn
    WHERE s.service = $1 AND s.left_at IS NULL AND s.msisdn > $2
    ORDER BY s.msisdn LIMIT $3"""
# the chunk's rows go in by COPY (binary, about twice INSERT … SELECT FROM unnest here), in
# number order (ids follow it); no carrier: rejected at once, no_route
_OUTBOX_COLUMNS = ("broadcast", "recipient", "language", "carrier", "priority", "state", "error",
                   "updated_at")  # fmt: skip
_ADVANCE = """UPDATE broadcasts SET fanout_cursor = $1, audience = coalesce(audience, 0) + $2,
    updated_at = $3 WHERE id = $4"""
_END = "\uffff"  # the cursor of a finished fan-out (stored only, never compared in SQL)

# The STOP check just before sending: a number that opted out, or left the service, since the
# fan-out is not sent to (SPEC: opt-outs are enforced twice).
_TAKEN = """SELECT c.id, c.broadcast, c.recipient, c.language, c.priority, c.attempts,
        CASE WHEN u.opted_out_at IS NOT NULL THEN 'opted_out'
             WHEN NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.msisdn = c.recipient
                              AND s.service = b.service AND s.left_at IS NULL) THEN 'left'
        END AS excluded, c.not_before AS lease
    FROM claimed c JOIN broadcasts b ON b.id = c.broadcast
    LEFT JOIN subscribers u ON u.msisdn = c.recipient"""
_CLAIM = """claimed AS (
        UPDATE outbox o SET not_before = now() + $5::interval FROM taken
        WHERE o.id = taken.id
        RETURNING o.id, o.broadcast, o.recipient, o.language, o.priority, o.attempts,
            o.not_before, taken.rank, taken.due)"""
# never tried (through outbox_ready), oldest first
_TAKE_READY = f"""WITH taken AS (
        SELECT o.id, 1 AS rank, o.id AS due FROM outbox o JOIN broadcasts b ON b.id = o.broadcast
        WHERE o.carrier = $1 AND o.priority = $2 AND o.state = 'queued'
          AND o.not_before IS NULL AND o.id > $3
        ORDER BY o.id LIMIT $4
        FOR UPDATE OF o SKIP LOCKED),
    {_CLAIM}
    {_TAKEN} ORDER BY c.id"""
# this gateway's retries still held ($6, $7: ids and the leases it set, first), then those due
# (through outbox_retry), soonest first
_TAKE_RETRIES = f"""WITH held AS (
        SELECT o.id, 0 AS rank, o.not_before AS due FROM outbox o
        JOIN unnest($6::bigint[], $7::timestamptz[]) AS h(id, lease) ON o.id = h.id
        WHERE o.state = 'queued' AND o.not_before = h.lease
        FOR UPDATE OF o SKIP LOCKED),
    due AS (
        SELECT o.id, 1 AS rank, o.not_before AS due FROM outbox o
        JOIN broadcasts b ON b.id = o.broadcast
        WHERE o.carrier = $1 AND o.priority = $2 AND o.state = 'queued'
          AND o.not_before IS NOT NULL AND o.not_before <= $3 AND o.id <> ALL($6)
        ORDER BY o.not_before LIMIT greatest($4 - (SELECT count(*) FROM held), 0)
        FOR UPDATE OF o SKIP LOCKED),
    taken AS (SELECT id, rank, due FROM held UNION ALL SELECT id, rank, due FROM due),
    {_CLAIM}
    {_TAKEN} ORDER BY c.rank, c.due, c.id"""
_RENEW = """WITH mine AS (
        SELECT o.id FROM outbox o
        JOIN unnest($1::bigint[], $2::timestamptz[]) AS h(id, lease) ON o.id = h.id
        WHERE o.state = 'queued' AND o.not_before = h.lease
        FOR UPDATE OF o SKIP LOCKED)
    UPDATE outbox o SET not_before = now() + $3::interval FROM mine WHERE o.id = mine.id
    RETURNING o.id, o.not_before"""
# through the two partial indexes of queued messages (outbox_ready, outbox_retry)
_QUEUED_BY_PRIORITY = """SELECT priority, count(*) FROM (
        SELECT priority FROM outbox WHERE state = 'queued' AND not_before IS NULL
        UNION ALL
        SELECT priority FROM outbox WHERE state = 'queued' AND not_before IS NOT NULL) AS q
    GROUP BY priority"""

Lease = tuple[int, datetime]  # an outbox id and the not_before its claim set


class PgOutbox:
    """Implements BroadcastOutbox and OutboxStore; ``lease``: see LEASE."""

    def __init__(self, db: Database, *, lease: timedelta = LEASE) -> None:
        self._db = db
        self._lease = lease
        self._claims: dict[str, _Claims] = {}  # per carrier (one dispatcher feeder each)

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
        args = (carrier, int(priority), after, limit, self._lease)
        return await self._take(_TAKE_READY, args, carrier, priority, limit, held=None)

    async def take_retries(
        self, *, carrier: str, priority: Priority, now: datetime, limit: int
    ) -> list[OutboxMessage]:
        held = self._claims_of(carrier).held(priority)
        args = (carrier, int(priority), now, limit, self._lease,
                [id_ for id_, _ in held], [at for _, at in held])  # fmt: skip
        return await self._take(_TAKE_RETRIES, args, carrier, priority, limit, held=held)

    async def _take(
        self, sql: str, args: tuple[Any, ...], carrier: str, priority: Priority, limit: int, *,
        held: list[Lease] | None,
    ) -> list[OutboxMessage]:  # fmt: skip
        """Claims (and renews this gateway's older claims on the carrier); ``held``: for
        retries, this gateway's on them, handed back first."""
        claims = self._claims_of(carrier)
        renew = claims.to_renew(monotonic(), but={id_ for id_, _ in held or ()})
        try:
            rows, renewed = await self._db.write(
                partial(_take, sql=sql, args=args, renew=renew, lease=self._lease)
            )
        except BaseException:
            claims.put_back(renew)
            raise
        now = monotonic()
        claims.renewed(renew, renewed, now)
        claims.taken(held or [], rows, priority, retry=held is not None, now=now)
        # held ones beyond the limit stay claimed, and are handed back at the next take
        return [_message(row) for row in rows[:limit]]

    async def release(self, carrier: str, ids: Sequence[int]) -> None:
        released = self._claims_of(carrier).release(ids)
        if released:
            await self._db.write(partial(_release, released=released))

    async def keep(self, carrier: str, holding: Collection[int]) -> None:
        claims = self._claims_of(carrier)
        renew = claims.to_renew(monotonic(), keeping=holding)
        if not renew:
            return
        try:
            _, renewed = await self._db.write(
                partial(_take, sql="", args=(), renew=renew, lease=self._lease)
            )
        except BaseException:
            claims.put_back(renew)
            raise
        claims.renewed(renew, renewed, monotonic())

    def _claims_of(self, carrier: str) -> _Claims:
        return self._claims.setdefault(carrier, _Claims(self._lease))

    async def queued_by_priority(self) -> dict[Priority, int]:
        return await self._db.scan(queued_by_priority)


class _Claims:
    """What this gateway knows of its claims on one carrier's rows: the lease each one set, the
    retries among them (handed back by take_retries while held, as SQLite's read hands back
    what the dispatcher took and has not settled) and, oldest first, those to renew.

    A claim drops out when its row shows another ``not_before`` (the dispatcher's outcome is
    stored: settled, or queued again at a retry time) or is no longer queued: that is seen when
    it is next renewed or handed back, a quarter of a lease after it was made at the latest, so
    the book holds about that long of this gateway's takes."""

    def __init__(self, lease: timedelta) -> None:
        self._renew_after = lease.total_seconds() / 4
        self._leases: dict[int, datetime] = {}
        self._retries: dict[Priority, set[int]] = {p: set() for p in Priority}
        self._order: deque[tuple[float, int, datetime]] = deque()  # (claimed at, id, lease)

    def held(self, priority: Priority) -> list[Lease]:
        return [(id_, self._leases[id_]) for id_ in self._retries[priority]]

    def release(self, ids: Sequence[int]) -> list[Lease]:
        """This gateway's claims among ``ids``, forgotten (the caller frees their rows)."""
        released = [(id_, self._leases.pop(id_)) for id_ in ids if id_ in self._leases]
        for id_, _ in released:
            for retries in self._retries.values():
                retries.discard(id_)
        return released

    def to_renew(
        self, now: float, but: set[int] | None = None, keeping: Collection[int] | None = None
    ) -> list[Lease]:
        """Claims made (or last renewed) a quarter of a lease ago, still held; ``but``: those
        the take renews itself; ``keeping``: what the dispatcher still holds (the others are
        forgotten: their claims lapse)."""
        due: list[Lease] = []
        while self._order and self._order[0][0] <= now - self._renew_after:
            _, id_, lease = self._order.popleft()
            if self._leases.get(id_) != lease or (but and id_ in but):
                continue
            if keeping is not None and id_ not in keeping:
                self.release([id_])
                continue
            due.append((id_, lease))
        return due

    def put_back(self, renew: Sequence[Lease]) -> None:
        """Claims whose renewal failed: first to renew at the next take."""
        self._order.extendleft((0.0, id_, lease) for id_, lease in reversed(renew))

    def renewed(self, asked: Sequence[Lease], rows: Sequence[Any], now: float) -> None:
        self._settle(asked, {row[0]: row[1] for row in rows}, now)

    def taken(
        self, held: Sequence[Lease], rows: Sequence[Any], priority: Priority, *, retry: bool,
        now: float,
    ) -> None:  # fmt: skip
        leases = {row["id"]: row["lease"] for row in rows}
        self._settle(held, leases, now)
        if retry:
            self._retries[priority].update(leases)

    def _settle(self, asked: Sequence[Lease], leases: dict[int, datetime], now: float) -> None:
        """``leases``: the claims a statement made or renewed; the others ``asked`` are over
        (their outcome is stored, or the lease lapsed and another gateway took the row)."""
        for id_, lease in asked:
            if id_ not in leases and self._leases.get(id_) == lease:
                del self._leases[id_]
                for retries in self._retries.values():
                    retries.discard(id_)
        for id_, lease in leases.items():
            self._leases[id_] = lease
            self._order.append((now, id_, lease))


async def _release(conn: Conn, *, released: list[Lease]) -> None:
    """Ready again, for any gateway: only rows still under these very claims. As retries due
    now, not as never-read rows: another gateway's read of those has passed their ids."""
    await conn.execute(
        "UPDATE outbox o SET not_before = now()"
        " FROM unnest($1::bigint[], $2::timestamptz[]) AS h(id, lease)"
        " WHERE o.id = h.id AND o.state = 'queued' AND o.not_before = h.lease",
        [id_ for id_, _ in released], [lease for _, lease in released],
    )  # fmt: skip
    await conn.execute("SELECT pg_notify('smsgw_outbox', '')")  # for gateways that can send


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        row["id"], row["broadcast"], row["recipient"], row["language"],
        Priority(row["priority"]), row["attempts"], row["excluded"],
    )  # fmt: skip


async def _take(
    conn: Conn, *, sql: str, args: tuple[Any, ...], renew: list[Lease], lease: timedelta
) -> tuple[list[Any], list[Any]]:
    """One take (none for no ``sql``) and the renewal of the gateway's older claims, in one
    transaction."""
    renewed: list[Any] = []
    if renew:
        renewed = await conn.fetch(
            _RENEW, [id_ for id_, _ in renew], [at for _, at in renew], lease
        )
    return (await conn.fetch(sql, *args) if sql else []), renewed


async def fan_out_chunk(
    conn: Conn,
    b: Broadcast,
    *,
    chunk: int,
    carrier_of: Callable[[str], str | None],
    at: datetime,
) -> tuple[int, bool]:
    """Copies the next ``chunk`` subscribers into the outbox (in the caller's transaction, with
    the cursor); returns (rows added, whether the audience is exhausted)."""
    row = await conn.fetchrow(_CURSOR, b.id)  # and the broadcast's row is ours
    if row is None or not BroadcastState(row["state"]).open:  # cancelled meanwhile
        return 0, True
    cursor = row["fanout_cursor"] or ""
    chosen = None if b.districts is None else list(b.districts)
    rows = (
        [] if cursor == _END
        else await conn.fetch(_CHUNK, b.service, cursor, chunk, b.joined_at, chosen)
    )  # fmt: skip
    boundary = rows[-1]["msisdn"] if rows and len(rows) >= chunk else None
    priority, texts, default = int(b.priority), b.texts, b.default_language
    records = []
    for number, language, included in rows:
        if included:
            carrier = carrier_of(number)
            records.append((
                b.id, number, language if language in texts else default, carrier, priority,
                "queued" if carrier else "rejected", None if carrier else "no_route", at,
            ))  # fmt: skip
    if records:
        await conn.copy_records_to_table("outbox", records=records, columns=_OUTBOX_COLUMNS)
    added = len(records)
    await conn.execute(_ADVANCE, boundary or _END, added, at, b.id)
    return added, boundary is None


async def fanned_out(conn: Conn, broadcast_id: int) -> bool:
    cursor = await conn.fetchval("SELECT fanout_cursor FROM broadcasts WHERE id = $1", broadcast_id)
    return bool(cursor == _END)


async def queued_count(conn: Conn, broadcast_id: int) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE broadcast = $1 AND state = 'queued'", broadcast_id
    )
    return int(count)


async def queued_by_priority(conn: Conn) -> dict[Priority, int]:
    """Every broadcast's queued messages, per priority (the metrics' queue depth)."""
    return {Priority(p): count for p, count in await conn.fetch(_QUEUED_BY_PRIORITY)}


async def expire(conn: Conn, broadcast_id: int, *, at: datetime) -> int:
    """Its messages still queued expire (the validity ended)."""
    status = await conn.execute(
        "UPDATE outbox SET state = 'expired', error = 'validity_ended', updated_at = $1"
        " WHERE broadcast = $2 AND state = 'queued'",
        at,
        broadcast_id,
    )
    return int(status.rsplit(" ", 1)[-1])
