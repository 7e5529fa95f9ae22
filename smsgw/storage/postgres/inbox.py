"""Tickets and poll answers in PostgreSQL (inbox.store.InboxStore, broadcasts.poll.PollStore).

Two gateways filing texts of one number at once: the unique index tickets_open (one ticket
not closed per number and service) lets one insert; the other's insert does nothing and it
files into that ticket.
"""

from __future__ import annotations

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
from smsgw.storage.postgres.db import Conn, Database

_TICKET = """id, service, ministry, msisdn, language, channel, broadcast, state, assigned_to,
    opened_at, due_at, first_answer_at, last_text_at, closed_at, updated_at"""
_ENTRY = "id, ticket, kind, text, actor, at, message_id, inbound_id"
_SUBSCRIBERS = """SELECT msisdn, language, district, opted_out_at FROM subscribers
    WHERE msisdn = ANY($1)"""
_SUBSCRIBED = """SELECT msisdn, service, subscribed_at FROM subscriptions
    WHERE msisdn = ANY($1) AND left_at IS NULL AND ($2::text[] IS NULL OR service = ANY($2))"""
_OPEN_TICKETS = """SELECT id, msisdn, service, last_text_at FROM tickets
    WHERE msisdn = ANY($1) AND state <> 'closed'"""
_FILED = """SELECT inbound_id, ticket FROM ticket_entries WHERE inbound_id = ANY($1::text[])"""
_OPEN = """SELECT t.id, t.msisdn, t.service FROM tickets t
    JOIN unnest($1::text[], $2::text[]) AS p (msisdn, service)
        ON t.msisdn = p.msisdn AND t.service = p.service
    WHERE t.state <> 'closed' FOR UPDATE OF t"""
_OPEN_NEW = """INSERT INTO tickets (service, ministry, msisdn, language, channel, broadcast,
        state, opened_at, due_at, last_text_at, updated_at)
    SELECT service, ministry, msisdn, language, channel, broadcast, 'open', at, due_at, at, at
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                $7::timestamptz[], $8::timestamptz[])
        AS n (service, ministry, msisdn, language, channel, broadcast, at, due_at)
    ON CONFLICT (msisdn, service) WHERE state <> 'closed' DO NOTHING
    RETURNING id, msisdn, service"""
_REOPEN_MANY = """UPDATE tickets t SET state = 'open', updated_at = r.at,
        last_text_at = greatest(t.last_text_at, r.at)
    FROM unnest($1::bigint[], $2::timestamptz[]) AS r (id, at) WHERE t.id = r.id"""
_QUESTIONS = """INSERT INTO ticket_entries (ticket, kind, text, at, inbound_id)
    SELECT ticket, 'question', text, at, inbound_id
    FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[])
        AS q (ticket, text, at, inbound_id)"""
_ANSWER = """INSERT INTO poll_answers (broadcast, msisdn, option, language, district, answered_at)
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (broadcast, msisdn) DO UPDATE
    SET option = excluded.option, language = excluded.language, district = excluded.district,
        answered_at = excluded.answered_at
    WHERE excluded.answered_at >= poll_answers.answered_at"""
_TALLY = """SELECT option, language, district, count(*) FROM poll_answers
    WHERE broadcast = $1 GROUP BY option, language, district"""
_OVERDUE = """SELECT service, count(*) FROM tickets WHERE state <> 'closed'
    AND first_answer_at IS NULL AND due_at <= $1 GROUP BY service"""
_FIGURES = """SELECT service, ministry, opened_at, first_answer_at, state, due_at FROM tickets
    WHERE opened_at >= $1 AND opened_at < $2"""


class PgInbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def citizens(
        self, msisdns: Collection[str], services: Collection[str] | None = None
    ) -> dict[str, Citizen]:
        chosen = None if services is None else list(services)
        return await self._db.read(partial(_citizens, msisdns=list(msisdns), services=chosen))

    async def file(self, texts: list[CitizenText]) -> list[Filed]:
        return await self._db.write(partial(_file, texts=texts))

    async def tickets(self, query: TicketQuery) -> list[Ticket]:
        return await self._db.report(partial(_tickets, query=query))

    async def ticket(self, ticket_id: int) -> Ticket | None:
        return await self._db.read(partial(_ticket, ticket_id=ticket_id))

    async def thread(self, ticket_id: int) -> list[Entry]:
        return await self._db.read(partial(_thread, ticket_id=ticket_id))

    async def change(self, ticket_id: int, change: TicketChange) -> Ticket | None:
        return await self._db.write(partial(_change, ticket_id=ticket_id, change=change))

    async def figures(
        self, since: datetime, until: datetime, now: datetime
    ) -> list[ServiceFigures]:
        return await self._db.report(partial(_figures, since=since, until=until, now=now))

    async def overdue(self, now: datetime) -> dict[str, int]:
        return await self._db.report(partial(_overdue, now=now))


