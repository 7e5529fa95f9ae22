"""``GET /metrics`` for Prometheus, and the middleware counting HTTP requests."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from smsgw.api.context import METRICS, SERVICES
from smsgw.api.errors import Handler
from smsgw.api.routes import Route
from smsgw.delivery.outbox import by_label

PATH = "/metrics"


async def metrics(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    services = request.app[SERVICES]
    metrics.queue_depth(by_label(await services.outbox.queued_by_priority()))
    metrics.tickets_overdue(await services.inbox.overdue())
    # web.Response's content_type refuses a charset part: the header carries it whole
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost, so it sees the statuses the error middleware made of exceptions."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a redirect, which the error middleware lets through
        _count(request, exc.status)
        raise
    _count(request, response.status)
    return response


def _count(request: web.Request, status: int) -> None:
    # the route's template, not the path: ids and unknown paths would make endless series
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    request.app[METRICS].http_request(request.method, route, status)


ROUTES = [
    Route("GET", PATH, metrics, "Prometheus metrics (text format)", roles=None,
          responses={200: None}),
]  # fmt: skip
