"""Single messages and the inbound queue in SQL, each operation one trip to the database
thread. What changes them (new messages, segments, receipts, texts) is in delivery.py."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from datetime import datetime
from functools import partial
from typing import Any

from smsgw.delivery.message import Message, MessageEvent, MessageState
from smsgw.delivery.store import MessageFilter
from smsgw.inbound.queue import HandledInbound, StoredInbound
from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import timestamp

_MESSAGE_COLUMNS = """id, recipient, sender, text, state, parts, encoding, channel, error,
    created_at, updated_at, expires_at, created_by, callback_url, carrier"""


class SqliteMessages:
    """Implements MessageStore on the store's connection."""

    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def get_message(self, message_id: str) -> Message | None:
        return await self._db.read(partial(_get_message, message_id=message_id))

    async def message_states(self, message_ids: Collection[str]) -> dict[str, MessageState]:
        return await self._db.read(partial(_states, ids=json.dumps(list(message_ids))))

    async def message_history(self, message_id: str) -> list[MessageEvent]:
        return await self._db.read(partial(_history, message_id=message_id))

    async def take_queued(
        self,
        *,
        instance: str,
        carriers: Collection[str],
        limit: int,
        excluding: Collection[str] = (),
    ) -> list[Message]:
        # one gateway per database: a read (it holds every carrier's binds)
        found = await self._db.scan(partial(_queued, limit=limit + len(excluding)))
        return [message for message in found if message.id not in excluding][:limit]

    async def renew_messages(self, instance: str, ids: Collection[str]) -> None:
        """Nothing to renew: nothing is claimed on SQLite."""

    async def release_messages(self, instance: str, ids: Collection[str]) -> None:
        """Nothing to release: nothing is claimed on SQLite."""

    async def sent_by(self, token_id: str, *, since: datetime) -> int:
        return await self._db.read(partial(_sent_by, token_id=token_id, since=since))

    async def find_messages(self, where: MessageFilter, *, limit: int) -> list[Message]:
        return await self._db.report(partial(_find, where=where, limit=limit))


class SqliteInbound:
    """Implements InboundQueue on the store's connection."""

    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def unhandled_inbound(self, limit: int) -> list[StoredInbound]:
        return await self._db.read(partial(_unhandled_inbound, limit=limit))

    async def mark_inbound_handled(self, handled: list[HandledInbound]) -> None:
        rows = [(timestamp(h.at), h.outcome.value, h.id) for h in handled]
        await self._db.write(partial(_mark_inbound_handled, rows=rows))


def _states(db: sqlite3.Connection, *, ids: str) -> dict[str, MessageState]:
    rows = db.execute("SELECT id, state FROM messages WHERE id IN (SELECT value FROM json_each(?))",
                      (ids,))  # fmt: skip
    return {id_: MessageState(state) for id_, state in rows}


def _get_message(db: sqlite3.Connection, *, message_id: str) -> Message | None:
    row = db.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?",
        (message_id,),
    ).fetchone()
    return _message(row) if row else None


def _history(db: sqlite3.Connection, *, message_id: str) -> list[MessageEvent]:
    rows = db.execute(
        "SELECT at, state, detail FROM message_events WHERE message_id = ? ORDER BY at, id",
        (message_id,),
    ).fetchall()
    return [MessageEvent(datetime.fromisoformat(at), state, text) for at, state, text in rows]


def _queued(db: sqlite3.Connection, *, limit: int) -> list[Message]:
    rows = db.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE state = 'queued'"
        " ORDER BY created_at LIMIT ?",
        (limit,),
    ).fetchall()
    return [_message(row) for row in rows]


def _sent_by(db: sqlite3.Connection, *, token_id: str, since: datetime) -> int:
    row = db.execute(
        "SELECT count(*) FROM messages WHERE created_by = ? AND created_at >= ?",
        (token_id, timestamp(since)),
    ).fetchone()
    return int(row[0])


def _find(db: sqlite3.Connection, *, where: MessageFilter, limit: int) -> list[Message]:
    # only the filters given, each a fixed clause with its value bound: the planner then picks
    # the index of the most selective one (recipient, created_by) or walks messages_age
    clauses, params = ["true"], []
    for clause, value in (
        ("state = ?", where.state.value if where.state else None),
        ("recipient = ?", where.to),
        ("created_by = ?", where.created_by),
        ("created_at >= ?", timestamp(where.since) if where.since else None),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if where.before is not None:
        at, id_ = where.before
        clauses.append("(created_at, id) < (?, ?)")
        params += [timestamp(at), id_]
    sql = (
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE {' AND '.join(clauses)}"
        " ORDER BY created_at DESC, id DESC LIMIT ?"
    )
    return [_message(row) for row in db.execute(sql, (*params, limit))]


def _unhandled_inbound(db: sqlite3.Connection, *, limit: int) -> list[StoredInbound]:
    rows = db.execute(
        "SELECT id, sender, recipient, text, channel, received_at FROM inbound"
        " WHERE handled_at IS NULL ORDER BY received_at, rowid LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        StoredInbound(id_, sender, to, text, channel, datetime.fromisoformat(at))
        for id_, sender, to, text, channel, at in rows
    ]


def _mark_inbound_handled(db: sqlite3.Connection, *, rows: list[tuple[str, str, str]]) -> None:
    db.executemany("UPDATE inbound SET handled_at = ?, outcome = ? WHERE id = ?", rows)


def _message(row: Any) -> Message:
    return Message(
        id=row[0],
        to=row[1],
        sender=row[2],
        text=row[3],
        state=MessageState(row[4]),
        parts=row[5],
        encoding=row[6],
        channel=row[7],
        error=row[8],
        created_at=datetime.fromisoformat(row[9]),
        updated_at=datetime.fromisoformat(row[10]),
        expires_at=datetime.fromisoformat(row[11]),
        created_by=row[12],
        callback_url=row[13],
        carrier=row[14],
    )
