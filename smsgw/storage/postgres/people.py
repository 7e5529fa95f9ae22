"""People, their recovery codes and sessions in PostgreSQL (access.store's PeopleStore)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

import asyncpg

from smsgw.access.audit import AuditEntry
from smsgw.access.people import Person, Session, name_key, next_try_at
from smsgw.access.store import PersonChange
from smsgw.access.tokens import Role
from smsgw.errors import Conflict
from smsgw.storage.postgres.access import append_audit
from smsgw.storage.postgres.db import Conn, Database

_PERSON = """SELECT id, name, role, ministry, password_hash, created_at, totp_secret,
    totp_pending, totp_last_step, failures, next_try_at, disabled_at FROM people"""
_BY_ID = _PERSON + " WHERE id = $1"
_BY_KEY = _PERSON + " WHERE name_key = $1"
_SESSION = """SELECT id, person, csrf, created_at, last_seen_at, expires_at, revoked_at
    FROM sessions WHERE id = $1"""
_KEPT = timedelta(days=1)  # an ended session's row, then deleted at a log-in


class PgPeople:
    """Implements PeopleStore."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_person(self, person: Person, audit: AuditEntry) -> None:
        await self._db.write(partial(_add_person, person=person, audit=audit))

    async def person(self, person_id: str) -> Person | None:
        return await self._db.read(partial(_person_where, sql=_BY_ID, value=person_id))

    async def person_by_name(self, name: str) -> Person | None:
        return await self._db.read(partial(_person_where, sql=_BY_KEY, value=name_key(name)))

    async def people(self) -> list[Person]:
        rows = await self._db.read(lambda conn: conn.fetch(_PERSON + " ORDER BY name_key"))
        return [_person(row) for row in rows]

    async def change_person(
        self, person_id: str, change: PersonChange, audit: AuditEntry | None
    ) -> Person | None:
        return await self._db.write(
            partial(_change_person, person_id=person_id, change=change, audit=audit)
        )

    async def claim_attempt(self, person_id: str, *, at: datetime) -> datetime | None:
        return await self._db.write(partial(_claim_attempt, person_id=person_id, at=at))

    async def start_totp(self, person_id: str, secret: str) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                "UPDATE people SET totp_pending = $1 WHERE id = $2", secret, person_id
            )
        )

    async def confirm_totp(
        self, person_id: str, secret: str, *, step: int, recovery: list[str], audit: AuditEntry
    ) -> bool:
        return await self._db.write(partial(
            _confirm_totp, person_id=person_id, secret=secret, step=step, recovery=recovery,
            audit=audit,
        ))  # fmt: skip

    async def take_totp_step(self, person_id: str, step: int) -> bool:
        taken = await self._db.write(
            lambda conn: conn.fetchval(
                "UPDATE people SET totp_last_step = $1 WHERE id = $2"
                " AND (totp_last_step IS NULL OR totp_last_step < $1) RETURNING true",
                step,
                person_id,
            )
        )
        return bool(taken)

    async def take_recovery_code(self, person_id: str, code_hash: str) -> bool:
        taken = await self._db.write(
            lambda conn: conn.fetchval(
                "DELETE FROM recovery_codes WHERE person = $1 AND code_hash = $2 RETURNING true",
                person_id,
                code_hash,
            )
        )
        return bool(taken)

    async def recovery_codes_left(self, person_id: str) -> int:
        left = await self._db.read(
            lambda conn: conn.fetchval(
                "SELECT count(*) FROM recovery_codes WHERE person = $1", person_id
            )
        )
        return int(left)

    async def add_session(self, session: Session, audit: AuditEntry) -> None:
        await self._db.write(partial(_add_session, session=session, audit=audit))

    async def session(self, session_id: str) -> tuple[Session, Person] | None:
        return await self._db.read(partial(_session_of, session_id=session_id))

    async def touch_session(self, session_id: str, at: datetime) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                "UPDATE sessions SET last_seen_at = $1 WHERE id = $2", at, session_id
            )
        )

    async def end_sessions(
        self, person_id: str, *, at: datetime, only: str | None, audit: AuditEntry | None
    ) -> int:
        return await self._db.write(
            partial(_end_sessions, person_id=person_id, at=at, only=only, audit=audit)
        )


async def _add_person(conn: Conn, *, person: Person, audit: AuditEntry) -> None:
    added = await conn.fetchval(
        "INSERT INTO people (id, name, name_key, role, ministry, password_hash, created_at,"
        " totp_secret, totp_pending, totp_last_step, failures, next_try_at, disabled_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        " ON CONFLICT (name_key) DO NOTHING RETURNING true",
        person.id, person.name, person.key, person.role.value, person.ministry,
        person.password_hash, person.created_at, person.totp_secret, person.totp_pending,
        person.totp_last_step, person.failures, person.next_try_at, person.disabled_at,
    )  # fmt: skip
    if not added:
        raise Conflict(f"there is a person named {person.name} already", field="name")
    await append_audit(conn, entry=audit)


async def _person_where(conn: Conn, *, sql: str, value: str) -> Person | None:
    row = await conn.fetchrow(sql, value)
    return _person(row) if row else None


