"""``/api/v1/broadcasts``: an officer sends one text (per language) to a service's subscribers.

An officer acts on their own ministry's services only; a supervisor or an admin on any. Where
the service requires approval, a second person (supervisor or admin, not the author) approves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from channels.text import fold_accents, text_info
from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.tokens import ApiToken, Role
from smsgw.api.context import PRINCIPAL, SERVICES
from smsgw.api.errors import ApiError, ErrorBody
from smsgw.api.routes import Route, json_response, read_body
from smsgw.api.services import find_service
from smsgw.broadcasts.model import Broadcast, BroadcastState, BroadcastStats
from smsgw.delivery.outbox import Priority
from subscriptions.models import Service

_log = structlog.get_logger(__name__)

_FAILED = ("undeliverable", "rejected", "failed")
_MAX_ID = 2**63 - 1  # SQLite's INTEGER


def _number(raw: str) -> int | None:
    """A whole number in ASCII digits that SQLite can hold; None otherwise ("²" is a digit to
    str.isdigit but not to int, and int refuses over 4,300 digits)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(_MAX_ID)):
        return None
    return int(raw) if int(raw) <= _MAX_ID else None


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


class BroadcastPage(BaseModel):
    """The listing's query string, as documented; list_broadcasts reads it with _number."""

    before: int | None = Field(None, ge=1, le=_MAX_ID, description="broadcasts older than this id")
    limit: int = Field(50, ge=1, le=500)


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
    started_at: datetime | None
    finished_at: datetime | None
    cost_estimate: float
    audience: int = Field(description="recipients put in the outbox (0 before the fan-out)")
    queued: int
    submitted: int = Field(description="accepted by a carrier, no final receipt yet")
    delivered: int
    failed: int = Field(description="undeliverable, rejected or failed")
    expired: int
    cancelled: int = Field(description="cancelled, or stopped by a STOP after the fan-out")
    by_state: dict[str, int]
    delivery_rate: float | None = Field(description="delivered / (audience - cancelled)")
    latency_p50_s: float | None = Field(description="submit → delivery receipt")
    latency_p95_s: float | None
    throughput_per_s: float | None = Field(
        description="messages submitted per second, from the start of the fan-out to the last"
    )


class BroadcastList(BaseModel):
    broadcasts: list[BroadcastView]


def _scope(principal: ApiToken) -> str | None:
    """The ministry an officer is confined to (None: any)."""
    if principal.role is Role.OFFICER:
        return (principal.ministry or "").strip().casefold()
    return None


def _check_scope(principal: ApiToken, ministry: str, what: str) -> None:
    scope = _scope(principal)
    if scope is not None and scope != ministry.strip().casefold():
        raise ApiError(
            403, "forbidden",
            f"{what} belongs to the ministry {ministry}; an officer acts on their own ministry's",
        )  # fmt: skip


def _texts(body: NewBroadcast, service: Service, max_segments: int) -> dict[str, str]:
    known = set(service.names) | {service.default_language}
    texts: dict[str, str] = {}
    for language, raw in body.texts.items():
        field = f"texts.{language}"
        if language not in known:
            has = ", ".join(sorted(known))
            raise ApiError(
                400, "invalid", f"{service.keyword} has no language {language!r} (it has {has})",
                field=field,
            )  # fmt: skip
        text = fold_accents(raw) if body.fold_accents else raw
        if not text.strip():
            raise ApiError(400, "invalid", "the text is empty", field=field)
        segments = text_info(text).segments
        if segments > max_segments:
            raise ApiError(400, "too_long", f"{segments} SMS, at most {max_segments}", field=field)
        texts[language] = text
    if service.default_language not in texts:
        raise ApiError(
            400, "invalid",
            f"a text in {service.default_language!r}, the service's default language, is needed"
            " (subscribers of other languages get it)",
            field="texts",
        )  # fmt: skip
    return texts


