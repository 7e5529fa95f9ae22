"""API tokens and the audit log in PostgreSQL (access.store's TokenStore and AuditLog)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import partial

import asyncpg

from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.tokens import ApiToken, Role
from smsgw.storage.postgres.db import Conn, Database

_ISSUE = """INSERT INTO api_tokens (id, token_hash, role, ministry, created_at, expires_at,
    revoked_at, person, callback_url, last_used_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"""
_ISSUED = """SELECT id, token_hash, role, ministry, created_at, expires_at, revoked_at, person,
    callback_url, last_used_at FROM api_tokens"""
_AUDIT = "SELECT id, at, actor, role, ministry, action, target, detail, person FROM audit_log"
# a token by id or by hash: two statements, so that each is prepared once with its own plan
_BY_ID = _ISSUED + " WHERE id = $1"
_BY_HASH = _ISSUED + " WHERE token_hash = $1"
# a batch of last uses; an earlier one never overwrites a later (another gateway's)
_USED = """UPDATE api_tokens t SET last_used_at = u.at
    FROM unnest($1::text[], $2::timestamptz[]) AS u (id, at)
    WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)"""


class PgTokens:
    """Implements TokenStore."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_token(self, token: ApiToken, audit: AuditEntry | None = None) -> None:
        await self._db.write(partial(_add_token, token=token, audit=audit))

    async def token_by_hash(self, token_hash: str) -> ApiToken | None:
        return await self._db.read(partial(_token_where, sql=_BY_HASH, value=token_hash))

    async def token(self, token_id: str) -> ApiToken | None:
        return await self._db.read(partial(_token_where, sql=_BY_ID, value=token_id))

    async def tokens(self) -> list[ApiToken]:
        return await self._db.read(_tokens)

    async def revoke_token(self, token_id: str, *, at: datetime, audit: AuditEntry) -> bool:
        return await self._db.write(partial(_revoke, token_id=token_id, at=at, audit=audit))

    async def tokens_used(self, uses: Mapping[str, datetime]) -> None:
        await self._db.write(partial(_used, ids=list(uses), ats=list(uses.values())))


async def _used(conn: Conn, *, ids: list[str], ats: list[datetime]) -> None:
    await conn.execute(_USED, ids, ats)


class PgAudit:
    """Implements AuditLog (append-only: the schema's trigger refuses updates and deletes)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def audit(self, entry: AuditEntry) -> None:
        await self._db.write(partial(append_audit, entry=entry))

    async def audit_entries(
        self,
        *,
        before: int | None,
        limit: int,
        action: AuditAction | None = None,
        by: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditEntry]:
        where: dict[str, object] = {"action": action.value if action else None, "by": by,
                                    "target": target, "since": since, "until": until}  # fmt: skip
        return await self._db.report(partial(_entries, before=before, limit=limit, where=where))


async def append_audit(conn: Conn, *, entry: AuditEntry) -> None:
    """One entry, in the caller's transaction (a token issued, a batch of messages sent)."""
    await conn.execute(
        "INSERT INTO audit_log (at, actor, role, ministry, action, target, detail, person)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        entry.at, entry.actor, entry.role, entry.ministry, entry.action.value, entry.target,
        json.dumps(entry.detail, ensure_ascii=False, default=str), entry.person,
    )  # fmt: skip


async def append_audits(conn: Conn, entries: list[AuditEntry]) -> None:
    """Several entries in one statement, in their order (the recorder's batch: one per POST)."""
    if len(entries) == 1:
        await append_audit(conn, entry=entries[0])
        return
    await conn.execute(
        "INSERT INTO audit_log (at, actor, role, ministry, action, target, detail, person)"
        " SELECT at, actor, role, ministry, action, target, detail, person FROM unnest("
        "$1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
        " $7::text[], $8::text[]) WITH ORDINALITY"
        " AS e (at, actor, role, ministry, action, target, detail, person, n) ORDER BY n",
        [e.at for e in entries], [e.actor for e in entries], [e.role for e in entries],
        [e.ministry for e in entries], [e.action.value for e in entries],
        [e.target for e in entries],
        [json.dumps(e.detail, ensure_ascii=False, default=str) for e in entries],
        [e.person for e in entries],
    )  # fmt: skip


async def _add_token(conn: Conn, *, token: ApiToken, audit: AuditEntry | None) -> None:
    await conn.execute(
        _ISSUE,
        token.id, token.token_hash, token.role.value, token.ministry, token.created_at,
        token.expires_at, token.revoked_at, token.person, token.callback_url, token.last_used_at,
    )  # fmt: skip
    if audit is not None:
        await append_audit(conn, entry=audit)


async def _token_where(conn: Conn, *, sql: str, value: str) -> ApiToken | None:
    row = await conn.fetchrow(sql, value)
    return _token(row) if row else None


async def _tokens(conn: Conn) -> list[ApiToken]:
    return [_token(row) for row in await conn.fetch(_ISSUED + " ORDER BY created_at, id")]


async def _revoke(conn: Conn, *, token_id: str, at: datetime, audit: AuditEntry) -> bool:
    revoked = await conn.fetchval(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
        " RETURNING true",
        at, token_id,
    )  # fmt: skip
    if not revoked:
        return False
    await append_audit(conn, entry=audit)
    return True


# each filter given, a fixed clause ({} its parameter's number); by: a person's name in any
# case, or an actor (a token id, "user:<name>", "cli")
_AUDIT_FILTERS = {
    "action": "action = ${}",
    "by": "(lower(person) = lower(${0}) OR actor = ${0})",
    "target": "target = ${}",
    "since": "at >= ${}",
    "until": "at < ${}",
}


async def _entries(
    conn: Conn, *, before: int | None, limit: int, where: dict[str, object]
) -> list[AuditEntry]:
    # only the filters given: a bound "$1 IS NULL OR …" would leave a prepared statement's
    # generic plan blind to audit_log_action (action, id)
    clauses, params = ["true"], list[object]()
    if before is not None:
        params.append(before)
        clauses.append(f"id < ${len(params)}")
    for name, value in where.items():
        if value is not None:
            params.append(value)
            clauses.append(_AUDIT_FILTERS[name].format(len(params)))
    rows = await conn.fetch(
        _AUDIT + f" WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ${len(params) + 1}",
        *params, limit,
    )  # fmt: skip
    return [
        AuditEntry(
            row["at"],
            row["actor"],
            row["role"],
            row["ministry"],
            AuditAction(row["action"]),
            row["target"],
            json.loads(row["detail"]) if row["detail"] else {},
            id=row["id"],
            person=row["person"],
        )
        for row in rows
    ]


def _token(row: asyncpg.Record) -> ApiToken:
    return ApiToken(
        id=row["id"],
        token_hash=row["token_hash"],
        role=Role(row["role"]),
        ministry=row["ministry"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        person=row["person"],
        callback_url=row["callback_url"],
        last_used_at=row["last_used_at"],
    )
