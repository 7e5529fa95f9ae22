"""A broadcast's recipients as its outbox rows say, page by page (BroadcastStore.recipients):
what its per-recipient report streams; and counted in groups (recipient_groups), what its
report's breakdowns add up.

The pages walk the table's own id order between the broadcast's first and last row, found once:
its index (outbox_broadcast) is by state and language, and ordering a million of its entries
by id again for every page made a report quadratic (18 s at a million, 0.4 s this way).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from functools import partial

from smsgw.broadcasts.store import OutboxPurged, Recipient, RecipientGroup
from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import maybe_time

_BOUNDS = "SELECT min(id), max(id) FROM outbox WHERE broadcast = ?"
# +broadcast: the rowid range, not the broadcast's index, which would be sorted by id per page
_PAGE = """SELECT id, recipient, language, carrier, state, error, submitted_at, done_at
    FROM outbox WHERE +broadcast = ?1 AND id > ?2 AND id <= ?3 ORDER BY id LIMIT ?4"""
_SUMMED_UP = "SELECT 1 FROM broadcasts WHERE id = ? AND outbox_summary IS NOT NULL"
# counted by SQLite: one row per combination, whatever the audience (the district: the
# subscriber's, by the primary key)
_GROUPS = """SELECT o.carrier, o.language, u.district, o.state, o.error, count(*)
    FROM outbox o LEFT JOIN subscribers u ON u.msisdn = o.recipient WHERE o.broadcast = ?
    GROUP BY o.carrier, o.language, u.district, o.state, o.error"""


async def recipients(
    db: SqliteThread, broadcast_id: int, *, batch: int
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


def _bounds(db: sqlite3.Connection, *, broadcast_id: int) -> tuple[int, int] | None:
    """(just below its first row's id, its last row's id); None: no rows."""
    _check_kept(db, broadcast_id)
    first, last = db.execute(_BOUNDS, (broadcast_id,)).fetchone()
    return None if first is None else (first - 1, last)


def _page(
    db: sqlite3.Connection, *, broadcast_id: int, after: int, last: int, limit: int
) -> list[Recipient]:
    rows = db.execute(_PAGE, (broadcast_id, after, last, limit)).fetchall()
    # after the rows: retention sums a broadcast up before it deletes any of its rows
    _check_kept(db, broadcast_id)
    return [
        Recipient(id_, msisdn, language, carrier, state, error, maybe_time(submitted),
                  maybe_time(done))
        for id_, msisdn, language, carrier, state, error, submitted, done in rows
    ]  # fmt: skip


async def recipient_groups(db: SqliteThread, broadcast_id: int) -> list[RecipientGroup]:
    return await db.report(partial(_groups, broadcast_id=broadcast_id))


def _groups(db: sqlite3.Connection, *, broadcast_id: int) -> list[RecipientGroup]:
    rows = db.execute(_GROUPS, (broadcast_id,)).fetchall()
    _check_kept(db, broadcast_id)  # after the rows, as a page
    return [RecipientGroup(*row) for row in rows]


def _check_kept(db: sqlite3.Connection, broadcast_id: int) -> None:
    if db.execute(_SUMMED_UP, (broadcast_id,)).fetchone() is not None:
        raise OutboxPurged(f"broadcast {broadcast_id} was summed up and its rows deleted")