@dataclass(frozen=True)
class _Draft:
    """A checked new broadcast and its estimate: what create and estimate share."""

    service: Service
    texts: dict[str, str]
    segments: dict[str, int]
    encodings: dict[str, str]
    priority: Priority
    send_at: datetime | None
    expires_at: datetime
    counts: dict[str, int]  # audience per language
    cost_estimate: float
    now: datetime

    @property
    def audience(self) -> int:
        return sum(self.counts.values())

    def estimate(self, currency: str) -> BroadcastEstimate:
        return BroadcastEstimate(
            audience=self.audience,
            audience_by_language={lang: self.counts.get(lang, 0) for lang in self.texts},
            segments=self.segments,
            encoding=self.encodings,
            texts=self.texts,
            cost_estimate=self.cost_estimate,
            currency=currency,
            send_at=self.send_at,
            expires_at=self.expires_at,
        )


async def _draft(request: web.Request) -> _Draft:
    """The body read and checked (400, 403, 404, 409 as for a create), audience counted."""
    deps = request.app[SERVICES]
    settings = deps.broadcast_settings
    body = await read_body(request, NewBroadcast)
    service = await find_service(deps.catalogue, body.service, field="service")
    _check_scope(request[PRINCIPAL], service.ministry, service.keyword)
    if not service.active:
        raise ApiError(409, "service_inactive", f"{service.keyword} is not active", field="service")
    texts = _texts(body, service, settings.max_segments)
    now = datetime.now(UTC)
    send_at = body.send_at
    if send_at is not None:
        if send_at.tzinfo is None:
            send_at = send_at.replace(tzinfo=deps.timezone)
        try:
            send_at = send_at.astimezone(UTC)
        except OverflowError:  # "0001-01-01T00:00+14:00"
            raise ApiError(400, "invalid", "send_at is out of range", field="send_at") from None
        if send_at < now - timedelta(minutes=1):
            raise ApiError(400, "invalid", "send_at is in the past", field="send_at")
    priority = Priority.from_label(body.priority)
    minutes = body.valid_for_minutes or (
        settings.emergency_valid_for_minutes
        if priority is Priority.EMERGENCY
        else settings.normal_valid_for_minutes
    )
    try:
        expires_at = max(send_at or now, now) + timedelta(minutes=minutes)
    except OverflowError:  # a send_at at the end of year 9999
        raise ApiError(400, "invalid", "send_at is out of range", field="send_at") from None
    infos = {language: text_info(text) for language, text in texts.items()}
    counts = await deps.broadcasts.audience_by_language(
        service.keyword, list(texts), service.default_language
    )
    cost = sum(counts.get(lang, 0) * info.segments for lang, info in infos.items())
    return _Draft(
        service=service,
        texts=texts,
        segments={lang: info.segments for lang, info in infos.items()},
        encodings={lang: str(info.encoding) for lang, info in infos.items()},
        priority=priority,
        send_at=send_at,
        expires_at=expires_at,
        counts=counts,
        cost_estimate=round(cost * settings.cost_per_segment, 4),
        now=now,
    )


async def estimate_broadcast(request: web.Request) -> web.Response:
    # what a create would answer, before the officer commits: nothing stored, nothing audited
    draft = await _draft(request)
    return json_response(draft.estimate(request.app[SERVICES].broadcast_settings.currency))


