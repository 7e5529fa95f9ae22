"""CAP alerts in SQLite (alerts.store.AlertStore)."""

from __future__ import annotations

import sqlite3
from functools import partial
from typing import Any

from smsgw.alerts.store import PUBLISHED, AlertAction, AlertRecord
from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import from_timestamp, timestamp

_COLUMNS = ("id, sender, identifier, sent, status, msg_type, event, headline, action, reason,"
            " service, broadcast, document, received_by, received_at, scope")  # fmt: skip

_PUBLISHED = ", ".join(f"'{action.value}'" for action in PUBLISHED)


class SqliteAlerts:
    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def claim(self, record: AlertRecord) -> AlertRecord | None:
        return await self._db.write(partial(_claim, record=record))

    async def settle(
        self, alert_id: int, *, action: AlertAction, reason: str | None, service: str | None,
        broadcast: int | None,
    ) -> None:  # fmt: skip
        await self._db.write(
            lambda db: db.execute(
                "UPDATE alerts SET action = ?, reason = ?, service = ?, broadcast = ? WHERE id = ?",
                (action.value, reason, service, broadcast, alert_id),
            )
        )

    async def alert(self, identifier: str) -> AlertRecord | None:
        return await self._db.read(
            partial(_one, where="identifier = ? ORDER BY id DESC LIMIT 1", args=(identifier,))
        )

    async def alert_by_key(self, sender: str, identifier: str, sent: str) -> AlertRecord | None:
        return await self._db.read(
            partial(_one, where="sender = ? AND identifier = ? AND sent = ?",
                    args=(sender, identifier, sent))
        )  # fmt: skip

    async def alert_by_id(self, alert_id: int) -> AlertRecord | None:
        return await self._db.read(partial(_one, where="id = ?", args=(alert_id,)))

    async def alerts(
        self, *, limit: int, before: int | None = None, published: bool = False
    ) -> list[AlertRecord]:
        return await self._db.report(
            partial(_list, limit=limit, before=before, published=published)
        )


def _claim(db: sqlite3.Connection, *, record: AlertRecord) -> AlertRecord | None:
    cursor = db.execute(
        "INSERT INTO alerts (sender, identifier, sent, status, msg_type, event, headline, action,"
        " reason, service, broadcast, document, received_by, received_at, scope)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (sender, identifier, sent) DO NOTHING",
        (record.sender, record.identifier, record.sent, record.status, record.msg_type,
         record.event, record.headline, record.action.value, record.reason, record.service,
         record.broadcast, record.document, record.received_by, timestamp(record.received_at),
         record.scope),
    )  # fmt: skip
    if cursor.rowcount:
        return None
    return _one(db, where="sender = ? AND identifier = ? AND sent = ?",
                args=(record.sender, record.identifier, record.sent))  # fmt: skip


def _one(db: sqlite3.Connection, *, where: str, args: tuple[Any, ...]) -> AlertRecord | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM alerts WHERE {where}", args).fetchone()
    return None if row is None else _record(row)


def _list(
    db: sqlite3.Connection, *, limit: int, before: int | None, published: bool
) -> list[AlertRecord]:
    where = "id < ?"
    if published:
        where += f" AND status = 'Actual' AND scope = 'Public' AND action IN ({_PUBLISHED})"
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM alerts WHERE {where} ORDER BY id DESC LIMIT ?",
        (before if before is not None else 2**63 - 1, limit),
    ).fetchall()
    return [_record(row) for row in rows]


def _record(row: Any) -> AlertRecord:
    values = list(row)
    values[8] = AlertAction(values[8])
    values[14] = from_timestamp(values[14])
    return AlertRecord(*values)
