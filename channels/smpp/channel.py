"""An SMPP channel: keeps a bind (or a transmitter + receiver pair) up and feeds it messages.

This module owns link supervision: bind, reconnect with capped, jittered back-off, link state
and health, start and stop, and deliver_sm (handed to InboundDecoder). The queue, window,
pacing and submit_sm_resp handling are the Outbound's (channels/smpp/outbound.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any

import structlog

from channels.base import ChannelSink, LinkState, NotSent, OutboundSms, SendResult
from channels.smpp import codec
from channels.smpp.codec import Command
from channels.smpp.config import SmppChannelConfig
from channels.smpp.inbound import InboundDecoder
from channels.smpp.outbound import Outbound
from channels.smpp.session import BindError, SmppSession

log = structlog.get_logger("channels.smpp")


class SmppChannel:
    def __init__(self, config: SmppChannelConfig) -> None:
        self.config = config
        self.name = config.name
        self.carrier = config.carrier
        self.prefixes = config.prefixes
        self.last_error = ""
        self._link_state = LinkState.DOWN
        self._changed = asyncio.Event()
        self._outbound = Outbound(config)
        self._inbound: InboundDecoder | None = None
        self._tx: SmppSession | None = None
        self._rx: SmppSession | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._bound = asyncio.Event()
        self._stopping = False
        self._stop_by: float | None = None  # when a stop with a deadline must be over

    # ------------------------------------------------------------ the Channel contract

    @property
    def state(self) -> LinkState:
        return self._link_state

    @property
    def can_send(self) -> bool:
        return self._link_state is LinkState.BOUND

    @property
    def in_flight(self) -> int:
        """Segments written and awaiting their response."""
        return len(self._tx.pending) if self._tx else 0

    @property
    def backlog(self) -> int:
        return self._outbound.queued + self.in_flight

    @property
    def window(self) -> int:
        return self.config.window

    @property
    def tps(self) -> int:
        return self.config.tps

    @property
    def throttled(self) -> int:
        return self._outbound.limiter.throttled_count

    async def start(self, sink: ChannelSink) -> None:
        """Bind and keep the link up; again after stop() too (a gateway that lost the bind's
        lease and took it back)."""
        self._stopping = False
        self._stop_by = None
        self._outbound.sink = sink
        self._inbound = InboundDecoder(self.name, self.config, sink)
        self._outbound.warn_if_window_too_small()
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"{self.name}-supervisor"
        )

    def _set_state(self, state: LinkState) -> None:
        self._link_state = state
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, condition: Callable[[SmppChannel], bool]) -> None:
        """Returns once ``condition(self)`` holds, checked at each link state change."""
        while not condition(self):
            await self._changed.wait()

    async def wait_bound(self) -> None:
        """Returns once the link is bound (at once if it is). Wrap it in a timeout."""
        await self._bound.wait()

    async def stop(self, drain_s: float | None = None) -> None:
        """A clean stop: take no more work, hand back what was only queued (the caller sends
        it later or elsewhere: never twice), let what is in flight be answered and stored (up
        to response_timeout_s, or ``drain_s`` if shorter), then unbind."""
        self._stopping = True
        if drain_s is not None:
            self._stop_by = asyncio.get_running_loop().time() + drain_s
        self._outbound.hand_back()
        if self._link_state is LinkState.BOUND:
            with contextlib.suppress(TimeoutError):
                wait = self.config.response_timeout_s
                async with asyncio.timeout(wait if drain_s is None else min(wait, drain_s)):
                    while self.backlog or self._outbound.unrecorded:
                        await self._outbound.wait_slot()  # set by every response and stored segment
        if self._supervisor is not None:
            self._supervisor.cancel()
            # gather, not suppress(CancelledError): a cancel of stop() itself must go through.
            await asyncio.gather(self._supervisor, return_exceptions=True)
        self._set_state(LinkState.STOPPED)

    async def send(self, sms: OutboundSms) -> SendResult:
        """Submit every segment of ``sms``; returns once the SMSC accepted them all."""
        return await self.enqueue(sms)

    def enqueue(self, sms: OutboundSms) -> asyncio.Future[SendResult]:
        """Queue every segment of ``sms``; the future is done once the SMSC accepted them all
        (or one failed). Raises NotSent at once when the link is not bound."""
        if self._stopping:
            raise NotSent("stopping", f"{self.name} is stopping")
        if self._link_state is not LinkState.BOUND:
            raise NotSent("link_down", f"{self.name} is {self._link_state}")
        return self._outbound.enqueue(sms)

    # ------------------------------------------------------------ the link

    async def _supervise(self) -> None:
        attempt = 0
        try:
            while True:
                self._set_state(LinkState.CONNECTING)
                try:
                    await self._bind()
                except (OSError, TimeoutError, BindError, ConnectionError) as exc:
                    self.last_error = getattr(exc, "code", None) or str(exc) or type(exc).__name__
                    log.warning("smpp_bind_failed", channel=self.name, error=self.last_error)
                else:
                    attempt = 0
                    await self._serve()
                self._set_state(LinkState.DOWN)
                delay = self._backoff(attempt)
                attempt += 1
                log.info("smpp_reconnect_scheduled", channel=self.name, delay_s=round(delay, 2))
                await asyncio.sleep(delay)
        finally:
            await self._close_link("channel stopped")

    def _backoff(self, attempt: int) -> float:
        """Exponential with full jitter in its upper half, capped (SPEC: re-bound within 60 s)."""
        ceiling = min(self.config.reconnect_max_s, self.config.reconnect_min_s * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret

    async def _bind(self) -> None:
        c = self.config
        common: dict[str, Any] = {
            "system_id": c.system_id,
            "password": c.secret,
            "system_type": c.system_type,
            "on_submit_resp": self._outbound.on_submit_resp,
            "on_deliver": self._on_deliver,
            "response_timeout_s": c.response_timeout_s,
            "enquire_link_s": c.enquire_link_s,
        }
        if c.bind == "transceiver":
            self._tx = self._rx = await SmppSession.open(
                c.host, c.port, bind=Command.BIND_TRANSCEIVER, name=self.name, **common
            )
        else:
            self._tx = await SmppSession.open(
                c.host, c.port, bind=Command.BIND_TRANSMITTER, name=f"{self.name}-tx", **common
            )
            try:
                self._rx = await SmppSession.open(
                    c.host, c.port, bind=Command.BIND_RECEIVER, name=f"{self.name}-rx", **common
                )
            except BaseException:
                await self._close_link("receiver bind failed")
                raise
        self.last_error = ""
        self._set_state(LinkState.BOUND)
        self._bound.set()
        log.info("smpp_bound", channel=self.name, bind=c.bind, host=c.host, port=c.port)

    async def _serve(self) -> None:
        tx, rx = self._tx, self._rx
        assert tx is not None  # noqa: S101 - set by _bind()
        assert rx is not None  # noqa: S101 - set by _bind()
        pump = asyncio.get_running_loop().create_task(
            self._outbound.pump(tx), name=f"{self.name}-pump"
        )
        try:
            await asyncio.wait({tx.closed, rx.closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            pump.cancel()
            # Not suppress(CancelledError): that would also swallow a stop() cancelling us here,
            # and the supervisor would go on reconnecting.
            await asyncio.gather(pump, return_exceptions=True)
        reason = tx.close_reason or rx.close_reason or "link closed"
        self.last_error = reason
        self._set_state(LinkState.DOWN)
        self._bound.clear()
        log.warning("smpp_link_lost", channel=self.name, reason=reason)
        await self._close_link(reason)

    async def _close_link(self, reason: str) -> None:
        tx, rx = self._tx, self._rx
        self._tx = self._rx = None
        self._set_state(LinkState.DOWN)
        self._bound.clear()
        self._outbound.fail_all(tx, reason)
        wait_s = None  # the session's response_timeout_s, unless a stop has a deadline
        if self._stop_by is not None:
            wait_s = max(0.0, self._stop_by - asyncio.get_running_loop().time())
        for session in {s for s in (tx, rx) if s is not None}:
            await session.unbind(wait_s)

    def _on_deliver(self, pdu: codec.ShortMessage) -> asyncio.Future[None] | None:
        assert self._inbound is not None  # noqa: S101 - set by start()
        return self._inbound.handle(pdu)
