"""``/api/v1/subscribers/{msisdn}``: one number looked up: its services (active and left), its
language, district and STOP, and its consent history, newest first.

Officers and supervisors see their ministry's services and the consent events about them, and
the events that concern every service (STOP, START, language, district), a STOP's or a
START's list of services cut to theirs; officers see the number masked. A number unknown, or
with nothing of the caller's ministry, is 404 alike (another ministry's citizens are as absent
as numbers never seen). Every look-up of a valid number is audited, found or not: who looked
at whom is what an audit of privacy asks.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.tokens import ApiToken, Role
from smsgw.api.context import PRINCIPAL, SERVICES
from smsgw.api.errors import ErrorBody
from smsgw.api.routes import Route, json_response, read_query
from smsgw.errors import Invalid, NotFound
from smsgw.logging import mask_number
from subscriptions.models import Action, ConsentEvent, Subscription
from subscriptions.numbers import InvalidNumber, normalise_msisdn

_log = structlog.get_logger(__name__)

PATH = "/api/v1/subscribers/{msisdn}"
_MAX_TYPED = 32  # characters: "+501 601-2345" and its like, with room to spare
_ABOUT_ALL = (Action.STOP_ALL, Action.UNSTOP)  # their detail lists the services left, rejoined


class LookupQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(100, ge=1, le=1000, description="consent events shown, newest first")


class SubscriptionView(BaseModel):
    service: str
    ministry: str
    active: bool
    subscribed_at: datetime
    left_at: datetime | None
    source: str = Field(description="how they joined: sms, assisted (an officer) or import")
    consent: str = Field(
        description="what proves it: their text's id, the officer's consent source, the list"
    )


class ConsentEventView(BaseModel):
    at: datetime
    action: str = Field(description="join, leave, stop_all, unstop, language or district")
    service: str | None = Field(description="null: it concerns every service")
    detail: str | None = Field(
        description="the language or district chosen; the services a STOP left or a START"
        " rejoined (space-separated)"
    )
    source: str = Field(description="sms, assisted or import")
    consent: str
    actor: str | None = Field(description="the token that recorded it; null: the citizen, by SMS")


class SubscriberView(BaseModel):
    msisdn: str = Field(description="E.164; masked for officers")
    language: str | None = Field(description="their choice (null: each service's default)")
    district: str | None = Field(description="null: never said")
    opted_out_at: datetime | None = Field(
        description="a STOP of every service in force since then (null: none); only the"
        " citizen lifts it, by texting START"
    )
    first_seen_at: datetime
    subscriptions: list[SubscriptionView] = Field(description="active and left, oldest first")
    consent_history: list[ConsentEventView] = Field(description="newest first, at most limit")
    more_history: bool = Field(description="older events exist than those shown")


def _number(raw: str, region: str) -> str:
    if len(raw) > _MAX_TYPED:
        raise Invalid(f"a phone number has at most {_MAX_TYPED} characters", field="msisdn")
    try:
        return normalise_msisdn(raw, region)
    except InvalidNumber as error:
        raise Invalid(str(error), field="msisdn") from None


def _events(events: list[ConsentEvent], services: frozenset[str] | None) -> list[ConsentEventView]:
    views = []
    for event in events:
        detail = event.detail
        if services is not None and event.action in _ABOUT_ALL and detail:
            detail = " ".join(word for word in detail.split() if word in services) or None
        views.append(ConsentEventView(
            at=event.at, action=event.action.value, service=event.service, detail=detail,
            source=event.source.value, consent=event.consent, actor=event.actor,
        ))  # fmt: skip
    return views


def _subscriptions(
    found: list[Subscription], ministries: dict[str, str], principal: ApiToken
) -> list[SubscriptionView]:
    return [
        SubscriptionView(
            service=s.service, ministry=ministries.get(s.service, ""), active=s.left_at is None,
            subscribed_at=s.subscribed_at, left_at=s.left_at, source=s.source.value,
            consent=s.consent,
        )
        for s in found
        if principal.may_act_for(ministries.get(s.service, ""))
    ]  # fmt: skip


async def look_up(request: web.Request) -> web.Response:
    deps, principal = request.app[SERVICES], request[PRINCIPAL]
    query = read_query(request, LookupQuery)
    msisdn = _number(request.match_info["msisdn"], deps.region)
    shown = mask_number(msisdn) if principal.role is Role.OFFICER else msisdn
    store = deps.subscriptions
    ministries = {s.keyword: s.ministry for s in await deps.catalogue.services()}
    scope = None if principal.scope is None else frozenset(
        keyword for keyword, ministry in ministries.items() if principal.may_act_for(ministry)
    )  # fmt: skip
    subscriber = await store.subscriber(msisdn)
    subscriptions = []
    if subscriber is not None:
        subscriptions = _subscriptions(
            await store.every_subscription(msisdn), ministries, principal
        )
    found = subscriber is not None and (scope is None or bool(subscriptions))
    _log.info("subscriber_looked_up", msisdn=msisdn, found=found)
    await deps.audit.audit(
        AuditEntry.by(principal, AuditAction.SUBSCRIBER_LOOKED_UP, msisdn, at=datetime.now(UTC),
                      found=found, services=sorted({s.service for s in subscriptions}))
    )  # fmt: skip
    if subscriber is None or not found:
        what = "" if scope is None else " with a service of your ministry"
        raise NotFound(f"no subscriber {shown}{what}", field="msisdn")
    events = await store.latest_events(msisdn, limit=query.limit + 1, services=scope)
    return json_response(SubscriberView(
        msisdn=shown, language=subscriber.language, district=subscriber.district,
        opted_out_at=subscriber.opted_out_at, first_seen_at=subscriber.created_at,
        subscriptions=subscriptions, consent_history=_events(events[: query.limit], scope),
        more_history=len(events) > query.limit,
    ))  # fmt: skip


ROUTES = [
    Route("GET", PATH, look_up,
          "One number's services (active and left), language, district, STOP and consent"
          " history; any usual form of the number (local ones in the gateway's region)",
          roles=(Role.ADMIN, Role.SUPERVISOR, Role.OFFICER), query=LookupQuery,
          responses={200: SubscriberView, 400: ErrorBody, 404: ErrorBody}),
]  # fmt: skip
