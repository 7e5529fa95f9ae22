"""Logging in and out: a password, then the second factor, opens a session (idle and absolute
timeouts); a per-account back-off slows guessing without ever locking the person out; a person
enrols TOTP, changes their password and ends their sessions here.

Every failure to log in is the same LoginRefused, whatever was wrong (the name, the password,
the code, a disabled account): an answer tells nobody which names exist or which part was right.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog

from smsgw.access import totp
from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.passwords import Passwords
from smsgw.access.people import Person, Session, Totp, name_key, next_try_at, password_problem
from smsgw.access.store import AuditLog, PeopleStore, PersonChange
from smsgw.access.tokens import ApiToken, hash_secret
from smsgw.errors import Conflict, Invalid

_log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
SECRET_MAX = 128  # a cookie's value longer than ours is nobody's: not looked up


def utc_now() -> datetime:
    return datetime.now(UTC)


class LoginRefused(Exception):  # noqa: N818 - an outcome the caller is told, not a fault
    """Wrong name, password or code, or a disabled account (``wait_s`` 0); or the back-off
    holds for ``wait_s`` more seconds (nothing was checked)."""

    def __init__(self, wait_s: float = 0.0) -> None:
        super().__init__("wrong name, password or code" if wait_s <= 0 else "too soon")
        self.wait_s = wait_s


@dataclass(frozen=True, slots=True)
class Active:
    """A live session and its person, as a request finds them."""

    session: Session
    person: Person

    @property
    def principal(self) -> ApiToken:
        return self.person.principal(self.session)

    @property
    def enrolling(self) -> bool:
        """An admin or supervisor without TOTP yet: this session may only enrol."""
        return self.person.totp is Totp.REQUIRED


@dataclass(frozen=True, slots=True)
class LoggedIn:
    secret: str  # the session cookie's value: given this once, only its hash is kept
    active: Active


class Logins:
    def __init__(
        self,
        store: PeopleStore,
        audit: AuditLog,
        passwords: Passwords,
        *,
        idle: timedelta,
        lifetime: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._audit = audit
        self._passwords = passwords
        self._idle = idle
        self._lifetime = lifetime
        self._touch_every = min(timedelta(minutes=1), idle / 4)
        self._strangers = _Strangers()
        self.clock = clock  # tests move time on

    async def log_in(self, name: str, password: str, code: str | None, *, address: str) -> LoggedIn:
        now = self.clock()
        person = await self._store.person_by_name(name) if name_key(name) else None
        if person is None:
            if wait := self._strangers.claim(name_key(name), now):
                raise LoginRefused(wait)
            await self._passwords.verify_nobody(password)
            _log.info("login_failed", reason="unknown_name")
            raise LoginRefused
        if held := await self._store.claim_attempt(person.id, at=now):
            _log.info("login_deferred", person=person.name, until=held.isoformat())
            raise LoginRefused(max((held - now).total_seconds(), 0.001))
        factor = await self._check(person, password, code, now)
        if factor is None or person.disabled_at is not None:
            reason = "disabled" if factor else "credentials"
            await self._audit.audit(AuditEntry(
                now, f"address:{address}", None, None, AuditAction.LOGIN_FAILED, person.name,
                {"reason": reason},
            ))  # fmt: skip
            _log.info("login_failed", person=person.name, reason=reason)
            raise LoginRefused
        if self._passwords.outdated(person.password_hash):  # the hashing's parameters changed
            rehashed = await self._passwords.hash(password)
            await self._store.change_person(person.id, PersonChange(password_hash=rehashed), None)
        secret = secrets.token_urlsafe(32)
        session = Session(
            id=hash_secret(secret), person=person.id, csrf=secrets.token_urlsafe(32),
            created_at=now, last_seen_at=now, expires_at=now + self._lifetime,
        )  # fmt: skip
        audit = AuditEntry.by(person.principal(session), AuditAction.LOGGED_IN, person.name,
                              at=now, address=address, factor=factor)  # fmt: skip
        await self._store.add_session(session, audit)
        _log.info("logged_in", person=person.name, factor=factor)
        return LoggedIn(secret, Active(session, person))

    async def _check(
        self, person: Person, password: str, code: str | None, at: datetime
    ) -> str | None:
        """The factor that completed the log-in ("password", "totp", "recovery_code"), or
        None. A TOTP code and a recovery code are each taken once."""
        if not await self._passwords.verify(person.password_hash, password):
            return None
        if person.totp_secret is None:
            return "password"
        if not code:
            return None
        if totp.looks_like_totp(code):
            step = totp.step_of(person.totp_secret, code, at, after=person.totp_last_step)
            if step is not None and await self._store.take_totp_step(person.id, step):
                return "totp"
            return None
        if await self._store.take_recovery_code(person.id, totp.recovery_hash(code)):
            return "recovery_code"
        return None

    async def session(self, secret: str) -> Active | None:
        """The live session whose cookie holds ``secret``: not ended, not idle past the idle
        timeout nor past its lifetime, of a person not disabled (None otherwise)."""
        if not secret or len(secret) > SECRET_MAX:
            return None
        found = await self._store.session(hash_secret(secret))
        if found is None:
            return None
        session, person = found
        now = self.clock()
        if person.disabled_at is not None or not session.live(now, self._idle):
            return None
        if now - session.last_seen_at >= self._touch_every:  # not a write per request
            await self._store.touch_session(session.id, now)
            session = replace(session, last_seen_at=now)
        return Active(session, person)

    async def log_out(self, active: Active, *, everywhere: bool) -> int:
        """Ends this session, or every one of its person's; how many were live."""
        now = self.clock()
        audit = AuditEntry.by(active.principal, AuditAction.LOGGED_OUT, active.person.name,
                              at=now, everywhere=everywhere)  # fmt: skip
        only = None if everywhere else active.session.id
        ended = await self._store.end_sessions(active.person.id, at=now, only=only, audit=audit)
        _log.info("logged_out", person=active.person.name, sessions=ended)
        return ended

    async def start_totp(self, active: Active) -> tuple[str, str]:
        """A new TOTP secret and its otpauth:// URI; it replaces the current one (if any)
        once a code of it is confirmed."""
        secret = totp.new_secret()
        await self._store.start_totp(active.person.id, secret)
        return secret, totp.uri(secret, active.person.name)

    async def confirm_totp(self, active: Active, code: str) -> list[str]:
        """The pending secret becomes the person's once ``code`` is one of its codes; returns
        new recovery codes (shown this once; the old ones no longer work)."""
        person = await self._store.person(active.person.id)
        pending = person.totp_pending if person else None
        if pending is None:
            raise Conflict("no TOTP enrolment under way: POST /api/v1/me/totp first")
        now = self.clock()
        step = totp.step_of(pending, code, now, after=None)
        if step is None:
            raise Invalid("that is not the current code (is the device's clock right?)",
                          field="code")  # fmt: skip
        codes = totp.recovery_codes()
        audit = AuditEntry.by(active.principal, AuditAction.TOTP_ENROLLED, active.person.name,
                              at=now)  # fmt: skip
        hashes = [totp.recovery_hash(c) for c in codes]
        if not await self._store.confirm_totp(
            active.person.id, pending, step=step, recovery=hashes, audit=audit
        ):
            raise Conflict("another enrolment began meanwhile: confirm its code")
        _log.info("totp_enrolled", person=active.person.name)
        return codes

    async def change_password(self, active: Active, current: str, new: str) -> None:
        """The person's own change: the current password is checked (under the back-off, as
        a log-in: a session left open is no way to guess it); their other sessions end."""
        if problem := password_problem(new, active.person.name):
            raise Invalid(problem, field="new")
        now = self.clock()
        if held := await self._store.claim_attempt(active.person.id, at=now):
            raise LoginRefused(max((held - now).total_seconds(), 0.001))
        if not await self._passwords.verify(active.person.password_hash, current):
            raise Invalid("the current password is wrong", field="current")
        change = PersonChange(password_hash=await self._passwords.hash(new),
                              end_sessions_at=now, keep=active.session.id)  # fmt: skip
        audit = AuditEntry.by(active.principal, AuditAction.PASSWORD_CHANGED, active.person.name,
                              at=now)  # fmt: skip
        await self._store.change_person(active.person.id, change, audit)
        _log.info("password_changed", person=active.person.name)


class _Strangers:
    """The back-off of names that are nobody's, in memory (bounded): a name that exists and
    one that does not are refused alike, so a 429 tells no one a name exists."""

    def __init__(self, most: int = 10_000) -> None:
        self._most = most
        self._seen: dict[str, tuple[int, datetime | None]] = {}

    def claim(self, key: str, at: datetime) -> float:
        failures, held = self._seen.pop(key, (0, None))
        if held is not None and at < held:
            self._seen[key] = (failures, held)
            return max((held - at).total_seconds(), 0.001)
        if len(self._seen) >= self._most:
            del self._seen[next(iter(self._seen))]  # the one least recently tried
        self._seen[key] = (failures + 1, next_try_at(failures + 1, at))
        return 0.0
