"""People who log in to the console: their accounts, sessions and the rules for names,
passwords and the second factor. Systems keep API tokens (tokens.py); a person acts under the
principal id ``user:<name>``, an ApiToken made from the account, so every route and four-eyes
approval treat a person logged in as they treat a token of that person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from smsgw.access.tokens import STAFF, ApiToken, Role, token_ministry, token_person

USER = "user:"  # the principal id prefix of a person logged in
SECOND_FACTOR = (Role.ADMIN, Role.SUPERVISOR)  # must use TOTP; the others may
SCOPED = (Role.OFFICER, Role.SUPERVISOR)  # one ministry each; admins and operators: none
PASSWORD_MIN = 12
PASSWORD_MAX = 1024  # argon2 takes any length; a bound keeps a request's hashing bounded
FREE_FAILURES = 3  # failed log-ins in a row before each next one waits
LONGEST_WAIT = timedelta(seconds=30)  # the real person never waits longer than this


class Totp(StrEnum):
    """A person's second factor as the console shows it."""

    REQUIRED = "required"  # an admin or supervisor who has not enrolled: must, before anything
    ENROLLED = "enrolled"  # log-in needs its code (or a recovery code)
    OPTIONAL = "optional"  # an officer or operator without one


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str  # unique ignoring case (``key``)
    role: Role  # one of STAFF: alerting is for systems, which keep tokens
    ministry: str | None  # officers and supervisors: one; the others: none
    password_hash: str  # argon2id, with its parameters (passwords.py)
    created_at: datetime
    totp_secret: str | None = None  # base32; None: not enrolled
    totp_pending: str | None = None  # being enrolled: becomes totp_secret once a code matches
    totp_last_step: int | None = None  # the last time step used: a code is taken once
    failures: int = 0  # failed log-ins in a row (counted as each attempt starts)
    next_try_at: datetime | None = None  # the back-off: no attempt before then
    disabled_at: datetime | None = None

    @property
    def key(self) -> str:
        return name_key(self.name)

    @property
    def principal_id(self) -> str:
        return USER + self.name

    @property
    def totp(self) -> Totp:
        if self.totp_secret is not None:
            return Totp.ENROLLED
        return Totp.REQUIRED if self.role in SECOND_FACTOR else Totp.OPTIONAL

    def principal(self, session: Session | None = None) -> ApiToken:
        """The person as the routes see a caller: a token of theirs, without a secret (that
        of the session when there is one)."""
        return ApiToken(
            id=self.principal_id,
            token_hash="",
            role=self.role,
            ministry=self.ministry,
            created_at=session.created_at if session else self.created_at,
            expires_at=session.expires_at if session else None,
            revoked_at=self.disabled_at,
            person=self.name,
        )


@dataclass(frozen=True, slots=True)
class Session:
    id: str  # sha256 hex of the cookie's secret (the secret itself is never stored)
    person: str  # the person's id
    csrf: str  # the X-CSRF-Token its unsafe requests carry
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # the absolute lifetime
    revoked_at: datetime | None = None

    def live(self, now: datetime, idle: timedelta) -> bool:
        return self.revoked_at is None and now < self.expires_at and now - self.last_seen_at < idle


def name_key(name: str) -> str:
    """Names are compared ignoring case and spacing ("maria  CHEN" is Maria Chen)."""
    return " ".join(name.split()).casefold()


def person_name(name: str) -> str:
    """A person's name as stored; ValueError for one that cannot be (blank, control
    characters, too long, or "me", which the inbox reads as whoever assigns)."""
    stored = token_person(name)
    if stored.casefold() == "me":
        raise ValueError('"me" names whoever uses it: choose another name')
    return stored


def person_role(role: Role) -> Role:
    if role not in STAFF:
        raise ValueError(f"a person is one of {', '.join(STAFF)}; {role.value} is for systems")
    return role


def person_ministry(role: Role, ministry: str | None) -> str | None:
    """The ministry as stored (tokens.token_ministry's form); ValueError if ``role`` cannot
    name it: officers and supervisors need one, admins and operators name none."""
    person_role(role)
    if ministry is None and role in SCOPED:
        raise ValueError(f"{'an' if role is Role.OFFICER else 'a'} {role.value} needs a ministry")
    if ministry is not None and role not in SCOPED:
        raise ValueError(f"an {role.value} acts for every ministry: name none")
    return token_ministry(role, ministry)


def password_problem(password: str, name: str) -> str | None:
    """Why ``password`` will not do for the person ``name`` (None: it will)."""
    if len(password) < PASSWORD_MIN:
        return f"a password has at least {PASSWORD_MIN} characters"
    if len(password) > PASSWORD_MAX:
        return f"a password has at most {PASSWORD_MAX} characters"
    if name_key(password).replace(" ", "") == name_key(name).replace(" ", ""):
        return "a password is not the person's name"
    return None


def next_try_at(failures: int, at: datetime) -> datetime | None:
    """When the next log-in may start after ``failures`` in a row, the last begun ``at``: at
    once for the first FREE_FAILURES, then 1 s, 2 s, 4 s … up to LONGEST_WAIT. Guessing slows
    to about two a minute per account; the person themselves waits half a minute at most, and
    nobody else's failures (another address, another account) ever hold them up."""
    if failures < FREE_FAILURES:
        return None
    exponent = min(failures - FREE_FAILURES, 16)  # 2**16 s is far past the longest wait
    return at + min(timedelta(seconds=2**exponent), LONGEST_WAIT)
