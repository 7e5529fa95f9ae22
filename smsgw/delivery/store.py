"""What delivery needs from storage: single messages and the delivery log."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from smsgw.delivery.message import (
    DeliveryBatch,
    DroppedReceipt,
    Message,
    MessageEvent,
    MessageState,
)

# How long a gateway's hold on a single message lasts unless renewed (the sender renews every
# third of it): a gateway that dies holding messages leaves them to the others after this. A
# running gateway's claims last [cluster] lease_s, as its binds do; this is for the others.
MESSAGE_CLAIM = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class MessageFilter:
    state: MessageState | None = None
    to: str | None = None  # E.164
    created_by: str | None = None  # a token id
    since: datetime | None = None  # created at or after
    before: tuple[datetime, str] | None = None  # (created_at, id) of the last one seen


class MessageStore(Protocol):
    async def get_message(self, message_id: str) -> Message | None: ...

    async def message_states(self, message_ids: Collection[str]) -> dict[str, MessageState]:
        """The state of each of these messages that exists, in one read (a thread's answers)."""

    async def message_history(self, message_id: str) -> list[MessageEvent]:
        """Oldest first."""

    async def take_queued(
        self,
        *,
        instance: str,
        carriers: Collection[str],
        limit: int,
        excluding: Collection[str] = (),
    ) -> list[Message]:
        """The oldest ``limit`` messages not yet accepted by a carrier, oldest first, on one of
        ``carriers`` (or on none), not in ``excluding``, and not held by another gateway: those
        left by the last run, those of a burst the sender keeps out of memory, and (several
        gateways) those another took for a carrier it has no bind of, or held when it died.
        They are ``instance``'s now: on PostgreSQL claimed for MESSAGE_CLAIM, on SQLite (one
        gateway) only read."""

    async def renew_messages(self, instance: str, ids: Collection[str]) -> None:
        """``instance`` is still sending these: its claims run for another MESSAGE_CLAIM."""

    async def release_messages(self, instance: str, ids: Collection[str]) -> None:
        """``instance`` will not send these (it holds no bind of their carrier): another may."""

    async def sent_by(self, token_id: str, *, since: datetime) -> int:
        """Messages the token created since ``since`` (its daily quota)."""

    async def find_messages(self, where: MessageFilter, *, limit: int) -> list[Message]:
        """Newest first (by creation, then id), those matching every filter given."""


class DeliveryLog(Protocol):
    async def record(self, batch: DeliveryBatch) -> None:
        """Apply one batch in one transaction: new messages, segments, then receipts (matched by
        carrier id, or kept as unmatched), the states of the messages they touched, the sender's
        outcomes, inbound texts."""

    async def purge_unmatched(self, before: datetime) -> list[DroppedReceipt]:
        """Drop receipts unmatched since before ``before``; returns what was dropped."""

    async def settle_unconfirmed(self, expired_before: datetime) -> list[str]:
        """Single messages accepted (``submitted``) whose validity ended before
        ``expired_before`` with no final receipt become ``unknown`` (error ``no_receipt``,
        with a history row); returns their ids."""
