"""A broadcast: one text per language to a service's subscribers, and its progress."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from smsgw.broadcasts.poll import Poll
from smsgw.delivery.outbox import Priority


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
    cancel_reason: str | None = None  # when not by a person: e.g. "service_deactivated"
    # an import's sign-up confirmations: only those who joined the service at that moment
    joined_at: datetime | None = None
    # only these districts' subscribers, and those who never said theirs (None: everyone)
    districts: tuple[str, ...] | None = None
    poll: Poll | None = None  # answers from its audience are counted until poll.closes_at

    @property
    def open(self) -> bool:
        return self.state.open


@dataclass(frozen=True, slots=True)
class CarrierProgress:
    """A broadcast's messages per carrier and state, and its first submit: cheap enough for a
    page that polls many (an alert's: no percentiles)."""

    first_submit_at: datetime | None
    by_carrier: dict[str, dict[str, int]]

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, int, datetime | None]]) -> CarrierProgress:
        """From (carrier, state, count, first submit) rows."""
        by_carrier: dict[str, dict[str, int]] = {}
        firsts = []
        for carrier, state, count, first in rows:
            by_carrier.setdefault(carrier, {})[state] = count
            if first is not None:
                firsts.append(first)
        return cls(min(firsts, default=None), by_carrier)


@dataclass(frozen=True, slots=True)
class BroadcastStats:
    """A broadcast's messages by state, and how fast receipts came back."""

    by_state: dict[str, int] = field(default_factory=dict)
    latency_p50_s: float | None = None  # submit → final receipt, over delivered messages
    latency_p95_s: float | None = None
    first_submit_at: datetime | None = None
    last_submit_at: datetime | None = None
