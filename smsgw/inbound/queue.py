"""The rows of the inbound work queue (stored by the Recorder, handled by the InboundHandler)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class InboundOutcome(StrEnum):
    ANSWERED = "answered"  # handled; the replies are queued
    SILENCED = "silenced"  # handled (a STOP still counts), replies held back by the rate limit
    DUPLICATE = "duplicate"  # the same text from the same number moments ago: handled once
    NOT_ANSWERED = "not_answered"  # from a short code or an alphanumeric sender: no reply
    INVALID_NUMBER = "invalid_number"  # the sender is not a number we can normalise
    FAILED = "failed"  # an internal error; logged


@dataclass(frozen=True, slots=True)
class StoredInbound:
    id: str
    sender: str
    to: str
    text: str
    channel: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class HandledInbound:
    id: str
    outcome: InboundOutcome
    at: datetime


class InboundQueue(Protocol):
    """Inbound texts, stored before they are acknowledged, handled once in arrival order."""

    async def unhandled_inbound(self, limit: int) -> list[StoredInbound]:
        """The oldest texts not yet handled."""

    async def mark_inbound_handled(self, handled: list[HandledInbound]) -> None: ...
