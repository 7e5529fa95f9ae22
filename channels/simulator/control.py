"""The simulator's HTTP control API: inject MOs, read its status, switch faults on and off.

    POST /mo      {"from": "+5016012345", "to": "1515"?, "text": "JOIN HEALTH", "parts": "udh"?}
                  -> 200 {"pdus": n}; 409 when no receiver is bound
    GET  /status  -> bound sessions and counters
    POST /faults  {"drop_links": true} | {"hang": true|false} | {"reply_next": {"status": 88,
                  "count": 3}} | {"malformed": "bad_tlv"} | {"unbind_all": true}
                  | {"receipt_before_response": true|false} | {"duplicate_receipts": true|false}
                  | {"fail_share": {"share": 0.2, "statuses": [88, 20, 8]}}
                  | {"refuse_binds": 14} (0 ends it) | {"down": true|false}
                  -> 200 {"applied": [...]}

Errors are JSON ``{"error": {"code", "message", "field"}}`` like the gateway's API.

A web page the operator has open must not drive it: a POST needs a JSON content type (a form
post cannot set one; 415 otherwise), and a request whose Host names something other than an
address or the simulator's own host is refused (421), which defeats DNS rebinding.
"""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .faults import MalformedKind
from .state import NoReceiverError

if TYPE_CHECKING:
    from .server import Simulator

SIMULATOR: web.AppKey[Simulator] = web.AppKey("simulator")


class MoRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    sender: str = Field(alias="from", min_length=1, max_length=20, description="the handset")
    to: str | None = Field(default=None, min_length=1, max_length=20, description="short code")
    text: str = Field(description="the text the citizen sent")
    parts: Literal["udh", "sar"] = Field(default="udh", description="how parts are marked")
    system_id: str | None = Field(default=None, description="deliver to this ESME's binds")


class ReplyNext(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: int = Field(ge=0, le=0xFFFFFFFF, description="command_status to answer with")
    count: int = Field(default=1, ge=1, description="how many submits get it")


class FailShare(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    share: float = Field(ge=0, le=1, description="share of submits refused; 0 ends it")
    statuses: list[int] = Field(
        default=[8], min_length=1, description="command_status values drawn from"
    )


class FaultsRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    drop_links: bool = False
    hang: bool | None = None
    reply_next: ReplyNext | None = None
    malformed: MalformedKind | None = None
    unbind_all: bool = False
    receipt_before_response: bool | None = None
    duplicate_receipts: bool | None = None
    fail_share: FailShare | None = None
    refuse_binds: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    down: bool | None = None


def _error(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    body = {"error": {"code": code, "message": message, "field": field}}
    return web.json_response(body, status=status)


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": {"code": "bad_json", "message": str(exc), "field": None}}),
            content_type="application/json",
        ) from exc


def _invalid(exc: ValidationError) -> web.Response:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return _error(400, "invalid_body", first["msg"], field)


async def post_mo(request: web.Request) -> web.Response:
    try:
        body = MoRequest.model_validate(await _body(request))
    except ValidationError as exc:
        return _invalid(exc)
    simulator = request.app[SIMULATOR]
    try:
        pdus = await simulator.inject_mo(
            body.sender, body.text, body.to, parts=body.parts, system_id=body.system_id
        )
    except NoReceiverError as exc:
        return _error(409, "no_receiver", str(exc))
    except ValueError as exc:  # a text over 255 segments
        return _error(400, "invalid_body", str(exc), "text")
    return web.json_response({"pdus": pdus})


async def get_status(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIMULATOR].status())


async def post_faults(request: web.Request) -> web.Response:
    try:
        body = FaultsRequest.model_validate(await _body(request))
    except ValidationError as exc:
        return _invalid(exc)
    simulator = request.app[SIMULATOR]
    applied = []
    if body.hang is not None:
        simulator.hang(body.hang)
        applied.append("hang")
    if body.reply_next is not None:
        simulator.reply_next(body.reply_next.status, body.reply_next.count)
        applied.append("reply_next")
    if body.receipt_before_response is not None:
        simulator.receipt_before_response = body.receipt_before_response
        applied.append("receipt_before_response")
    if body.duplicate_receipts is not None:
        simulator.duplicate_receipts(body.duplicate_receipts)
        applied.append("duplicate_receipts")
    if body.fail_share is not None:
        simulator.fail_share(body.fail_share.share, body.fail_share.statuses)
        applied.append("fail_share")
    if body.refuse_binds is not None:
        simulator.refuse_binds(body.refuse_binds)
        applied.append("refuse_binds")
    if body.down is not None:
        await (simulator.go_down() if body.down else simulator.come_up())
        applied.append("down")
    if body.malformed is not None:
        simulator.send_malformed(body.malformed)
        applied.append("malformed")
    if body.unbind_all:
        simulator.unbind_all()
        applied.append("unbind_all")
    if body.drop_links:
        simulator.drop_links()
        applied.append("drop_links")
    if not applied:
        return _error(400, "invalid_body", "no fault given", None)
    return web.json_response({"applied": applied})


def _host_allowed(header: str, own: str) -> bool:
    host = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    host = host.removeprefix("[").split("]")[0]
    if host in ("localhost", own):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@web.middleware
async def _same_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _host_allowed(request.host, request.app[SIMULATOR].config.host):
        return _error(421, "wrong_host", f"this is not {request.host}")
    if request.method == "POST" and request.content_type != "application/json":
        return _error(415, "unsupported_media_type", "send JSON (Content-Type: application/json)")
    return await handler(request)


def build_control_app(simulator: Simulator) -> web.Application:
    app = web.Application(middlewares=[_same_origin])
    app[SIMULATOR] = simulator
    app.router.add_post("/mo", post_mo)
    app.router.add_get("/status", get_status)
    app.router.add_post("/faults", post_faults)
    return app
