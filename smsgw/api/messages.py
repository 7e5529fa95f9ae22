"""``/api/v1/messages``: one message to one number, and its state and history."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from channels.text import text_info
from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.tokens import Role
from smsgw.api.context import PRINCIPAL, SERVICES
from smsgw.api.errors import ApiError, ErrorBody
from smsgw.api.routes import Route, json_response, read_body
from smsgw.errors import Invalid, NotFound
from subscriptions.importing import NO_ROUTE
from subscriptions.numbers import normalise_msisdn

MAX_SEGMENTS = 10  # a longer text is a broadcast's business, not a one-off message


class SendMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    to: str = Field(
        max_length=32,
        description="E.164, or a local number of the gateway's default region",
        examples=["+5016012345"],
    )
    text: str = Field(min_length=1, max_length=2000, description=f"at most {MAX_SEGMENTS} SMS")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the text is empty")
        return value

    @field_validator("to")
    @classmethod
    def _e164(cls, value: str, info: ValidationInfo) -> str:
        return normalise_msisdn(value, (info.context or {})["region"])  # extensions refused


class MessageCreated(BaseModel):
    id: str
    state: str
    segments: int
    encoding: str


class HistoryEntry(BaseModel):
    at: datetime
    state: str = Field(description="a message state, a receipt state, or an event")
    detail: str | None


class MessageView(BaseModel):
    id: str
    to: str
    state: str
    error: str | None
    parts: int
    encoding: str
    channel: str | None
    created_at: datetime
    updated_at: datetime
    history: list[HistoryEntry]


async def create_message(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    body = await read_body(request, SendMessage, region=deps.region)
    if deps.carrier_of(body.to) is None:  # refused now, not accepted and then "no_route"
        raise Invalid(NO_ROUTE, code="no_route", field="to")
    info = text_info(body.text)
    if info.segments > MAX_SEGMENTS:
        raise Invalid(f"{info.segments} SMS, at most {MAX_SEGMENTS}", code="too_long", field="text")
    principal = request[PRINCIPAL]
    wait = await deps.message_quota.take(principal.id, datetime.now(UTC))
    if wait > 0:
        limit = deps.message_quota.limit
        raise ApiError(
            429, "quota_exceeded", f"this token has sent its {limit} messages of today",
            headers={"Retry-After": str(math.ceil(wait))},
        )  # fmt: skip
    message = await deps.sender.create(
        body.to, body.text, segments=info.segments, encoding=str(info.encoding),
        created_by=principal.id,
    )  # fmt: skip
    await deps.audit.audit(
        AuditEntry.by(principal, AuditAction.MESSAGE_SENT, message.id, at=message.created_at,
                      to=message.to, segments=message.parts)
    )  # fmt: skip
    created = MessageCreated(
        id=message.id, state=message.state, segments=message.parts, encoding=message.encoding
    )
    return json_response(created, status=201)


async def get_message(request: web.Request) -> web.Response:
    store = request.app[SERVICES].messages
    message_id = request.match_info["id"]
    message = await store.get_message(message_id)
    if message is None:
        raise NotFound(f"no message {message_id}")
    history = await store.message_history(message_id)
    view = MessageView(
        id=message.id,
        to=message.to,
        state=message.state,
        error=message.error,
        parts=message.parts,
        encoding=message.encoding,
        channel=message.channel,
        created_at=message.created_at,
        updated_at=message.updated_at,
        history=[HistoryEntry(at=e.at, state=e.state, detail=e.detail) for e in history],
    )
    return json_response(view)


ROUTES = [
    Route("POST", "/api/v1/messages", create_message, "Send one message to one number",
          roles=(Role.ADMIN,), body=SendMessage, responses={201: MessageCreated, 429: ErrorBody}),
    Route("GET", "/api/v1/messages/{id}", get_message, "A message's state and history",
          roles=(Role.ADMIN,), responses={200: MessageView, 404: ErrorBody}),
]  # fmt: skip