async def create_broadcast(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    principal = request[PRINCIPAL]
    draft = await _draft(request)
    service, texts, send_at, now = draft.service, draft.texts, draft.send_at, draft.now
    priority = draft.priority
    if service.requires_approval:
        state = BroadcastState.AWAITING_APPROVAL
    elif send_at is not None and send_at > now:
        state = BroadcastState.SCHEDULED
    else:
        state = BroadcastState.QUEUED
    broadcast = Broadcast(
        id=0,
        service=service.keyword,
        ministry=service.ministry,
        texts=texts,
        segments=draft.segments,
        encodings=draft.encodings,
        default_language=service.default_language,
        priority=priority,
        state=state,
        send_at=send_at,
        expires_at=draft.expires_at,
        audience=None,
        cost_estimate=draft.cost_estimate,
        created_by=principal.id,
        created_at=now,
        updated_at=now,
    )
    broadcast_id = await deps.broadcasts.add_broadcast(broadcast)
    _log.info(
        "broadcast_created", broadcast=broadcast_id, service=service.keyword,
        priority=priority.label, state=state.value, audience=draft.audience, by=principal.id,
    )  # fmt: skip
    await deps.audit.audit(
        AuditEntry.by(principal, AuditAction.BROADCAST_CREATED, str(broadcast_id), at=now,
                      service=service.keyword, priority=priority.label, state=state.value,
                      audience=draft.audience, texts=texts, send_at=send_at)
    )  # fmt: skip
    deps.broadcasts_changed(None)
    estimate = draft.estimate(deps.broadcast_settings.currency)
    created = BroadcastCreated(id=broadcast_id, state=state.value, **dict(estimate))
    return json_response(created, status=201)


def _view(b: Broadcast, stats: BroadcastStats | None) -> BroadcastView:
    counts = stats.by_state if stats else {}
    cancelled = counts.get("cancelled", 0)
    audience = b.audience or 0
    reachable = audience - cancelled
    throughput = None
    if stats and stats.first_submit_at and stats.last_submit_at:
        # from the start of the fan-out: two messages a millisecond apart are no 2,000/s
        start = min(b.started_at or stats.first_submit_at, stats.first_submit_at)
        span = (stats.last_submit_at - start).total_seconds()
        sent = sum(v for k, v in counts.items() if k not in ("queued", "cancelled", "expired"))
        throughput = round(sent / span, 1) if span > 0 else None
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
        started_at=b.started_at,
        finished_at=b.finished_at,
        cost_estimate=b.cost_estimate,
        audience=audience,
        queued=counts.get("queued", 0),
        submitted=counts.get("submitted", 0),
        delivered=counts.get("delivered", 0),
        failed=sum(counts.get(state, 0) for state in _FAILED),
        expired=counts.get("expired", 0),
        cancelled=cancelled,
        by_state=counts,
        delivery_rate=round(counts.get("delivered", 0) / reachable, 4) if reachable > 0 else None,
        latency_p50_s=stats.latency_p50_s if stats else None,
        latency_p95_s=stats.latency_p95_s if stats else None,
        throughput_per_s=throughput,
    )


async def _find(request: web.Request) -> Broadcast:
    deps = request.app[SERVICES]
    raw = request.match_info["id"]
    broadcast_id = _number(raw)
    broadcast = await deps.broadcasts.broadcast(broadcast_id) if broadcast_id is not None else None
    if broadcast is None:
        raise ApiError(404, "not_found", f"no broadcast {raw}")
    _check_scope(request[PRINCIPAL], broadcast.ministry, f"broadcast {broadcast.id}")
    return broadcast


async def get_broadcast(request: web.Request) -> web.Response:
    broadcast = await _find(request)
    stats = await request.app[SERVICES].broadcasts.broadcast_stats(broadcast.id)
    return json_response(_view(broadcast, stats))


