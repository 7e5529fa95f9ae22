"""What the subscription use cases need from storage (implemented in smsgw/storage/…): the
catalogue of services, and the subscribers with their subscriptions.

Every change of consent writes its ConsentEvent in the same transaction as the change; the
history is append-only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from subscriptions.models import (
    Change,
    ChangeResult,
    ConsentEvent,
    ImportCounts,
    Service,
    Source,
    Subscriber,
    Subscription,
)


class ServiceConflict(Exception):  # noqa: N818 - a domain outcome, named like the API's 409
    """A keyword or alias is already taken (by another service or as another's alias)."""


class CatalogueStore(Protocol):
    """The services citizens can join."""

    async def services(self, *, active_only: bool = False) -> list[Service]:
        """All services, by keyword."""

    async def service(self, keyword: str) -> Service | None:
        """By canonical keyword (not alias)."""

    async def add_service(self, service: Service) -> None:
        """Raises ServiceConflict when its keyword or an alias is taken."""

    async def replace_service(self, service: Service) -> None:
        """Store the new version of an existing service (same keyword); ServiceConflict for
        an alias taken by another service."""


class SubscriptionStore(Protocol):
    """Subscribers, their subscriptions and the history of their consent."""

    async def subscriber(self, msisdn: str) -> Subscriber | None: ...

    async def subscriptions(self, msisdn: str) -> list[Subscription]:
        """Active ones (left_at is None), by subscribed_at."""

    async def join(
        self,
        msisdn: str,
        service: str,
        *,
        at: datetime,
        source: Source,
        consent: str,
        language: str | None = None,
        actor: str | None = None,
        district: str | None = None,
    ) -> bool:
        """Subscribe (creating the subscriber; setting their language if given and they have
        none; their district if given, unless a STOP stays in force). False, and no event, if
        already subscribed. Joining by SMS is the citizen's explicit consent: it also lifts a
        global opt-out (recorded as an UNSTOP event), without rejoining the other services
        that the STOP left. From any other source (an officer, a
        list) a number under a STOP is left alone: False, and no event; only the citizen
        lifts a STOP."""

    async def leave(
        self,
        msisdn: str,
        service: str,
        *,
        at: datetime,
        source: Source,
        consent: str,
        actor: str | None = None,
    ) -> bool:
        """False, and no event, if not subscribed. ``actor``: who records it for the citizen
        (an officer's token), as for join and join_many; None: the citizen themself."""

    async def stop_all(
        self, msisdn: str, *, at: datetime, source: Source, consent: str
    ) -> list[str]:
        """Global opt-out (also for a number never seen: it is created opted out): leaves every
        active subscription, remembering they were left by this STOP. Returns the keywords
        left (for the confirmation text)."""

    async def unstop(self, msisdn: str, *, at: datetime, source: Source, consent: str) -> list[str]:
        """Lift a global opt-out and rejoin the services its last STOP left (SPEC: "services
        left with it are rejoined"). Returns their keywords."""

    async def set_language(
        self, msisdn: str, language: str, *, at: datetime, source: Source, consent: str
    ) -> None: ...

    async def apply(self, changes: Sequence[Change]) -> list[ChangeResult]:
        """Each change in turn, as the single-change methods above would make it, all in one
        transaction (one trip to the database for a whole batch of citizens' texts). A change
        that fails is undone alone and reported in its result's ``error``."""

    async def join_many(
        self,
        rows: Sequence[tuple[str, str | None]],
        service: str,
        *,
        at: datetime,
        source: Source,
        consent: str,
        actor: str | None = None,
        districts: Mapping[str, str] | None = None,
    ) -> ImportCounts:
        """Bulk import of validated (msisdn, language) rows, in one transaction: like join for
        each number, except that numbers already subscribed are counted, not touched, and
        numbers under a global opt-out are skipped (an import is not the citizen's consent, so
        it cannot lift their STOP). ``districts``: number → district, given to those of the
        rows not under a STOP who have none (the citizen's own word stands)."""

    async def history(self, msisdn: str) -> list[ConsentEvent]:
        """Oldest first."""

    # ---------------------------------------------------------------- look-ups (issue 17)

    async def every_subscription(self, msisdn: str) -> list[Subscription]:
        """Active and left ones (``left_at`` set), by subscribed_at: a person's look-up."""

    async def latest_events(
        self, msisdn: str, *, limit: int, services: Collection[str] | None = None
    ) -> list[ConsentEvent]:
        """Newest first, at most ``limit``. ``services``: only the events about one of them
        and those about no one service (STOP, START, language, district), which concern
        them all; None: every event."""

    # ---------------------------------------------------------------- audiences (issue 4)

    def audience(self, service: str, *, batch: int = 5000) -> AsyncIterator[Sequence[Subscriber]]:
        """Active subscribers of the service without a global opt-out, in batches (constant
        memory at a million subscribers)."""
        ...

    async def audience_size(self, service: str) -> int: ...

    async def audience_by_district(self, service: str) -> dict[str | None, int]:
        """Active subscribers without a global opt-out per district (None: not said)."""