async def _change_person(
    conn: Conn, *, person_id: str, change: PersonChange, audit: AuditEntry | None
) -> Person | None:
    sets, values = _sets(change)
    if sets:
        await conn.execute(
            f"UPDATE people SET {', '.join(sets)} WHERE id = ${len(values) + 1}",
            *values, person_id,
        )  # fmt: skip
    if change.reset_totp:
        await conn.execute("DELETE FROM recovery_codes WHERE person = $1", person_id)
    if change.end_sessions_at is not None:
        await _end_sessions(conn, person_id=person_id, at=change.end_sessions_at, only=None,
                            audit=None, keep=change.keep)  # fmt: skip
    if audit is not None:
        await append_audit(conn, entry=audit)
    return await _person_where(conn, sql=_BY_ID, value=person_id)


def _sets(change: PersonChange) -> tuple[list[str], list[object]]:
    """The columns ``change`` writes (their names are this module's literals)."""
    sets: list[str] = []
    values: list[object] = []

    def bind(value: object) -> str:
        values.append(value)
        return f"${len(values)}"

    if change.role is not None:
        sets += [f"role = {bind(change.role.value)}", f"ministry = {bind(change.ministry)}"]
    if change.password_hash is not None:  # a new password: the back-off starts afresh
        sets.append(f"password_hash = {bind(change.password_hash)}, failures = 0,"
                    " next_try_at = NULL")  # fmt: skip
    if change.disabled_at is not None:
        sets.append(f"disabled_at = coalesce(disabled_at, {bind(change.disabled_at)})")
    elif change.enabled:
        sets.append("disabled_at = NULL")
    if change.reset_totp:
        sets.append("totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL")
    return sets, values


async def _claim_attempt(conn: Conn, *, person_id: str, at: datetime) -> datetime | None:
    row = await conn.fetchrow(
        "SELECT failures, next_try_at FROM people WHERE id = $1 FOR UPDATE", person_id
    )
    if row is None:
        return None
    held: datetime | None = row["next_try_at"]
    if held is not None and at < held:
        return held
    failures = row["failures"] + 1
    await conn.execute(
        "UPDATE people SET failures = $1, next_try_at = $2 WHERE id = $3",
        failures, next_try_at(failures, at), person_id,
    )  # fmt: skip
    return None


async def _confirm_totp(
    conn: Conn, *, person_id: str, secret: str, step: int, recovery: list[str],
    audit: AuditEntry,
) -> bool:  # fmt: skip
    confirmed = await conn.fetchval(
        "UPDATE people SET totp_secret = $1, totp_pending = NULL, totp_last_step = $2"
        " WHERE id = $3 AND totp_pending = $1 RETURNING true",
        secret, step, person_id,
    )  # fmt: skip
    if not confirmed:
        return False
    await conn.execute("DELETE FROM recovery_codes WHERE person = $1", person_id)
    await conn.executemany(
        "INSERT INTO recovery_codes (person, code_hash) VALUES ($1, $2)",
        [(person_id, code_hash) for code_hash in recovery],
    )
    await append_audit(conn, entry=audit)
    return True


async def _add_session(conn: Conn, *, session: Session, audit: AuditEntry) -> None:
    await conn.execute(
        "DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1",
        session.created_at - _KEPT,
    )
    await conn.execute(
        "INSERT INTO sessions (id, person, csrf, created_at, last_seen_at, expires_at,"
        " revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        session.id, session.person, session.csrf, session.created_at, session.last_seen_at,
        session.expires_at, session.revoked_at,
    )  # fmt: skip
    await conn.execute(
        "UPDATE people SET failures = 0, next_try_at = NULL WHERE id = $1", session.person
    )
    await append_audit(conn, entry=audit)


async def _session_of(conn: Conn, *, session_id: str) -> tuple[Session, Person] | None:
    row = await conn.fetchrow(_SESSION, session_id)
    if row is None:
        return None
    session = Session(
        id=row["id"], person=row["person"], csrf=row["csrf"], created_at=row["created_at"],
        last_seen_at=row["last_seen_at"], expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )  # fmt: skip
    person = await _person_where(conn, sql=_BY_ID, value=session.person)
    return (session, person) if person else None


async def _end_sessions(
    conn: Conn, *, person_id: str, at: datetime, only: str | None, audit: AuditEntry | None,
    keep: str | None = None,
) -> int:  # fmt: skip
    ended = await conn.fetch(
        "UPDATE sessions SET revoked_at = $1 WHERE person = $2 AND revoked_at IS NULL"
        " AND expires_at > $1 AND ($3::text IS NULL OR id = $3)"
        " AND ($4::text IS NULL OR id <> $4) RETURNING id",
        at, person_id, only, keep,
    )  # fmt: skip
    if audit is not None:
        await append_audit(conn, entry=audit)
    return len(ended)


def _person(row: asyncpg.Record) -> Person:
    return Person(
        id=row["id"], name=row["name"], role=Role(row["role"]), ministry=row["ministry"],
        password_hash=row["password_hash"], created_at=row["created_at"],
        totp_secret=row["totp_secret"], totp_pending=row["totp_pending"],
        totp_last_step=row["totp_last_step"], failures=row["failures"],
        next_try_at=row["next_try_at"], disabled_at=row["disabled_at"],
    )  # fmt: skip
