"""People's accounts as admins (``/api/v1/users``) and the command line (``smsgw user``) keep
them: created with a password (generated and shown once unless given), changed, disabled,
their password or TOTP reset. Disabling, a reset or a new password ends their sessions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from smsgw.access.audit import CLI, AuditAction, AuditEntry
from smsgw.access.logins import Clock, utc_now
from smsgw.access.passwords import Passwords, generate
from smsgw.access.people import (
    SCOPED,
    Person,
    password_problem,
    person_ministry,
    person_name,
    person_role,
)
from smsgw.access.store import PeopleStore, PersonChange
from smsgw.access.tokens import ApiToken, Role
from smsgw.errors import Forbidden, Invalid, NotFound

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Update:
    """What to change of a person (None / False: nothing)."""

    role: Role | None = None
    ministry: str | None = None
    ministry_given: bool = False  # a null ministry given (a national role) or one named
    disabled: bool | None = None
    password: str | None = None
    reset_totp: bool = False


class Accounts:
    def __init__(self, store: PeopleStore, passwords: Passwords, *, clock: Clock = utc_now):
        self._store = store
        self._passwords = passwords
        self._clock = clock

    async def people(self) -> list[Person]:
        return await self._store.people()

    async def find(self, name: str) -> Person:
        person = await self._store.person_by_name(name)
        if person is None:
            raise NotFound(f"no person named {name}")
        return person

    async def create(
        self, by: ApiToken | None, *, name: str, role: Role, ministry: str | None,
        password: str | None = None,
    ) -> tuple[Person, str | None]:  # fmt: skip
        """The person, and the password generated for them (None when one was given)."""
        try:
            name = person_name(name)
        except ValueError as exc:
            raise Invalid(str(exc), field="name") from None
        ministry = _ministry(role, ministry)  # the role first: a person is never alerting
        generated = generate() if password is None else None
        chosen = password if password is not None else generated
        assert chosen is not None  # noqa: S101 - one or the other, by the line above
        if problem := password_problem(chosen, name):
            raise Invalid(problem, field="password")
        now = self._clock()
        password_hash = await self._passwords.hash(chosen)
        person = Person(id=uuid.uuid4().hex, name=name, role=role, ministry=ministry,
                        password_hash=password_hash, created_at=now)  # fmt: skip
        audit = _entry(by, AuditAction.PERSON_CREATED, person, now, role=role.value,
                       ministry=ministry, id=person.id)  # fmt: skip
        await self._store.add_person(person, audit)  # Conflict: the name is taken
        _log.info("person_created", person=name, role=role, ministry=ministry)
        return person, generated

    async def update(self, by: ApiToken | None, person_id: str, update: Update) -> Person:
        person = await self._store.person(person_id)
        if person is None:
            raise NotFound(f"no person {person_id}")
        role = update.role or person.role
        if update.ministry_given:
            ministry = update.ministry
        else:  # kept by a ministry's role, dropped by a national one
            ministry = person.ministry if role in SCOPED else None
        ministry = _ministry(role, ministry)
        if (
            by is not None
            and by.id == person.principal_id
            and (update.disabled or role is not Role.ADMIN)
        ):
            raise Forbidden("another admin must disable you or change your role")
        now = self._clock()
        detail: dict[str, Any] = {}
        scope = (role, ministry) != (person.role, person.ministry)
        if scope:
            detail |= {"role": role.value, "ministry": ministry}
        password_hash = None
        if update.password is not None:
            if problem := password_problem(update.password, person.name):
                raise Invalid(problem, field="password")
            password_hash = await self._passwords.hash(update.password)
            detail["password"] = "reset"  # noqa: S105 - what was done, not a password
        if update.reset_totp:
            detail["totp"] = "reset"
        disable = update.disabled is True and person.disabled_at is None
        enable = update.disabled is False and person.disabled_at is not None
        if disable or enable:
            detail["disabled"] = disable
        ends = disable or password_hash is not None or update.reset_totp
        change = PersonChange(
            role=role if scope else None, ministry=ministry, password_hash=password_hash,
            disabled_at=now if disable else None, enabled=enable, reset_totp=update.reset_totp,
            end_sessions_at=now if ends else None,
        )  # fmt: skip
        audit = _entry(by, AuditAction.PERSON_UPDATED, person, now, **detail) if detail else None
        changed = await self._store.change_person(person.id, change, audit)
        if changed is None:
            raise NotFound(f"no person {person_id}")
        if detail:
            _log.info("person_updated", person=person.name, changed=sorted(detail))
        return changed


def _ministry(role: Role, ministry: str | None) -> str | None:
    try:
        person_role(role)
    except ValueError as exc:
        raise Invalid(str(exc), field="role") from None
    try:
        return person_ministry(role, ministry)
    except ValueError as exc:
        raise Invalid(str(exc), field="ministry") from None


def _entry(
    by: ApiToken | None, action: AuditAction, person: Person, at: datetime, **detail: Any
) -> AuditEntry:
    if by is None:  # the command line: no token
        return AuditEntry(at, CLI, None, None, action, person.name, detail)
    return AuditEntry.by(by, action, person.name, at=at, **detail)
