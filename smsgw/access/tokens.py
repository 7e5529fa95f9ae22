"""API tokens: roles, issuing (the secret is shown once) and checking (only its hash is kept)."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

PREFIX = "smsgw_"


class Role(StrEnum):
    ADMIN = "admin"  # everything, nationally
    SUPERVISOR = "supervisor"  # a ministry's: approves and sends its broadcasts
    OFFICER = "officer"  # a ministry's communications officer: its own services and broadcasts
    OPERATOR = "operator"  # the network operations centre: reads health and KPIs
    ALERTING = "alerting"  # an alerting authority's system: posts CAP alerts, nothing else


# Roles of people at work in the console (not an authority's alerting system)
STAFF = (Role.ADMIN, Role.SUPERVISOR, Role.OFFICER, Role.OPERATOR)


_SCOPED = (Role.OFFICER, Role.SUPERVISOR)  # one ministry each; admins act nationally


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    token_hash: str  # sha256 hex of the secret
    role: Role
    ministry: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None = None
    person: str | None = None  # whom it belongs to: a person, or a named system
    callback_url: str | None = None  # an integrator's: its messages' states go there by default
    last_used_at: datetime | None = None  # to the minute (access/usage.py); None: not yet

    @property
    def identity(self) -> str:
        """Who acts with it: its person (two tokens of one person are one identity); a token
        made before tokens named persons is its own."""
        return f"person:{self.person.casefold()}" if self.person else f"token:{self.id}"

    def usable(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at

    @property
    def scope(self) -> str | None:
        """The ministry an officer or a supervisor is confined to, as compared (None: any)."""
        if self.role in _SCOPED:
            return ministry_key(self.ministry or "")
        return None

    def may_act_for(self, ministry: str) -> bool:
        """May act on what belongs to ``ministry`` (officers and supervisors: their own)."""
        return self.scope is None or self.scope == ministry_key(ministry)


def ministry_key(ministry: str) -> str:
    """Ministries are matched ignoring case and surrounding spaces."""
    return ministry.strip().casefold()


def hash_secret(secret: str) -> str:
    # the secrets are 256-bit random: a plain hash is enough, no slow KDF needed
    return hashlib.sha256(secret.encode()).hexdigest()


_SLUG = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")


def token_ministry(role: Role, ministry: str | None) -> str | None:
    """The ministry a token of ``role`` names, as stored ("Health " → "health"); ValueError
    if it cannot name that one (officers need one, admins and operators act nationally)."""
    if ministry is None:
        if role in _SCOPED:
            article = "an" if role is Role.OFFICER else "a"
            raise ValueError(f"{article} {role.value} token needs a ministry")
        return None
    if role not in _SCOPED:
        raise ValueError(f"an {role.value} token acts for every ministry: it names none")
    key = ministry_key(ministry)
    if len(key) > 64 or not _SLUG.fullmatch(key):
        raise ValueError(
            "a ministry is a short name of letters a-z, digits and - or _, such as health or"
            " public-works"
        )
    return key


def token_person(person: str) -> str:
    """A token's person as stored; ValueError for a blank name or one with control
    characters (it reaches terminals: ``smsgw token list``)."""
    name = " ".join(person.split())
    if not name or len(name) > 100 or not name.isprintable():
        raise ValueError(
            "name the person (or system) the token is for: 1 to 100 printable characters"
        )
    return name


def issue(
    role: Role,
    *,
    now: datetime,
    ministry: str | None = None,
    expires_days: int | None = None,
    person: str | None = None,
    callback_url: str | None = None,
) -> tuple[str, ApiToken]:
    """A new token: (the secret to hand out once, the record to store); ValueError for a
    ministry the role cannot name, or a person that is no name."""
    ministry = token_ministry(role, ministry)
    person = token_person(person) if person is not None else None
    secret = PREFIX + secrets.token_urlsafe(32)
    expires_at = now + timedelta(days=expires_days) if expires_days is not None else None
    token = ApiToken(
        id=uuid.uuid4().hex,
        token_hash=hash_secret(secret),
        role=role,
        ministry=ministry,
        created_at=now,
        expires_at=expires_at,
        person=person,
        callback_url=http_url(callback_url) if callback_url is not None else None,
    )
    return secret, token


def http_url(value: str) -> str:
    """A callback URL: http or https, with a host (ValueError otherwise)."""
    url = urlsplit(value)
    if url.scheme not in ("http", "https") or not url.hostname or len(value) > 2000:
        raise ValueError("an http:// or https:// URL with a host, at most 2000 characters")
    return value
