"""What the inbox needs of a store (each backend implements it)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from smsgw.inbox.model import (
    Citizen,
    CitizenText,
    Entry,
    Filed,
    ServiceFigures,
    Ticket,
    TicketChange,
    TicketQuery,
)


class InboxStore(Protocol):
    async def citizens(
        self, msisdns: Collection[str], services: Collection[str] | None = None
    ) -> dict[str, Citizen]:
        """For each number known: tickets not closed, and language, district, STOP and active
        subscriptions among ``services`` (None: all; empty: none of these: only the tickets
        are read). Numbers not known are left out."""

    async def file(self, texts: list[CitizenText]) -> list[Filed]:
        """Each text into its number's ticket of its service not closed (reopening it when
        answered), else into a new ticket; in one transaction, in order. A text filed before
        (its inbound_id) is not filed again: its ticket is given back."""

    async def tickets(self, query: TicketQuery) -> list[Ticket]:
        """The latest first."""

    async def ticket(self, ticket_id: int) -> Ticket | None: ...

    async def thread(self, ticket_id: int) -> list[Entry]:
        """Its entries in order."""

    async def change(self, ticket_id: int, change: TicketChange) -> Ticket | None:
        """Store the entry and apply the change; None: no such ticket."""

    async def figures(
        self, since: datetime, until: datetime, now: datetime
    ) -> list[ServiceFigures]:
        """Per service, the tickets opened in [since, until)."""

    async def overdue(self, now: datetime) -> dict[str, int]:
        """Service → tickets past their target with no answer, not closed."""
