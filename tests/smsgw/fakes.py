"""Test doubles and data: a config, a tiny fake carrier, a message factory."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from channels.base import (
    ChannelSink,
    DeliveryReceipt,
    LinkState,
    OutboundSms,
    ReceiptState,
    SegmentSubmitted,
    SendResult,
)
from channels.smpp.config import SmppChannelConfig
from smsgw.delivery.message import Message, MessageState

CONFIG = """
[gateway]
short_code = "1515"
default_region = "BZ"
timezone = "America/Belize"
data_dir = "data"

[http]
host = "127.0.0.1"
port = 0

[database]
url = "sqlite:///data/test.db"

[[channels]]
name = "btl-1"
carrier = "btl"
host = "127.0.0.1"
port = 2775
system_id = "smsgw-btl"
password = "secret"
prefixes = ["+50160", "+50161"]

[[channels]]
name = "smart-1"
carrier = "smart"
host = "127.0.0.1"
port = 2775
system_id = "smsgw-smart"
password = "secret"
prefixes = ["+50165"]
"""
CARRIERS = {"btl-1": "btl", "smart-1": "smart"}

WriteConfig = Callable[[str], Path]


def new_message(to: str = "+5016012345", *, parts: int = 1, validity_s: float = 3600) -> Message:
    now = datetime.now(UTC)
    return Message(
        id=f"m{next(_message_ids)}",
        to=to,
        sender="1515",
        text="Vaccination day Saturday",
        state=MessageState.QUEUED,
        parts=parts,
        encoding="gsm7",
        channel=None,
        error=None,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=validity_s),
    )


_message_ids = itertools.count(1)


class FakeChannel:
    """A carrier that accepts every message as one segment, unless told to fail.

    Stands in for the SMPP channel in tests of the gateway's own logic (retries, API); the
    SMPP channel itself is tested against the simulator under tests/channels/.
    """

    def __init__(self, config: SmppChannelConfig) -> None:
        self.name = config.name
        self.carrier = config.carrier
        self.prefixes = config.prefixes
        self.backlog = 0
        self.failures: list[Exception] = []  # raised by the next sends, in order
        self.attempts: asyncio.Queue[OutboundSms] = asyncio.Queue()  # every send() call
        self.carrier_ids: dict[str, str] = {}  # sms id -> the id the "carrier" gave it
        self._state = LinkState.DOWN
        self._sink: ChannelSink | None = None
        self._ids = itertools.count(0xA0)

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def can_send(self) -> bool:
        return self._state is LinkState.BOUND

    async def start(self, sink: ChannelSink) -> None:
        self._sink = sink
        self._state = LinkState.BOUND

    async def stop(self) -> None:
        self._state = LinkState.STOPPED

    async def send(self, sms: OutboundSms) -> SendResult:
        assert self._sink is not None
        self.attempts.put_nowait(sms)
        if self.failures:
            raise self.failures.pop(0)
        carrier_id = f"{next(self._ids):x}"
        self.carrier_ids[sms.id] = carrier_id
        self._sink.segment_submitted(SegmentSubmitted(sms.id, 1, 1, carrier_id, self.name))
        return SendResult(sms.id, (carrier_id,), self.name)

    async def receipt(self, sms_id: str, state: ReceiptState = ReceiptState.DELIVERED) -> None:
        """The carrier reports on a message it accepted; returns once the gateway stored it."""
        assert self._sink is not None
        item = DeliveryReceipt(self.carrier_ids[sms_id], state, "000", self.name)
        future = self._sink.received(item)
        if future is not None:
            await future
