"""A broadcast, its recipients' messages in the outbox, and what the dispatcher reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum


class BroadcastState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # the service needs a second person to approve
    SCHEDULED = "scheduled"  # send_at is in the future
    QUEUED = "queued"  # due: waits for its fan-out (or for the end of quiet hours)
    SENDING = "sending"  # the audience is in the outbox; messages are leaving
    DONE = "done"  # nothing left queued: every message was submitted, or ended otherwise
    CANCELLED = "cancelled"

    @property
    def open(self) -> bool:
        return self not in (BroadcastState.DONE, BroadcastState.CANCELLED)


class Priority(IntEnum):
    """Stored as a number: the dispatcher takes the smallest first."""

    EMERGENCY = 0
    NORMAL = 1

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Priority:
        return cls[label.upper()]


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    service: str
    ministry: str
    texts: dict[str, str]  # language → text
    segments: dict[str, int]  # language → SMS per message
    encodings: dict[str, str]  # language → gsm7 / ucs2
    default_language: str  # the service's: for subscribers whose language has no text
    priority: Priority
    state: BroadcastState
    send_at: datetime | None
    expires_at: datetime  # messages not submitted by then expire
    audience: int | None  # recipients put in the outbox (None before the fan-out)
    cost_estimate: float
    created_by: str  # token id
    created_at: datetime
    updated_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None
    cancelled_by: str | None = None
    cancelled_at: datetime | None = None
    started_at: datetime | None = None  # fan-out began
    finished_at: datetime | None = None  # nothing left queued


@dataclass(frozen=True, slots=True)
class BroadcastStats:
    """A broadcast's messages by state, and how fast receipts came back."""

    by_state: dict[str, int] = field(default_factory=dict)
    latency_p50_s: float | None = None  # submit → final receipt, over delivered messages
    latency_p95_s: float | None = None
    first_submit_at: datetime | None = None
    last_submit_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One recipient's message as the dispatcher takes it from the outbox."""

    id: int
    broadcast: int
    recipient: str  # E.164
    language: str
    priority: Priority
    attempts: int
    excluded: str | None = None  # "opted_out" / "left": a STOP since the fan-out; not sent

    @property
    def message_id(self) -> str:
        """Its id on the channels and in message_parts."""
        return f"o{self.id}"


class OutboxState(StrEnum):
    """States the dispatcher writes (submitted and the receipts' states come from the
    delivery log, as for every message)."""

    QUEUED = "queued"  # back in the queue, for a retry at ``not_before``
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutboxOutcome:
    """What the dispatcher learnt about one outbox message."""

    id: int
    state: OutboxState
    error: str | None = None
    not_before: datetime | None = None  # for QUEUED: when to try again
    attempted: bool = False  # count an attempt
