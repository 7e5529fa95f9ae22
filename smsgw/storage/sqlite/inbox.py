"""Tickets and poll answers in SQLite (inbox.store.InboxStore, broadcasts.poll.PollStore)."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import datetime
from functools import partial
from typing import Any

from smsgw.broadcasts.poll import PollAnswer, PollTally
from smsgw.inbox.model import (
    Citizen,
    CitizenText,
    Entry,
    EntryKind,
    Filed,
    ServiceFigures,
    Ticket,
    TicketChange,
    TicketQuery,
    TicketState,
)
from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import maybe_time, maybe_timestamp, timestamp

_TICKET = """id, service, ministry, msisdn, language, channel, broadcast, state, assigned_to,
    opened_at, due_at, first_answer_at, last_text_at, closed_at, updated_at"""
_ENTRY = "id, ticket, kind, text, actor, at, message_id, inbound_id"
_CHUNK = 500  # numbers per IN (...): well under SQLite's 32,766 variables


class SqliteInbox:
    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def citizens(
        self, msisdns: Collection[str], services: Collection[str] | None = None
    ) -> dict[str, Citizen]:
        chosen = None if services is None else set(services)
        return await self._db.read(partial(_citizens, msisdns=list(msisdns), services=chosen))

    async def file(self, texts: list[CitizenText]) -> list[Filed]:
        return await self._db.write(partial(_file, texts=texts))

    async def tickets(self, query: TicketQuery) -> list[Ticket]:
        return await self._db.report(partial(_tickets, query=query))

    async def ticket(self, ticket_id: int) -> Ticket | None:
        return await self._db.read(partial(_ticket, ticket_id=ticket_id))

    async def thread(self, ticket_id: int) -> list[Entry]:
        rows = await self._db.read(
            lambda db: db.execute(
                f"SELECT {_ENTRY} FROM ticket_entries WHERE ticket = ? ORDER BY id", (ticket_id,)
            ).fetchall()
        )
        return [_entry(row) for row in rows]

    async def change(self, ticket_id: int, change: TicketChange) -> Ticket | None:
        return await self._db.write(partial(_change, ticket_id=ticket_id, change=change))

    async def figures(
        self, since: datetime, until: datetime, now: datetime
    ) -> list[ServiceFigures]:
        return await self._db.report(partial(_figures, since=since, until=until, now=now))

    async def overdue(self, now: datetime) -> dict[str, int]:
        rows = await self._db.report(
            lambda db: db.execute(
                "SELECT service, count(*) FROM tickets WHERE state != 'closed'"
                " AND first_answer_at IS NULL AND due_at <= ? GROUP BY service",
                (timestamp(now),),
            ).fetchall()
        )
        return dict(rows)


class SqlitePolls:
    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def answer_many(self, answers: list[PollAnswer]) -> None:
        rows = [(a.broadcast, a.msisdn, a.option, a.language, a.district, timestamp(a.at))
                for a in answers]  # fmt: skip
        await self._db.write(
            lambda db: db.executemany(
                "INSERT INTO poll_answers (broadcast, msisdn, option, language, district,"
                " answered_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (broadcast, msisdn)"
                " DO UPDATE SET option = excluded.option, language = excluded.language,"
                " district = excluded.district, answered_at = excluded.answered_at"
                " WHERE excluded.answered_at >= poll_answers.answered_at",
                rows,
            )
        )

    async def tally(self, broadcast: int) -> PollTally:
        rows = await self._db.report(
            lambda db: db.execute(
                "SELECT option, language, district, count(*) FROM poll_answers"
                " WHERE broadcast = ? GROUP BY option, language, district",
                (broadcast,),
            ).fetchall()
        )
        return PollTally.of(rows)


def _citizens(
    db: sqlite3.Connection, msisdns: list[str], services: set[str] | None
) -> dict[str, Citizen]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(msisdns), _CHUNK):
        chunk = msisdns[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        if services is None or services:  # else no broadcast may have reached them
            _subscribers(db, chunk, marks, services, found)
        for ticket_id, msisdn, service, last in db.execute(
            f"SELECT id, msisdn, service, last_text_at FROM tickets"
            f" WHERE msisdn IN ({marks}) AND state != 'closed'", chunk,
        ):  # fmt: skip
            citizen = found.setdefault(msisdn, {"subscribed": {}, "tickets": []})
            citizen["tickets"].append((ticket_id, service, datetime.fromisoformat(last)))
    result = {}
    for msisdn, values in found.items():
        tickets = sorted(values.pop("tickets"), key=lambda t: (t[2], t[0]), reverse=True)
        result[msisdn] = Citizen(**values, tickets=tuple(tickets))
    return result


def _subscribers(
    db: sqlite3.Connection, chunk: list[str], marks: str, services: set[str] | None,
    found: dict[str, dict[str, Any]],
) -> None:  # fmt: skip
    for msisdn, language, district, opted_out in db.execute(
        f"SELECT msisdn, language, district, opted_out_at FROM subscribers"
        f" WHERE msisdn IN ({marks})", chunk,
    ):  # fmt: skip
        found[msisdn] = {"language": language, "district": district,
                         "opted_out_at": maybe_time(opted_out), "subscribed": {},
                         "tickets": []}  # fmt: skip
    for msisdn, service, since in db.execute(
        f"SELECT msisdn, service, subscribed_at FROM subscriptions"
        f" WHERE msisdn IN ({marks}) AND left_at IS NULL", chunk,
    ):  # fmt: skip
        if msisdn in found and (services is None or service in services):
            found[msisdn]["subscribed"][service] = datetime.fromisoformat(since)


def _file(db: sqlite3.Connection, texts: list[CitizenText]) -> list[Filed]:
    filed = []
    for text in texts:
        at = timestamp(text.at)
        row = db.execute(
            "SELECT ticket FROM ticket_entries WHERE inbound_id = ?", (text.inbound_id,)
        ).fetchone()
        if row is not None:  # handled before a crash, not marked handled: filed already
            filed.append(Filed(row[0], False))
            continue
        row = db.execute(
            "SELECT id FROM tickets WHERE msisdn = ? AND service = ? AND state != 'closed'",
            (text.msisdn, text.service),
        ).fetchone()
        if row is not None:
            ticket_id, new = row[0], False
            db.execute(
                "UPDATE tickets SET state = 'open', last_text_at = ?, updated_at = ? WHERE id = ?",
                (at, at, ticket_id),
            )
        else:
            cursor = db.execute(
                "INSERT INTO tickets (service, ministry, msisdn, language, channel, broadcast,"
                " state, opened_at, due_at, last_text_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)",
                (text.service, text.ministry, text.msisdn, text.language, text.channel,
                 text.broadcast, at, maybe_timestamp(text.due_at), at, at),
            )  # fmt: skip
            assert cursor.lastrowid is not None  # noqa: S101 - an INSERT into a rowid table
            ticket_id, new = cursor.lastrowid, True
        db.execute(
            "INSERT INTO ticket_entries (ticket, kind, text, at, inbound_id)"
            " VALUES (?, 'question', ?, ?, ?)",
            (ticket_id, text.text, at, text.inbound_id),
        )
        filed.append(Filed(ticket_id, new))
    return filed


def _tickets(db: sqlite3.Connection, query: TicketQuery) -> list[Ticket]:
    where = ["id < ?"]
    args: list[object] = [query.before if query.before is not None else 2**63 - 1]
    if query.ministries is not None:
        where.append(f"ministry IN ({','.join('?' * len(query.ministries))})")
        args.extend(query.ministries)
    if query.service is not None:
        where.append("service = ?")
        args.append(query.service)
    if query.state is not None:
        where.append("state = ?")
        args.append(query.state.value)
    if query.assigned_to is not None:
        where.append("assigned_to = ?")
        args.append(query.assigned_to)
    if query.overdue_at is not None:
        where.append("state != 'closed' AND first_answer_at IS NULL AND due_at <= ?")
        args.append(timestamp(query.overdue_at))
    rows = db.execute(
        f"SELECT {_TICKET} FROM tickets WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
        (*args, query.limit),
    ).fetchall()
    return [_ticket_of(row) for row in rows]


def _ticket(db: sqlite3.Connection, ticket_id: int) -> Ticket | None:
    row = db.execute(f"SELECT {_TICKET} FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    return None if row is None else _ticket_of(row)


def _change(db: sqlite3.Connection, ticket_id: int, change: TicketChange) -> Ticket | None:
    if _ticket(db, ticket_id) is None:
        return None
    entry, at = change.entry, timestamp(change.entry.at)
    db.execute(
        f"INSERT INTO ticket_entries ({_ENTRY.removeprefix('id, ')}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (ticket_id, entry.kind.value, entry.text, entry.actor, at, entry.message_id,
         entry.inbound_id),
    )  # fmt: skip
    sets = ["updated_at = ?"]
    args: list[object] = [at]
    if change.state is not None:
        sets.append("state = ?")
        args.append(change.state.value)
        sets.append("closed_at = ?")
        args.append(at if change.state is TicketState.CLOSED else None)
    if change.assign:
        sets.append("assigned_to = ?")
        args.append(change.assigned_to)
    if change.answered:
        sets.append("first_answer_at = coalesce(first_answer_at, ?)")
        args.append(at)
    db.execute(f"UPDATE tickets SET {', '.join(sets)} WHERE id = ?", (*args, ticket_id))
    return _ticket(db, ticket_id)


def _figures(
    db: sqlite3.Connection, since: datetime, until: datetime, now: datetime
) -> list[ServiceFigures]:
    per: dict[str, dict[str, Any]] = {}
    for service, ministry, opened, first, state, due in db.execute(
        "SELECT service, ministry, opened_at, first_answer_at, state, due_at FROM tickets"
        " WHERE opened_at >= ? AND opened_at < ?", (timestamp(since), timestamp(until)),
    ):  # fmt: skip
        figures = per.setdefault(service, {"ministry": ministry, "received": 0, "answered": 0,
                                           "first": [], "overdue": 0})  # fmt: skip
        figures["received"] += 1
        if first is not None:
            figures["answered"] += 1
            gap = datetime.fromisoformat(first) - datetime.fromisoformat(opened)
            figures["first"].append(gap.total_seconds())
        elif state != "closed" and due is not None and datetime.fromisoformat(due) <= now:
            figures["overdue"] += 1
    return [
        ServiceFigures(
            service,
            f["ministry"],
            f["received"],
            f["answered"],
            tuple(sorted(f["first"])),
            f["overdue"],
        )
        for service, f in sorted(per.items())
    ]


def _ticket_of(row: Any) -> Ticket:
    (id_, service, ministry, msisdn, language, channel, broadcast, state, assigned_to, opened,
     due, first, last, closed, updated) = row  # fmt: skip
    return Ticket(
        id=id_, service=service, ministry=ministry, msisdn=msisdn, language=language,
        channel=channel, broadcast=broadcast, state=TicketState(state), assigned_to=assigned_to,
        opened_at=datetime.fromisoformat(opened), due_at=maybe_time(due),
        first_answer_at=maybe_time(first), last_text_at=datetime.fromisoformat(last),
        closed_at=maybe_time(closed), updated_at=datetime.fromisoformat(updated),
    )  # fmt: skip


def _entry(row: Any) -> Entry:
    id_, ticket, kind, text, actor, at, message_id, inbound_id = row
    return Entry(id_, ticket, EntryKind(kind), text, actor, datetime.fromisoformat(at),
                 message_id, inbound_id)  # fmt: skip
