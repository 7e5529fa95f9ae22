"""CAP alerts in PostgreSQL (alerts.store.AlertStore): the key's unique index decides which
of two gateways given one alert at once acts on it."""

from __future__ import annotations

from functools import partial
from typing import Any

from smsgw.alerts.store import PUBLISHED, AlertAction, AlertRecord
from smsgw.storage.postgres.db import Conn, Database

_COLUMNS = ("id, sender, identifier, sent, status, msg_type, event, headline, action, reason,"
            " service, broadcast, document, received_by, received_at, scope")  # fmt: skip
_CLAIM = """INSERT INTO alerts (sender, identifier, sent, status, msg_type, event, headline,
        action, reason, service, broadcast, document, received_by, received_at, scope)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT (sender, identifier, sent) DO NOTHING RETURNING id"""
_PUBLISHED = ", ".join(f"'{action.value}'" for action in PUBLISHED)
_BY_KEY = f"SELECT {_COLUMNS} FROM alerts WHERE sender = $1 AND identifier = $2 AND sent = $3"


class PgAlerts:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, record: AlertRecord) -> AlertRecord | None:
        return await self._db.write(partial(_claim, record=record))

    async def settle(
        self, alert_id: int, *, action: AlertAction, reason: str | None, service: str | None,
        broadcast: int | None,
    ) -> None:  # fmt: skip
        await self._db.write(partial(
            _execute, sql="UPDATE alerts SET action = $1, reason = $2, service = $3,"
            " broadcast = $4 WHERE id = $5", args=(action.value, reason, service, broadcast,
                                                   alert_id)))  # fmt: skip

    async def alert(self, identifier: str) -> AlertRecord | None:
        sql = f"SELECT {_COLUMNS} FROM alerts WHERE identifier = $1 ORDER BY id DESC LIMIT 1"
        return await self._db.read(partial(_one, sql=sql, args=(identifier,)))

    async def alert_by_key(self, sender: str, identifier: str, sent: str) -> AlertRecord | None:
        return await self._db.read(partial(_one, sql=_BY_KEY, args=(sender, identifier, sent)))

    async def alert_by_id(self, alert_id: int) -> AlertRecord | None:
        sql = f"SELECT {_COLUMNS} FROM alerts WHERE id = $1"
        return await self._db.read(partial(_one, sql=sql, args=(alert_id,)))

    async def alerts(
        self, *, limit: int, before: int | None = None, published: bool = False
    ) -> list[AlertRecord]:
        where = "id < $1"
        if published:
            where += f" AND status = 'Actual' AND scope = 'Public' AND action IN ({_PUBLISHED})"
        sql = f"SELECT {_COLUMNS} FROM alerts WHERE {where} ORDER BY id DESC LIMIT $2"
        return await self._db.report(
            partial(_list, sql=sql, args=(before if before is not None else 2**63 - 1, limit))
        )


async def _claim(conn: Conn, *, record: AlertRecord) -> AlertRecord | None:
    added = await conn.fetchval(
        _CLAIM, record.sender, record.identifier, record.sent, record.status, record.msg_type,
        record.event, record.headline, record.action.value, record.reason, record.service,
        record.broadcast, record.document, record.received_by, record.received_at, record.scope,
    )  # fmt: skip
    if added is not None:
        return None
    return await _one(conn, sql=_BY_KEY, args=(record.sender, record.identifier, record.sent))


async def _execute(conn: Conn, *, sql: str, args: tuple[Any, ...]) -> None:
    await conn.execute(sql, *args)


async def _one(conn: Conn, *, sql: str, args: tuple[Any, ...]) -> AlertRecord | None:
    row = await conn.fetchrow(sql, *args)
    return None if row is None else _record(row)


async def _list(conn: Conn, *, sql: str, args: tuple[Any, ...]) -> list[AlertRecord]:
    return [_record(row) for row in await conn.fetch(sql, *args)]


def _record(row: Any) -> AlertRecord:
    values = list(row)
    values[8] = AlertAction(values[8])
    return AlertRecord(*values)
