"""What officers do with citizens' questions: read, answer, assign, note, close, reopen.

Officers and supervisors see their ministry's tickets only (another's answers 404, as for
broadcasts); admins see all. An answer is an SMS like any other (counted, costed, its delivery
tracked), sent back through the bind the question came in on while it is up; never to a
number under STOP (a 409 saying so: the officer sees why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog

from channels.text import text_info
from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.store import AuditLog, TokenStore
from smsgw.access.tokens import ApiToken, Role, ministry_key
from smsgw.config import CannedAnswerConfig, InboxConfig
from smsgw.delivery.message import Message
from smsgw.errors import Conflict, Invalid, NotFound
from smsgw.inbox.model import (
    Citizen,
    Entry,
    EntryKind,
    ServiceFigures,
    Ticket,
    TicketChange,
    TicketQuery,
    TicketState,
)
from smsgw.inbox.store import InboxStore
from subscriptions.catalogue import find_service
from subscriptions.store import CatalogueStore

_log = structlog.get_logger(__name__)

_ANSWERERS = (Role.OFFICER, Role.SUPERVISOR, Role.ADMIN)


class AnswerSender(Protocol):
    async def create(
        self, to: str, text: str, *, segments: int, encoding: str, via: str | None = None,
        created_by: str | None = None,
    ) -> Message: ...  # fmt: skip


@dataclass(frozen=True, slots=True)
class Thread:
    ticket: Ticket
    entries: list[Entry]
    citizen: Citizen  # STOP (opted_out_at): why an answer cannot be sent


def person(actor: ApiToken) -> str:
    """Whom a ticket is assigned to when ``actor`` takes it (their person, else the token)."""
    return actor.person.casefold() if actor.person else actor.id


class InboxService:
    def __init__(
        self,
        inbox: InboxStore,
        catalogue: CatalogueStore,
        tokens: TokenStore,
        audit: AuditLog,
        sender: AnswerSender,
        settings: InboxConfig,
        *,
        max_segments: int,
    ) -> None:
        self._inbox = inbox
        self._catalogue = catalogue
        self._tokens = tokens
        self._audit = audit
        self._sender = sender
        self._settings = settings
        self._max_segments = max_segments

    async def listing(
        self, actor: ApiToken, *, service: str | None = None, state: TicketState | None = None,
        mine: bool = False, overdue: bool = False, before: int | None = None, limit: int = 50,
    ) -> list[Ticket]:  # fmt: skip
        keyword = None
        if service:
            found = await find_service(self._catalogue, service)
            if found is None:
                raise Invalid(f"no service {service!r}", field="service")
            keyword = found.keyword
        query = TicketQuery(
            ministries=await self._ministries(actor),
            service=keyword,
            state=state,
            assigned_to=person(actor) if mine else None,
            overdue_at=datetime.now(UTC) if overdue else None,
            before=before,
            limit=limit,
        )
        return await self._inbox.tickets(query)

    async def find(self, actor: ApiToken, ticket_id: int) -> Ticket:
        ticket = await self._inbox.ticket(ticket_id)
        if ticket is None or not actor.may_act_for(ticket.ministry):
            raise NotFound(f"no ticket {ticket_id}")
        return ticket

    async def thread(self, actor: ApiToken, ticket_id: int) -> Thread:
        ticket = await self.find(actor, ticket_id)
        entries = await self._inbox.thread(ticket.id)
        citizens = await self._inbox.citizens([ticket.msisdn])
        return Thread(ticket, entries, citizens.get(ticket.msisdn, Citizen()))

    async def answer(self, actor: ApiToken, ticket_id: int, text: str) -> Thread:
        ticket = await self.find(actor, ticket_id)
        if ticket.state is TicketState.CLOSED:
            raise Conflict(f"ticket {ticket_id} is closed: reopen it to answer",
                           code="ticket_closed")  # fmt: skip
        text = text.strip()
        if not text:
            raise Invalid("the answer is empty", field="text")
        info = text_info(text)
        if info.segments > self._max_segments:
            raise Invalid(f"the answer takes {info.segments} SMS; at most {self._max_segments}",
                          field="text")  # fmt: skip
        citizen = (await self._inbox.citizens([ticket.msisdn])).get(ticket.msisdn, Citizen())
        if citizen.opted_out_at is not None:
            raise Conflict(
                f"not sent: the citizen sent STOP at {citizen.opted_out_at.isoformat()}"
                " and gets no SMS until they send START", code="opted_out",
            )  # fmt: skip
        message = await self._sender.create(
            ticket.msisdn, text, segments=info.segments, encoding=str(info.encoding),
            via=ticket.channel, created_by=actor.id,
        )  # fmt: skip
        now = datetime.now(UTC)
        entry = Entry(0, ticket.id, EntryKind.ANSWER, text, person(actor), now,
                      message_id=message.id)  # fmt: skip
        await self._change(ticket, TicketChange(entry, state=TicketState.ANSWERED, answered=True))
        await self._audit.audit(
            AuditEntry.by(actor, AuditAction.TICKET_ANSWERED, str(ticket.id), at=now,
                          service=ticket.service, message=message.id, segments=info.segments)
        )  # fmt: skip
        _log.info("ticket_answered", ticket=ticket.id, message=message.id, by=actor.id)
        return await self.thread(actor, ticket.id)

    async def assign(self, actor: ApiToken, ticket_id: int, to: str | None) -> Thread:
        ticket = await self.find(actor, ticket_id)
        assignee = None
        if to is not None and to.strip():
            assignee = person(actor) if to.strip().casefold() == "me" else to.strip().casefold()
            if not await self._may_answer(assignee, ticket.ministry):
                raise Invalid(f"{to!r} is no officer, supervisor or admin who may answer"
                              f" {ticket.ministry}'s questions", field="to")  # fmt: skip
        entry = Entry(0, ticket.id, EntryKind.ASSIGNED, assignee or "", person(actor),
                      datetime.now(UTC))  # fmt: skip
        await self._change(ticket, TicketChange(entry, assigned_to=assignee, assign=True))
        return await self.thread(actor, ticket.id)

    async def note(self, actor: ApiToken, ticket_id: int, text: str) -> Thread:
        ticket = await self.find(actor, ticket_id)
        if not text.strip():
            raise Invalid("the note is empty", field="text")
        entry = Entry(0, ticket.id, EntryKind.NOTE, text.strip(), person(actor),
                      datetime.now(UTC))  # fmt: skip
        await self._change(ticket, TicketChange(entry))
        return await self.thread(actor, ticket.id)

    async def close(self, actor: ApiToken, ticket_id: int) -> Thread:
        ticket = await self.find(actor, ticket_id)
        if ticket.state is not TicketState.CLOSED:
            entry = Entry(0, ticket.id, EntryKind.CLOSED, "", person(actor), datetime.now(UTC))
            await self._change(ticket, TicketChange(entry, state=TicketState.CLOSED))
        return await self.thread(actor, ticket.id)

    async def reopen(self, actor: ApiToken, ticket_id: int) -> Thread:
        ticket = await self.find(actor, ticket_id)
        if ticket.state is TicketState.CLOSED:
            # the number may have opened another of the service since: that one goes on (one
            # ticket not closed per number and service: the store's unique index)
            citizen = (await self._inbox.citizens([ticket.msisdn], ())).get(ticket.msisdn)
            if citizen is not None and any(s == ticket.service for _, s, _ in citizen.tickets):
                raise Conflict(
                    f"the citizen has another {ticket.service} ticket open: answer there",
                    code="ticket_open_elsewhere",
                )
            entry = Entry(0, ticket.id, EntryKind.REOPENED, "", person(actor), datetime.now(UTC))
            state = TicketState.ANSWERED if ticket.first_answer_at else TicketState.OPEN
            await self._change(ticket, TicketChange(entry, state=state))
        return await self.thread(actor, ticket.id)

    async def figures(
        self, actor: ApiToken, since: datetime, until: datetime
    ) -> list[ServiceFigures]:
        ministries = await self._ministries(actor)
        found = await self._inbox.figures(since, until, datetime.now(UTC))
        return [f for f in found if ministries is None or f.ministry in ministries]

    async def overdue(self) -> dict[str, int]:
        """Service → questions past their target unanswered (the metric)."""
        return await self._inbox.overdue(datetime.now(UTC))

    def canned(self, actor: ApiToken, language: str | None = None) -> list[CannedAnswerConfig]:
        return [
            answer for answer in self._settings.canned
            if actor.may_act_for(answer.ministry) and language in (None, answer.language)
        ]  # fmt: skip

    async def _change(self, ticket: Ticket, change: TicketChange) -> None:
        if await self._inbox.change(ticket.id, change) is None:
            raise NotFound(f"no ticket {ticket.id}")

    async def _ministries(self, actor: ApiToken) -> tuple[str, ...] | None:
        """The ministries (as stored) whose tickets ``actor`` sees; None: all."""
        if actor.scope is None:
            return None
        services = await self._catalogue.services()
        return tuple({s.ministry for s in services if ministry_key(s.ministry) == actor.scope})

    async def _may_answer(self, who: str, ministry: str) -> bool:
        now = datetime.now(UTC)
        tokens: Sequence[ApiToken] = await self._tokens.tokens()
        return any(
            person(token) == who and token.role in _ANSWERERS and token.usable(now)
            and token.may_act_for(ministry)
            for token in tokens
        )  # fmt: skip
