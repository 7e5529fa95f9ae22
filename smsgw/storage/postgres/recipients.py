"""A broadcast's recipients as its outbox rows say, page by page (BroadcastStore.recipients),
as sqlite/recipients.py reads them: the primary key's order between the broadcast's first and
last row, each page a short query of its own (no cursor or snapshot held while the client
downloads); and counted in groups (recipient_groups), what its report's breakdowns add up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from functools import partial

from smsgw.broadcasts.store import OutboxPurged, Recipient, RecipientGroup
from smsgw.storage.postgres.db import Conn, Database

_BOUNDS = "SELECT min(id), max(id) FROM outbox WHERE broadcast = $1"
# broadcast + 0: the primary key's range in its order, not the broadcast's index (by state),
# which would be sorted by id again for every page
_PAGE = """SELECT id, recipient, language, carrier, state, error, submitted_at, done_at
    FROM outbox WHERE broadcast + 0 = $1 AND id > $2 AND id <= $3 ORDER BY id LIMIT $4"""
_SUMMED_UP = "SELECT 1 FROM broadcasts WHERE id = $1 AND outbox_summary IS NOT NULL"
# counted by PostgreSQL: one row per combination, whatever the audience (the district: the
# subscriber's, by the primary key)
_GROUPS = """SELECT o.carrier, o.language, u.district, o.state, o.error, count(*)
    FROM outbox o LEFT JOIN subscribers u ON u.msisdn = o.recipient WHERE o.broadcast = $1
    GROUP BY o.carrier, o.language, u.district, o.state, o.error"""


async def recipients(
    db: Database, broadcast_id: int, *, batch: int
) -> AsyncIterator[Sequence[Recipient]]:
    bounds = await db.report(partial(_bounds, broadcast_id=broadcast_id))
    if bounds is None:
        return
    after, last = bounds
    while after < last:
        page = await db.report(
            partial(_page, broadcast_id=broadcast_id, after=after, last=last, limit=batch)
        )
        if page:
            yield page
            after = page[-1].id
        if len(page) < batch:
            return


async def _bounds(conn: Conn, *, broadcast_id: int) -> tuple[int, int] | None:
    """(just below its first row's id, its last row's id); None: no rows."""
    await _check_kept(conn, broadcast_id)
    row = await conn.fetchrow(_BOUNDS, broadcast_id)
    if row is None or row[0] is None:
        return None
    return int(row[0]) - 1, int(row[1])


async def _page(
    conn: Conn, *, broadcast_id: int, after: int, last: int, limit: int
) -> list[Recipient]:
    rows = await conn.fetch(_PAGE, broadcast_id, after, last, limit)
    # after the rows: retention sums a broadcast up before it deletes any of its rows
    await _check_kept(conn, broadcast_id)
    return [Recipient(*row) for row in rows]


async def recipient_groups(db: Database, broadcast_id: int) -> list[RecipientGroup]:
    return await db.report(partial(_groups, broadcast_id=broadcast_id))


async def _groups(conn: Conn, *, broadcast_id: int) -> list[RecipientGroup]:
    rows = await conn.fetch(_GROUPS, broadcast_id)
    await _check_kept(conn, broadcast_id)  # after the rows, as a page
    return [RecipientGroup(*row) for row in rows]


async def _check_kept(conn: Conn, broadcast_id: int) -> None:
    if await conn.fetchval(_SUMMED_UP, broadcast_id) is not None:
        raise OutboxPurged(f"broadcast {broadcast_id} was summed up and its rows deleted")
