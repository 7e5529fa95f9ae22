"""The HTTP API (aiohttp): one module per resource, JSON errors, bearer tokens with roles."""

from __future__ import annotations

from collections.abc import Collection
from ipaddress import IPv4Network, IPv6Network

from aiohttp import web

from smsgw.api import (
    alerts,
    audit,
    breakdown,
    broadcasts,
    districts,
    health,
    history,
    inbox,
    kpis,
    messages,
    metrics,
    openapi,
    services,
    session,
    subscribers,
    subscriptions,
    tokens,
    users,
)
from smsgw.api.auth import FailedAuth, auth_middleware
from smsgw.api.context import METRICS, SERVICES, Services
from smsgw.api.errors import error_middleware
from smsgw.api.routes import Route, public_paths, register
from smsgw.metrics import Metrics

__all__ = ["SERVICES", "Services", "create_app"]

# larger bodies read whole get 413 (the CSV import streams: no limit); a batch of 1,000
# messages of one or two SMS each fits
MAX_BODY = 1024 * 1024


def routes() -> list[Route]:
    table = [
        *health.ROUTES,
        *metrics.ROUTES,
        *messages.ROUTES,
        *services.ROUTES,
        *subscriptions.ROUTES,
        *subscribers.ROUTES,
        *broadcasts.ROUTES,
        *breakdown.ROUTES,
        *alerts.ROUTES,
        *districts.ROUTES,
        *inbox.ROUTES,
        *tokens.ROUTES,
        *session.ROUTES,
        *users.ROUTES,
        *audit.ROUTES,
        *kpis.ROUTES,
        *history.ROUTES,
    ]
    return [*table, openapi.route(table)]


def create_app(
    gateway_metrics: Metrics,
    *,
    failed_auth: FailedAuth | None = None,
    trusted_proxies: Collection[IPv4Network | IPv6Network] = (),
) -> web.Application:
    """The API's routes and middlewares; ``app[SERVICES]`` is set once the gateway runs."""
    table = routes()
    app = web.Application(
        middlewares=[
            metrics.count_requests,  # outermost: counts what the others answer too
            error_middleware,
            auth_middleware(public_paths(table), failed_auth, trusted_proxies),
        ],
        client_max_size=MAX_BODY,
    )
    app[METRICS] = gateway_metrics
    app.on_response_prepare.append(_headers)
    register(app, table)
    return app


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer: no software version in Server; an API answer is never sniffed as
    another type nor kept by a cache (one carries a new token's secret)."""
    response.headers["Server"] = "smsgw"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if not request.path.startswith("/console/"):
        response.headers.setdefault("Cache-Control", "no-store")
