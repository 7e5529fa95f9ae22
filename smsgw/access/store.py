"""What access needs from storage: tokens, people and their sessions, and the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.people import Person, Session
from smsgw.access.tokens import ApiToken, Role


class TokenStore(Protocol):
    async def add_token(self, token: ApiToken, audit: AuditEntry | None = None) -> None:
        """Stores a new token, and ``audit`` with it (in one transaction)."""

    async def token_by_hash(self, token_hash: str) -> ApiToken | None: ...

    async def token(self, token_id: str) -> ApiToken | None: ...

    async def tokens(self) -> list[ApiToken]:
        """All, revoked and expired ones too, oldest first."""

    async def revoke_token(self, token_id: str, *, at: datetime, audit: AuditEntry) -> bool:
        """False if there is no such token or it was revoked already."""

    async def tokens_used(self, uses: Mapping[str, datetime]) -> None:
        """Each token's last use (by id), unless a later one is stored (another gateway's)."""


@dataclass(frozen=True, slots=True)
class PersonChange:
    """What an admin changes of a person (None: left as it is), all in one transaction."""

    role: Role | None = None  # with ``ministry``: the two are written together
    ministry: str | None = None
    password_hash: str | None = None  # and the back-off starts afresh
    disabled_at: datetime | None = None
    enabled: bool = False  # disabled_at cleared
    reset_totp: bool = False  # no TOTP (nor pending one, nor recovery codes) any more
    end_sessions_at: datetime | None = None  # their sessions end then (all but ``keep``)
    keep: str | None = None  # a session id that stays (a password changed by its person)


class PeopleStore(Protocol):
    async def add_person(self, person: Person, audit: AuditEntry) -> None:
        """Conflict (smsgw.errors) if the name is taken, ignoring case."""

    async def person(self, person_id: str) -> Person | None: ...

    async def person_by_name(self, name: str) -> Person | None:
        """Ignoring case and spacing (people.name_key)."""

    async def people(self) -> list[Person]:
        """All, disabled ones too, by name."""

    async def change_person(
        self, person_id: str, change: PersonChange, audit: AuditEntry | None
    ) -> Person | None:
        """The person as changed; None if there is none."""

    async def claim_attempt(self, person_id: str, *, at: datetime) -> datetime | None:
        """Counts a log-in attempt begun ``at`` as failed until it succeeds, and sets the
        back-off (people.next_try_at), unless the back-off holds: then nothing is counted and
        the time it holds until is returned (at most one attempt passes at a time once it
        holds: there is no race to win)."""

    async def start_totp(self, person_id: str, secret: str) -> None:
        """The pending TOTP secret (the current one, if any, stays until it is confirmed)."""

    async def confirm_totp(
        self, person_id: str, secret: str, *, step: int, recovery: list[str], audit: AuditEntry
    ) -> bool:
        """``secret`` becomes the TOTP secret, if it is still the pending one; its step is
        taken; ``recovery`` (hashes) replace the recovery codes."""

    async def take_totp_step(self, person_id: str, step: int) -> bool:
        """False if ``step`` (or a later one) was taken already: a code is used once."""

    async def take_recovery_code(self, person_id: str, code_hash: str) -> bool:
        """False if the person has no such code (any more)."""

    async def recovery_codes_left(self, person_id: str) -> int: ...

    async def add_session(self, session: Session, audit: AuditEntry) -> None:
        """A log-in: the session stored, the person's failures forgotten; sessions ended or
        expired a day ago are deleted."""

    async def session(self, session_id: str) -> tuple[Session, Person] | None: ...

    async def touch_session(self, session_id: str, at: datetime) -> None:
        """Seen ``at`` (the idle timeout runs from the last time)."""

    async def end_sessions(
        self, person_id: str, *, at: datetime, only: str | None, audit: AuditEntry | None
    ) -> int:
        """Ends the person's live sessions (``only``: that one); how many it ended."""


class AuditLog(Protocol):
    async def audit(self, entry: AuditEntry) -> None: ...

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
        """Newest first, ids below ``before``, those matching every filter given: ``by`` the
        person of that name (ignoring case) or that actor (a token id, "user:<name>", "cli");
        ``target`` exactly; at or after ``since``, before ``until``."""
