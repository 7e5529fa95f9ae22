"""The message as the gateway tracks it: states, history, and what one flush records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from channels.base import DeliveryReceipt, InboundSms, SegmentSubmitted
from smsgw.access.audit import AuditEntry
from smsgw.delivery.outbox import OutboxOutcome


class MessageState(StrEnum):
    QUEUED = "queued"  # stored, not yet accepted by a carrier
    SUBMITTED = "submitted"  # the carrier accepted at least one segment; awaiting receipts
    DELIVERED = "delivered"  # every segment delivered
    UNDELIVERABLE = "undeliverable"  # a segment could not be delivered
    EXPIRED = "expired"  # validity ran out (at the carrier, or while we retried)
    REJECTED = "rejected"  # refused before or at submit (no route, bad number, carrier error)
    FAILED = "failed"  # a final receipt without a clear outcome, or an internal error
    CANCELLED = "cancelled"
    # accepted by a carrier, but no final receipt by the end of its validity (and an hour's
    # grace): it may have arrived. The one final state a late receipt may still change.
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        return self not in (MessageState.QUEUED, MessageState.SUBMITTED)


# Not final, or final without an outcome: what a delivery rate leaves out (over the finished).
WITHOUT_OUTCOME = frozenset({MessageState.QUEUED, MessageState.SUBMITTED, MessageState.CANCELLED})


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    to: str  # E.164
    sender: str
    text: str
    state: MessageState
    parts: int  # segments counted when it was accepted
    encoding: str
    channel: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime  # after this, retries stop and the message expires
    created_by: str | None = None  # the API token that sent it (None: a reply to a citizen)
    callback_url: str | None = None  # where each change of its state is POSTed
    carrier: str | None = None  # whose network its number is on, by the prefixes when made


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """One history row: a state change, a receipt for one part, or a sender event."""

    at: datetime
    state: str  # a MessageState, a receipt state, or an event such as "retry_scheduled"
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the sender learnt about a message; ``state`` None only adds history."""

    message_id: str
    event: str
    state: MessageState | None = None
    detail: str | None = None


@dataclass(slots=True)
class DeliveryBatch:
    """Everything recorded in one transaction, each list in arrival order.

    Items carry the time they arrived (``time.time()``): history rows are ordered by it, so a
    retry that preceded a submit in the same batch still reads before it.
    """

    messages: list[Message] = field(default_factory=list)  # new, queued
    segments: list[tuple[str, SegmentSubmitted, float]] = field(default_factory=list)  # carrier…
    receipts: list[tuple[str, DeliveryReceipt, float]] = field(default_factory=list)  # carrier…
    inbound: list[tuple[str, InboundSms, float]] = field(default_factory=list)  # (id, …, at)
    outcomes: list[tuple[Outcome, float]] = field(default_factory=list)
    outbox: list[tuple[OutboxOutcome, float]] = field(default_factory=list)  # broadcasts'
    audit: list[AuditEntry] = field(default_factory=list)  # of the new messages' senders

    def __len__(self) -> int:
        return (
            len(self.outbox)
            + len(self.audit)
            + len(self.messages)
            + len(self.segments)
            + len(self.receipts)
            + len(self.inbound)
            + len(self.outcomes)
        )


@dataclass(frozen=True, slots=True)
class DroppedReceipt:
    """A receipt that never found its message within the keep time."""

    carrier: str
    carrier_id: str
    state: str
    received_at: datetime
