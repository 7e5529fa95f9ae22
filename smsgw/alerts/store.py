"""The CAP alerts received, one row per alert (its CAP key: sender, identifier, sent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class AlertAction(StrEnum):
    """What the gateway did with an alert (SPEC: the answer's "action")."""

    PENDING = "pending"  # taken, being acted on (a crash may leave it so: said as it is)
    SENT = "sent"  # a broadcast to the routed service
    EXERCISE = "exercise"  # sent to the exercise list only
    NOT_SENT = "not_sent"  # stored only: Test, System, Ack, Error, expired, no route
    UPDATED = "updated"  # the referenced alerts' rest cancelled, the update sent
    CANCELLED = "cancelled"  # the referenced alerts' rest cancelled


@dataclass(frozen=True, slots=True)
class AlertRecord:
    id: int  # 0 until stored
    sender: str
    identifier: str
    sent: str  # as written in the CAP: part of its key
    status: str
    msg_type: str
    event: str
    headline: str
    action: AlertAction
    reason: str | None  # why not sent, or what happened to what it referenced
    service: str | None
    broadcast: int | None
    document: str  # the CAP as received
    received_by: str  # the token's id
    received_at: datetime
    scope: str = "Public"  # Restricted and Private alerts name their addressees: never published


class AlertStore(Protocol):
    async def claim(self, record: AlertRecord) -> AlertRecord | None:
        """Stores ``record`` (action pending) unless an alert with its key is stored: then
        that one, and nothing is stored. With several gateways, exactly one claims a key."""

    async def settle(
        self, alert_id: int, *, action: AlertAction, reason: str | None, service: str | None,
        broadcast: int | None,
    ) -> None:  # fmt: skip
        """What was done with a claimed alert."""

    async def alert(self, identifier: str) -> AlertRecord | None:
        """The latest alert received with ``identifier`` (any sender)."""

    async def alert_by_key(self, sender: str, identifier: str, sent: str) -> AlertRecord | None:
        """The alert with this CAP key (what ``references`` name)."""

    async def alert_by_id(self, alert_id: int) -> AlertRecord | None: ...

    async def alerts(
        self, *, limit: int, before: int | None = None, published: bool = False
    ) -> list[AlertRecord]:
        """The latest alerts first, ``limit`` of them, with ids below ``before`` if given;
        ``published``: only the Actual, Public ones acted on (sent, updated, cancelled)."""


# What the public feed (GET /alerts.atom) carries: warnings acted on, never tests or drills
PUBLISHED = (AlertAction.SENT, AlertAction.UPDATED, AlertAction.CANCELLED)  # Actual, Public
