"""``/api/v1/tokens``: an admin issues, lists and revokes API tokens (the secret is shown once)."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.tokens import ApiToken, Role, http_url, issue, token_ministry, token_person
from smsgw.api.context import PRINCIPAL, SERVICES
from smsgw.api.errors import ErrorBody
from smsgw.api.routes import Route, json_response, read_body
from smsgw.api.session import session_fields
from smsgw.errors import Conflict, NotFound

_log = structlog.get_logger(__name__)


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    ministry: str | None = Field(
        None,
        max_length=64,
        validate_default=True,  # an officer's missing ministry is refused too
        description="officers and supervisors: required; admins and operators: none",
        examples=["health"],
    )
    expires_days: int | None = Field(None, ge=1, le=3650, description="default: never")
    person: str = Field(
        max_length=200,
        description="the person (or named system) it is for: approval compares persons",
        examples=["Maria Chen"],
    )

    callback_url: str | None = Field(
        None,
        max_length=2000,
        description="an integrator's: where the states of the messages it sends go when a"
        " message names no callback_url",
    )

    @field_validator("callback_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        return http_url(value) if value is not None else None  # ValueError: 400

    @field_validator("person")
    @classmethod
    def _a_name(cls, value: str) -> str:
        return token_person(value)  # ValueError: 400

    @field_validator("ministry", mode="after")
    @classmethod
    def _fits_the_role(cls, value: str | None, info: ValidationInfo) -> str | None:
        role = info.data.get("role")  # absent when the role itself was refused
        return token_ministry(role, value) if role is not None else value  # ValueError: 400


class TokenView(BaseModel):
    id: str
    role: str
    ministry: str | None
    person: str | None = Field(description="null: a token made before tokens named persons")
    callback_url: str | None = None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(
        None, description="its last use, to the minute or so; null: not used yet"
    )
    usable: bool


class TokenIssued(TokenView):
    token: str = Field(description="the secret: shown this once, only its hash is kept")


class Me(TokenView):
    timezone: str = Field(
        description="the gateway's (IANA): its times are shown in it", examples=["America/Belize"]
    )
    csrf: str | None = Field(None, description="a person logged in: their X-CSRF-Token")
    totp: str | None = Field(None, description="a person logged in: required, enrolled, optional")


class TokenList(BaseModel):
    tokens: list[TokenView]


def _view(token: ApiToken, now: datetime) -> TokenView:
    return TokenView(
        id=token.id,
        role=token.role.value,
        ministry=token.ministry,
        person=token.person,
        callback_url=token.callback_url,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
        usable=token.usable(now),
    )


async def who_am_i(request: web.Request) -> web.Response:
    """The caller's own token (the console picks its pages by role, and shows times in the
    gateway's time zone)."""
    token = _view(request[PRINCIPAL], datetime.now(UTC))
    zone = request.app[SERVICES].timezone.key
    return json_response(Me(**token.model_dump(), timezone=zone, **session_fields(request)))


async def list_tokens(request: web.Request) -> web.Response:
    now = datetime.now(UTC)
    tokens = await request.app[SERVICES].tokens.tokens()
    return json_response(TokenList(tokens=[_view(token, now) for token in tokens]))


async def create_token(request: web.Request) -> web.Response:
    body = await read_body(request, NewToken)
    now = datetime.now(UTC)
    secret, token = issue(
        body.role, now=now, ministry=body.ministry, expires_days=body.expires_days,
        person=body.person, callback_url=body.callback_url,
    )  # fmt: skip
    audit = AuditEntry.by(
        request[PRINCIPAL], AuditAction.TOKEN_ISSUED, token.id, at=now,
        role=token.role.value, ministry=token.ministry, expires_at=token.expires_at,
    )  # fmt: skip
    await request.app[SERVICES].tokens.add_token(token, audit)
    _log.info("token_created", token_id=token.id, role=token.role, ministry=token.ministry)
    issued = TokenIssued(**_view(token, now).model_dump(), token=secret)
    return json_response(issued, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    store = request.app[SERVICES].tokens
    token_id = request.match_info["id"]
    now = datetime.now(UTC)
    token = await store.token(token_id)
    if token is None:
        raise NotFound(f"no token {token_id}")
    audit = AuditEntry.by(request[PRINCIPAL], AuditAction.TOKEN_REVOKED, token_id, at=now)
    if not await store.revoke_token(token_id, at=now, audit=audit):
        raise Conflict(f"token {token_id} is revoked already")
    _log.info("token_revoked", token_id=token_id)
    revoked = await store.token(token_id)
    assert revoked is not None  # noqa: S101 - it was there a moment ago; tokens are never deleted
    return json_response(_view(revoked, now))


_ADMIN = (Role.ADMIN,)
ROUTES = [
    Route("GET", "/api/v1/me", who_am_i, "The caller's own token: role, ministry, expiry",
          roles=(), responses={200: Me}),
    Route("GET", "/api/v1/tokens", list_tokens, "API tokens (never their secrets)",
          roles=_ADMIN, responses={200: TokenList}),
    Route("POST", "/api/v1/tokens", create_token, "Issue a token (its secret is shown once)",
          roles=_ADMIN, body=NewToken, responses={201: TokenIssued, 400: ErrorBody}),
    Route("DELETE", "/api/v1/tokens/{id}", revoke_token, "Revoke a token (at once)",
          roles=_ADMIN, responses={200: TokenView, 404: ErrorBody, 409: ErrorBody}),
]  # fmt: skip
