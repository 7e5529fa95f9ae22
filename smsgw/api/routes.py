"""A route's description: registers it (with its role check) and documents it (OpenAPI)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from smsgw.access.tokens import Role
from smsgw.api.auth import require_role
from smsgw.api.context import SERVICES
from smsgw.api.errors import ApiError, Handler, validation_error

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    roles: tuple[Role, ...] | None  # None: no token needed; (): any valid token
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None  # documents the query string (the handler reads it)
    stream: Mapping[str, Any] | None = None  # OpenAPI content of a body read as it arrives
    responses: Mapping[int, type[BaseModel] | None] = field(default_factory=dict)


def register(app: web.Application, routes: list[Route]) -> None:
    for route in routes:
        handler = route.handler if not route.roles else require_role(route.roles, route.handler)
        if route.method == "GET":  # HEAD too: load balancers and probes use it
            app.router.add_get(route.path, handler, allow_head=True)
        else:
            app.router.add_route(route.method, route.path, handler)


def public_paths(routes: list[Route]) -> frozenset[str]:
    return frozenset(route.path for route in routes if route.roles is None)


async def read_body(request: web.Request, model: type[M], **context: Any) -> M:
    """The JSON body, validated by ``model`` (400 on malformed JSON or invalid fields).

    Strictly: JSON's own types only, no coercion (true is no number of minutes, a number no
    time), as the config is read."""
    raw = await read_raw(request)
    try:  # one parse: pydantic's own, which tells malformed JSON apart from invalid fields
        return model.model_validate_json(raw, strict=True, context=context)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] != "json_invalid":
            raise
        if "recursion limit" in first["msg"]:  # "[[[[…" deep fits well within client_max_size
            raise ApiError(400, "malformed_json", "the body is nested too deeply") from None
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from None


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string, validated by ``model`` (400 naming the first bad parameter)."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_error(exc) from None


async def read_raw(request: web.Request) -> bytes:
    """The whole body, within ``[http] body_timeout_s`` (408 past it; 413 past the
    application's client_max_size); read once, kept by aiohttp for a second read."""
    limit = request.app[SERVICES].http_settings.body_timeout_s
    try:
        async with asyncio.timeout(limit):  # a client sending a byte a minute holds nothing
            return await request.read()
    except TimeoutError:
        raise ApiError(408, "request_timeout", f"the body took over {limit:g} s") from None


def gateway_time(at: datetime, zone: tzinfo, field: str) -> datetime:
    """A time a caller gave, in UTC: one without an offset is on the gateway's clock (as a
    broadcast's send_at); 400 naming ``field`` where it falls outside the years datetime holds."""
    try:
        return (at if at.tzinfo else at.replace(tzinfo=zone)).astimezone(UTC)
    except OverflowError:  # year 9999 ahead of UTC, or year 1 behind it
        raise ApiError(400, "invalid", "out of range", field=field) from None


def json_response(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(model.model_dump(mode="json"), status=status)
