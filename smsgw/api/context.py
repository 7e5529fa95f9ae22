"""What the HTTP API's handlers use, as typed application and request state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from aiohttp import web

from channels.base import Channel
from smsgw.access.accounts import Accounts
from smsgw.access.idempotency import IdempotencyStore
from smsgw.access.logins import Active, Logins
from smsgw.access.quota import DailyQuota
from smsgw.access.store import AuditLog, TokenStore
from smsgw.access.tokens import ApiToken
from smsgw.access.usage import TokenUsage
from smsgw.alerts.intake import AlertIntake
from smsgw.alerts.store import AlertStore
from smsgw.broadcasts.poll import PollStore
from smsgw.broadcasts.service import BroadcastService
from smsgw.config import BroadcastsConfig, CitizensConfig, HttpConfig, KpisConfig
from smsgw.delivery.message import Message
from smsgw.delivery.outbox import OutboxStore
from smsgw.delivery.sender import Audit, NewMessage
from smsgw.delivery.store import MessageStore
from smsgw.inbox.service import InboxService
from smsgw.kpis.history import History
from smsgw.kpis.rates import LiveRates
from smsgw.kpis.store import KpiStore
from smsgw.metrics import Metrics
from subscriptions.districts import Districts
from subscriptions.store import CatalogueStore, SubscriptionStore
from subscriptions.templates import Templates


class MessageSender(Protocol):
    async def create(
        self,
        to: str,
        text: str,
        *,
        segments: int,
        encoding: str,
        created_by: str | None = None,
        callback_url: str | None = None,
        audit: Audit | None = None,
    ) -> Message: ...

    async def create_many(
        self,
        new: Sequence[NewMessage],
        *,
        created_by: str | None = None,
        audit: Audit | None = None,
    ) -> list[Message]: ...


@dataclass(frozen=True, slots=True)
class Services:
    """Exactly what the handlers use; built by the composition root once the gateway runs."""

    region: str  # default region for numbers given without a country code
    timezone: ZoneInfo  # the gateway's: a send_at without an offset is read in it
    templates: Templates  # the citizen-facing texts; their languages are those one may choose
    districts: Districts  # the country's, by name and alias ([districts])
    channels: Sequence[Channel]
    instance: str  # this gateway's name among those sharing the database
    held: Callable[[], Sequence[str]]  # the channels whose bind this gateway holds now
    holders: Callable[[], Mapping[str, str]]  # channel -> the gateway holding it (last seen)
    gateways: Callable[[], list[str]]  # the gateways alive on the database (last seen)
    carrier_of: Callable[[str], str | None]  # a number's carrier; None: no channel serves it
    messages: MessageStore
    sender: MessageSender
    message_quota: DailyQuota  # POST /api/v1/messages per token and day
    idempotency: IdempotencyStore  # the sends' Idempotency-Key
    tokens: TokenStore
    token_usage: TokenUsage  # each API token's last use, written a minute at a time
    logins: Logins  # people's log-ins and sessions
    accounts: Accounts  # people's accounts, as admins keep them
    audit: AuditLog
    catalogue: CatalogueStore
    subscriptions: SubscriptionStore
    broadcasts: BroadcastService
    alerts: AlertIntake  # POST /api/v1/alerts
    alert_store: AlertStore  # the alerts received, for reading
    inbox: InboxService  # citizens' questions
    polls: PollStore  # broadcasts' poll answers
    outbox: OutboxStore
    kpis: KpiStore
    broadcast_settings: BroadcastsConfig
    citizen_settings: CitizensConfig  # the programme and contact named in texts to citizens
    http_settings: HttpConfig  # the import's limits
    kpi_settings: KpisConfig  # the programme's start and yearly targets
    live_rates: LiveRates  # submits and receipts per second, from the metrics
    history: History  # the last hour of throughput per bind and queue depth, sampled
    storage_error: Callable[[], str | None]  # why the database cannot be written, while so
    catalogue_changed: Callable[[], Awaitable[None]]  # awaited after every catalogue write


SERVICES = web.AppKey("services", Services)  # set when the gateway has started
METRICS = web.AppKey("metrics", Metrics)  # from the start: the middleware counts every request
PRINCIPAL = web.RequestKey("principal", ApiToken)  # set by the auth middleware
SESSION = web.RequestKey("session", Active)  # set too when a session cookie authenticated
