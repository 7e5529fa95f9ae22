"""The contract between a carrier transport and the rest of the gateway.

A channel takes an :class:`OutboundSms` and submits it (as one or more segments); what the
carrier tells us later (receipts, mobile-originated texts) goes to a :class:`ChannelSink`.

Send errors say whether to retry::

    SendError(code)
    ├── TemporarySendError   retry later: throttled, queue full, timeout
    │   ├── NotSent          nothing of it left (link down, no bind up, channel stopping):
    │   │                    send it again at once, on another bind or once one is up
    │   └── UnknownOutcome   was in flight when the link dropped: it may or may not have left
    └── PermanentSendError   do not retry: bad number, rejected by the carrier
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutboundSms:
    """One message to one handset, as the caller sees it (before segmentation)."""

    id: str  # the caller's id; comes back in SegmentSubmitted and SendResult
    to: str  # E.164, "+5016012345"
    text: str
    sender: str  # source address: the short code
    receipt: bool = True  # ask the carrier for a delivery receipt
    flash: bool = False  # class 0 display (emergency alerts, where the carrier allows)
    urgent: bool = False  # goes ahead of the messages already queued on the channel


@dataclass(frozen=True, slots=True)
class SegmentSubmitted:
    """The carrier accepted one segment and gave it an id (the key its receipt will carry)."""

    sms_id: str
    part: int  # 1-based
    parts: int
    carrier_id: str  # normalised (see channels.smpp.receipts.normalise_id)
    channel: str


@dataclass(frozen=True, slots=True)
class SendResult:
    """Every segment of the message was accepted; ids in segment order."""

    sms_id: str
    carrier_ids: tuple[str, ...]
    channel: str


class ReceiptState(StrEnum):
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"
    EXPIRED = "expired"
    REJECTED = "rejected"
    ACCEPTED = "accepted"  # intermediate: the SMSC accepted it, not final
    ENROUTE = "enroute"  # intermediate
    UNKNOWN = "unknown"  # final, outcome unknown
    DELETED = "deleted"  # final

    @property
    def final(self) -> bool:
        return self not in (ReceiptState.ACCEPTED, ReceiptState.ENROUTE)


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    carrier_id: str  # normalised, matches SegmentSubmitted.carrier_id
    state: ReceiptState
    error: str | None  # the carrier's error code, as text ("000" when none)
    channel: str
    done_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboundSms:
    """A mobile-originated text, decoded and (when it came in parts) reassembled."""

    sender: str  # as the carrier gave it ("+5016012345", "5016012345", or alphanumeric)
    to: str  # the short code it was sent to
    text: str
    channel: str
    carrier_ids: tuple[str, ...] = ()  # per part, when the SMSC gave ids (duplicate detection)
    sender_ton: int = 1  # SMPP type of number: 1 international, 5 alphanumeric, 3 network-specific


class SendError(Exception):
    """A message could not be submitted; ``code`` is the carrier's status name."""

    temporary: bool = False

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class TemporarySendError(SendError):
    temporary = True


class NotSent(TemporarySendError):  # noqa: N818 - names an outcome, reads better bare
    """No part of the message reached the carrier: not its fault, no back-off needed."""


class UnknownOutcome(TemporarySendError):  # noqa: N818 - names an outcome, reads better bare
    """The message was in flight when the link went: the carrier may have it or not."""


class PermanentSendError(SendError):
    temporary = False


class ChannelSink(Protocol):
    """Receives what a channel learns. Called from the channel's reader, so must not block.

    ``segment_submitted`` is called before any later PDU on the link is handled, so a receipt
    that arrives in the same read as its submit response always finds its id recorded. It may
    return a future: the channel then keeps the segment's window slot until it is done (so at
    most one window per bind is ever accepted by the carrier but not yet stored).
    ``received`` may return a future: the channel then acknowledges the PDU to the carrier only
    once that future is done (e.g. once the item is stored), so a crash never loses an
    acknowledged item. Return None to acknowledge at once.
    """

    def segment_submitted(self, event: SegmentSubmitted) -> asyncio.Future[None] | None: ...

    def received(self, item: InboundSms | DeliveryReceipt) -> asyncio.Future[None] | None: ...


class LinkState(StrEnum):
    DOWN = "down"
    CONNECTING = "connecting"
    BOUND = "bound"
    STOPPED = "stopped"


class Channel(Protocol):
    """A connection to a carrier able to submit messages (one SMPP bind, or a bind pair)."""

    name: str
    carrier: str
    prefixes: tuple[str, ...]
    last_error: str  # why the link is not up ("ESME_RINVPASWD", "connection refused"); "" if up

    @property
    def state(self) -> LinkState: ...

    @property
    def can_send(self) -> bool: ...

    @property
    def backlog(self) -> int:
        """Segments queued or awaiting a response (the router prefers the least loaded bind)."""
        ...

    @property
    def window(self) -> int:
        """Submits that may await a response at once."""
        ...

    @property
    def tps(self) -> int:
        """Submits per second at most (0: no cap)."""
        ...

    @property
    def throttled(self) -> int:
        """Submits the carrier answered with a throttling status, since start."""
        ...

    async def start(self, sink: ChannelSink) -> None: ...

    async def stop(self, drain_s: float | None = None) -> None:
        """A clean stop; waits at most ``drain_s`` for what is in flight."""
        ...

    async def send(self, sms: OutboundSms) -> SendResult: ...

    def enqueue(self, sms: OutboundSms) -> asyncio.Future[SendResult]:
        """Queue ``sms`` and return at once; the future ends as :meth:`send` would. Cancelling
        it withdraws the message if no part of it has been written yet."""
        ...
