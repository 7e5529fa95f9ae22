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
from smsgw.api.routes import Route, json_response, read_query


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    before: int | None = Field(None, ge=1, le=2**63 - 1, description="entries older than this id")
    limit: int = Field(100, ge=1, le=1000)
    action: AuditAction | None = None


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
    entries = await request.app[SERVICES].audit.audit_entries(
        before=query.before, limit=query.limit, action=query.action
    )
    views = [
        AuditView(id=e.id, at=e.at, actor=e.actor, person=e.person, role=e.role,
                  ministry=e.ministry, action=e.action.value, target=e.target, detail=e.detail)
        for e in entries
    ]  # fmt: skip
    return json_response(AuditList(entries=views))


ROUTES = [
    Route("GET", "/api/v1/audit", list_audit, "The audit log, newest first",
          roles=(Role.ADMIN,), query=AuditQuery, responses={200: AuditList, 400: ErrorBody}),
]  # fmt: skip
