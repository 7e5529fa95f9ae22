"""``/api/v1/audit``: the audit log, newest first, for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from smsgw.access.audit import AuditAction
from smsgw.access.tokens import Role
from smsgw.api.context import SERVICES
from smsgw.api.errors import ErrorBody
from smsgw.api.routes import Route, gateway_time, json_response, read_query


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    before: int | None = Field(None, ge=1, le=2**63 - 1, description="entries older than this id")
    limit: int = Field(100, ge=1, le=1000)
    action: AuditAction | None = None
    by: str | None = Field(
        None, min_length=1, max_length=200,
        description="who did it: a person's name (any case), or an actor (a token id,"
        " 'user:<name>', 'cli')", examples=["Ada Admin"],
    )  # fmt: skip
    target: str | None = Field(
        None, min_length=1, max_length=200,
        description="what it was done to, exactly: a broadcast id, a keyword, a token id, a"
        " number, a person's name",
    )  # fmt: skip
    since: datetime | None = Field(
        None, description="at or after (ISO 8601; without an offset: the gateway's zone)"
    )
    until: datetime | None = Field(
        None, description="before (ISO 8601; without an offset: the gateway's zone)"
    )


class AuditView(BaseModel):
    id: int
    at: datetime
    actor: str = Field(
        description="the token id of who did it, 'user:<name>' for a person logged in, or 'cli'"
    )
    person: str | None = Field(description="whom the actor's token or session belongs to")
    role: str | None
    ministry: str | None
    action: str
    target: str | None
    detail: dict[str, Any]


class AuditList(BaseModel):
    entries: list[AuditView]


async def list_audit(request: web.Request) -> web.Response:
    query = read_query(request, AuditQuery)
    services = request.app[SERVICES]
    zone = services.timezone
    since = gateway_time(query.since, zone, "since") if query.since else None
    until = gateway_time(query.until, zone, "until") if query.until else None
    entries = await services.audit.audit_entries(
        before=query.before, limit=query.limit, action=query.action, by=query.by,
        target=query.target, since=since, until=until,
    )  # fmt: skip
    views = [
        AuditView(id=e.id, at=e.at, actor=e.actor, person=e.person, role=e.role,
                  ministry=e.ministry, action=e.action.value, target=e.target, detail=e.detail)
        for e in entries
    ]  # fmt: skip
    return json_response(AuditList(entries=views))


ROUTES = [
    Route("GET", "/api/v1/audit", list_audit,
          "The audit log, newest first: by action, who, target and time",
          roles=(Role.ADMIN,), query=AuditQuery, responses={200: AuditList, 400: ErrorBody}),
]  # fmt: skip
