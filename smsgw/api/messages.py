"""``/api/v1/messages``: one message to one number, or a batch of them; their states and
history."""

from __future__ import annotations

import base64
import dataclasses
import math
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from channels.text import text_info
from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.tokens import Role, http_url
from smsgw.api.context import PRINCIPAL, SERVICES, Services
from smsgw.api.errors import ApiError, ErrorBody, ErrorDetail, validation_error
from smsgw.api.idempotency import idempotent
from smsgw.api.routes import Route, gateway_time, json_response, read_body
from smsgw.delivery.message import Message, MessageState
from smsgw.delivery.sender import NewMessage
from smsgw.delivery.store import MessageFilter
from smsgw.errors import Invalid, NotFound
from smsgw.logging import mask_number
from subscriptions.importing import NO_ROUTE
from subscriptions.numbers import normalise_msisdn

MAX_SEGMENTS = 10  # a longer text is a broadcast's business, not a one-off message


CallbackUrl = Annotated[
    str,
    Field(
        max_length=2000,
        description="each change of the message's state is POSTed there as JSON {id, state, at,"
        " error, parts}, signed: X-Smsgw-Timestamp, X-Smsgw-Signature: sha256=HMAC-SHA256(key,"
        " timestamp + '.' + body), the key being the SHA-256 (hex) of the sending token",
        examples=["https://tax.example.gov/sms-status"],
    ),
    AfterValidator(http_url),
]


class SendMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    to: str = Field(
        max_length=32,
        description="E.164, or a local number of the gateway's default region",
        examples=["+5016012345"],
    )
    text: str = Field(min_length=1, max_length=2000, description=f"at most {MAX_SEGMENTS} SMS")
    callback_url: CallbackUrl | None = None

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


MAX_BATCH = 1000


