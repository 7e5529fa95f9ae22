"""The subscription domain: services, subscribers, their subscriptions and consent records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Service:
    """An information service a ministry offers; citizens join it by keyword."""

    keyword: str  # canonical, upper case A–Z/0–9: "HEALTH"
    ministry: str  # "health"
    names: Mapping[str, str]  # language → display name
    default_language: str = "en"
    aliases: tuple[str, ...] = ()  # other keywords, any language: ("SALUD",)
    # alias → the language it is a word of ({"SALUD": "es"}); an alias left out: not known.
    # A text made only of one language's words is answered in it (keywords.py)
    alias_languages: Mapping[str, str] = field(default_factory=dict)
    descriptions: Mapping[str, str] = field(default_factory=dict)  # language → one line
    welcome: Mapping[str, str] = field(default_factory=dict)  # language → welcome SMS
    requires_approval: bool = False  # broadcasts need a second person (issue 4)
    active: bool = True
    confirm_sign_ups: bool = True  # one SMS to a citizen an officer signs up: who, how to leave

    @property
    def words(self) -> tuple[str, ...]:
        """Every keyword that names this service."""
        return (self.keyword, *self.aliases)


class Source(StrEnum):
    """How a consent (or its withdrawal) reached us."""

    SMS = "sms"  # the citizen texted a keyword
    ASSISTED = "assisted"  # an officer signed them up in person (consent source recorded)
    IMPORT = "import"  # a ministry's existing list


class Action(StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    STOP_ALL = "stop_all"  # global opt-out: no broadcast at all until START
    UNSTOP = "unstop"  # global opt-out lifted
    LANGUAGE = "language"
    DISTRICT = "district"  # where they live, for alerts limited to districts (detail: which)


@dataclass(frozen=True, slots=True)
class Subscriber:
    msisdn: str  # E.164
    language: str | None  # their choice; None: the service's default
    opted_out_at: datetime | None  # global STOP in force since then
    created_at: datetime
    district: str | None = None  # None: not said (they get every district's alerts)


@dataclass(frozen=True, slots=True)
class Subscription:
    msisdn: str
    service: str  # keyword
    subscribed_at: datetime
    source: Source
    consent: str  # what proves consent: the MO's id, "community-centre:orange-walk", a file
    left_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One row of the never-overwritten history: who joined or left what, when, how."""

    msisdn: str
    action: Action
    at: datetime
    source: Source
    consent: str  # the MO id, the consent source, the import name
    service: str | None = None  # None for STOP_ALL / UNSTOP / LANGUAGE
    detail: str | None = None  # e.g. the language chosen
    actor: str | None = None  # who recorded it for the citizen (a token); None: the citizen


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What a bulk import did with its rows."""

    joined: int  # new subscriptions
    already: int  # already subscribed (or the same number twice in the import)
    opted_out: int  # skipped: under a global STOP, which only the citizen can lift


class ChangeKind(StrEnum):
    """What one citizen's text asks of the store (SubscriptionStore.apply)."""

    NONE = "none"  # nothing to change (HELP, LIST, unknown…): at most a language look-up
    JOIN = "join"
    LEAVE = "leave"
    STOP_ALL = "stop_all"
    UNSTOP = "unstop"
    LANGUAGE = "language"
    MY = "my"  # read the active subscriptions


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    msisdn: str
    at: datetime
    source: Source
    consent: str
    service: str | None = None  # JOIN, LEAVE
    language: str | None = None  # JOIN: kept if they have none; LANGUAGE: the new one
    lookup: bool = False  # read the subscriber's language first (the reply's language)
    district: str | None = None  # JOIN HURRICANE TOLEDO: theirs from now on


@dataclass(frozen=True, slots=True)
class ChangeResult:
    language: str | None = None  # the subscriber's, before the change (when looked up)
    changed: bool = False  # JOIN / LEAVE did something
    services: tuple[str, ...] = ()  # STOP_ALL left, UNSTOP rejoined, MY subscribed to
    error: str | None = None  # the change failed (e.g. no such service); nothing was written
    district: str | None = None  # MY: the subscriber's
