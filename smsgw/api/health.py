"""``GET /healthz``: liveness and the bind state of every channel."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from channels.base import LinkState
from smsgw.api.context import SERVICES
from smsgw.api.routes import Route, json_response


class ChannelHealth(BaseModel):
    name: str
    carrier: str
    state: LinkState
    error: str | None = None  # why it is not bound, e.g. the SMSC's bind refusal status


class StorageHealth(BaseModel):
    status: Literal["ok", "failing"]
    error: str | None = None  # e.g. "database or disk is full"; writes wait and are retried


class Health(BaseModel):
    # ok: all bound and the database writable; degraded: some bound, or the database not
    # writable; down: none bound
    status: Literal["ok", "degraded", "down"]
    channels: list[ChannelHealth]
    storage: StorageHealth


async def health(request: web.Request) -> web.Response:
    """Always 200 while the process serves: a carrier outage or a full disk is not a reason
    to restart us (a restart would not make either better)."""
    channels = [
        ChannelHealth(
            name=channel.name,
            carrier=channel.carrier,
            state=channel.state,
            error=channel.last_error or None,
        )
        for channel in request.app[SERVICES].channels
    ]
    bound = sum(channel.state is LinkState.BOUND for channel in channels)
    error = request.app[SERVICES].storage_error()
    status: Literal["ok", "degraded", "down"] = (
        "down" if not bound else "ok" if bound == len(channels) and not error else "degraded"
    )
    storage = StorageHealth(status="failing" if error else "ok", error=error)
    return json_response(Health(status=status, channels=channels, storage=storage))


ROUTES = [
    Route("GET", "/healthz", health, "Liveness and per-channel bind state", roles=None,
          responses={200: Health}),
]  # fmt: skip