async def list_broadcasts(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    raw_before = request.query.get("before", "")
    before = _number(raw_before) if raw_before else None
    limit = _number(request.query.get("limit", "50")) or 0
    if (raw_before and before is None) or not 1 <= limit <= 500:
        raise ApiError(400, "invalid", "before: a broadcast id; limit: 1 to 500")
    scope = _scope(request[PRINCIPAL])
    found = await deps.broadcasts.broadcasts(ministry=scope, before=before, limit=limit)
    views = [_view(b, await deps.broadcasts.broadcast_stats(b.id)) for b in found]
    return json_response(BroadcastList(broadcasts=views))


async def approve_broadcast(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    principal = request[PRINCIPAL]
    broadcast = await _find(request)
    if broadcast.state is not BroadcastState.AWAITING_APPROVAL:
        raise ApiError(409, "conflict", f"broadcast {broadcast.id} is {broadcast.state.value}")
    if broadcast.created_by == principal.id:
        raise ApiError(403, "forbidden", "a second person must approve a broadcast")
    now = datetime.now(UTC)
    due = broadcast.send_at is None or broadcast.send_at <= now
    state = BroadcastState.QUEUED if due else BroadcastState.SCHEDULED
    # the validity runs from when it may go: an alert approved late is not born expired
    planned = broadcast.send_at or broadcast.created_at
    start = now if due else planned
    expires_at = start + (broadcast.expires_at - planned)
    if not await deps.broadcasts.approve_broadcast(
        broadcast.id, by=principal.id, at=now, state=state, expires_at=expires_at
    ):
        raise ApiError(409, "conflict", f"broadcast {broadcast.id} is no longer awaiting approval")
    _log.info("broadcast_approved", broadcast=broadcast.id, by=principal.id)
    await deps.audit.audit(
        AuditEntry.by(principal, AuditAction.BROADCAST_APPROVED, str(broadcast.id), at=now,
                      service=broadcast.service, author=broadcast.created_by)
    )  # fmt: skip
    deps.broadcasts_changed(None)
    return await get_broadcast(request)


async def cancel_broadcast(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    principal = request[PRINCIPAL]
    broadcast = await _find(request)
    cancelled = await deps.broadcasts.cancel_broadcast(
        broadcast.id, by=principal.id, at=datetime.now(UTC)
    )
    if cancelled is None:
        raise ApiError(409, "conflict", f"broadcast {broadcast.id} is {broadcast.state.value}")
    _log.info("broadcast_cancelled", broadcast=broadcast.id, by=principal.id, messages=cancelled)
    await deps.audit.audit(
        AuditEntry.by(principal, AuditAction.BROADCAST_CANCELLED, str(broadcast.id),
                      at=datetime.now(UTC), service=broadcast.service, messages=cancelled)
    )  # fmt: skip
    after = await deps.broadcasts.broadcast(broadcast.id)
    deps.broadcasts_changed(after)
    return await get_broadcast(request)


_WRITERS = (Role.OFFICER, Role.SUPERVISOR, Role.ADMIN)
_ERRORS: dict[int, type[BaseModel] | None] = {403: ErrorBody, 404: ErrorBody, 409: ErrorBody}
ROUTES = [
    Route("POST", "/api/v1/broadcasts", create_broadcast,
          "Send a text to a service's subscribers (now, or at send_at)", roles=_WRITERS,
          body=NewBroadcast, responses={201: BroadcastCreated, 400: ErrorBody, **_ERRORS}),
    Route("POST", "/api/v1/broadcasts/estimate", estimate_broadcast,
          "What a broadcast would reach and cost, without sending or storing it",
          roles=_WRITERS, body=NewBroadcast,
          responses={200: BroadcastEstimate, 400: ErrorBody, **_ERRORS}),
    Route("GET", "/api/v1/broadcasts", list_broadcasts, "Broadcasts, newest first",
          roles=_WRITERS, query=BroadcastPage, responses={200: BroadcastList, 400: ErrorBody}),
    Route("GET", "/api/v1/broadcasts/{id}", get_broadcast, "One broadcast and its progress",
          roles=_WRITERS, responses={200: BroadcastView, 404: ErrorBody}),
    Route("POST", "/api/v1/broadcasts/{id}/approve", approve_broadcast,
          "Approve a broadcast (a second person)", roles=(Role.SUPERVISOR, Role.ADMIN),
          responses={200: BroadcastView, **_ERRORS}),
    Route("POST", "/api/v1/broadcasts/{id}/cancel", cancel_broadcast,
          "Cancel what is not yet sent", roles=_WRITERS,
          responses={200: BroadcastView, **_ERRORS}),
]  # fmt: skip
