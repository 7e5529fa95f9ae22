"""People, their recovery codes and sessions in SQL (access.store's PeopleStore), each
operation one trip to the database thread."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from smsgw.access.audit import AuditEntry
from smsgw.access.people import Person, Session, name_key, next_try_at
from smsgw.access.store import PersonChange
from smsgw.access.tokens import Role
from smsgw.errors import Conflict
from smsgw.storage.sqlite.access import append_audit
from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import maybe_time, maybe_timestamp, timestamp

_PERSON = """id, name, role, ministry, password_hash, created_at, totp_secret, totp_pending,
    totp_last_step, failures, next_try_at, disabled_at"""
_SESSION = "id, person, csrf, created_at, last_seen_at, expires_at, revoked_at"
_KEPT = timedelta(days=1)  # an ended session's row, then deleted at a log-in


def _person(row: Any) -> Person:
    (id_, name, role, ministry, password_hash, created_at, totp_secret, totp_pending,
     last_step, failures, next_try, disabled_at) = row  # fmt: skip
    return Person(
        id=id_, name=name, role=Role(role), ministry=ministry, password_hash=password_hash,
        created_at=datetime.fromisoformat(created_at), totp_secret=totp_secret,
        totp_pending=totp_pending, totp_last_step=last_step, failures=failures,
        next_try_at=maybe_time(next_try), disabled_at=maybe_time(disabled_at),
    )  # fmt: skip


def _session(row: Any) -> Session:
    id_, person, csrf, created_at, last_seen_at, expires_at, revoked_at = row
    return Session(
        id=id_, person=person, csrf=csrf, created_at=datetime.fromisoformat(created_at),
        last_seen_at=datetime.fromisoformat(last_seen_at),
        expires_at=datetime.fromisoformat(expires_at), revoked_at=maybe_time(revoked_at),
    )  # fmt: skip


class SqlitePeople:
    """Implements PeopleStore on the store's connection."""

    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def add_person(self, person: Person, audit: AuditEntry) -> None:
        await self._db.write(partial(_add_person, person=person, audit=audit))

    async def person(self, person_id: str) -> Person | None:
        return await self._db.read(partial(_person_where, column="id", value=person_id))

    async def person_by_name(self, name: str) -> Person | None:
        return await self._db.read(partial(_person_where, column="name_key", value=name_key(name)))

    async def people(self) -> list[Person]:
        rows = await self._db.read(
            lambda db: db.execute(f"SELECT {_PERSON} FROM people ORDER BY name_key").fetchall()
        )
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
            lambda db: db.execute(
                "UPDATE people SET totp_pending = ? WHERE id = ?", (secret, person_id)
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
            lambda db: (
                db.execute(
                    "UPDATE people SET totp_last_step = ?1 WHERE id = ?2"
                    " AND (totp_last_step IS NULL OR totp_last_step < ?1)",
                    (step, person_id),
                ).rowcount
            )
        )
        return taken == 1

    async def take_recovery_code(self, person_id: str, code_hash: str) -> bool:
        taken = await self._db.write(
            lambda db: (
                db.execute(
                    "DELETE FROM recovery_codes WHERE person = ? AND code_hash = ?",
                    (person_id, code_hash),
                ).rowcount
            )
        )
        return taken == 1

    async def recovery_codes_left(self, person_id: str) -> int:
        row = await self._db.read(
            lambda db: db.execute(
                "SELECT count(*) FROM recovery_codes WHERE person = ?", (person_id,)
            ).fetchone()
        )
        return int(row[0])

    async def add_session(self, session: Session, audit: AuditEntry) -> None:
        await self._db.write(partial(_add_session, session=session, audit=audit))

    async def session(self, session_id: str) -> tuple[Session, Person] | None:
        return await self._db.read(partial(_session_of, session_id=session_id))

    async def touch_session(self, session_id: str, at: datetime) -> None:
        await self._db.write(
            lambda db: db.execute(
                "UPDATE sessions SET last_seen_at = ? WHERE id = ?", (timestamp(at), session_id)
            )
        )

    async def end_sessions(
        self, person_id: str, *, at: datetime, only: str | None, audit: AuditEntry | None
    ) -> int:
        return await self._db.write(
            partial(_end_sessions, person_id=person_id, at=at, only=only, audit=audit)
        )


def _add_person(db: sqlite3.Connection, *, person: Person, audit: AuditEntry) -> None:
    try:
        db.execute(
            f"INSERT INTO people (name_key, {_PERSON}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (person.key, person.id, person.name, person.role.value, person.ministry,
             person.password_hash, timestamp(person.created_at), person.totp_secret,
             person.totp_pending, person.totp_last_step, person.failures,
             maybe_timestamp(person.next_try_at), maybe_timestamp(person.disabled_at)),
        )  # fmt: skip
    except sqlite3.IntegrityError:
        raise Conflict(f"there is a person named {person.name} already", field="name") from None
    append_audit(db, entry=audit)


