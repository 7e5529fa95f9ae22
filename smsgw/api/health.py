"""``GET /healthz``: liveness, the bind state of every channel, and which binds this gateway
holds (with several gateways on one database, each bind is held by one of them)."""

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
    held: bool  # this gateway holds its lease (another may hold it, and bind it)
    held_by: str | None  # the gateway holding it (this one or another); None: none now
    error: str | None = None  # why it is not bound, e.g. the SMSC's bind refusal status


class StorageHealth(BaseModel):
    status: Literal["ok", "failing"]
    error: str | None = None  # e.g. "database or disk is full"; writes wait and are retried


class Health(BaseModel):
    # of the binds this gateway holds: ok: all bound and the database writable; degraded: some
    # bound, or the database not writable; down: none bound. standby: it holds none (others
    # do): it serves the API
    status: Literal["ok", "degraded", "down", "standby"]
    instance: str
    gateways: list[str]  # the gateways alive on the database (this one among them)
    channels: list[ChannelHealth]
    storage: StorageHealth


async def health(request: web.Request) -> web.Response:
    """Always 200 while the process serves: a carrier outage or a full disk is not a reason
    to restart us (a restart would not make either better)."""
    services = request.app[SERVICES]
    held = set(services.held())
    holders = services.holders()
    channels = [
        ChannelHealth(
            name=channel.name,
            carrier=channel.carrier,
            state=channel.state,
            held=channel.name in held,
            held_by=holders.get(channel.name),
            error=channel.last_error or None,
        )
        for channel in services.channels
    ]
    bound = sum(channel.state is LinkState.BOUND for channel in channels if channel.held)
    error = services.storage_error()
    status: Literal["ok", "degraded", "down", "standby"] = (
        "standby" if not held
        else "down" if not bound
        else "ok" if bound == len(held) and not error
        else "degraded"
    )  # fmt: skip
    storage = StorageHealth(status="failing" if error else "ok", error=error)
    return json_response(
        Health(
            status=status,
            instance=services.instance,
            gateways=services.gateways(),
            channels=channels,
            storage=storage,
        )
    )


ROUTES = [
    Route("GET", "/healthz", health, "Liveness and per-channel bind state", roles=None,
          responses={200: Health}),
]  # fmt: skip
