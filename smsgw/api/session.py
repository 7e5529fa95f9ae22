"""``/api/v1/session``: people log in (name, password and, once enrolled, a TOTP or recovery
code) and out; ``/api/v1/me/…``: a person's own second factor and password.

The session is a cookie (HttpOnly: no script reads it; SameSite=Strict: no other site's page
sends it; Secure over HTTPS); its CSRF token, answered at log-in and by GET /api/v1/me, goes in
the X-CSRF-Token header of every unsafe request (auth.py)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from smsgw.access.logins import Active, LoginRefused
from smsgw.access.people import PASSWORD_MAX, Totp
from smsgw.api.auth import SESSION_COOKIE, client_address, is_https, require_csrf
from smsgw.api.context import SERVICES, SESSION
from smsgw.api.errors import ApiError, ErrorBody
from smsgw.api.routes import Route, json_response, read_body, read_query
from smsgw.errors import Conflict


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(max_length=200, examples=["Maria Chen"])
    password: str = Field(max_length=PASSWORD_MAX)
    code: str | None = Field(
        None,
        max_length=64,
        description="once TOTP is enrolled: its current code, or an unused recovery code",
    )


class PersonBrief(BaseModel):
    name: str
    role: str
    ministry: str | None


class SessionView(BaseModel):
    csrf: str = Field(description="send it as X-CSRF-Token with every POST, PATCH, PUT, DELETE")
    person: PersonBrief
    totp: Totp = Field(
        description="required: an admin or supervisor who must enrol TOTP before anything else"
        " (POST /api/v1/me/totp); enrolled; optional"
    )
    expires_at: datetime = Field(description="the latest it ends (it ends sooner when idle)")


class LogoutQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    everywhere: bool = Field(False, description="end every session of this person")


class TotpStart(BaseModel):
    secret: str = Field(description="base32, for an authenticator app")
    uri: str = Field(description="otpauth:// (as a QR code)")


class TotpCode(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(max_length=64, description="the app's current code for the new secret")


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(
        description="each opens one log-in in place of a code: shown this once"
    )


class NewPassword(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    current: str = Field(max_length=PASSWORD_MAX)
    new: str = Field(max_length=PASSWORD_MAX, description="12 characters or more, not the name")


def _view(active: Active) -> SessionView:
    person = active.person
    brief = PersonBrief(name=person.name, role=person.role.value, ministry=person.ministry)
    return SessionView(csrf=active.session.csrf, person=brief, totp=person.totp,
                       expires_at=active.session.expires_at)  # fmt: skip


def session_fields(request: web.Request) -> dict[str, Any]:
    """What GET /api/v1/me adds for a person logged in: their CSRF token and TOTP state."""
    if SESSION not in request:
        return {}
    active = request[SESSION]
    return {"csrf": active.session.csrf, "totp": active.person.totp.value}


async def log_in(request: web.Request) -> web.Response:
    body = await read_body(request, Login)
    services = request.app[SERVICES]
    proxies = services.http_settings.trusted_proxies
    try:
        logged = await services.logins.log_in(
            body.name, body.password, body.code, address=client_address(request, proxies)
        )
    except LoginRefused as refused:
        if refused.wait_s > 0:
            wait = {"Retry-After": str(math.ceil(refused.wait_s))}
            message = "too many failed log-ins with this name: try again after Retry-After s"
            raise ApiError(429, "too_many_failures", message, headers=wait) from None
        raise ApiError(401, "login_failed", str(refused)) from None
    response = json_response(_view(logged.active))
    response.set_cookie(
        SESSION_COOKIE, logged.secret, path="/", httponly=True, samesite="Strict",
        secure=is_https(request, proxies),
    )  # fmt: skip
    return response


async def log_out(request: web.Request) -> web.Response:
    """Public: a cookie that is no live session any more is simply cleared."""
    query = read_query(request, LogoutQuery)
    secret = request.cookies.get(SESSION_COOKIE)
    logins = request.app[SERVICES].logins
    active = await logins.session(secret) if secret else None
    if active is not None:
        require_csrf(request, active)
        await logins.log_out(active, everywhere=query.everywhere)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict")
    return response


def _session(request: web.Request) -> Active:
    if SESSION not in request:
        raise Conflict("this is a person's, logged in: a token has no password nor TOTP")
    return request[SESSION]


async def start_totp(request: web.Request) -> web.Response:
    secret, uri = await request.app[SERVICES].logins.start_totp(_session(request))
    return json_response(TotpStart(secret=secret, uri=uri))


async def confirm_totp(request: web.Request) -> web.Response:
    body = await read_body(request, TotpCode)
    active = _session(request)
    codes = await request.app[SERVICES].logins.confirm_totp(active, body.code)
    return json_response(RecoveryCodes(recovery_codes=codes))


async def change_password(request: web.Request) -> web.Response:
    body = await read_body(request, NewPassword)
    active = _session(request)
    try:
        await request.app[SERVICES].logins.change_password(active, body.current, body.new)
    except LoginRefused as refused:
        wait = {"Retry-After": str(math.ceil(refused.wait_s))}
        raise ApiError(429, "too_many_failures", "too many wrong passwords: try again after"
                       " Retry-After seconds", headers=wait) from None  # fmt: skip
    return web.Response(status=204)


_REFUSED = {401: ErrorBody, 429: ErrorBody}
ROUTES = [
    Route("POST", "/api/v1/session", log_in,
          "Log in (a person): sets the session cookie; answers its CSRF token",
          roles=None, body=Login, responses={200: SessionView, **_REFUSED}),
    Route("DELETE", "/api/v1/session", log_out,
          "Log out: this session, or with ?everywhere=true all of the person's",
          roles=None, query=LogoutQuery, responses={204: None, 403: ErrorBody}),
    Route("POST", "/api/v1/me/totp", start_totp,
          "Begin enrolling TOTP: a new secret, in use once a code of it is confirmed",
          roles=(), responses={200: TotpStart, 409: ErrorBody}),
    Route("POST", "/api/v1/me/totp/confirm", confirm_totp,
          "Confirm TOTP with a code: answers recovery codes (shown once)",
          roles=(), body=TotpCode, responses={200: RecoveryCodes, 409: ErrorBody}),
    Route("POST", "/api/v1/me/password", change_password,
          "Change one's own password (the person's other sessions end)",
          roles=(), body=NewPassword, responses={204: None, 409: ErrorBody, 429: ErrorBody}),
]  # fmt: skip