class PgPolls:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def answer_many(self, answers: list[PollAnswer]) -> None:
        rows = [(a.broadcast, a.msisdn, a.option, a.language, a.district, a.at) for a in answers]
        await self._db.write(partial(_executemany, sql=_ANSWER, rows=rows))

    async def tally(self, broadcast: int) -> PollTally:
        return await self._db.report(partial(_tally, broadcast=broadcast))


async def _executemany(conn: Conn, sql: str, rows: list[tuple[Any, ...]]) -> None:
    await conn.executemany(sql, rows)


async def _tally(conn: Conn, broadcast: int) -> PollTally:
    return PollTally.of(tuple(row) for row in await conn.fetch(_TALLY, broadcast))


async def _overdue(conn: Conn, now: datetime) -> dict[str, int]:
    return {row[0]: row[1] for row in await conn.fetch(_OVERDUE, now)}


async def _citizens(
    conn: Conn, msisdns: list[str], services: list[str] | None
) -> dict[str, Citizen]:
    found: dict[str, dict[str, Any]] = {}
    if services is None or services:  # else no broadcast may have reached them
        for msisdn, language, district, opted_out in await conn.fetch(_SUBSCRIBERS, msisdns):
            found[msisdn] = {"language": language, "district": district,
                             "opted_out_at": opted_out, "subscribed": {},
                             "tickets": []}  # fmt: skip
        for msisdn, service, since in await conn.fetch(_SUBSCRIBED, msisdns, services):
            if msisdn in found:
                found[msisdn]["subscribed"][service] = since
    for ticket_id, msisdn, service, last in await conn.fetch(_OPEN_TICKETS, msisdns):
        citizen = found.setdefault(msisdn, {"subscribed": {}, "tickets": []})
        citizen["tickets"].append((ticket_id, service, last))
    result = {}
    for msisdn, values in found.items():
        tickets = sorted(values.pop("tickets"), key=lambda t: (t[2], t[0]), reverse=True)
        result[msisdn] = Citizen(**values, tickets=tuple(tickets))
    return result


async def _file(conn: Conn, texts: list[CitizenText]) -> list[Filed]:
    """A batch in a few set-based statements (per text, four round trips capped a gateway
    near 550 questions a second): texts filed before, the open tickets of the batch's
    numbers, the new tickets, the reopened ones, the entries."""
    rows = await conn.fetch(_FILED, [t.inbound_id for t in texts])
    before: dict[str, int] = {row[0]: row[1] for row in rows}
    fresh = [t for t in texts if t.inbound_id not in before]
    pairs = list(dict.fromkeys((t.msisdn, t.service) for t in fresh))
    tickets: dict[tuple[str, str], int] = {}
    created: set[int] = set()
    for _ in range(2):  # a pair another gateway opens meanwhile is found the second time
        missing = [pair for pair in pairs if pair not in tickets]
        if not missing:
            break
        found = await conn.fetch(_OPEN, [m for m, _ in missing], [s for _, s in missing])
        tickets.update(((row[1], row[2]), row[0]) for row in found)
        first = {(t.msisdn, t.service): t for t in reversed(fresh)}  # each pair's first text
        new = [first[pair] for pair in missing if pair not in tickets]
        if new:
            rows = await conn.fetch(_OPEN_NEW, *_columns(new))
            tickets.update(((row[1], row[2]), row[0]) for row in rows)
            created.update(row[0] for row in rows)
    last: dict[int, datetime] = {}
    count: dict[int, int] = {}
    for text in fresh:
        ticket = tickets[(text.msisdn, text.service)]
        last[ticket] = max(last.get(ticket, text.at), text.at)
        count[ticket] = count.get(ticket, 0) + 1
    # tickets there before (an answered one opens again), and new ones given more texts
    reopened = [t for t in last if t not in created or count[t] > 1]
    if reopened:
        await conn.execute(_REOPEN_MANY, reopened, [last[t] for t in reopened])
    if fresh:
        await conn.execute(
            _QUESTIONS, [tickets[(t.msisdn, t.service)] for t in fresh],
            [t.text for t in fresh], [t.at for t in fresh], [t.inbound_id for t in fresh],
        )  # fmt: skip
    filed, seen = [], set()
    for text in texts:
        if text.inbound_id in before:
            filed.append(Filed(int(before[text.inbound_id]), False))
            continue
        ticket = tickets[(text.msisdn, text.service)]
        filed.append(Filed(ticket, ticket in created and ticket not in seen))
        seen.add(ticket)
    return filed


