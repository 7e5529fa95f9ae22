"""The composition root: the only place where concrete classes are wired together.

``build_app(settings)`` returns the aiohttp application; its clean-up context starts the
gateway (store → recorder → channels → sender → inbound handler → dispatcher and scheduler)
and stops it in the reverse order, so the channels unbind before the last receipts are written
and the database is closed last. Each part gets exactly the repositories it uses; the HTTP
API gets a frozen ``Services`` (api/context.py) once the gateway runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import structlog
from aiohttp import web

from channels.base import Channel
from channels.routing import Router
from channels.smpp.config import SmppChannelConfig
from channels.text import text_info
from smsgw import api, console
from smsgw.access.accounts import Accounts
from smsgw.access.cache import TokenCache
from smsgw.access.logins import Logins
from smsgw.access.passwords import Passwords
from smsgw.access.principals import Principals
from smsgw.access.quota import DailyQuota
from smsgw.access.store import TokenStore
from smsgw.access.usage import TokenUsage
from smsgw.alerts.feeds import FeedPoller
from smsgw.alerts.intake import AlertIntake
from smsgw.api.auth import FailedAuth
from smsgw.api.context import SERVICES, Services
from smsgw.broadcasts.model import Broadcast
from smsgw.broadcasts.scheduler import Scheduler
from smsgw.broadcasts.service import BroadcastService
from smsgw.cluster.leases import LeaseKeeper
from smsgw.config import Settings
from smsgw.delivery.callbacks import Notifier
from smsgw.delivery.dispatcher import Dispatcher
from smsgw.delivery.outbox import by_label
from smsgw.delivery.quiet import QuietHours
from smsgw.delivery.recorder import Recorder
from smsgw.delivery.retention import Retention
from smsgw.delivery.sender import RetryPolicy, Sender
from smsgw.errors import ConfigError, StorageUnavailable
from smsgw.inbound.guard import Guard
from smsgw.inbound.handler import InboundHandler
from smsgw.inbox.conversations import Conversations
from smsgw.inbox.service import InboxService
from smsgw.kpis.history import History
from smsgw.kpis.rates import LiveRates
from smsgw.metrics import Metrics
from smsgw.storage import Store, open_store
from smsgw.tasks import Tasks
from subscriptions.service import SubscriptionService
from subscriptions.templates import TemplateError, Templates

_log = structlog.get_logger(__name__)

# the repo's templates/ (a checkout, an editable install), else those a wheel installs
_CHECKOUT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATES_DIR = (
    _CHECKOUT_TEMPLATES
    if _CHECKOUT_TEMPLATES.is_dir()
    else Path(sys.prefix) / "share" / "smsgw" / "templates"
)

ChannelFactory = Callable[[SmppChannelConfig], Channel]


def smpp_channel(config: SmppChannelConfig) -> Channel:
    from channels.smpp.channel import SmppChannel  # imported when used: a test passes its own

    return SmppChannel(config)


def _load_templates(folder: Path) -> Templates:
    try:
        return Templates.load(folder)
    except TemplateError as exc:  # a deployment's own texts: as bad as a bad config.toml
        raise ConfigError(f"{folder}: {exc}") from None


class Gateway:
    """Owns the running parts: starts them, stops them in the reverse order."""

    def __init__(
        self,
        settings: Settings,
        *,
        channel_factory: ChannelFactory = smpp_channel,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.channels: Sequence[Channel] = [channel_factory(c) for c in settings.channels]
        self._router = Router(self.channels)
        self.metrics = Metrics(self.channels)
        self._live_rates = LiveRates(self.metrics.counts)
        operator = settings.operator
        self._history = History(
            self.metrics.counts, self._queue_depth,
            every_s=operator.history_every_s, points=operator.history_points,
        )  # fmt: skip
        self._retry = retry
        self._templates = _load_templates(settings.citizens.templates_dir or TEMPLATES_DIR)
        self._stack = contextlib.AsyncExitStack()
        self._store: Store | None = None
        self._recorder: Recorder | None = None
        self._sender: Sender | None = None
        self._citizens: SubscriptionService | None = None
        self._dispatcher: Dispatcher | None = None
        self._scheduler: Scheduler | None = None
        self._inbound: InboundHandler | None = None
        self._conversations: Conversations | None = None
        self._news = Tasks()  # what the other gateways' news starts (a reload, a lookup)
        self._shutdown_by: float | None = None
        self.leases: LeaseKeeper | None = None
        self._token_usage: TokenUsage | None = None

    async def start(self) -> None:
        stack = self._stack
        try:
            cluster = self.settings.cluster
            # a dead gateway's work passes on with its binds: claims last as long as leases
            claim = timedelta(seconds=cluster.lease_s)
            self._store = store = await open_store(
                self.settings.database, serving=True, instance=cluster.instance, claim=claim
            )
            stack.push_async_callback(store.close)
            carriers = {channel.name: channel.carrier for channel in self.channels}
            retention = self.settings.retention
            self._recorder = recorder = Recorder(
                store.delivery, carriers, metrics=self.metrics,
                unmatched_keep=timedelta(minutes=retention.unmatched_receipts_minutes),
            )  # fmt: skip
            await recorder.start()
            stack.push_async_callback(recorder.close)
            self.leases = keeper = LeaseKeeper(
                store.leases, self.channels, recorder,
                instance=cluster.instance, lease_s=cluster.lease_s, balance=cluster.balance,
                on_bound=self._bind_up,
            )  # fmt: skip
            self.metrics.holding(lambda: keeper.held)
            stack.push_async_callback(keeper.let_go)  # last: once unbound, others may bind
            await keeper.start()  # binds the channels this gateway holds (all, on SQLite)
            stack.push_async_callback(lambda: self._stop_channels(self._shutdown_left()))
            stack.push_async_callback(keeper.stop)  # first: no bind taken while stopping
            self._sender = sender = Sender(
                self._router,
                store.messages,
                recorder,
                short_code=self.settings.gateway.short_code,
                policy=self._retry,
                metrics=self.metrics,
                instance=cluster.instance,
                carriers=lambda: {c.carrier for c in self.channels if c.name in keeper.held},
                # PostgreSQL: other gateways may leave messages to this one (or it to them)
                shared_poll_s=1.0 if self.settings.database.is_postgres else None,
                claim=claim,
            )
            stack.push_async_callback(lambda: sender.stop(grace=self._shutdown_left()))
            await sender.resume()
            await self._start_citizens(store, recorder, sender)
            await self._start_broadcasts(store, recorder)
            await self._live_rates.start()
            stack.push_async_callback(self._live_rates.stop)
            await self._history.start()
            stack.push_async_callback(self._history.stop)
            self._token_usage = usage = TokenUsage(store.tokens)
            await usage.start()
            stack.push_async_callback(usage.stop)  # before the store closes: the last uses
            purger = Retention(store.retention, retention)
            await purger.start()
            stack.push_async_callback(purger.stop)
            calls = self.settings.callbacks
            notifier = Notifier(
                store.callbacks, store.tokens, metrics=self.metrics, timeout_s=calls.timeout_s,
                first_retry_s=calls.first_retry_s, give_up=timedelta(hours=calls.give_up_hours),
            )  # fmt: skip
            await notifier.start()
            stack.push_async_callback(notifier.stop)
            intake = self._alert_intake(self._broadcast_service(store.tokens))
            feeds = FeedPoller(self.settings.alerts.feeds, intake.receive)
            await feeds.start()
            stack.push_async_callback(feeds.stop)
            self._watch(store)
        except BaseException:
            await stack.aclose()
            raise
        _log.info("gateway_started", channels=[channel.name for channel in self.channels])

    async def _queue_depth(self) -> dict[str, int]:
        return by_label(await self.store.outbox.queued_by_priority())

    def _bind_up(self) -> None:
        """A bind taken over is up: what waits for its carrier goes now, not at the next look."""
        if self._dispatcher is not None:
            self._dispatcher.wake()
        if self._sender is not None:
            self._sender.wake()

    def _watch(self, store: Store) -> None:
        """PostgreSQL: the other gateways' news wakes the parts here that it concerns (each
        also looks by itself every second or so)."""
        dispatcher, handler = _started(self._dispatcher), _started(self._inbound)
        store.watch("outbox", lambda _: dispatcher.wake())
        store.watch("messages", lambda _: self.sender.wake())
        store.watch("inbound", lambda _: handler.wake())
        store.watch("catalogue", lambda _: self._news.spawn(self._news_of(None), name="news"))
        store.watch(
            "broadcasts",
            lambda payload: self._news.spawn(
                self._news_of(int(payload) if payload.isdigit() else None), name="news"
            ),
        )
        self._stack.push_async_callback(self._news.cancel)

    async def _news_of(self, broadcast_id: int | None) -> None:
        """A broadcast created or changed (``broadcast_id``), else the catalogue changed or
        news was missed: what this gateway keeps in memory is brought up to date."""
        try:
            if broadcast_id is None:
                await self.catalogue_changed()
                self.broadcasts_changed()
            else:
                self.broadcasts_changed(await self.store.broadcasts.broadcast(broadcast_id))
        except StorageUnavailable as exc:  # the polls catch up
            _log.warning("news_not_applied", error=str(exc))
        finally:
            self._news.forget_done()

    async def _start_citizens(self, store: Store, recorder: Recorder, sender: Sender) -> None:
        """The keyword engine behind the short code, fed by the persisted inbound queue."""
        citizens = self.settings.citizens
        self._citizens = service = SubscriptionService(
            store.catalogue,
            store.subscriptions,
            self._templates,
            programme=citizens.programme,
            contact=citizens.contact,
            fits_one_sms=lambda text: text_info(text).segments == 1,
            districts=self.settings.district_index().words,
        )
        await service.refresh()
        self._conversations = conversations = Conversations(
            store.inbox, store.polls, store.broadcasts, service, self.settings.inbox
        )
        guard = Guard(
            duplicate_window=timedelta(seconds=citizens.duplicate_window_s),
            reply_limit=citizens.reply_limit,
            reply_window=timedelta(seconds=citizens.reply_window_s),
            daily_limit=citizens.daily_reply_limit,
        )
        self._inbound = handler = InboundHandler(
            store.inbound,
            service,
            sender.reply,
            region=self.settings.gateway.default_region,
            guard=guard,
            metrics=self.metrics,
            # PostgreSQL: others' texts (a dead gateway's, once their claims lapse) come too
            poll_s=1.0 if self.settings.database.is_postgres else None,
            inbox=conversations,
        )
        recorder.on_inbound = handler.wake
        await handler.start()
        self._stack.push_async_callback(handler.stop)

    async def _start_broadcasts(self, store: Store, recorder: Recorder) -> None:
        """The outbox dispatcher, and the scheduler that fans broadcasts out into it."""
        settings = self.settings
        quiet = QuietHours(settings.broadcasts.quiet_hours, settings.gateway.zone)
        self._dispatcher = dispatcher = Dispatcher(
            store.outbox,
            store.broadcasts,
            self._router,
            recorder,
            short_code=settings.gateway.short_code,
            quiet=quiet,
            queue_ahead_s=settings.broadcasts.queue_ahead_s,
            policy=self._retry,
            metrics=self.metrics,
        )
        await dispatcher.start()
        self._stack.push_async_callback(dispatcher.stop)
        self._scheduler = scheduler = Scheduler(
            store.broadcasts,
            store.outbox,
            dispatcher,
            carrier_of=self._router.try_carrier,
            quiet=quiet,
            # replies and poll answers to it may come at once: the inbox reads it again
            started=lambda: self._conversations.forget_recent() if self._conversations else None,
        )
        await scheduler.start()
        self._stack.push_async_callback(scheduler.stop)

    async def stop(self) -> None:
        """Stops everything; the waits for work in flight share ``shutdown_timeout_s``."""
        budget = self.settings.gateway.shutdown_timeout_s
        self._shutdown_by = asyncio.get_running_loop().time() + budget
        await self._stack.aclose()
        _log.info("gateway_stopped")

    def _shutdown_left(self) -> float:
        if self._shutdown_by is None:  # a failed start unwinding: no work to wait for
            return 0.0
        return max(0.0, self._shutdown_by - asyncio.get_running_loop().time())

    async def _stop_channels(self, drain_s: float) -> None:
        results = await asyncio.gather(
            *(channel.stop(drain_s) for channel in self.channels), return_exceptions=True
        )
        for channel, result in zip(self.channels, results, strict=True):
            if isinstance(result, Exception):
                _log.error("channel_stop_failed", channel=channel.name, error=repr(result))

    async def lifespan(self, app: web.Application) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx``: the API's services exist once the gateway runs."""
        await self.start()
        app[SERVICES] = self.services()
        try:
            yield
        finally:
            await self.stop()

    def _broadcast_service(self, tokens: TokenStore) -> BroadcastService:
        return BroadcastService(
            self.store.broadcasts,
            self.store.catalogue,
            tokens,
            self.store.audit,
            self.settings.broadcasts,
            zone=self.settings.gateway.zone,
            # looked up when called, as the gateway's own methods
            changed=lambda broadcast: self.broadcasts_changed(broadcast),
        )

    def _alert_intake(self, broadcasts: BroadcastService) -> AlertIntake:
        settings = self.settings
        return AlertIntake(
            self.store.alerts,
            broadcasts,
            self.store.catalogue,
            self.store.audit,
            settings.alerts,
            sender=self.sender,
            subscriptions=self.store.subscriptions,
            templates=self._templates,
            programme=settings.citizens.programme,
            districts=settings.district_index(),
        )

    def services(self) -> Services:
        """What the HTTP API's handlers use (valid once started)."""
        settings = self.settings
        tokens = TokenCache(self.store.tokens)  # every request looks its token up
        principals = Principals(tokens, self.store.people)  # approval and the inbox: people too
        broadcasts = self._broadcast_service(principals)
        passwords = Passwords(settings.http.password_hash_memory_kib)
        return Services(
            region=settings.gateway.default_region,
            timezone=settings.gateway.zone,
            templates=self._templates,
            districts=settings.district_index(),
            channels=self.channels,
            instance=settings.cluster.instance,
            held=lambda: self.leases.held if self.leases else [],
            holders=lambda: self.leases.holders if self.leases else {},
            gateways=lambda: self.leases.gateways if self.leases else [],
            carrier_of=self._router.try_carrier,
            messages=self.store.messages,
            sender=self.sender,
            message_quota=DailyQuota(
                settings.http.daily_messages_per_token,
                lambda token, since: self.store.messages.sent_by(token, since=since),
                settings.gateway.zone,
                shared=self.store.shared_quota,
            ),
            idempotency=self.store.idempotency,
            tokens=tokens,
            token_usage=self.token_usage,
            logins=Logins(
                self.store.people,
                self.store.audit,
                passwords,
                idle=timedelta(minutes=settings.http.session_idle_minutes),
                lifetime=timedelta(hours=settings.http.session_hours),
            ),
            accounts=Accounts(self.store.people, passwords),
            audit=self.store.audit,
            catalogue=self.store.catalogue,
            subscriptions=self.store.subscriptions,
            broadcasts=broadcasts,
            alerts=self._alert_intake(broadcasts),
            alert_store=self.store.alerts,
            inbox=InboxService(
                self.store.inbox,
                self.store.catalogue,
                principals,
                self.store.audit,
                self.sender,
                settings.inbox,
                max_segments=settings.broadcasts.max_segments,
            ),
            polls=self.store.polls,
            outbox=self.store.outbox,
            kpis=self.store.kpis,
            broadcast_settings=settings.broadcasts,
            citizen_settings=settings.citizens,
            http_settings=settings.http,
            kpi_settings=settings.kpis,
            live_rates=self._live_rates,
            history=self._history,
            storage_error=lambda: self.recorder.storage_error,
            catalogue_changed=lambda: self.catalogue_changed(),
        )

    # what the API calls back, and what tests and benchmarks reach

    def broadcasts_changed(self, broadcast: Broadcast | None = None) -> None:
        """A broadcast was created, approved or cancelled (``broadcast``: as it is now)."""
        if broadcast is not None and self._dispatcher is not None:
            self._dispatcher.changed(broadcast)
        if self._scheduler is not None:
            self._scheduler.wake()
        if self._conversations is not None:
            self._conversations.forget_recent()

    async def catalogue_changed(self) -> None:
        """After every service write: the keyword engine rebuilds its parser (it precomputes
        every keyword and alias)."""
        if self._citizens is not None:
            await self._citizens.refresh()

    @property
    def store(self) -> Store:
        return _started(self._store)

    @property
    def token_usage(self) -> TokenUsage:
        return _started(self._token_usage)

    @property
    def recorder(self) -> Recorder:
        return _started(self._recorder)

    @property
    def sender(self) -> Sender:
        return _started(self._sender)


T = TypeVar("T")


def _started(part: T | None) -> T:
    if part is None:
        raise RuntimeError("the gateway is not started")
    return part


GATEWAY = web.AppKey("gateway", Gateway)


def build_app(
    settings: Settings,
    *,
    channel_factory: ChannelFactory = smpp_channel,
    retry: RetryPolicy | None = None,
) -> web.Application:
    gateway = Gateway(settings, channel_factory=channel_factory, retry=retry)
    http = settings.http
    app = api.create_app(
        gateway.metrics,
        failed_auth=FailedAuth(http.failed_auth_limit, http.failed_auth_window_s),
        trusted_proxies=http.trusted_proxies,
    )
    console.add_routes(app)
    app[GATEWAY] = gateway
    app.cleanup_ctx.append(gateway.lifespan)
    return app
