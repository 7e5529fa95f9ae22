"""``GET /api/v1/kpis``: the programme's KPIs, each beside this programme year's target.

Periods are counted in the gateway's time zone: a programme year is twelve months from
``kpis.programme_start`` (year 1 first), days and months start at local midnight. Reading them
takes a few short trips to the store (sqlite/kpis.py); the live rates come from the metrics.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, Field

from smsgw.access.tokens import STAFF
from smsgw.api.context import SERVICES, Services
from smsgw.api.routes import Route, json_response
from smsgw.config import KpisConfig
from smsgw.delivery.outbox import by_label
from smsgw.kpis import periods
from smsgw.kpis.figures import ConsentFlow, Period, ServiceCount
from smsgw.kpis.store import KpiStore


class Kpi(BaseModel):
    value: int
    target: int


class YearKpi(Kpi):
    year: int = Field(description="programme year: 1 is the first twelve months")
    start: datetime = Field(description="local midnight, in the gateway's time zone")
    end: datetime


class ServiceKpis(BaseModel):
    active: Kpi = Field(description="active services; target: this programme year's")
    active_by_ministry: dict[str, int] = Field(description="every ministry with a service")


class ServiceSubscribers(BaseModel):
    service: str
    ministry: str
    active: bool = Field(description="the service's flag")
    subscribers: int


class Flow(BaseModel):
    period: str = Field(description='a local day ("2026-11-27") or month ("2026-11")')
    joined: int = Field(description="subscriptions begun: joins, and services START gave back")
    left: int = Field(description="subscriptions ended: leaves, and services STOP left")
    stops: int = Field(description="global STOPs")


class SubscriberKpis(BaseModel):
    active: Kpi = Field(description="numbers with an active subscription and no global STOP")
    by_service: list[ServiceSubscribers]
    seen: int = Field(description="numbers ever recorded")
    opted_out: int = Field(description="numbers under a global STOP now")
    opt_out_rate: float | None = Field(description="opted_out / seen")
    daily: list[Flow] = Field(description="the last 30 days, oldest first")
    monthly: list[Flow] = Field(description="the last 12 months, oldest first")


class BroadcastKpis(BaseModel):
    sent: Kpi = Field(description="broadcasts sending or done, created this programme year")
    by_year: list[YearKpi] = Field(description="programme years 1 to this one")
    by_ministry: dict[str, int] = Field(description="sent this programme year")
    audience: int = Field(description="recipients of this year's broadcasts (any state)")
    delivered: int
    cancelled: int = Field(description="recipients not sent to: their broadcast was cancelled")
    finished: int = Field(
        description="recipients whose message has an outcome: delivered, or"
        " final without delivery (not queued, in flight nor cancelled)"
    )
    delivery_rate: float | None = Field(description="delivered / finished, as a broadcast's")
    median_delivery_s: float | None = Field(description="submit → delivery receipt")
    median_sampled: bool = Field(
        description="approximate: over a sample of the delivered messages, or (within 2.5%)"
        " from the latency histograms kept of broadcasts whose per-recipient rows were deleted"
    )
    segments: int = Field(description="SMS the carriers accepted this year")
    cost: float = Field(description="segments × broadcasts.cost_per_segment")
    currency: str


class LiveKpis(BaseModel):
    span_s: float | None = Field(description="the rates' window (~10 s); null: not yet measured")
    submits_per_s: dict[str, float | None] = Field(description="segments accepted, per bind")
    receipts_per_s: float | None
    queued: dict[str, int] = Field(description="broadcast messages queued, per priority")


class Kpis(BaseModel):
    at: datetime
    programme_year: int
    services: ServiceKpis
    subscribers: SubscriberKpis
    broadcasts: BroadcastKpis
    live: LiveKpis


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def _flows(labels: list[Period], flows: list[ConsentFlow]) -> list[Flow]:
    return [
        Flow(period=p.label, joined=f.joined, left=f.left, stops=f.stops)
        for p, f in zip(labels, flows, strict=True)
    ]


def _services(counts: list[ServiceCount], targets: KpisConfig, year: int) -> ServiceKpis:
    by_ministry = dict.fromkeys(sorted({s.ministry for s in counts}), 0)
    for s in counts:
        by_ministry[s.ministry] += int(s.active)
    active = Kpi(value=sum(by_ministry.values()), target=periods.target(targets.services, year))
    return ServiceKpis(active=active, active_by_ministry=by_ministry)


async def _subscribers(
    store: KpiStore, services: list[ServiceCount], target: int, today: date, zone: ZoneInfo
) -> SubscriberKpis:
    days, months = periods.last_days(today, zone), periods.last_months(today, zone)
    counts = await store.subscriber_counts()
    flows = await store.consent_flow([*days, *months])
    return SubscriberKpis(
        active=Kpi(value=counts.active, target=target),
        by_service=[
            ServiceSubscribers(
                service=s.keyword, ministry=s.ministry, active=s.active, subscribers=s.subscribers
            )
            for s in services
        ],
        seen=counts.seen,
        opted_out=counts.opted_out,
        opt_out_rate=_ratio(counts.opted_out, counts.seen),
        daily=_flows(days, flows[: len(days)]),
        monthly=_flows(months, flows[len(days) :]),
    )


async def _broadcasts(deps: Services, years: list[Period], zone: ZoneInfo) -> BroadcastKpis:
    store, targets, pricing = deps.kpis, deps.kpi_settings, deps.broadcast_settings
    sent = await store.broadcasts_sent(years)
    totals = await store.delivery_totals(years[-1])
    by_year = [
        YearKpi(year=year, start=p.start.astimezone(zone), end=p.end.astimezone(zone),
                value=sum(counts.values()), target=periods.target(targets.broadcasts, year))
        for year, (p, counts) in enumerate(zip(years, sent, strict=True), start=1)
    ]  # fmt: skip
    return BroadcastKpis(
        sent=Kpi(value=by_year[-1].value, target=by_year[-1].target),
        by_year=by_year,
        by_ministry=sent[-1],
        audience=totals.audience,
        delivered=totals.delivered,
        cancelled=totals.cancelled,
        finished=totals.finished,
        delivery_rate=_ratio(totals.delivered, totals.finished),
        median_delivery_s=(
            round(totals.median_delivery_s, 3) if totals.median_delivery_s is not None else None
        ),
        median_sampled=totals.sampled,
        segments=totals.segments,
        cost=round(totals.segments * pricing.cost_per_segment, 4),
        currency=pricing.currency,
    )


async def _live(deps: Services) -> LiveKpis:
    rates = deps.live_rates.rates()
    queued = await deps.outbox.queued_by_priority()
    return LiveKpis(
        span_s=round(rates.span_s, 3) if rates else None,
        # every bind, those that sent nothing yet at 0
        submits_per_s={
            c.name: round(rates.submits_per_s.get(c.name, 0.0), 3) if rates else None
            for c in deps.channels
        },
        receipts_per_s=round(rates.receipts_per_s, 3) if rates else None,
        queued=by_label(queued),
    )


async def get_kpis(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    now = datetime.now(UTC)
    zone, targets = deps.timezone, deps.kpi_settings
    today = now.astimezone(zone).date()
    years = periods.programme_years(targets.programme_start, today, zone)
    year = len(years)
    services = await deps.kpis.service_counts()
    subscribers_target = periods.target(targets.subscribers, year)
    kpis = Kpis(
        at=now,
        programme_year=year,
        services=_services(services, targets, year),
        subscribers=await _subscribers(deps.kpis, services, subscribers_target, today, zone),
        broadcasts=await _broadcasts(deps, years, zone),
        live=await _live(deps),
    )
    return json_response(kpis)


ROUTES = [
    Route("GET", "/api/v1/kpis", get_kpis, "The KPIs beside this programme year's targets",
          roles=STAFF, responses={200: Kpis}),
]  # fmt: skip
