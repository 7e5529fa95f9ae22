"""What the HTTP API needs from the gateway, as typed application and request state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from zoneinfo import ZoneInfo

from aiohttp import web

from channels.base import Channel
from smsgw.broadcasts.model import Broadcast
from smsgw.config import BroadcastsConfig, KpisConfig
from smsgw.delivery.message import Message
from smsgw.kpis.rates import LiveRates
from smsgw.metrics import Metrics
from smsgw.storage.protocols import AuditLog, BroadcastStore, KpiStore, MessageStore, TokenStore
from smsgw.tokens import ApiToken
from subscriptions.store import CatalogueStore, SubscriptionStore
from subscriptions.templates import Templates


class MessageSender(Protocol):
    async def create(self, to: str, text: str, *, segments: int, encoding: str) -> Message: ...


class SubscriptionStores(CatalogueStore, SubscriptionStore, Protocol):
    """The catalogue and the subscriptions, from one backend."""


class ApiDeps(Protocol):
    """Implemented by :class:`smsgw.app.Gateway`; valid once the application has started."""

    @property
    def region(self) -> str:
        """Default region for numbers given without a country code."""

    @property
    def messages(self) -> MessageStore: ...

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def sender(self) -> MessageSender: ...

    @property
    def channels(self) -> Sequence[Channel]: ...

    @property
    def subscriptions(self) -> SubscriptionStores: ...

    @property
    def templates(self) -> Templates:
        """The citizen-facing texts; their languages are the ones a subscriber may choose."""

    async def catalogue_changed(self) -> None:
        """Awaited after every write to the service catalogue."""

    @property
    def broadcasts(self) -> BroadcastStore: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def broadcast_settings(self) -> BroadcastsConfig: ...

    @property
    def timezone(self) -> ZoneInfo:
        """The gateway's: a send_at without an offset is read in it."""

    @property
    def storage_error(self) -> str | None:
        """Why the database cannot be written, while it cannot (disk full, locked)."""

    def broadcasts_changed(self, broadcast: Broadcast | None = None) -> None:
        """Called after a broadcast is created, approved or cancelled."""

    @property
    def metrics(self) -> Metrics:
        """Valid before the start too (the HTTP middleware counts every request)."""

    @property
    def kpis(self) -> KpiStore: ...

    @property
    def kpi_settings(self) -> KpisConfig:
        """The programme's start and yearly targets."""

    @property
    def live_rates(self) -> LiveRates:
        """Submits and receipts per second, from the metrics."""


DEPS = web.AppKey("deps", ApiDeps)
PRINCIPAL = web.RequestKey("principal", ApiToken)  # set by the auth middleware
