"""What broadcasts need from storage: the broadcasts, and their recipients in the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from smsgw.broadcasts.model import Broadcast, BroadcastState, BroadcastStats, CarrierProgress


class OutboxPurged(Exception):  # noqa: N818 - a domain outcome, answered 410 by the API
    """Retention deleted the broadcast's per-recipient rows ([retention] outbox_days after it
    finished); its figures are kept, summed up."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of a broadcast, as its outbox row says."""

    id: int  # the outbox row's: the pages' cursor
    msisdn: str
    language: str
    carrier: str | None  # None: no channel serves the number
    state: str  # a message state: queued, submitted, delivered, undeliverable, …
    error: str | None  # the carrier's or the gateway's reason, e.g. "ESME_RINVDSTADR"
    submitted_at: datetime | None
    done_at: datetime | None  # its final state reached


@dataclass(frozen=True, slots=True)
class RecipientGroup:
    """How many of a broadcast's recipients share a carrier, language, district, state and
    error: its report's breakdowns are sums of these."""

    carrier: str | None  # None: no channel serves the number
    language: str
    district: str | None  # the subscriber's now; None: never said (or no longer subscribed)
    state: str
    error: str | None
    count: int


class BroadcastStore(Protocol):
    """Broadcasts: the rows officers create, approve and cancel, and their progress."""

    async def add_broadcast(self, broadcast: Broadcast) -> int:
        """Stores a new broadcast (its ``id`` is ignored); returns its id."""

    async def broadcast(self, broadcast_id: int) -> Broadcast | None: ...

    async def broadcasts(
        self,
        *,
        ministry: str | None,
        before: int | None,
        limit: int,
        states: Collection[BroadcastState] | None = None,
    ) -> list[Broadcast]:
        """Newest first, ids below ``before``; ``ministry`` None: all (else matched ignoring
        case and surrounding spaces); ``states`` None: in any state."""

    async def open_broadcasts(self) -> list[Broadcast]:
        """Scheduled, queued and sending ones: emergency first, then oldest first."""

    async def open_of_service(self, service: str) -> list[Broadcast]:
        """The service's broadcasts not yet done nor cancelled, awaiting approval included."""

    async def approve_broadcast(
        self,
        broadcast_id: int,
        *,
        by: str,
        at: datetime,
        state: BroadcastState,
        expires_at: datetime,
    ) -> bool:
        """Awaiting approval → ``state``, valid until ``expires_at``; False if it was not
        awaiting approval."""

    async def cancel_broadcast(
        self, broadcast_id: int, *, by: str, at: datetime, reason: str | None = None
    ) -> int | None:
        """Cancels an open broadcast and its queued messages (returns how many; None if it
        was not open); ``reason`` says why when it is not the person's own choice."""

    async def set_broadcast_state(
        self,
        broadcast_id: int,
        state: BroadcastState,
        *,
        at: datetime,
        started: bool = False,
        finished: bool = False,
    ) -> bool: ...

    async def audience_by_language(
        self, service: str, languages: list[str], default: str,
        districts: tuple[str, ...] | None = None,
    ) -> dict[str, int]:  # fmt: skip
        """``districts``: only their subscribers, and those who never said theirs."""

    async def broadcast_stats(self, broadcast_id: int) -> BroadcastStats: ...

    async def started_since(self, since: datetime) -> list[Broadcast]:
        """The broadcasts whose fan-out began at or after ``since``, the latest first (the
        replies and poll answers citizens send come after them)."""

    async def carrier_progress(self, broadcast_id: int) -> CarrierProgress:
        """Its outbox messages per carrier and state, and the first submit (nothing once
        retention removed them), in one query."""

    def recipients(
        self, broadcast_id: int, *, batch: int = 5000
    ) -> AsyncIterator[Sequence[Recipient]]:
        """Its recipients in the outbox when asked (rows added later are left out), by id, in
        batches: keyset pages, each a short query of its own, so memory stays flat at a
        million. Raises OutboxPurged, before the first batch or between two, once retention
        summed the broadcast up."""
        ...

    async def recipient_groups(self, broadcast_id: int) -> list[RecipientGroup]:
        """Its recipients in the outbox counted per carrier, language, district, state and
        error, in the database (as many groups as combinations, whatever the audience).
        Raises OutboxPurged once retention summed the broadcast up."""


class BroadcastOutbox(Protocol):
    """A broadcast's recipients in the outbox: the fan-out and what is left of it."""

    async def fan_out_chunk(
        self,
        broadcast: Broadcast,
        *,
        chunk: int,
        carrier_of: Callable[[str], str | None],
        at: datetime,
    ) -> tuple[int, bool]:
        """Copies the next ``chunk`` subscribers into the outbox: (added, audience exhausted)."""

    async def fanned_out(self, broadcast_id: int) -> bool: ...

    async def queued_count(self, broadcast_id: int) -> int: ...

    async def expire_outbox(self, broadcast_id: int, *, at: datetime) -> int: ...
