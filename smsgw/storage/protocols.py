"""What the use cases need from storage: small Protocols that every backend implements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from smsgw.audit import AuditAction, AuditEntry
from smsgw.broadcasts.model import (
    Broadcast,
    BroadcastState,
    BroadcastStats,
    OutboxMessage,
    Priority,
)
from smsgw.delivery.message import DeliveryBatch, DroppedReceipt, Message, MessageEvent
from smsgw.inbound.queue import HandledInbound, StoredInbound
from smsgw.kpis.figures import (
    ConsentFlow,
    DeliveryTotals,
    Period,
    ServiceCount,
    SubscriberCounts,
)
from smsgw.tokens import ApiToken
from subscriptions.store import CatalogueStore, SubscriptionStore


class MessageStore(Protocol):
    async def get_message(self, message_id: str) -> Message | None: ...

    async def message_history(self, message_id: str) -> list[MessageEvent]:
        """Oldest first."""

    async def queued_messages(self) -> list[Message]:
        """Messages not yet accepted by a carrier (picked up again at start-up)."""


class DeliveryLog(Protocol):
    async def record(self, batch: DeliveryBatch) -> None:
        """Apply one batch in one transaction: new messages, segments, then receipts (matched by
        carrier id, or kept as unmatched), the states of the messages they touched, the sender's
        outcomes, inbound texts."""

    async def purge_unmatched(self, before: datetime) -> list[DroppedReceipt]:
        """Drop receipts unmatched since before ``before``; returns what was dropped."""


class InboundQueue(Protocol):
    """Inbound texts, stored before they are acknowledged, handled once in arrival order."""

    async def unhandled_inbound(self, limit: int) -> list[StoredInbound]:
        """The oldest texts not yet handled."""

    async def mark_inbound_handled(self, handled: list[HandledInbound]) -> None: ...


class TokenStore(Protocol):
    async def add_token(self, token: ApiToken, audit: AuditEntry | None = None) -> None:
        """Stores a new token, and ``audit`` with it (in one transaction)."""

    async def token_by_hash(self, token_hash: str) -> ApiToken | None: ...

    async def token(self, token_id: str) -> ApiToken | None: ...

    async def tokens(self) -> list[ApiToken]:
        """All, revoked and expired ones too, oldest first."""

    async def revoke_token(self, token_id: str, *, at: datetime, audit: AuditEntry) -> bool:
        """False if there is no such token or it was revoked already."""


class AuditLog(Protocol):
    async def audit(self, entry: AuditEntry) -> None: ...

    async def audit_entries(
        self, *, before: int | None, limit: int, action: AuditAction | None = None
    ) -> list[AuditEntry]:
        """Newest first, ids below ``before``."""


class BroadcastStore(Protocol):
    """Broadcasts and their outbox (what the dispatcher writes goes through the DeliveryLog)."""

    async def add_broadcast(self, broadcast: Broadcast) -> int:
        """Stores a new broadcast (its ``id`` is ignored); returns its id."""

    async def broadcast(self, broadcast_id: int) -> Broadcast | None: ...

    async def broadcasts(
        self, *, ministry: str | None, before: int | None, limit: int
    ) -> list[Broadcast]:
        """Newest first, ids below ``before``; ``ministry`` None: all (else matched ignoring
        case and surrounding spaces)."""

    async def open_broadcasts(self) -> list[Broadcast]:
        """Scheduled, queued and sending ones: emergency first, then oldest first."""

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

    async def cancel_broadcast(self, broadcast_id: int, *, by: str, at: datetime) -> int | None:
        """Cancels an open broadcast and its queued messages (returns how many; None if it
        was not open)."""

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
        self, service: str, languages: list[str], default: str
    ) -> dict[str, int]: ...

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

    async def queued_by_priority(self) -> dict[Priority, int]:
        """Queued outbox messages of every broadcast, per priority (none: absent)."""

    async def expire_outbox(self, broadcast_id: int, *, at: datetime) -> int: ...

    async def broadcast_stats(self, broadcast_id: int) -> BroadcastStats: ...

    async def take_ready(
        self, *, carrier: str, priority: Priority, after: int, limit: int
    ) -> list[OutboxMessage]: ...

    async def take_retries(
        self, *, carrier: str, priority: Priority, now: datetime, limit: int
    ) -> list[OutboxMessage]: ...


class KpiStore(Protocol):
    """The figures of GET /api/v1/kpis, each counted in one read."""

    async def service_counts(self) -> list[ServiceCount]:
        """Every service, by ministry then keyword, with its subscribers now."""

    async def subscriber_counts(self) -> SubscriberCounts: ...

    async def consent_flow(self, periods: Sequence[Period]) -> list[ConsentFlow]:
        """Subscriptions begun and ended, and global STOPs, in each period."""

    async def broadcasts_sent(self, periods: Sequence[Period]) -> list[dict[str, int]]:
        """Broadcasts sending or done, created in each period, per ministry."""

    async def delivery_totals(self, period: Period) -> DeliveryTotals:
        """The outbox of the broadcasts created in ``period``."""


class Store(
    MessageStore,
    DeliveryLog,
    InboundQueue,
    TokenStore,
    AuditLog,
    CatalogueStore,
    SubscriptionStore,
    BroadcastStore,
    KpiStore,
    Protocol,
):
    """A whole backend."""

    async def migrate(self) -> int:
        """Bring the schema up to date; returns the schema version."""

    async def close(self) -> None: ...
