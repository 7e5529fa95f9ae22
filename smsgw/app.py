"""The composition root: the only place where concrete classes are wired together.

``build_app(settings)`` returns the aiohttp application; its clean-up context starts the
gateway (store → recorder → channels → sender → inbound handler) and stops it in the reverse
order, so the channels unbind before the last receipts are written and the database is closed
last.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from channels.base import Channel
from channels.routing import Router
from channels.smpp.config import SmppChannelConfig
from channels.text import text_info
from smsgw import api, console
from smsgw.api.auth import FailedAuth
from smsgw.broadcasts.dispatcher import Dispatcher
from smsgw.broadcasts.model import Broadcast
from smsgw.broadcasts.quiet import QuietHours
from smsgw.broadcasts.scheduler import Scheduler
from smsgw.config import BroadcastsConfig, KpisConfig, Settings
from smsgw.delivery.recorder import Recorder
from smsgw.delivery.sender import RetryPolicy, Sender
from smsgw.errors import ConfigError
from smsgw.inbound.guard import Guard
from smsgw.inbound.handler import InboundHandler
from smsgw.kpis.rates import LiveRates
from smsgw.metrics import Metrics
from smsgw.storage import Store, open_store
from subscriptions.service import SubscriptionService
from subscriptions.templates import TemplateError, Templates

_log = structlog.get_logger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"  # the repo's templates/

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
    """Owns the running parts; implements :class:`smsgw.api.ApiDeps` for the HTTP API."""

    def __init__(
        self,
        settings: Settings,
        *,
        channel_factory: ChannelFactory = smpp_channel,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self._channels = [channel_factory(config) for config in settings.channels]
        self._router = Router(self._channels)
        self._metrics = Metrics(self._channels)
        self._live_rates = LiveRates(self._metrics.counts)
        self._retry = retry
        self._store: Store | None = None
        self._recorder: Recorder | None = None
        self._sender: Sender | None = None
        self._stack = contextlib.AsyncExitStack()
        self._templates = _load_templates(settings.citizens.templates_dir or TEMPLATES_DIR)
        self._subscription_service: SubscriptionService | None = None
        self._dispatcher: Dispatcher | None = None
        self._scheduler: Scheduler | None = None
        self._shutdown_by: float | None = None

    async def start(self) -> None:
        stack = self._stack
        try:
            self._store = store = await open_store(self.settings.database)
            stack.push_async_callback(store.close)
            carriers = {channel.name: channel.carrier for channel in self._channels}
            self._recorder = recorder = Recorder(store, carriers, metrics=self._metrics)
            await recorder.start()
            stack.push_async_callback(recorder.close)
            for channel in self._channels:
                await channel.start(recorder)
            stack.push_async_callback(lambda: self._stop_channels(self._shutdown_left()))
            self._sender = sender = Sender(
                self._router,
                store,
                recorder,
                short_code=self.settings.gateway.short_code,
                policy=self._retry,
                metrics=self._metrics,
            )
            stack.push_async_callback(lambda: sender.stop(grace=self._shutdown_left()))
            await sender.resume()
            await self._start_citizens(store, recorder, sender)
            await self._start_broadcasts(store, recorder)
            await self._live_rates.start()
            stack.push_async_callback(self._live_rates.stop)
        except BaseException:
            await stack.aclose()
            raise
        _log.info("gateway_started", channels=[channel.name for channel in self._channels])

    async def _start_citizens(self, store: Store, recorder: Recorder, sender: Sender) -> None:
        """The keyword engine behind the short code, fed by the persisted inbound queue."""
        citizens = self.settings.citizens
        self._subscription_service = service = SubscriptionService(
            store,
            store,
            self._templates,
            programme=citizens.programme,
            contact=citizens.contact,
            fits_one_sms=lambda text: text_info(text).segments == 1,
        )
        await service.refresh()

        async def reply(to: str, body: str, via: str) -> None:
            info = text_info(body)
            await sender.create(to, body, segments=info.segments, encoding=info.encoding, via=via)

        guard = Guard(
            duplicate_window=timedelta(seconds=citizens.duplicate_window_s),
            reply_limit=citizens.reply_limit,
            reply_window=timedelta(seconds=citizens.reply_window_s),
        )
        handler = InboundHandler(
            store, service, reply, region=self.region, guard=guard, metrics=self._metrics
        )
        recorder.on_inbound = handler.wake
        await handler.start()
        self._stack.push_async_callback(handler.stop)

    async def _start_broadcasts(self, store: Store, recorder: Recorder) -> None:
        """The outbox dispatcher, and the scheduler that fans broadcasts out into it."""
        settings = self.settings
        quiet = QuietHours(settings.broadcasts.quiet_hours, settings.gateway.zone)
        self._dispatcher = dispatcher = Dispatcher(
            store,
            self._router,
            recorder,
            short_code=settings.gateway.short_code,
            quiet=quiet,
            queue_ahead_s=settings.broadcasts.queue_ahead_s,
            policy=self._retry,
            metrics=self._metrics,
        )
        await dispatcher.start()
        self._stack.push_async_callback(dispatcher.stop)
        self._scheduler = scheduler = Scheduler(
            store, dispatcher, carrier_of=self._router.try_carrier, quiet=quiet
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

    async def lifespan(self, _app: web.Application) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx``."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def _stop_channels(self, drain_s: float) -> None:
        results = await asyncio.gather(
            *(channel.stop(drain_s) for channel in self._channels), return_exceptions=True
        )
        for channel, result in zip(self._channels, results, strict=True):
            if isinstance(result, Exception):
                _log.error("channel_stop_failed", channel=channel.name, error=repr(result))

    # ApiDeps

    @property
    def region(self) -> str:
        return self.settings.gateway.default_region

    @property
    def channels(self) -> Sequence[Channel]:
        return self._channels

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the gateway is not started")
        return self._store

    messages = tokens = subscriptions = broadcasts = audit = kpis = store

    @property
    def broadcast_settings(self) -> BroadcastsConfig:
        return self.settings.broadcasts

    @property
    def timezone(self) -> ZoneInfo:
        return self.settings.gateway.zone

    @property
    def storage_error(self) -> str | None:
        return self._recorder.storage_error if self._recorder is not None else None

    def broadcasts_changed(self, broadcast: Broadcast | None = None) -> None:
        """A broadcast was created, approved or cancelled (``broadcast``: as it is now)."""
        if broadcast is not None and self._dispatcher is not None:
            self._dispatcher.changed(broadcast)
        if self._scheduler is not None:
            self._scheduler.wake()

    @property
    def metrics(self) -> Metrics:
        return self._metrics

    @property
    def kpi_settings(self) -> KpisConfig:
        return self.settings.kpis

    @property
    def live_rates(self) -> LiveRates:
        return self._live_rates

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise RuntimeError("the gateway is not started")
        return self._dispatcher

    @property
    def templates(self) -> Templates:
        return self._templates

    async def catalogue_changed(self) -> None:
        """Called by the API after every service write: the keyword engine rebuilds its
        parser (it precomputes every keyword and alias)."""
        if self._subscription_service is not None:
            await self._subscription_service.refresh()

    @property
    def recorder(self) -> Recorder:
        if self._recorder is None:
            raise RuntimeError("the gateway is not started")
        return self._recorder

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            raise RuntimeError("the gateway is not started")
        return self._sender


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
        gateway, failed_auth=FailedAuth(http.failed_auth_limit, http.failed_auth_window_s)
    )
    console.add_routes(app)
    app[GATEWAY] = gateway
    app.cleanup_ctx.append(gateway.lifespan)
    return app
