"""``/api/v1/broadcasts``: an officer sends one text (per language) to a service's subscribers.

Parses, calls smsgw.broadcasts.service, renders; the rules are there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from smsgw.access.tokens import Role
from smsgw.api.context import PRINCIPAL, SERVICES, Services
from smsgw.api.errors import ErrorBody
from smsgw.api.idempotency import idempotent
from smsgw.api.report import stream as stream_report
from smsgw.api.routes import Route, json_response, read_body
from smsgw.broadcasts.model import Broadcast, BroadcastState
from smsgw.broadcasts.poll import MAX_OPTIONS, MIN_OPTIONS, Poll, PollOption
from smsgw.broadcasts.service import Draft, Order, Progress
from smsgw.delivery.outbox import Priority
from smsgw.delivery.quiet import QuietHours
from smsgw.errors import Invalid, NotFound
from subscriptions.districts import Districts
from subscriptions.templates import Templates
from subscriptions.words import Verb, normalise

_log = structlog.get_logger(__name__)

_FAILED = ("undeliverable", "rejected", "failed")
_MAX_ID = 2**63 - 1  # SQLite's INTEGER


def _number(raw: str) -> int | None:
    """A whole number in ASCII digits that SQLite can hold; None otherwise ("²" is a digit to
    str.isdigit but not to int, and int refuses over 4,300 digits)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(_MAX_ID)):
        return None
    return int(raw) if int(raw) <= _MAX_ID else None


class PollOptionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int = Field(ge=1, le=9, description="what citizens may answer alone", examples=[1])
    words: dict[str, list[str]] = Field(
        default_factory=dict, max_length=20,
        description="language → words that answer this option too",
        examples=[{"en": ["YES"], "es": ["SI"]}],
    )  # fmt: skip


class PollBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    question: dict[str, str] = Field(
        default_factory=dict, max_length=20,
        description="language → the question, as the results show it (the texts ask it)",
    )  # fmt: skip
    options: list[PollOptionBody] = Field(min_length=MIN_OPTIONS, max_length=MAX_OPTIONS)
    closes_at: datetime = Field(
        description="answers after it get a 'poll closed' reply; without an offset, the"
        " gateway's time zone"
    )

    @field_validator("options")
    @classmethod
    def _options(cls, value: list[PollOptionBody], info: ValidationInfo) -> list[PollOptionBody]:
        templates: Templates = (info.context or {})["templates"]
        if len({option.number for option in value}) != len(value):
            raise ValueError("each option needs its own number")
        # YES / SI also mean START to someone under STOP; a poll's audience is not, so they
        # may answer a poll. Every other command word keeps its meaning.
        unstop = {w for code in templates.languages for w in templates.keywords(code)[Verb.UNSTOP]}
        seen: dict[str, int] = {}
        for option in value:
            for language, words in option.words.items():
                if language not in templates.languages:
                    raise ValueError(f"{language!r} is not one of the languages"
                                     f" {', '.join(templates.languages)}")  # fmt: skip
                for word in words:
                    normal = normalise(word)
                    if not normal or normal.isdigit():
                        raise ValueError(f"{word!r} is no word (numbers are the options')")
                    if normal in templates.reserved and normal not in unstop:
                        raise ValueError(f"{normal} is a command word citizens send")
                    if seen.setdefault(normal, option.number) != option.number:
                        raise ValueError(f"{normal} answers two options")
        return value

    def poll(self) -> Poll:
        options = tuple(
            PollOption(
                o.number,
                {
                    lang: tuple(dict.fromkeys(map(normalise, words)))
                    for lang, words in o.words.items()
                },
            )
            for o in sorted(self.options, key=lambda o: o.number)
        )
        return Poll(options, self.closes_at, dict(self.question))


class PollOptionView(BaseModel):
    number: int
    words: dict[str, list[str]]


