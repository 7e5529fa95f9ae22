"""``/api/v1/alerts``: CAP 1.2 alerts from the alerting authorities' systems.

Parses the request, calls smsgw.alerts.intake, renders; the rules are there.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from smsgw.access.tokens import STAFF, Role
from smsgw.alerts import atom
from smsgw.alerts.store import PUBLISHED, AlertRecord
from smsgw.api.context import PRINCIPAL, SERVICES, Services
from smsgw.api.errors import ApiError, ErrorBody
from smsgw.api.routes import Route, json_response, read_query, read_raw

PATH = "/api/v1/alerts"
_XML = ("application/cap+xml", "application/xml", "text/xml")


class AlertQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    before: int | None = Field(None, ge=1, le=2**63 - 1, description="alerts older than this id")
    limit: int = Field(50, ge=1, le=100)


class AlertResult(BaseModel):
    alert: str = Field(description="the CAP identifier")
    sender: str
    sent: str = Field(description="as the CAP gave it")
    status: str = Field(description="Actual, Exercise, Test or System")
    msg_type: str = Field(description="Alert, Update, Cancel, Ack or Error")
    action: str = Field(
        description="sent, exercise, not_sent, cancelled, updated; duplicate: the same sender,"
        " identifier and sent came before (this is its first result; nothing was done now)"
    )
    reason: str | None = Field(description="why it was not sent, or what it cancelled")
    service: str | None
    broadcast: int | None = Field(description="the broadcast that sends it")
    event: str
    headline: str
    received_at: datetime
    exercise: bool = Field(description="status Exercise: sent to the exercise list only")
    first_submit_s: float | None = Field(
        default=None, description="from its receipt to its broadcast's first submit"
    )
    by_carrier: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="its broadcast's messages per carrier, per state"
    )

    @classmethod
    async def of(
        cls, services: Services, record: AlertRecord, *, duplicate: bool = False
    ) -> AlertResult:
        first: float | None = None
        by_carrier: dict[str, dict[str, int]] = {}
        if record.broadcast is not None:
            progress = await services.broadcasts.carrier_progress(record.broadcast)
            by_carrier, at = progress.by_carrier, progress.first_submit_at
            first = None if at is None else (at - record.received_at).total_seconds()
        return cls(
            alert=record.identifier, sender=record.sender, sent=record.sent,
            status=record.status, msg_type=record.msg_type,
            action="duplicate" if duplicate else record.action.value, reason=record.reason,
            service=record.service, broadcast=record.broadcast, event=record.event,
            headline=record.headline, received_at=record.received_at,
            exercise=record.status == "Exercise", first_submit_s=first, by_carrier=by_carrier,
        )  # fmt: skip


class AlertList(BaseModel):
    alerts: list[AlertResult]
    next: int | None = Field(description="pass as before= for the next (older) page")


async def post_alert(request: web.Request) -> web.Response:
    kind = request.content_type
    if kind not in _XML:
        kinds = ", ".join(_XML)
        raise ApiError(
            415, "unsupported_media_type", f"a CAP alert is XML ({kinds}), not {kind or 'none'}"
        )
    document = await read_raw(request)
    received = await request.app[SERVICES].alerts.receive(request[PRINCIPAL], document)
    result = await AlertResult.of(request.app[SERVICES], received.record,
                                  duplicate=received.duplicate)  # fmt: skip
    return json_response(result, 201)  # SPEC: a repeat too, its action "duplicate"


async def list_alerts(request: web.Request) -> web.Response:
    query = read_query(request, AlertQuery)
    found = await request.app[SERVICES].alert_store.alerts(limit=query.limit, before=query.before)
    more = found[-1].id if len(found) == query.limit else None
    services = request.app[SERVICES]
    alerts = [await AlertResult.of(services, record) for record in found]
    return json_response(AlertList(alerts=alerts, next=more))


async def get_alert(request: web.Request) -> web.Response:
    identifier = request.match_info["identifier"]
    found = await request.app[SERVICES].alert_store.alert(identifier)
    if found is None:
        raise ApiError(404, "not_found", f"no alert {identifier}")
    return json_response(await AlertResult.of(request.app[SERVICES], found))


async def alerts_feed(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    found = await deps.alert_store.alerts(limit=_FEED_SIZE, published=True)
    document = atom.feed(
        found, base=str(request.url.origin()),
        title=deps.citizen_settings.programme, now=datetime.now(UTC),
    )  # fmt: skip
    return web.Response(body=document, content_type=atom.FEED_TYPE, charset="utf-8",
                        headers=_PUBLIC_CACHE)  # fmt: skip


async def alert_document(request: web.Request) -> web.Response:
    """A published alert's CAP document, as the authority sent it."""
    number = request.match_info["id"]
    store = request.app[SERVICES].alert_store
    record = (
        await store.alert_by_id(int(number))
        if number.isascii() and number.isdigit() and len(number) < 19
        else None
    )
    if record is None or record.status != "Actual" or record.scope != "Public" \
            or record.action not in PUBLISHED:  # fmt: skip
        raise ApiError(404, "not_found", "no published alert with that number")
    return web.Response(text=record.document, content_type=atom.CAP_TYPE, headers=_PUBLIC_CACHE)


_FEED_SIZE = 50
_PUBLIC_CACHE = {"Cache-Control": "public, max-age=30"}  # what a warning's readers can bear
_WRITERS = (Role.ALERTING, Role.ADMIN)
_CAP = {kind: {"schema": {"type": "string"}} for kind in _XML}
ROUTES = [
    Route("POST", PATH, post_alert, "A CAP 1.2 alert from an alerting authority",
          roles=_WRITERS, stream=_CAP,
          responses={201: AlertResult, 400: ErrorBody, 403: ErrorBody, 415: ErrorBody,
                     422: ErrorBody}),
    Route("GET", PATH, list_alerts, "The CAP alerts received, newest first",
          roles=(*STAFF, Role.ALERTING), query=AlertQuery,
          responses={200: AlertList, 400: ErrorBody}),
    Route("GET", f"{PATH}/{{identifier}}", get_alert, "The latest alert with that identifier",
          roles=(*STAFF, Role.ALERTING), responses={200: AlertResult, 404: ErrorBody}),
    Route("GET", "/alerts.atom", alerts_feed, "The public warnings sent, as an Atom feed of CAP"
          " 1.2 alerts (newest 50; Actual and Public only, never tests, drills or numbers)",
          roles=None),
    Route("GET", "/alerts/{id}.cap", alert_document, "A published warning's CAP 1.2"
          " document, as the authority sent it", roles=None, responses={404: ErrorBody}),
]  # fmt: skip
