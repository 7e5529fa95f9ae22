"""An SMPP channel: keeps a bind (or a transmitter + receiver pair) up and feeds it messages.

It owns the outbound queue, the window and the rate limit; it reconnects with capped,
jittered back-off; and it never drops a message silently: what was in flight when the link
went is failed with UnknownOutcome, what was only queued with NotSent (the caller
may take it to another bind at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from channels import concatenation, text
from channels.base import (
    ChannelSink,
    LinkState,
    NotSent,
    OutboundSms,
    PermanentSendError,
    SegmentSubmitted,
    SendResult,
    UnknownOutcome,
)
from channels.smpp import codec, status
from channels.smpp.address import address
from channels.smpp.codec import Command
from channels.smpp.config import SmppChannelConfig
from channels.smpp.inbound import InboundDecoder
from channels.smpp.receipts import normalise_id
from channels.smpp.session import NO_RESPONSE, BindError, SmppSession
from channels.throttle import RateLimiter

log = structlog.get_logger("channels.smpp")


@dataclass(slots=True, eq=False)
class _Job:
    sms: OutboundSms
    future: asyncio.Future[SendResult]
    carrier_ids: list[str]
    remaining: int
    written: bool = False  # some part reached the wire: resending could duplicate it


@dataclass(slots=True, eq=False)
class _Segment:
    order: int
    job: _Job
    part: int
    frame: bytes  # the submit_sm with sequence 0; the session stamps the real one
    sent_at: float = field(default=0.0)


class SmppChannel:
    def __init__(self, config: SmppChannelConfig) -> None:
        self.config = config
        self.name = config.name
        self.carrier = config.carrier
        self.prefixes = config.prefixes
        self.last_error = ""
        self._link_state = LinkState.DOWN
        self._changed = asyncio.Event()
        self._limiter = RateLimiter(config.tps, pause_s=config.throttle_pause_s)
        self._references = concatenation.ReferenceCounter()
        self._queue: deque[_Segment] = deque()
        self._urgent: deque[_Segment] = deque()  # OutboundSms.urgent: ahead of the queue
        # segments taken but not written (window full, rate, throttled): urgent ones first,
        # then by original order
        self._retry: list[tuple[bool, int, _Segment]] = []
        self._work = asyncio.Event()
        self._slot = asyncio.Event()
        self._order = 0
        self._sink: ChannelSink | None = None
        self._inbound: InboundDecoder | None = None
        self._tx: SmppSession | None = None
        self._rx: SmppSession | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._bound = asyncio.Event()
        self._unrecorded = 0  # accepted segments the sink has not yet stored (hold the window)
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
        return len(self._urgent) + len(self._queue) + len(self._retry) + self.in_flight

    @property
    def window(self) -> int:
        return self.config.window

    @property
    def tps(self) -> int:
        return self.config.tps

    @property
    def rate_limit(self) -> int:
        return self._limiter.limit

    @property
    def throttled(self) -> int:
        return self._limiter.throttled_count

    async def start(self, sink: ChannelSink) -> None:
        self._sink = sink
        self._inbound = InboundDecoder(self.name, self.config, sink)
        self._warn_if_window_too_small()
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
        self._hand_back()
        if self._link_state is LinkState.BOUND:
            with contextlib.suppress(TimeoutError):
                wait = self.config.response_timeout_s
                async with asyncio.timeout(wait if drain_s is None else min(wait, drain_s)):
                    while self.backlog or self._unrecorded:
                        self._slot.clear()  # set by every response and every stored segment
                        await self._slot.wait()
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
        try:
            segments = text.split(sms.text, lambda: self._references.next(sms.to))
        except ValueError as exc:  # over 255 segments: no SMS can carry it
            raise PermanentSendError("message_too_long", str(exc)) from None
        future: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()
        job = _Job(sms, future, [""] * len(segments), len(segments))
        queue = self._urgent if sms.urgent else self._queue
        for part, segment in enumerate(segments, 1):
            self._order += 1
            queue.append(_Segment(self._order, job, part, self._encode(sms, segment)))
        self._work.set()
        return future

    # ------------------------------------------------------------ outbound

    def _encode(self, sms: OutboundSms, segment: text.Segment) -> bytes:
        source, source_ton, source_npi = address(sms.sender)
        dest, dest_ton, dest_npi = address(sms.to)
        data_coding = segment.data_coding | (0x10 if sms.flash else 0)  # class 0, TS 23.038 §4
        return codec.encode_short_message(
            Command.SUBMIT_SM,
            0,
            source_addr=source,
            source_ton=source_ton,
            source_npi=source_npi,
            destination_addr=dest,
            dest_ton=dest_ton,
            dest_npi=dest_npi,
            esm_class=0x40 if segment.udh else 0,
            registered_delivery=1 if sms.receipt and self.config.registered_delivery else 0,
            data_coding=data_coding,
            short_message=segment.udh + segment.payload,
        )

    def _take(self) -> _Segment | None:
        if self._retry and (self._retry[0][0] is False or not self._urgent):
            return heapq.heappop(self._retry)[2]  # an urgent one put back, or nothing urgent
        if self._urgent:
            return self._urgent.popleft()
        if self._retry:
            return heapq.heappop(self._retry)[2]
        if self._queue:
            return self._queue.popleft()
        return None

    def _put_back(self, segment: _Segment) -> None:
        heapq.heappush(self._retry, (not segment.job.sms.urgent, segment.order, segment))

    async def _pump(self, session: SmppSession) -> None:
        """Write segments as fast as the window and the rate limit allow, in order."""
        window = self.config.window
        while True:
            segment = self._take()
            if segment is None:
                self._work.clear()
                await self._work.wait()
                continue
            if segment.job.future.done():
                continue  # another part of it failed, or the caller gave up
            if len(session.pending) + self._unrecorded >= window:
                self._put_back(segment)
                self._slot.clear()
                await self._slot.wait()
                continue
            delay = self._limiter.delay()
            if delay > 0:
                self._put_back(segment)
                await asyncio.sleep(delay)
                continue
            self._limiter.sent()
            segment.job.written = True
            session.submit(segment)

    def _on_submit_resp(self, segment: _Segment, command_status: int, message_id: str) -> None:
        self._slot.set()
        job = segment.job
        if command_status == codec.Status.ESME_ROK:
            self._limiter.accepted()
            carrier_id = normalise_id(message_id, self.config.submit_id_base)
            job.carrier_ids[segment.part - 1] = carrier_id
            assert self._sink is not None  # noqa: S101 - set by start()
            parts = len(job.carrier_ids)
            stored = self._sink.segment_submitted(
                SegmentSubmitted(job.sms.id, segment.part, parts, carrier_id, self.name)
            )
            if stored is not None and not stored.done():
                self._unrecorded += 1
                stored.add_done_callback(self._recorded)
            job.remaining -= 1
            if job.remaining == 0 and not job.future.done():
                job.future.set_result(SendResult(job.sms.id, tuple(job.carrier_ids), self.name))
        elif command_status == NO_RESPONSE:
            log.warning("submit_unanswered", channel=self.name, sms_id=job.sms.id)
            self._fail(job, UnknownOutcome("response_timeout", "no submit_sm_resp in time"))
        elif status.pauses_bind(command_status):
            pause = self._limiter.throttled()
            log.info(
                "submit_throttled",
                channel=self.name,
                status=codec.status_name(command_status),
                pause_s=round(pause, 3),
                rate=self._limiter.limit,
            )
            self._put_back(segment)
            self._work.set()
        else:
            self._fail(job, status.send_error(command_status))

    def _recorded(self, stored: asyncio.Future[None]) -> None:
        self._unrecorded -= 1
        self._slot.set()
        if not stored.cancelled():
            stored.exception()  # retrieved: a failed store is the sink's to report

    @staticmethod
    def _fail(job: _Job, error: Exception) -> None:
        if not job.future.done():
            job.future.set_exception(error)

    def _hand_back(self) -> None:
        """Fail the messages of which nothing was written yet (NotSent "stopping");
        those partly written stay queued, to be finished."""
        keep: list[_Segment] = []
        for segment in [s for _, _, s in self._retry] + list(self._urgent) + list(self._queue):
            if segment.job.written:
                keep.append(segment)
            else:
                self._fail(segment.job, NotSent("stopping", f"{self.name} is stopping"))
        self._retry.clear()
        self._urgent.clear()
        self._queue.clear()
        for segment in keep:
            self._put_back(segment)

    def _fail_all(self, session: SmppSession | None, reason: str) -> None:
        """The link went: in-flight → unknown outcome; queued → temporary (take another bind)."""
        in_flight = list(session.pending.values()) if session else []
        if session:
            session.pending.clear()
        for segment in in_flight:
            self._fail(segment.job, UnknownOutcome("link_lost", reason))
        queued = [s for _, _, s in self._retry] + list(self._urgent) + list(self._queue)
        self._urgent.clear()
        self._retry.clear()
        self._queue.clear()
        for segment in queued:
            job = segment.job
            if job.written:
                self._fail(job, UnknownOutcome("link_lost", f"partly sent; {reason}"))
            else:
                self._fail(job, NotSent("link_down", reason))
        if in_flight or queued:
            log.warning(
                "smpp_link_lost_with_messages",
                channel=self.name,
                in_flight=len(in_flight),
                queued=len(queued),
            )

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
            "on_submit_resp": self._on_submit_resp,
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
        pump = asyncio.get_running_loop().create_task(self._pump(tx), name=f"{self.name}-pump")
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
        self._fail_all(tx, reason)
        wait_s = None  # the session's response_timeout_s, unless a stop has a deadline
        if self._stop_by is not None:
            wait_s = max(0.0, self._stop_by - asyncio.get_running_loop().time())
        for session in {s for s in (tx, rx) if s is not None}:
            await session.unbind(wait_s)

    def _on_deliver(self, pdu: codec.ShortMessage) -> asyncio.Future[None] | None:
        assert self._inbound is not None  # noqa: S101 - set by start()
        return self._inbound.handle(pdu)

    def _warn_if_window_too_small(self) -> None:
        c = self.config
        if not c.tps:
            return
        reachable = c.window / (c.expected_response_ms / 1000)
        if reachable < c.tps:
            log.warning(
                "window_too_small",
                channel=self.name,
                window=c.window,
                tps=c.tps,
                expected_response_ms=c.expected_response_ms,
                reachable_tps=int(reachable),
                window_needed=int(c.tps * c.expected_response_ms / 1000) + 1,
            )
