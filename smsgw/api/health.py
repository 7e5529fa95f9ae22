"""``GET /healthz``: liveness and the bind state of every channel."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from channels.base import LinkState
from smsgw.api.context import DEPS
from smsgw.api.routes import Route, json_response


class ChannelHealth(BaseModel):
    name: str
    carrier: str
    state: LinkState
    error: str | None = None  # why it is not bound, e.g. the SMSC's bind refusal status


class Health(BaseModel):
    status: Literal["ok", "degraded", "down"]  # all bound, some bound, none bound
    channels: list[ChannelHealth]


async def health(request: web.Request) -> web.Response:
    """Always 200 while the process serves: a carrier outage is not a reason to restart us."""
    channels = [
        ChannelHealth(
            name=channel.name,
            carrier=channel.carrier,
            state=channel.state,
            error=channel.last_error or None,
        )
        for channel in request.app[DEPS].channels
    ]
    bound = sum(channel.state is LinkState.BOUND for channel in channels)
    status: Literal["ok", "degraded", "down"] = (
        "ok" if bound == len(channels) else "degraded" if bound else "down"
    )
    return json_response(Health(status=status, channels=channels))


ROUTES = [
    Route("GET", "/healthz", health, "Liveness and per-channel bind state", roles=None,
          responses={200: Health}),
]  # fmt: skip
