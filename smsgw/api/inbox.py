"""``/api/v1/inbox``: citizens' questions, per ministry; and a broadcast's poll results.

Parses, calls smsgw.inbox.service, renders. Officers see numbers masked; supervisors and
admins see them whole (they may have to call a citizen back).
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from smsgw.access.tokens import ApiToken, Role
from smsgw.api.context import PRINCIPAL, SERVICES
from smsgw.api.errors import ErrorBody
from smsgw.api.routes import Route, gateway_time, json_response, read_body, read_query
from smsgw.errors import Invalid
from smsgw.inbox.model import Entry, ServiceFigures, Ticket, TicketState
from smsgw.inbox.service import Thread
from smsgw.logging import mask_number

_MAX_ID = 2**63 - 1
_READERS = (Role.OFFICER, Role.SUPERVISOR, Role.ADMIN)


class InboxQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str | None = Field(None, max_length=40, description="a service keyword")
    state: Literal["open", "answered", "closed"] | None = None
    assigned: Literal["me"] | None = Field(None, description="me: assigned to the caller")
    overdue: bool = Field(False, description="only those past their first answer's target")
    cursor: int | None = Field(None, ge=1, le=_MAX_ID, description="the previous page's next")
    limit: int = Field(50, ge=1, le=200)


class TicketView(BaseModel):
    id: int
    ticket: str = Field(description='as the citizen was told: "#123"')
    service: str
    ministry: str
    msisdn: str = Field(description="masked for officers")
    language: str
    state: str
    assigned_to: str | None
    broadcast: int | None = Field(description="the broadcast it replies to (null: ASK)")
    opened_at: datetime
    due_at: datetime | None = Field(description="the first answer's target")
    first_answer_at: datetime | None
    last_text_at: datetime
    closed_at: datetime | None
    overdue: bool

    @classmethod
    def of(cls, ticket: Ticket, actor: ApiToken, now: datetime) -> TicketView:
        return cls(
            id=ticket.id, ticket=f"#{ticket.id}", service=ticket.service,
            ministry=ticket.ministry, msisdn=_number(ticket.msisdn, actor),
            language=ticket.language, state=ticket.state.value, assigned_to=ticket.assigned_to,
            broadcast=ticket.broadcast, opened_at=ticket.opened_at, due_at=ticket.due_at,
            first_answer_at=ticket.first_answer_at, last_text_at=ticket.last_text_at,
            closed_at=ticket.closed_at, overdue=ticket.overdue(now),
        )  # fmt: skip


class TicketList(BaseModel):
    tickets: list[TicketView]
    next: int | None = Field(description="cursor of the next page (null: no more)")


class EntryView(BaseModel):
    kind: str = Field(description="question (the citizen), answer (SMS), note (internal),"
                      " assigned, closed, reopened")  # fmt: skip
    text: str
    by: str | None = Field(description="who (null: the citizen)")
    at: datetime
    message: str | None = Field(description="an answer's message id (GET /api/v1/messages/{id})")
    state: str | None = Field(None, description="an answer's delivery state")


class ThreadView(BaseModel):
    ticket: TicketView
    entries: list[EntryView]
    stopped_at: datetime | None = Field(
        description="the citizen sent STOP then: no answer can be sent until they send START"
    )


class TextBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=1600)


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    to: str | None = Field(max_length=200, description='a person, "me", or null / "" for no one')


class CannedView(BaseModel):
    ministry: str
    language: str
    title: str
    text: str


class CannedList(BaseModel):
    answers: list[CannedView]


class CannedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str | None = Field(None, max_length=8)


class KpiQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    since: datetime | None = Field(
        None, description="questions opened from then (default: 30 days before until); without"
        " an offset, the gateway's time zone",
    )  # fmt: skip
    until: datetime | None = Field(None, description="and before then (default: now)")


class QuestionFigures(BaseModel):
    received: int
    answered: int
    median_first_answer_s: float | None
    overdue: int = Field(description="not answered and past their target, now")


class ServiceQuestionFigures(QuestionFigures):
    service: str
    ministry: str


class InboxKpis(BaseModel):
    since: datetime
    until: datetime
    services: list[ServiceQuestionFigures]
    ministries: dict[str, QuestionFigures]


def _number(msisdn: str, actor: ApiToken) -> str:
    return mask_number(msisdn) if actor.role is Role.OFFICER else msisdn


def _ticket_id(request: web.Request) -> int:
    raw = request.match_info["id"].removeprefix("#")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise Invalid(f"{raw!r} is no ticket number")
    return int(raw)


async def _thread_view(request: web.Request, thread: Thread) -> web.Response:
    actor, now = request[PRINCIPAL], datetime.now(UTC)
    answers = [entry.message_id for entry in thread.entries if entry.message_id is not None]
    states = await request.app[SERVICES].messages.message_states(answers) if answers else {}
    entries = []
    for entry in thread.entries:
        state = states.get(entry.message_id) if entry.message_id is not None else None
        entries.append(_entry(entry, state.value if state is not None else None))
    view = ThreadView(ticket=TicketView.of(thread.ticket, actor, now), entries=entries,
                      stopped_at=thread.citizen.opted_out_at)  # fmt: skip
    return json_response(view)


def _entry(entry: Entry, state: str | None) -> EntryView:
    return EntryView(kind=entry.kind.value, text=entry.text, by=entry.actor, at=entry.at,
                     message=entry.message_id, state=state)  # fmt: skip


async def list_tickets(request: web.Request) -> web.Response:
    query = read_query(request, InboxQuery)
    actor = request[PRINCIPAL]
    tickets = await request.app[SERVICES].inbox.listing(
        actor, service=query.service,
        state=None if query.state is None else TicketState(query.state),
        mine=query.assigned == "me", overdue=query.overdue, before=query.cursor,
        limit=query.limit + 1,
    )  # fmt: skip
    now = datetime.now(UTC)
    page = tickets[: query.limit]
    more = len(tickets) > query.limit
    return json_response(TicketList(tickets=[TicketView.of(t, actor, now) for t in page],
                                    next=page[-1].id if more else None))  # fmt: skip


async def get_ticket(request: web.Request) -> web.Response:
    inbox = request.app[SERVICES].inbox
    return await _thread_view(request, await inbox.thread(request[PRINCIPAL], _ticket_id(request)))


async def answer_ticket(request: web.Request) -> web.Response:
    body = await read_body(request, TextBody)
    inbox = request.app[SERVICES].inbox
    thread = await inbox.answer(request[PRINCIPAL], _ticket_id(request), body.text)
    return await _thread_view(request, thread)


async def assign_ticket(request: web.Request) -> web.Response:
    body = await read_body(request, AssignBody)
    inbox = request.app[SERVICES].inbox
    thread = await inbox.assign(request[PRINCIPAL], _ticket_id(request), body.to)
    return await _thread_view(request, thread)


async def note_ticket(request: web.Request) -> web.Response:
    body = await read_body(request, TextBody)
    inbox = request.app[SERVICES].inbox
    thread = await inbox.note(request[PRINCIPAL], _ticket_id(request), body.text)
    return await _thread_view(request, thread)


async def close_ticket(request: web.Request) -> web.Response:
    inbox = request.app[SERVICES].inbox
    return await _thread_view(request, await inbox.close(request[PRINCIPAL], _ticket_id(request)))


async def reopen_ticket(request: web.Request) -> web.Response:
    inbox = request.app[SERVICES].inbox
    return await _thread_view(request, await inbox.reopen(request[PRINCIPAL], _ticket_id(request)))


async def canned_answers(request: web.Request) -> web.Response:
    query = read_query(request, CannedQuery)
    found = request.app[SERVICES].inbox.canned(request[PRINCIPAL], query.language)
    return json_response(CannedList(answers=[CannedView(**a.model_dump()) for a in found]))


async def inbox_kpis(request: web.Request) -> web.Response:
    query = read_query(request, KpiQuery)
    now = datetime.now(UTC)
    zone = request.app[SERVICES].timezone
    until = gateway_time(query.until, zone, "until") if query.until else now
    since = gateway_time(query.since, zone, "since") if query.since else until - timedelta(days=30)
    if since >= until:
        raise Invalid("since must be before until", field="since")
    found = await request.app[SERVICES].inbox.figures(request[PRINCIPAL], since, until)
    per_ministry: dict[str, list[ServiceFigures]] = {}
    for figures in found:
        per_ministry.setdefault(figures.ministry, []).append(figures)
    return json_response(InboxKpis(
        since=since, until=until,
        services=[ServiceQuestionFigures(service=f.service, ministry=f.ministry,
                                         **_figures([f]).model_dump()) for f in found],
        ministries={m: _figures(fs) for m, fs in sorted(per_ministry.items())},
    ))  # fmt: skip


def _figures(found: list[ServiceFigures]) -> QuestionFigures:
    times = [s for f in found for s in f.first_answer_s]
    return QuestionFigures(
        received=sum(f.received for f in found),
        answered=sum(f.answered for f in found),
        median_first_answer_s=statistics.median(times) if times else None,
        overdue=sum(f.overdue for f in found),
    )


_ERRORS: dict[int, type[BaseModel] | None] = {400: ErrorBody, 404: ErrorBody, 409: ErrorBody}
_ONE = "/api/v1/inbox/{id}"
ROUTES = [
    Route("GET", "/api/v1/inbox", list_tickets, "Citizens' questions, the latest first",
          roles=_READERS, query=InboxQuery, responses={200: TicketList, 400: ErrorBody}),
    Route("GET", "/api/v1/inbox/canned", canned_answers,
          "Canned answers of the caller's ministry", roles=_READERS, query=CannedQuery,
          responses={200: CannedList}),
    Route("GET", "/api/v1/inbox/kpis", inbox_kpis,
          "Questions received, answered, median time to first answer, per service and ministry",
          roles=_READERS, query=KpiQuery, responses={200: InboxKpis, 400: ErrorBody}),
    Route("GET", _ONE, get_ticket, "A ticket and its thread", roles=_READERS,
          responses={200: ThreadView, **_ERRORS}),
    Route("POST", f"{_ONE}/answer", answer_ticket,
          "Answer by SMS (through the carrier the question came from)", roles=_READERS,
          body=TextBody, responses={200: ThreadView, **_ERRORS}),
    Route("POST", f"{_ONE}/assign", assign_ticket, "Assign to a person (or no one)",
          roles=_READERS, body=AssignBody, responses={200: ThreadView, **_ERRORS}),
    Route("POST", f"{_ONE}/note", note_ticket, "An internal note (never sent)", roles=_READERS,
          body=TextBody, responses={200: ThreadView, **_ERRORS}),
    Route("POST", f"{_ONE}/close", close_ticket, "Close", roles=_READERS,
          responses={200: ThreadView, **_ERRORS}),
    Route("POST", f"{_ONE}/reopen", reopen_ticket, "Reopen", roles=_READERS,
          responses={200: ThreadView, **_ERRORS}),
]  # fmt: skip