class PollView(BaseModel):
    question: dict[str, str]
    options: list[PollOptionView]
    closes_at: datetime

    @classmethod
    def of(cls, poll: Poll) -> PollView:
        options = [
            PollOptionView(number=o.number, words={k: list(v) for k, v in o.words.items()})
            for o in poll.options
        ]
        return cls(question=dict(poll.question), options=options, closes_at=poll.closes_at)


class NewBroadcast(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(max_length=40, description="keyword or alias", examples=["HEALTH"])
    texts: dict[str, str] = Field(
        min_length=1,
        max_length=20,
        description="language → text; each subscriber gets their language, else the "
        "service's default language (which must be given)",
        examples=[{"en": "Vaccination day Saturday 9am at all clinics."}],
    )
    priority: Literal["normal", "emergency"] = "normal"
    send_at: datetime | None = Field(
        None, description="when to send (future); without an offset, the gateway's time zone"
    )
    valid_for_minutes: int | None = Field(
        None, ge=1, le=7 * 24 * 60, description="after this, messages not yet sent expire"
    )
    fold_accents: bool = Field(
        False, description="write á as a, etc., where that saves SMS (shown in the estimate)"
    )
    districts: list[str] | None = Field(
        None, max_length=50,
        description="only the subscribers of these districts (names or aliases), and those who"
        " never said theirs; null or empty: everyone", examples=[["Toledo", "Stann Creek"]],
    )  # fmt: skip
    poll: PollBody | None = Field(
        None, description="answers from its audience (1, YES, SI...) are counted until it closes"
    )

    @field_validator("districts")
    @classmethod
    def _districts(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if not value:
            return None  # none named: everyone
        districts: Districts = (info.context or {})["districts"]
        found = []
        for name in value:
            district = districts.find(name)
            if district is None:
                raise ValueError(f"{name!r} is not a district: one of {', '.join(districts.names)}")
            found.append(district)
        return sorted(set(found), key=found.index)


class BroadcastPage(BaseModel):
    """The listing's query string, as documented; list_broadcasts reads it with _number."""

    before: int | None = Field(None, ge=1, le=_MAX_ID, description="broadcasts older than this id")
    limit: int = Field(50, ge=1, le=500)
    state: str | None = Field(
        None, max_length=200, description="only broadcasts in these states, separated by commas",
        examples=["scheduled,awaiting_approval"],
    )  # fmt: skip


class BroadcastEstimate(BaseModel):
    audience: int = Field(description="subscribers it would reach now (global STOPs excluded)")
    audience_by_language: dict[str, int]
    segments: dict[str, int] = Field(description="SMS per message, per language")
    encoding: dict[str, str] = Field(description="gsm7 or ucs2, per language")
    texts: dict[str, str] = Field(description="as they will be sent (after accent folding)")
    cost_estimate: float
    currency: str
    send_at: datetime | None
    expires_at: datetime
    districts: list[str] | None = Field(description="those it is limited to (null: everyone)")
    audience_by_district: dict[str, int] = Field(
        description="the service's subscribers per district, those it would reach or not"
        ' ("none": who never said theirs, reached whatever the districts)'
    )


class BroadcastCreated(BroadcastEstimate):
    """The estimate, as stored, with the new broadcast's id and state."""

    id: int
    state: str


class BroadcastView(BaseModel):
    id: int
    service: str
    ministry: str
    priority: str
    state: str
    texts: dict[str, str]
    segments: dict[str, int]
    encoding: dict[str, str]
    send_at: datetime | None
    expires_at: datetime
    created_at: datetime
    created_by: str
    approved_by: str | None
    approved_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None = Field(
        description='why, when no person chose it: "service_deactivated"'
    )
    joined_at: datetime | None = Field(
        default=None,
        description="set on an import's sign-up confirmations: sent only to the numbers that"
        " import signed up (their subscriptions made at that moment)",
    )
    districts: list[str] | None = Field(
        default=None, description="only these districts and who never said theirs (null: all)"
    )
    poll: PollView | None = Field(default=None, description="results: GET .../{id}/poll")
    started_at: datetime | None
    finished_at: datetime | None
    held_until: datetime | None = Field(
        default=None,
        description="a routine broadcast that quiet hours hold back now: when they end"
        " (gateway.timezone); null: none hold it",
    )
    cost_estimate: float
    audience: int = Field(description="recipients put in the outbox (0 before the fan-out)")
    queued: int
    submitted: int = Field(description="accepted by a carrier, no final receipt yet")
    delivered: int
    failed: int = Field(description="undeliverable, rejected or failed")
    expired: int
    cancelled: int = Field(description="cancelled, or stopped by a STOP after the fan-out")
    by_state: dict[str, int]
    delivery_rate: float | None = Field(description="delivered / finished (final, not cancelled)")
    latency_p50_s: float | None = Field(description="submit → delivery receipt")
    latency_p95_s: float | None
    throughput_per_s: float | None = Field(
        description="messages submitted per second, from the start of the fan-out to the last"
    )


class BroadcastList(BaseModel):
    broadcasts: list[BroadcastView]


def _order(body: NewBroadcast) -> Order:
    return Order(
        service=body.service,
        texts=body.texts,
        priority=Priority.from_label(body.priority),
        send_at=body.send_at,
        valid_for_minutes=body.valid_for_minutes,
        fold_accents=body.fold_accents,
        districts=None if body.districts is None else tuple(body.districts),
        poll=None if body.poll is None else body.poll.poll(),
    )


async def _estimate(services: Services, draft: Draft) -> BroadcastEstimate:
    counts = await services.subscriptions.audience_by_district(draft.service.keyword)
    # the configured order; a district no longer configured after them, who never said last
    order = {name: i for i, name in enumerate(services.districts.names)}
    ranked = sorted(counts.items(), key=lambda item: (
        item[0] is None, order.get(item[0] or "", len(order)), item[0] or ""))  # fmt: skip
    return BroadcastEstimate(
        audience=draft.audience,
        audience_by_language=draft.audience_by_language,
        segments=draft.segments,
        encoding=draft.encodings,
        texts=draft.texts,
        cost_estimate=draft.cost_estimate,
        currency=services.broadcast_settings.currency,
        send_at=draft.send_at,
        expires_at=draft.expires_at,
        districts=None if draft.districts is None else list(draft.districts),
        audience_by_district={district or "none": n for district, n in ranked},
    )


def _view(progress: Progress, held_until: datetime | None = None) -> BroadcastView:
    b, counts = progress.broadcast, progress.by_state
    return BroadcastView(
        id=b.id,
        service=b.service,
        ministry=b.ministry,
        priority=b.priority.label,
        state=b.state.value,
        texts=b.texts,
        segments=b.segments,
        encoding=b.encodings,
        send_at=b.send_at,
        expires_at=b.expires_at,
        created_at=b.created_at,
        created_by=b.created_by,
        approved_by=b.approved_by,
        approved_at=b.approved_at,
        cancelled_at=b.cancelled_at,
        cancel_reason=b.cancel_reason,
        joined_at=b.joined_at,
        districts=None if b.districts is None else list(b.districts),
        poll=None if b.poll is None else PollView.of(b.poll),
        started_at=b.started_at,
        finished_at=b.finished_at,
        held_until=held_until,
        cost_estimate=b.cost_estimate,
        audience=progress.audience,
        queued=counts.get("queued", 0),
        submitted=counts.get("submitted", 0),
        delivered=counts.get("delivered", 0),
        failed=progress.failed,
        expired=counts.get("expired", 0),
        cancelled=counts.get("cancelled", 0),
        by_state=counts,
        delivery_rate=progress.delivery_rate,
        latency_p50_s=progress.latency_p50_s,
        latency_p95_s=progress.latency_p95_s,
        throughput_per_s=progress.throughput_per_s,
    )


async def estimate_broadcast(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = await read_body(
        request, NewBroadcast, districts=services.districts, templates=services.templates
    )
    draft = await services.broadcasts.estimate(request[PRINCIPAL], _order(body))
    return json_response(await _estimate(services, draft))


async def create_broadcast(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = await read_body(
        request, NewBroadcast, districts=services.districts, templates=services.templates
    )
    broadcast, draft = await services.broadcasts.create(request[PRINCIPAL], _order(body))
    estimate = await _estimate(services, draft)
    created = BroadcastCreated(id=broadcast.id, state=broadcast.state.value, **dict(estimate))
    return json_response(created, status=201)


async def find_broadcast(request: web.Request) -> Broadcast:
    """The broadcast of the path's id, if the caller may see it (else 404)."""
    raw = request.match_info["id"]
    return await request.app[SERVICES].broadcasts.find(request[PRINCIPAL], _number(raw), raw)


def _held_until(services: Services, progress: Progress, now: datetime) -> datetime | None:
    """When quiet hours end, if they hold this routine broadcast back now (as the scheduler
    and the dispatcher do: its fan-out, or its messages still queued)."""
    b, hours, zone = progress.broadcast, services.broadcast_settings.quiet_hours, services.timezone
    waiting = b.state is BroadcastState.QUEUED or (
        b.state is BroadcastState.SENDING and progress.by_state.get("queued", 0) > 0
    )
    if hours is None or b.priority is Priority.EMERGENCY or not waiting:
        return None
    if not QuietHours(hours, zone).active(now):
        return None
    local = now.astimezone(zone)
    end = datetime.combine(local.date(), hours[1], tzinfo=zone)
    return end if end > local else end + timedelta(days=1)  # the next end: 07:00 tomorrow


async def get_broadcast(request: web.Request) -> web.Response:
    broadcast = await find_broadcast(request)
    services = request.app[SERVICES]
    progress = await services.broadcasts.progress(broadcast)
    return json_response(_view(progress, _held_until(services, progress, datetime.now(UTC))))


async def list_broadcasts(request: web.Request) -> web.Response:
    raw_before = request.query.get("before", "")
    before = _number(raw_before) if raw_before else None
    limit = _number(request.query.get("limit", "50")) or 0
    if (raw_before and before is None) or not 1 <= limit <= 500:
        raise Invalid("before: a broadcast id; limit: 1 to 500")
    states = _states(request.query["state"]) if "state" in request.query else None
    found = await request.app[SERVICES].broadcasts.listing(
        request[PRINCIPAL], before=before, limit=limit, states=states
    )
    services, now = request.app[SERVICES], datetime.now(UTC)
    views = [_view(progress, _held_until(services, progress, now)) for progress in found]
    return json_response(BroadcastList(broadcasts=views))


def _states(raw: str) -> frozenset[BroadcastState]:
    try:
        return frozenset(BroadcastState(name.strip()) for name in raw.split(","))
    except ValueError:
        names = ", ".join(state.value for state in BroadcastState)
        raise Invalid(f"state: one or more of {names}, separated by commas",
                      field="state") from None  # fmt: skip


async def approve_broadcast(request: web.Request) -> web.Response:
    broadcast = await find_broadcast(request)
    await request.app[SERVICES].broadcasts.approve(request[PRINCIPAL], broadcast)
    return await get_broadcast(request)


async def cancel_broadcast(request: web.Request) -> web.Response:
    broadcast = await find_broadcast(request)
    await request.app[SERVICES].broadcasts.cancel(request[PRINCIPAL], broadcast)
    return await get_broadcast(request)


class PollOptionResult(BaseModel):
    number: int
    words: dict[str, list[str]]
    count: int


class PollResults(BaseModel):
    broadcast: int
    question: dict[str, str]
    closes_at: datetime
    open: bool
    answers: int = Field(description="numbers that answered (each counted once: its last)")
    options: list[PollOptionResult]
    by_language: dict[str, dict[str, int]] = Field(description="language → option → numbers")
    by_district: dict[str, dict[str, int]] = Field(
        description='district → option → numbers ("none": never said their district)'
    )


async def poll_results(request: web.Request) -> web.Response:
    broadcast = await find_broadcast(request)
    if broadcast.poll is None:
        raise NotFound(f"broadcast {broadcast.id} carries no poll")
    poll = broadcast.poll
    tally = await request.app[SERVICES].polls.tally(broadcast.id)

    def per(counts: dict[int, int]) -> dict[str, int]:
        return {str(o.number): counts.get(o.number, 0) for o in poll.options}

    return json_response(PollResults(
        broadcast=broadcast.id, question=dict(poll.question), closes_at=poll.closes_at,
        open=poll.open_at(datetime.now(UTC)), answers=sum(tally.counts.values()),
        options=[PollOptionResult(number=o.number, words={k: list(v) for k, v in o.words.items()},
                                  count=tally.counts.get(o.number, 0)) for o in poll.options],
        by_language={lang: per(c) for lang, c in sorted(tally.by_language.items())},
        by_district={d or "none": per(c) for d, c in sorted(tally.by_district.items(),
                                                             key=lambda i: (not i[0], i[0]))},
    ))  # fmt: skip


async def broadcast_report(request: web.Request) -> web.StreamResponse:
    broadcast = await find_broadcast(request)
    pages = request.app[SERVICES].broadcasts.recipients(broadcast)
    masked = request[PRINCIPAL].role is Role.OFFICER
    return await stream_report(request, broadcast.id, pages, masked=masked)


_WRITERS = (Role.OFFICER, Role.SUPERVISOR, Role.ADMIN)
_ERRORS: dict[int, type[BaseModel] | None] = {403: ErrorBody, 404: ErrorBody, 409: ErrorBody}
ROUTES = [
    Route("POST", "/api/v1/broadcasts", idempotent(create_broadcast),
          "Send a text to a service's subscribers (now, or at send_at)", roles=_WRITERS,
          body=NewBroadcast, responses={201: BroadcastCreated, 400: ErrorBody, **_ERRORS}),
    Route("POST", "/api/v1/broadcasts/estimate", estimate_broadcast,
          "What a broadcast would reach and cost, without sending or storing it",
          roles=_WRITERS, body=NewBroadcast,
          responses={200: BroadcastEstimate, 400: ErrorBody, **_ERRORS}),
    Route("GET", "/api/v1/broadcasts", list_broadcasts,
          "Broadcasts, newest first (state: only those in these states)",
          roles=_WRITERS, query=BroadcastPage, responses={200: BroadcastList, 400: ErrorBody}),
    Route("GET", "/api/v1/broadcasts/{id}", get_broadcast, "One broadcast and its progress",
          roles=_WRITERS, responses={200: BroadcastView, 404: ErrorBody}),
    Route("GET", "/api/v1/broadcasts/{id}/poll", poll_results,
          "A poll's answers: per option, per language, per district", roles=_WRITERS,
          responses={200: PollResults, 404: ErrorBody}),
    Route("GET", "/api/v1/broadcasts/{id}/report.csv", broadcast_report,
          "One CSV row per recipient (msisdn, masked for officers; language, carrier, state,"
          " error, submitted_at, done_at), streamed; 410 once retention deleted the rows",
          roles=_WRITERS, responses={200: None, 404: ErrorBody, 410: ErrorBody}),
    Route("POST", "/api/v1/broadcasts/{id}/approve", approve_broadcast,
          "Approve a broadcast (a second person)", roles=(Role.SUPERVISOR, Role.ADMIN),
          responses={200: BroadcastView, **_ERRORS}),
    Route("POST", "/api/v1/broadcasts/{id}/cancel", cancel_broadcast,
          "Cancel what is not yet sent", roles=_WRITERS,
          responses={200: BroadcastView, **_ERRORS}),
]  # fmt: skip
