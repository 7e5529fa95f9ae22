"""The outbox: broadcast recipients' messages waiting for a bind, and what the dispatcher
reports about each. Broadcasts fill it (fan-out); the dispatcher empties it.

An outbox message travels on the channels and in message_parts as ``o<outbox id>`` (OUTBOX_PREFIX):
that is how the delivery log tells broadcast messages from single ones.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Protocol

OUTBOX_PREFIX = "o"


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
        return f"{OUTBOX_PREFIX}{self.id}"


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


def by_label(queued: Mapping[Priority, int]) -> dict[str, int]:
    """Queued counts by priority label, every priority present (absent ones at 0)."""
    return {p.label: queued.get(p, 0) for p in Priority}


class OutboxBroadcast(Protocol):
    """What the dispatcher needs of the broadcast an outbox message belongs to."""

    @property
    def id(self) -> int: ...
    @property
    def texts(self) -> dict[str, str]: ...
    @property
    def segments(self) -> dict[str, int]: ...
    @property
    def default_language(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def open(self) -> bool:
        """Not done nor cancelled: its messages may still go."""


class OutboxStore(Protocol):
    """The dispatcher's reads of the outbox (what it learns goes through the delivery log)."""

    async def take_ready(
        self, *, carrier: str, priority: Priority, after: int, limit: int
    ) -> list[OutboxMessage]:
        """Messages never tried, ids above ``after``, oldest first."""

    async def take_retries(
        self, *, carrier: str, priority: Priority, now: datetime, limit: int
    ) -> list[OutboxMessage]:
        """Messages whose retry time has come."""

    async def queued_by_priority(self) -> dict[Priority, int]:
        """Queued outbox messages of every broadcast, per priority (none: absent)."""

    async def release(self, carrier: str, ids: Sequence[int]) -> None:
        """Messages taken and not handed out (sending paused: quiet hours, binds down) are free
        again, for any gateway, at once (where a take is a claim; else nothing to do)."""

    async def keep(self, carrier: str, holding: Collection[int]) -> None:
        """The claims on ``carrier``'s messages among ``holding`` (read ahead, or handed out and
        not yet settled) renewed where due; the others are forgotten, to lapse (takes renew
        too; this is for a carrier whose sending waits: a slow SMSC, binds gone)."""
