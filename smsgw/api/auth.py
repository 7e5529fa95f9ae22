"""Authentication (a middleware: a bearer token, or a person's session cookie with its CSRF
header on unsafe requests) and role checks (per route)."""

from __future__ import annotations

import functools
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network, ip_address

from aiohttp import web
from aiohttp.typedefs import Middleware

from smsgw.access.logins import Active
from smsgw.access.tokens import ApiToken, Role, hash_secret
from smsgw.api.context import PRINCIPAL, SERVICES, SESSION
from smsgw.api.errors import ApiError, Handler

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="smsgw"'}
SESSION_COOKIE = "smsgw_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
# all that a session of an admin or supervisor without TOTP yet may call (and log out, public)
ENROLMENT_PATHS = frozenset(
    {"/api/v1/me", "/api/v1/me/totp", "/api/v1/me/totp/confirm", "/api/v1/me/password"}
)


class FailedAuth:
    """Failed authentications per key (a client address, a presented token) in a sliding
    window: past ``limit`` a failing request gets 429 instead of 401 until the oldest failure
    leaves the window (guessing is slow). A valid token always passes: ten bad requests from
    behind a proxy must not lock out everyone else behind it."""

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


def auth_middleware(
    public_paths: Collection[str],
    failed: FailedAuth | None = None,
    trusted_proxies: Collection[IPv4Network | IPv6Network] = (),
) -> Middleware:
    """Every ``/api/`` request needs a valid token or session, except those to
    ``public_paths``."""
    failures = failed or FailedAuth()

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/api/") and request.path not in public_paths:
            try:
                request[PRINCIPAL] = await _principal(request)
            except ApiError:
                presented = request.headers.get("Authorization", "").partition(" ")[2].strip()
                keys = [f"address:{client_address(request, trusted_proxies)}"]
                if presented:
                    keys.append(f"token:{hash_secret(presented)}")
                wait = max(failures.retry_after(key) for key in keys)
                for key in keys:
                    failures.failed(key)
                if wait > 0:
                    raise ApiError(
                        429, "too_many_failures", "too many failed authentications; try later",
                        headers={"Retry-After": str(math.ceil(wait))},
                    ) from None  # fmt: skip
                raise
            if SESSION in request:  # after: a 403 here is no failed authentication
                _session_rules(request)
        return await handler(request)

    return authenticate


def client_address(
    request: web.Request, trusted_proxies: Collection[IPv4Network | IPv6Network]
) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the nearest
    address in X-Forwarded-For that is not one (a client can prepend anything it likes)."""
    address = request.remote or "unknown"
    if not trusted_proxies or not _trusted(address, trusted_proxies):
        return address
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([part for part in forwarded if part]):
        if not _trusted(hop, trusted_proxies):
            return hop
    return address


def _trusted(address: str, proxies: Collection[IPv4Network | IPv6Network]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def is_https(request: web.Request, trusted_proxies: Collection[IPv4Network | IPv6Network]) -> bool:
    """The client reached us over TLS: its own connection, or a trusted proxy's
    (X-Forwarded-Proto: its first hop's scheme)."""
    if request.secure:
        return True
    if not trusted_proxies or not _trusted(request.remote or "", trusted_proxies):
        return False
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0]
    return proto.strip().lower() == "https"


async def _principal(request: web.Request) -> ApiToken:
    if "Authorization" not in request.headers and SESSION_COOKIE in request.cookies:
        active = await request.app[SERVICES].logins.session(request.cookies[SESSION_COOKIE])
        if active is None:
            raise ApiError(401, "unauthorized", "the session has ended: log in again")
        request[SESSION] = active
        return active.principal
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(
            401, "unauthorized", "a bearer token (or a session) is required", headers=_CHALLENGE
        )
    token = await request.app[SERVICES].tokens.token_by_hash(hash_secret(secret.strip()))
    if token is None or not token.usable(datetime.now(UTC)):
        raise ApiError(401, "unauthorized", "invalid, expired or revoked token", headers=_CHALLENGE)
    request.app[SERVICES].token_usage.used(token.id)
    return token


def _session_rules(request: web.Request) -> None:
    """A session's unsafe request carries its CSRF token (a cookie goes with any request the
    browser makes, this header only with the console's own); one that must enrol TOTP does
    that first."""
    active = request[SESSION]
    if request.method not in _SAFE:
        require_csrf(request, active)
    if active.enrolling and request.path not in ENROLMENT_PATHS:
        raise ApiError(
            403, "totp_required", "set up TOTP first: POST /api/v1/me/totp, then confirm a code"
        )


def require_csrf(request: web.Request, active: Active) -> None:
    """403 unless the request carries the session's CSRF token."""
    given = request.headers.get(CSRF_HEADER, "").encode(errors="replace")
    if not secrets.compare_digest(given, active.session.csrf.encode()):
        raise ApiError(403, "csrf", f"this needs the {CSRF_HEADER} header of the log-in")


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
