"""``GET /api/v1/operator/history``: the operator's charts' last hour, as this gateway sampled
it (kpis/history.py): submits per second per bind beside each bind's cap, and the outbox queue
depth per priority."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from smsgw.access.tokens import STAFF
from smsgw.api.context import SERVICES
from smsgw.api.routes import Route, json_response


class BindCap(BaseModel):
    name: str
    carrier: str
    tps: int = Field(description="the bind's configured cap, submits per second; 0: no cap")
    held: bool = Field(description="this gateway holds the bind now (only its holder sends)")


class HistorySample(BaseModel):
    at: datetime = Field(description="the end of the interval the sample covers")
    span_s: float = Field(description="the interval, about every_s")
    submits_per_s: dict[str, float] = Field(
        description="segments the carrier accepted per second over the interval, per bind"
        " (every bind of binds, 0 when it sent none)"
    )
    queued: dict[str, int] | None = Field(
        description="broadcast messages queued in the outbox at the end, per priority (shared by"
        " the gateways on the database); null: the database did not answer in time"
    )


class OperatorHistory(BaseModel):
    """Sampled by each gateway on its own: with several on one database, each answers for the
    binds it sent on (ask each instance for its own); the queue depth is the same for all."""

    instance: str = Field(description="the gateway that sampled this")
    every_s: float = Field(description="seconds between samples")
    points: int = Field(description="the most samples kept; the oldest go first")
    binds: list[BindCap]
    samples: list[HistorySample] = Field(description="the oldest first")


async def get_history(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    history, held = deps.history, set(deps.held())
    binds = [
        BindCap(name=c.name, carrier=c.carrier, tps=c.tps, held=c.name in held)
        for c in deps.channels
    ]
    samples = [
        HistorySample(
            at=sample.at,
            span_s=sample.span_s,
            submits_per_s={b.name: sample.submits_per_s.get(b.name, 0.0) for b in binds},
            queued=dict(sample.queued) if sample.queued is not None else None,
        )
        for sample in history.samples
    ]
    return json_response(
        OperatorHistory(
            instance=deps.instance,
            every_s=history.every_s,
            points=history.points,
            binds=binds,
            samples=samples,
        )
    )


ROUTES = [
    Route("GET", "/api/v1/operator/history", get_history,
          "This gateway's last hour: submits per second per bind beside its cap, and the queue"
          " depth per priority, sampled every few seconds", roles=STAFF,
          responses={200: OperatorHistory}),
]  # fmt: skip