def _columns(texts: list[CitizenText]) -> tuple[list[Any], ...]:
    return (
        [t.service for t in texts], [t.ministry for t in texts], [t.msisdn for t in texts],
        [t.language for t in texts], [t.channel for t in texts], [t.broadcast for t in texts],
        [t.at for t in texts], [t.due_at for t in texts],
    )  # fmt: skip


async def _tickets(conn: Conn, query: TicketQuery) -> list[Ticket]:
    where = ["id < $1"]
    args: list[object] = [query.before if query.before is not None else 2**63 - 1]

    def add(condition: str, value: object) -> None:
        args.append(value)
        where.append(condition.replace("$?", f"${len(args)}"))

    if query.ministries is not None:
        add("ministry = ANY($?)", list(query.ministries))
    if query.service is not None:
        add("service = $?", query.service)
    if query.state is not None:
        add("state = $?", query.state.value)
    if query.assigned_to is not None:
        add("assigned_to = $?", query.assigned_to)
    if query.overdue_at is not None:
        add("state <> 'closed' AND first_answer_at IS NULL AND due_at <= $?", query.overdue_at)
    args.append(query.limit)
    rows = await conn.fetch(
        f"SELECT {_TICKET} FROM tickets WHERE {' AND '.join(where)}"
        f" ORDER BY id DESC LIMIT ${len(args)}", *args,
    )  # fmt: skip
    return [_ticket_of(row) for row in rows]


async def _ticket(conn: Conn, ticket_id: int) -> Ticket | None:
    row = await conn.fetchrow(f"SELECT {_TICKET} FROM tickets WHERE id = $1", ticket_id)
    return None if row is None else _ticket_of(row)


async def _thread(conn: Conn, ticket_id: int) -> list[Entry]:
    rows = await conn.fetch(
        f"SELECT {_ENTRY} FROM ticket_entries WHERE ticket = $1 ORDER BY id", ticket_id
    )
    return [Entry(r[0], r[1], EntryKind(r[2]), r[3], r[4], r[5], r[6], r[7]) for r in rows]


async def _change(conn: Conn, ticket_id: int, change: TicketChange) -> Ticket | None:
    if await conn.fetchval("SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE", ticket_id) is None:
        return None
    entry = change.entry
    await conn.execute(
        "INSERT INTO ticket_entries (ticket, kind, text, actor, at, message_id, inbound_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        ticket_id, entry.kind.value, entry.text, entry.actor, entry.at, entry.message_id,
        entry.inbound_id,
    )  # fmt: skip
    sets = ["updated_at = $1"]
    args: list[object] = [entry.at]

    def add(column: str, value: object) -> None:
        args.append(value)
        sets.append(column.replace("$?", f"${len(args)}"))

    if change.state is not None:
        add("state = $?", change.state.value)
        add("closed_at = $?", entry.at if change.state is TicketState.CLOSED else None)
    if change.assign:
        add("assigned_to = $?", change.assigned_to)
    if change.answered:
        sets.append("first_answer_at = coalesce(first_answer_at, $1)")
    args.append(ticket_id)
    await conn.execute(f"UPDATE tickets SET {', '.join(sets)} WHERE id = ${len(args)}", *args)
    return await _ticket(conn, ticket_id)


async def _figures(
    conn: Conn, since: datetime, until: datetime, now: datetime
) -> list[ServiceFigures]:
    per: dict[str, dict[str, Any]] = {}
    for service, ministry, opened, first, state, due in await conn.fetch(_FIGURES, since, until):
        figures = per.setdefault(service, {"ministry": ministry, "received": 0, "answered": 0,
                                           "first": [], "overdue": 0})  # fmt: skip
        figures["received"] += 1
        if first is not None:
            figures["answered"] += 1
            figures["first"].append((first - opened).total_seconds())
        elif state != "closed" and due is not None and due <= now:
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
    return Ticket(
        id=row[0], service=row[1], ministry=row[2], msisdn=row[3], language=row[4],
        channel=row[5], broadcast=row[6], state=TicketState(row[7]), assigned_to=row[8],
        opened_at=row[9], due_at=row[10], first_answer_at=row[11], last_text_at=row[12],
        closed_at=row[13], updated_at=row[14],
    )  # fmt: skip
