"""API tokens and the audit log in SQL, each operation one trip to the database thread."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.tokens import ApiToken, Role
from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import maybe_time, maybe_timestamp, timestamp

_TOKEN_COLUMNS = (  # column names, not a secret
    "id, token_hash, role, ministry, created_at, expires_at, revoked_at, person, callback_url,"  # noqa: S105
    " last_used_at"
)


def _token(row: Any) -> ApiToken:
    (id_, hash_, role, ministry, created_at, expires_at, revoked_at, person, callback_url,
     last_used_at) = row  # fmt: skip
    return ApiToken(
        id=id_,
        token_hash=hash_,
        role=Role(role),
        ministry=ministry,
        created_at=datetime.fromisoformat(created_at),
        expires_at=maybe_time(expires_at),
        revoked_at=maybe_time(revoked_at),
        person=person,
        callback_url=callback_url,
        last_used_at=maybe_time(last_used_at),
    )


class SqliteTokens:
    """Implements TokenStore on the store's connection."""

    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def add_token(self, token: ApiToken, audit: AuditEntry | None = None) -> None:
        await self._db.write(partial(_add_token, token=token, audit=audit))

    async def token_by_hash(self, token_hash: str) -> ApiToken | None:
        return await self._db.read(partial(_token_where, column="token_hash", value=token_hash))

    async def token(self, token_id: str) -> ApiToken | None:
        return await self._db.read(partial(_token_where, column="id", value=token_id))

    async def tokens(self) -> list[ApiToken]:
        return await self._db.read(_tokens)

    async def revoke_token(self, token_id: str, *, at: datetime, audit: AuditEntry) -> bool:
        return await self._db.write(partial(_revoke, token_id=token_id, at=at, audit=audit))

    async def tokens_used(self, uses: Mapping[str, datetime]) -> None:
        rows = [(timestamp(at), token_id) for token_id, at in uses.items()]
        await self._db.write(partial(_used, rows=rows))


class SqliteAudit:
    """Implements AuditLog on the store's connection."""

    def __init__(self, db: SqliteThread) -> None:
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
        where = {"action": action.value if action else None, "by": by, "target": target,
                 "since": maybe_timestamp(since), "until": maybe_timestamp(until)}  # fmt: skip
        return await self._db.report(partial(_entries, before=before, limit=limit, where=where))


def _add_token(db: sqlite3.Connection, *, token: ApiToken, audit: AuditEntry | None) -> None:
    db.execute(
        f"INSERT INTO api_tokens ({_TOKEN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (token.id, token.token_hash, token.role, token.ministry, timestamp(token.created_at),
         maybe_timestamp(token.expires_at), maybe_timestamp(token.revoked_at), token.person,
         token.callback_url, maybe_timestamp(token.last_used_at)),
    )  # fmt: skip
    if audit is not None:
        append_audit(db, entry=audit)


def _used(db: sqlite3.Connection, *, rows: list[tuple[str, str]]) -> None:
    db.executemany(
        "UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2"
        " AND (last_used_at IS NULL OR last_used_at < ?1)",
        rows,
    )


def _token_where(db: sqlite3.Connection, *, column: str, value: str) -> ApiToken | None:
    # column is one of two literals from this module, never input
    sql = f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE {column} = ?"
    row = db.execute(sql, (value,)).fetchone()
    return _token(row) if row else None


def _tokens(db: sqlite3.Connection) -> list[ApiToken]:
    rows = db.execute(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, id")
    return [_token(row) for row in rows]


def _revoke(db: sqlite3.Connection, *, token_id: str, at: datetime, audit: AuditEntry) -> bool:
    cursor = db.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        (timestamp(at), token_id),
    )
    if cursor.rowcount != 1:
        return False
    append_audit(db, entry=audit)
    return True


def append_audit(db: sqlite3.Connection, *, entry: AuditEntry) -> None:
    db.execute(
        "INSERT INTO audit_log (at, actor, role, ministry, action, target, detail, person)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (timestamp(entry.at), entry.actor, entry.role, entry.ministry, entry.action.value,
         entry.target, json.dumps(entry.detail, ensure_ascii=False, default=str), entry.person),
    )  # fmt: skip


# each filter given, a fixed clause with its value bound (by: a person's name in any case, as
# PostgreSQL's lower() folds it, which SQLite's own lower() does for ASCII only; or an actor)
_AUDIT_FILTERS = {
    "action": "action = :action",
    "by": "(fold(person) = fold(:by) OR actor = :by)",
    "target": "target = :target",
    "since": "at >= :since",
    "until": "at < :until",
}


def _entries(
    db: sqlite3.Connection, *, before: int | None, limit: int, where: dict[str, str | None]
) -> list[AuditEntry]:
    db.create_function("fold", 1, _fold, deterministic=True)
    params: dict[str, object] = {k: v for k, v in where.items() if v is not None}
    clauses = ["true", *(_AUDIT_FILTERS[name] for name in params)]
    if before is not None:
        clauses.append("id < :before")
        params["before"] = before
    rows = db.execute(
        "SELECT id, at, actor, role, ministry, action, target, detail, person FROM audit_log"
        f" WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT :limit",  # clauses: literals
        {**params, "limit": limit},
    ).fetchall()
    return [
        AuditEntry(
            datetime.fromisoformat(at),
            actor,
            role,
            ministry,
            AuditAction(action_),
            target,
            json.loads(detail) if detail else {},
            id=id_,
            person=person,
        )
        for id_, at, actor, role, ministry, action_, target, detail, person in rows
    ]


def _fold(text: str | None) -> str | None:
    return text.lower() if text is not None else None