class SendBatch(BaseModel):
    """Items are checked one by one (a bad one is answered in its place, the others go), so
    they are taken as they come here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_BATCH, description="each as the body of POST /messages"
    )
    callback_url: CallbackUrl | None = Field(None, description="for those that name none")


class BatchResult(BaseModel):
    id: str | None = None
    error: ErrorDetail | None = None


class BatchCreated(BaseModel):
    results: list[BatchResult] = Field(description="one per message, in their order")
    accepted: int


class MessageCreated(BaseModel):
    id: str
    state: str
    segments: int
    encoding: str


class MessageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state: MessageState | None = None
    since: datetime | None = Field(
        None, description="created at or after (ISO 8601; without an offset: the gateway's zone)"
    )
    to: str | None = Field(None, max_length=32, description="E.164, or a local number")
    token: str | None = Field(None, max_length=64, description="the id of the token that sent it")
    cursor: str | None = Field(None, max_length=200, description="the previous answer's next")
    limit: int = Field(100, ge=1, le=1000)


class MessageSummary(BaseModel):
    id: str
    to: str = Field(description="masked for operators")
    state: MessageState
    error: str | None
    parts: int
    encoding: str
    channel: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None = Field(description="the token that sent it; null: a reply")


class MessageList(BaseModel):
    messages: list[MessageSummary] = Field(description="newest first")
    next: str | None = Field(description="cursor of the next page; null: no more")


class HistoryEntry(BaseModel):
    at: datetime
    state: str = Field(description="a message state, a receipt state, or an event")
    detail: str | None


class MessageView(MessageSummary):
    history: list[HistoryEntry]


def _checked(deps: Services, body: SendMessage) -> NewMessage:
    if deps.carrier_of(body.to) is None:  # refused now, not accepted and then "no_route"
        raise Invalid(NO_ROUTE, code="no_route", field="to")
    info = text_info(body.text)
    if info.segments > MAX_SEGMENTS:
        raise Invalid(f"{info.segments} SMS, at most {MAX_SEGMENTS}", code="too_long", field="text")
    return NewMessage(body.to, body.text, info.segments, str(info.encoding), body.callback_url)


async def create_message(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    body = await read_body(request, SendMessage, region=deps.region)
    new = _checked(deps, body)
    principal = request[PRINCIPAL]
    wait = await deps.message_quota.take(principal.id, datetime.now(UTC))
    if wait > 0:
        limit = deps.message_quota.limit
        raise ApiError(
            429, "quota_exceeded", f"this token has sent its {limit} messages of today",
            headers={"Retry-After": str(math.ceil(wait))},
        )  # fmt: skip
    message = await deps.sender.create(
        new.to, new.text, segments=new.segments, encoding=new.encoding, created_by=principal.id,
        callback_url=new.callback_url or principal.callback_url,
        audit=lambda made: AuditEntry.by(
            principal, AuditAction.MESSAGE_SENT, made[0].id, at=made[0].created_at,
            to=made[0].to, segments=made[0].parts,
        ),
    )  # fmt: skip
    created = MessageCreated(
        id=message.id, state=message.state, segments=message.parts, encoding=message.encoding
    )
    return json_response(created, status=201)


async def create_batch(request: web.Request) -> web.Response:
    """Each item checked as POST /messages checks one; the valid ones stored together in one
    transaction and sent; a result per item, in order."""
    deps = request.app[SERVICES]
    body = await read_body(request, SendBatch)
    results: list[BatchResult | None] = []
    wanted: list[NewMessage] = []
    default = body.callback_url or request[PRINCIPAL].callback_url
    for n, item in enumerate(body.messages):
        try:
            one = SendMessage.model_validate(item, strict=True, context={"region": deps.region})
            new = _checked(deps, one)
            if new.callback_url is None and default is not None:
                new = dataclasses.replace(new, callback_url=default)
            wanted.append(new)
            results.append(None)  # its id comes once stored
        except ValidationError as exc:
            results.append(_error(validation_error(exc), n))
        except Invalid as refused:
            results.append(
                _error(ApiError(400, refused.code, str(refused), field=refused.field), n)
            )
    principal = request[PRINCIPAL]
    granted, _ = await deps.message_quota.take_up_to(principal.id, len(wanted), datetime.now(UTC))
    messages = await deps.sender.create_many(
        wanted[:granted], created_by=principal.id,
        audit=lambda made: AuditEntry.by(
            principal, AuditAction.MESSAGES_SENT, f"{len(made)} messages",
            at=made[0].created_at, ids=[m.id for m in made],
        ),
    )  # fmt: skip
    ids = iter(message.id for message in messages)
    over = ApiError(429, "quota_exceeded", f"this token has sent its {deps.message_quota.limit}"
                    " messages of today")  # fmt: skip
    answer = []
    for result in results:
        if result is None:
            message_id = next(ids, None)
            # built, not validated: a thousand ids we made ourselves
            result = (
                BatchResult.model_construct(id=message_id) if message_id else _error(over, None)
            )
        answer.append(result)
    return json_response(BatchCreated(results=answer, accepted=len(messages)))


def _error(error: ApiError, index: int | None) -> BatchResult:
    field = error.field if index is None else f"messages.{index}.{error.field or ''}".rstrip(".")
    return BatchResult(error=ErrorDetail(code=error.code, message=error.message, field=field))


async def list_messages(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    try:
        query = MessageQuery.model_validate(dict(request.query))
        to = normalise_msisdn(query.to, deps.region) if query.to else None
    except ValidationError as exc:
        raise validation_error(exc) from None
    except ValueError as exc:  # the number
        raise ApiError(400, "invalid", str(exc), field="to") from None
    since = gateway_time(query.since, deps.timezone, "since") if query.since else None
    where = MessageFilter(
        state=query.state, to=to, created_by=query.token, since=since,
        before=_cursor(query.cursor) if query.cursor else None,
    )  # fmt: skip
    found = await deps.messages.find_messages(where, limit=query.limit + 1)
    page = found[: query.limit]
    more = len(found) > query.limit
    answer = MessageList(
        messages=[_summary(m, masked=_masked(request)) for m in page],
        next=_next_cursor(page[-1]) if more else None,
    )
    return json_response(answer)


def _masked(request: web.Request) -> bool:
    """An operator follows the traffic, not the people: numbers masked (an admin sees them)."""
    return bool(request[PRINCIPAL].role is Role.OPERATOR)


def _summary(m: Message, *, masked: bool) -> MessageSummary:
    return MessageSummary(
        id=m.id, to=mask_number(m.to) if masked else m.to, state=m.state, error=m.error,
        parts=m.parts, encoding=m.encoding,
        channel=m.channel, created_at=m.created_at, updated_at=m.updated_at,
        created_by=m.created_by,
    )  # fmt: skip


def _next_cursor(last: Message) -> str:
    raw = f"{last.created_at.isoformat()}|{last.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(text: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        at, message_id = raw.split("|", 1)
        return datetime.fromisoformat(at), message_id
    except ValueError:  # bad base64 (binascii.Error), bytes, shape or time
        raise ApiError(400, "invalid", "not a cursor this API gave", field="cursor") from None


async def get_message(request: web.Request) -> web.Response:
    store = request.app[SERVICES].messages
    message_id = request.match_info["id"]
    message = await store.get_message(message_id)
    if message is None:
        raise NotFound(f"no message {message_id}")
    history = await store.message_history(message_id)
    view = MessageView(
        **_summary(message, masked=_masked(request)).model_dump(),
        history=[HistoryEntry(at=e.at, state=e.state, detail=e.detail) for e in history],
    )
    return json_response(view)


_LOG_READERS = (Role.ADMIN, Role.OPERATOR)  # an operator's numbers masked
ROUTES = [
    Route("POST", "/api/v1/messages", idempotent(create_message), "Send one message to one number",
          roles=(Role.ADMIN,), body=SendMessage, responses={201: MessageCreated, 429: ErrorBody}),
    Route("POST", "/api/v1/messages/batch", idempotent(create_batch),
          f"Send up to {MAX_BATCH} messages at once: a result (id or error) per message, in"
          " order; the accepted ones are stored in one transaction",
          roles=(Role.ADMIN,), body=SendBatch, responses={200: BatchCreated, 400: ErrorBody}),
    Route("GET", "/api/v1/messages", list_messages,
          "Messages, newest first, filtered by state, since, to and token; a page at a time"
          " (next: the cursor of the following page)",
          roles=_LOG_READERS, query=MessageQuery,
          responses={200: MessageList, 400: ErrorBody}),
    Route("GET", "/api/v1/messages/{id}", get_message, "A message's state and history",
          roles=_LOG_READERS, responses={200: MessageView, 404: ErrorBody}),
]  # fmt: skip