def _person_where(db: sqlite3.Connection, *, column: str, value: str) -> Person | None:
    # column is one of two literals from this module, never input
    row = db.execute(f"SELECT {_PERSON} FROM people WHERE {column} = ?", (value,)).fetchone()
    return _person(row) if row else None


def _change_person(
    db: sqlite3.Connection, *, person_id: str, change: PersonChange, audit: AuditEntry | None
) -> Person | None:
    sets, values = _sets(change)
    if sets:
        db.execute(f"UPDATE people SET {', '.join(sets)} WHERE id = ?", (*values, person_id))
    if change.reset_totp:
        db.execute("DELETE FROM recovery_codes WHERE person = ?", (person_id,))
    if change.end_sessions_at is not None:
        _end_sessions(db, person_id=person_id, at=change.end_sessions_at, only=None,
                      audit=None, keep=change.keep)  # fmt: skip
    if audit is not None:
        append_audit(db, entry=audit)
    return _person_where(db, column="id", value=person_id)


def _sets(change: PersonChange) -> tuple[list[str], list[object]]:
    """The columns ``change`` writes (their names are this module's literals)."""
    sets: list[str] = []
    values: list[object] = []
    if change.role is not None:
        sets += ["role = ?", "ministry = ?"]
        values += [change.role.value, change.ministry]
    if change.password_hash is not None:  # a new password: the back-off starts afresh
        sets.append("password_hash = ?, failures = 0, next_try_at = NULL")
        values.append(change.password_hash)
    if change.disabled_at is not None:
        sets.append("disabled_at = coalesce(disabled_at, ?)")
        values.append(timestamp(change.disabled_at))
    elif change.enabled:
        sets.append("disabled_at = NULL")
    if change.reset_totp:
        sets.append("totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL")
    return sets, values


def _claim_attempt(db: sqlite3.Connection, *, person_id: str, at: datetime) -> datetime | None:
    row = db.execute(
        "SELECT failures, next_try_at FROM people WHERE id = ?", (person_id,)
    ).fetchone()
    if row is None:
        return None
    failures, held = row[0], maybe_time(row[1])
    if held is not None and at < held:
        return held
    db.execute(
        "UPDATE people SET failures = ?, next_try_at = ? WHERE id = ?",
        (failures + 1, maybe_timestamp(next_try_at(failures + 1, at)), person_id),
    )
    return None


def _confirm_totp(
    db: sqlite3.Connection, *, person_id: str, secret: str, step: int, recovery: list[str],
    audit: AuditEntry,
) -> bool:  # fmt: skip
    cursor = db.execute(
        "UPDATE people SET totp_secret = ?1, totp_pending = NULL, totp_last_step = ?2"
        " WHERE id = ?3 AND totp_pending = ?1",
        (secret, step, person_id),
    )
    if cursor.rowcount != 1:
        return False
    db.execute("DELETE FROM recovery_codes WHERE person = ?", (person_id,))
    db.executemany(
        "INSERT INTO recovery_codes (person, code_hash) VALUES (?, ?)",
        [(person_id, code_hash) for code_hash in recovery],
    )
    append_audit(db, entry=audit)
    return True


def _add_session(db: sqlite3.Connection, *, session: Session, audit: AuditEntry) -> None:
    db.execute(
        "DELETE FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1",
        (timestamp(session.created_at - _KEPT),),
    )
    db.execute(
        f"INSERT INTO sessions ({_SESSION}) VALUES (?,?,?,?,?,?,?)",
        (session.id, session.person, session.csrf, timestamp(session.created_at),
         timestamp(session.last_seen_at), timestamp(session.expires_at),
         maybe_timestamp(session.revoked_at)),
    )  # fmt: skip
    db.execute("UPDATE people SET failures = 0, next_try_at = NULL WHERE id = ?", (session.person,))
    append_audit(db, entry=audit)


def _session_of(db: sqlite3.Connection, *, session_id: str) -> tuple[Session, Person] | None:
    row = db.execute(f"SELECT {_SESSION} FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        return None
    session = _session(row)
    person = _person_where(db, column="id", value=session.person)
    return (session, person) if person else None


def _end_sessions(
    db: sqlite3.Connection, *, person_id: str, at: datetime, only: str | None,
    audit: AuditEntry | None, keep: str | None = None,
) -> int:  # fmt: skip
    cursor = db.execute(
        "UPDATE sessions SET revoked_at = ?1 WHERE person = ?2 AND revoked_at IS NULL"
        " AND expires_at > ?1 AND (?3 IS NULL OR id = ?3) AND (?4 IS NULL OR id <> ?4)",
        (timestamp(at), person_id, only, keep),
    )
    if audit is not None:
        append_audit(db, entry=audit)
    return cursor.rowcount
