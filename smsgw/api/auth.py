"""Bearer-token authentication (a middleware) and role checks (per route)."""

from __future__ import annotations

import functools
import math
import time
from collections import deque
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.typedefs import Middleware

from smsgw.access.tokens import ApiToken, Role, hash_secret
from smsgw.api.context import PRINCIPAL, SERVICES
from smsgw.api.errors import ApiError, Handler

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="smsgw"'}


class FailedAuth:
    """Failed authentications per client address in a sliding window: past ``limit`` the
    address gets 429 until its oldest failure leaves the window (guessing tokens is slow)."""

    def __init__(
        self,
        limit: int = 10,
        window_s: float = 60.0,
        *,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window_s
        self._max = max_addresses
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may try again; 0 if it may now."""
        failures = self._failures.get(address)
        if failures is None:
            return 0.0
        now = self._clock()
        while failures and now - failures[0] >= self._window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return 0.0
        if len(failures) < self._limit:
            return 0.0
        return failures[0] + self._window - now

    def failed(self, address: str) -> None:
        if address not in self._failures and len(self._failures) >= self._max:
            # bounded memory: forget the address whose failures are oldest
            del self._failures[next(iter(self._failures))]
        self._failures.setdefault(address, deque()).append(self._clock())


def auth_middleware(public_paths: Collection[str], failed: FailedAuth | None = None) -> Middleware:
    """Every ``/api/`` request needs a valid token, except those to ``public_paths``."""
    failures = failed or FailedAuth()

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/api/") and request.path not in public_paths:
            address = request.remote or "unknown"
            wait = failures.retry_after(address)
            if wait > 0:
                raise ApiError(
                    429, "too_many_failures", "too many failed authentications; try later",
                    headers={"Retry-After": str(math.ceil(wait))},
                )  # fmt: skip
            try:
                request[PRINCIPAL] = await _principal(request)
            except ApiError:
                failures.failed(address)
                raise
        return await handler(request)

    return authenticate


async def _principal(request: web.Request) -> ApiToken:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "unauthorized", "a bearer token is required", headers=_CHALLENGE)
    token = await request.app[SERVICES].tokens.token_by_hash(hash_secret(secret.strip()))
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
