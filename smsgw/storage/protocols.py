"""What the use cases need from storage: small Protocols that every backend implements."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from smsgw.delivery.message import DeliveryBatch, DroppedReceipt, Message, MessageEvent
from smsgw.inbound.queue import HandledInbound, StoredInbound
from smsgw.tokens import ApiToken
from subscriptions.store import SubscriptionStore


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
    async def add_token(self, token: ApiToken) -> None: ...

    async def token_by_hash(self, token_hash: str) -> ApiToken | None: ...


class Store(MessageStore, DeliveryLog, InboundQueue, TokenStore, SubscriptionStore, Protocol):
    """A whole backend."""

    async def migrate(self) -> int:
        """Bring the schema up to date; returns the schema version."""

    async def close(self) -> None: ...
