"""Bearer-token authentication (a middleware) and role checks (per route)."""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.typedefs import Middleware

from smsgw.api.context import DEPS, PRINCIPAL
from smsgw.api.errors import ApiError, Handler
from smsgw.tokens import ApiToken, Role, hash_secret

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="smsgw"'}


def auth_middleware(public_paths: Collection[str]) -> Middleware:
    """Every ``/api/`` request needs a valid token, except those to ``public_paths``."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/api/") and request.path not in public_paths:
            request[PRINCIPAL] = await _principal(request)
        return await handler(request)

    return authenticate


async def _principal(request: web.Request) -> ApiToken:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "unauthorized", "a bearer token is required", headers=_CHALLENGE)
    token = await request.app[DEPS].tokens.token_by_hash(hash_secret(secret.strip()))
    if token is None or not token.usable(datetime.now(UTC)):
        raise ApiError(401, "unauthorized", "invalid, expired or revoked token", headers=_CHALLENGE)
    return token


def require_role(roles: Collection[Role], handler: Handler) -> Handler:
    """``handler``, answering 403 to a token whose role is not one of ``roles``."""
    allowed = frozenset(roles)

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        if request[PRINCIPAL].role not in allowed:
            needed = " or ".join(sorted(allowed))
            raise ApiError(403, "forbidden", f"this needs the role {needed}")
        return await handler(request)

    return guarded
