"""A citizen's question to a ministry (a ticket), the texts and acts of its thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class TicketState(StrEnum):
    OPEN = "open"  # the citizen waits for an answer (a further text reopens an answered one)
    ANSWERED = "answered"  # the last word was ours
    CLOSED = "closed"  # done: a further text opens a new ticket


class EntryKind(StrEnum):
    QUESTION = "question"  # the citizen's text (the first, and any further one)
    ANSWER = "answer"  # ours, sent by SMS (message_id)
    NOTE = "note"  # internal: never sent
    ASSIGNED = "assigned"  # text: to whom ("" : no one)
    CLOSED = "closed"
    REOPENED = "reopened"


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int  # the citizen's ticket number ("#123")
    service: str
    ministry: str
    msisdn: str
    language: str  # the citizen's: answers and canned answers in it
    channel: str | None  # the bind the question came in on: answers go back through it
    broadcast: int | None  # the broadcast it replies to (None: ASK)
    state: TicketState
    assigned_to: str | None  # a person
    opened_at: datetime
    due_at: datetime | None  # the first answer's target ([inbox] first_answer_h)
    first_answer_at: datetime | None
    last_text_at: datetime  # the citizen's latest text
    closed_at: datetime | None
    updated_at: datetime

    def overdue(self, now: datetime) -> bool:
        """Past its first answer's target with no answer yet (and not closed)."""
        return (
            self.first_answer_at is None
            and self.state is not TicketState.CLOSED
            and self.due_at is not None
            and now >= self.due_at
        )


@dataclass(frozen=True, slots=True)
class Entry:
    id: int  # 0 until stored
    ticket: int
    kind: EntryKind
    text: str
    actor: str | None  # a person or token id; None: the citizen
    at: datetime
    message_id: str | None = None  # ANSWER: the SMS sent (its delivery state)
    inbound_id: str | None = None  # QUESTION: the stored inbound text


@dataclass(frozen=True, slots=True)
class CitizenText:
    """A citizen's text for the inbox: into their ticket of ``service`` not closed, else a new
    one (which the other fields describe)."""

    service: str
    ministry: str
    msisdn: str
    language: str
    channel: str | None
    broadcast: int | None
    text: str
    inbound_id: str
    at: datetime
    due_at: datetime | None


@dataclass(frozen=True, slots=True)
class Filed:
    ticket: int
    new: bool  # the text opened the ticket


@dataclass(frozen=True, slots=True)
class Citizen:
    """What the inbox knows of a number when its texts arrive."""

    language: str | None = None
    district: str | None = None
    opted_out_at: datetime | None = None
    subscribed: dict[str, datetime] | None = None  # service → since (active subscriptions)
    # its tickets not closed: (id, service, last text), the latest first
    tickets: tuple[tuple[int, str, datetime], ...] = ()


@dataclass(frozen=True, slots=True)
class TicketQuery:
    ministries: tuple[str, ...] | None  # as stored; None: every ministry (an admin)
    service: str | None = None
    state: TicketState | None = None
    assigned_to: str | None = None
    overdue_at: datetime | None = None  # only those overdue at this time
    before: int | None = None  # ids below it (the cursor)
    limit: int = 50


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    """A service's questions over a period (by the day they were opened)."""

    service: str
    ministry: str
    received: int
    answered: int  # of those received, answered at least once
    first_answer_s: tuple[float, ...]  # each answered one's time to its first answer
    overdue: int  # not answered and past their target, now


@dataclass(frozen=True, slots=True)
class TicketChange:
    """What an officer's act does to a ticket, stored with its thread's entry."""

    entry: Entry
    state: TicketState | None = None
    assigned_to: str | None = None
    assign: bool = False  # set assigned_to (None: to no one)
    answered: bool = False  # the entry is an answer: first_answer_at is set if unset
