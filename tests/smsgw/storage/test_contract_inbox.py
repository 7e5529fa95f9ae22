"""The tickets' and polls' repository contracts (InboxStore, PollStore) on every backend."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from smsgw.broadcasts.model import Broadcast, BroadcastState
from smsgw.broadcasts.poll import Poll, PollAnswer, PollOption
from smsgw.delivery.outbox import Priority
from smsgw.inbox.model import (
    CitizenText,
    Entry,
    EntryKind,
    Filed,
    TicketChange,
    TicketQuery,
    TicketState,
)
from smsgw.storage.postgres import PostgresStore
from smsgw.storage.sqlite import SqliteStore
from subscriptions.models import Change, ChangeKind, Service, Source

AnyStore = SqliteStore | PostgresStore
pytestmark = pytest.mark.usefixtures("postgres_database")
T0 = datetime(2026, 10, 1, 20, 0, 0, 123456, tzinfo=UTC)
ANA, JUAN = "+5016012345", "+5016054321"


def said(text: str, *, msisdn: str = ANA, service: str = "HEALTH", seconds: float = 0,
         inbound: str | None = None) -> CitizenText:  # fmt: skip
    at = T0 + timedelta(seconds=seconds)
    return CitizenText(
        service=service, ministry="health" if service == "HEALTH" else "met", msisdn=msisdn,
        language="en", channel="btl-1", broadcast=None, text=text,
        inbound_id=inbound or f"in-{text}", at=at, due_at=at + timedelta(hours=1),
    )  # fmt: skip


async def test_texts_are_filed_into_one_ticket_per_number_and_service(any_store: AnyStore):
    inbox = any_store.inbox
    filed = await inbox.file([
        said("Where is the clinic?"), said("And when?", seconds=1),
        said("Rain?", service="WEATHER", seconds=2), said("Vacunas?", msisdn=JUAN, seconds=3),
    ])  # fmt: skip
    assert filed == [Filed(1, True), Filed(1, False), Filed(2, True), Filed(3, True)]
    # a text handled again after a crash is not filed twice
    assert await inbox.file([said("And when?", seconds=1)]) == [Filed(1, False)]
    thread = await inbox.thread(1)
    assert [(e.kind, e.text, e.inbound_id) for e in thread] == [
        (EntryKind.QUESTION, "Where is the clinic?", "in-Where is the clinic?"),
        (EntryKind.QUESTION, "And when?", "in-And when?"),
    ]
    ticket = await inbox.ticket(1)
    assert ticket is not None
    assert (ticket.state, ticket.msisdn, ticket.channel) == (TicketState.OPEN, ANA, "btl-1")
    assert ticket.opened_at == T0
    assert ticket.last_text_at == T0 + timedelta(seconds=1)

    # answered, then the citizen writes again: open again; closed: a new ticket
    answer = Entry(0, 1, EntryKind.ANSWER, "Main street", "maria", T0 + timedelta(seconds=5),
                   message_id="m1")  # fmt: skip
    changed = await inbox.change(1, TicketChange(answer, state=TicketState.ANSWERED,
                                                 answered=True))  # fmt: skip
    assert changed is not None
    assert changed.state is TicketState.ANSWERED
    assert changed.first_answer_at == T0 + timedelta(seconds=5)
    assert await inbox.file([said("Thanks", seconds=6)]) == [Filed(1, False)]
    reopened = await inbox.ticket(1)
    assert reopened is not None
    assert reopened.state is TicketState.OPEN
    assert reopened.first_answer_at == T0 + timedelta(seconds=5)  # the first stays
    closing = Entry(0, 1, EntryKind.CLOSED, "", "maria", T0 + timedelta(seconds=7))
    await inbox.change(1, TicketChange(closing, state=TicketState.CLOSED))
    assert await inbox.file([said("Another", seconds=8)]) == [Filed(4, True)]
    assert await inbox.change(99, TicketChange(closing)) is None


async def test_tickets_are_listed_by_ministry_state_assignee_and_overdue(any_store: AnyStore):
    inbox = any_store.inbox
    await inbox.file([said("a"), said("b", msisdn=JUAN), said("c", service="WEATHER")])
    note = Entry(0, 2, EntryKind.ASSIGNED, "maria", "ines", T0)
    await inbox.change(2, TicketChange(note, assigned_to="maria", assign=True))

    async def ids(**query: object) -> list[int]:
        found = await inbox.tickets(TicketQuery(**{"ministries": None, **query}))  # type: ignore[arg-type]
        return [t.id for t in found]

    assert await ids() == [3, 2, 1]
    assert await ids(ministries=("health",)) == [2, 1]
    assert await ids(ministries=("health",), before=2) == [1]
    assert await ids(service="WEATHER") == [3]
    assert await ids(assigned_to="maria") == [2]
    assert await ids(state=TicketState.CLOSED) == []
    assert await ids(limit=1) == [3]
    assert await ids(overdue_at=T0 + timedelta(minutes=59)) == []
    assert await ids(overdue_at=T0 + timedelta(hours=1)) == [3, 2, 1]
    assert await inbox.overdue(T0 + timedelta(hours=2)) == {"HEALTH": 2, "WEATHER": 1}
    answer = Entry(0, 1, EntryKind.ANSWER, "x", "maria", T0 + timedelta(minutes=30))
    await inbox.change(1, TicketChange(answer, state=TicketState.ANSWERED, answered=True))
    assert await ids(overdue_at=T0 + timedelta(hours=2)) == [3, 2]
    figures = await inbox.figures(T0 - timedelta(days=1), T0 + timedelta(days=1),
                                  T0 + timedelta(hours=2))  # fmt: skip
    assert [(f.service, f.ministry, f.received, f.answered, f.first_answer_s, f.overdue)
            for f in figures] == [("HEALTH", "health", 2, 1, (1800.0,), 1),
                                  ("WEATHER", "met", 1, 0, (), 1)]  # fmt: skip
    assert await inbox.figures(T0 + timedelta(days=1), T0 + timedelta(days=2), T0) == []


async def test_citizens_are_told_with_their_subscriptions_and_open_tickets(any_store: AnyStore):
    await any_store.catalogue.add_service(Service("HEALTH", "health", {"en": "Health"}))
    await any_store.subscriptions.apply([
        Change(ChangeKind.JOIN, ANA, T0, Source.SMS, "in-1", service="HEALTH",
               district="Toledo"),
        Change(ChangeKind.LANGUAGE, ANA, T0, Source.SMS, "in-2", language="es"),
    ])  # fmt: skip
    await any_store.inbox.file([said("a", seconds=1), said("b", msisdn=JUAN)])
    citizens = await any_store.inbox.citizens([ANA, JUAN, "+5016099999"])
    assert set(citizens) == {ANA, JUAN}  # JUAN: only a ticket
    ana = citizens[ANA]
    assert (ana.language, ana.district, ana.opted_out_at) == ("es", "Toledo", None)
    assert ana.subscribed == {"HEALTH": T0}
    assert ana.tickets == ((1, "HEALTH", T0 + timedelta(seconds=1)),)
    assert citizens[JUAN].tickets == ((2, "HEALTH", T0),)
    # no recent broadcast of any service: only the tickets are read
    only = await any_store.inbox.citizens([ANA], ())
    assert only[ANA].tickets == ana.tickets
    assert only[ANA].subscribed == {}
    assert (await any_store.inbox.citizens([ANA], ["WEATHER"]))[ANA].subscribed == {}


async def test_a_numbers_last_poll_answer_counts(any_store: AnyStore):
    polls = any_store.polls

    def answer(msisdn: str, option: int, seconds: float, language: str = "en",
               district: str | None = None) -> PollAnswer:  # fmt: skip
        return PollAnswer(7, msisdn, option, language, district, T0 + timedelta(seconds=seconds))

    await polls.answer_many([answer(ANA, 1, 1), answer(JUAN, 2, 1, "es", "Cayo")])
    await polls.answer_many([answer(ANA, 2, 3), answer(JUAN, 1, 0, "es", "Cayo")])  # JUAN's older
    await polls.answer_many([dataclasses.replace(answer(ANA, 1, 1), broadcast=8)])
    tally = await polls.tally(7)
    assert tally.counts == {2: 2}
    assert tally.by_language == {"en": {2: 1}, "es": {2: 1}}
    assert tally.by_district == {"": {2: 1}, "Cayo": {2: 1}}
    assert (await polls.tally(8)).counts == {1: 1}
    assert (await polls.tally(9)).counts == {}


async def test_retention_takes_quiet_tickets_and_the_numbers_of_closed_polls(any_store: AnyStore):
    """Tickets waiting for an answer stay whatever their age; the others go with their thread
    once unchanged since the cut-off. A poll's answers lose their number once it closed before
    the cut-off, and its tally stays as it was."""
    inbox, retention = any_store.inbox, any_store.retention
    await inbox.file([said("waiting"), said("answered", msisdn=JUAN),
                      said("closed", service="WEATHER")])  # fmt: skip
    answer = Entry(0, 2, EntryKind.ANSWER, "x", "maria", T0 + timedelta(seconds=5))
    await inbox.change(2, TicketChange(answer, state=TicketState.ANSWERED, answered=True))
    closing = Entry(0, 3, EntryKind.CLOSED, "", "maria", T0 + timedelta(days=2))
    await inbox.change(3, TicketChange(closing, state=TicketState.CLOSED))
    cut_off = T0 + timedelta(days=1)  # the closed one changed after it
    assert await retention.purge_tickets(cut_off, limit=10) == 1
    assert [await inbox.ticket(n) is not None for n in (1, 2, 3)] == [True, False, True]
    assert await inbox.thread(2) == []
    assert await retention.purge_tickets(T0 + timedelta(days=3), limit=10) == 1  # the closed
    assert await inbox.ticket(1) is not None  # still waiting

    await any_store.catalogue.add_service(Service("HEALTH", "health", {"en": "Health"}))
    closes = T0 + timedelta(hours=1)
    options = (PollOption(1, {"en": ("yes",)}), PollOption(2, {"en": ("no",)}))
    poll = await any_store.broadcasts.add_broadcast(new_broadcast(Poll(options, closes)))
    later = Poll(options, T0 + 3 * DAYS)
    other = await any_store.broadcasts.add_broadcast(new_broadcast(later))
    at = T0 + timedelta(minutes=5)
    await any_store.polls.answer_many([
        PollAnswer(poll, ANA, 1, "en", "Cayo", at), PollAnswer(poll, JUAN, 2, "es", None, at),
        PollAnswer(poll, "+5016000003", 1, "en", None, at),
        PollAnswer(other, ANA, 2, "en", None, at),
    ])  # fmt: skip
    before = await any_store.polls.tally(poll)
    assert await retention.forget_poll_numbers(closes, limit=10) == 0  # not closed before it
    assert await retention.forget_poll_numbers(closes + DAYS, limit=2) == 2  # the limit
    assert await retention.forget_poll_numbers(closes + DAYS, limit=10) == 1
    assert await retention.forget_poll_numbers(closes + DAYS, limit=10) == 0
    assert await any_store.polls.tally(poll) == before
    assert (await any_store.polls.tally(other)).counts == {2: 1}  # open then: kept
    # the same number answering a poll again is another answer of another poll, not a lost one
    await any_store.polls.answer_many([PollAnswer(other, ANA, 1, "en", None, at)])
    assert (await any_store.polls.tally(other)).counts == {1: 1}


DAYS = timedelta(days=10)


def new_broadcast(poll: Poll) -> Broadcast:
    return Broadcast(
        id=0, service="HEALTH", ministry="health", texts={"en": "Vaccines?"}, segments={"en": 1},
        encodings={"en": "gsm7"}, default_language="en", priority=Priority.NORMAL,
        state=BroadcastState.DONE, send_at=None, expires_at=T0 + timedelta(hours=1),
        audience=3, cost_estimate=0.1, created_by="tok1", created_at=T0, updated_at=T0, poll=poll,
    )  # fmt: skip
