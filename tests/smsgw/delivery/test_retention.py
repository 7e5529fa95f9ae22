"""Retention on a real SQLite file: what is past its time goes, with everything hanging off
it; what is not (or is proof of consent) stays."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from channels.base import DeliveryReceipt, InboundSms, ReceiptState, SegmentSubmitted
from smsgw.config import RetentionConfig
from smsgw.delivery.message import DeliveryBatch, Message
from smsgw.delivery.retention import Purged, Retention
from smsgw.inbound.queue import HandledInbound, InboundOutcome
from smsgw.storage.sqlite import SqliteStore
from tests.smsgw.testbed import new_message

DAY = timedelta(days=1)


def _aged(message: Message, days: int, *, valid_days: float = 1) -> Message:
    at = datetime.now(UTC) - days * DAY
    return dataclasses.replace(
        message, created_at=at, updated_at=at, expires_at=at + valid_days * DAY
    )


def _sent(message: Message, carrier_id: str) -> DeliveryBatch:
    """The message, its one segment accepted, and the segment's receipt."""
    at = message.created_at.timestamp()
    segment = SegmentSubmitted(message.id, 1, 1, carrier_id, "btl-1")
    receipt = DeliveryReceipt(carrier_id, ReceiptState.DELIVERED, "000", "btl-1")
    return DeliveryBatch(
        messages=[message], segments=[("btl", segment, at)], receipts=[("btl", receipt, at + 5)]
    )


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


async def test_messages_and_texts_past_their_days_go_with_their_segments_and_receipts(
    store: SqliteStore, tmp_path: Path
) -> None:
    old = [_aged(new_message(), 200) for _ in range(5)]
    recent = _aged(new_message(), 100)
    still_valid = _aged(new_message(), 200, valid_days=365)  # created long ago, not yet expired
    for n, message in enumerate([*old, recent, still_valid]):
        await store.delivery.record(_sent(message, f"c{n:04x}"))
    long_ago, lately = time.time() - 200 * 86400, time.time() - 3600
    texts = [
        ("t-old-handled", long_ago), ("t-old-unhandled", long_ago), ("t-new-handled", lately)
    ]  # fmt: skip
    await store.delivery.record(
        DeliveryBatch(
            inbound=[
                (id_, InboundSms("+5016012345", "1515", "JOIN", "btl-1"), at) for id_, at in texts
            ]
        )
    )
    handled = datetime.now(UTC)
    await store.inbound.mark_inbound_handled(
        [
            HandledInbound(i, InboundOutcome.ANSWERED, handled)
            for i in ("t-old-handled", "t-new-handled")
        ]
    )
    path = tmp_path / "store.db"  # the store fixture's file
    events_before = _count(path, "message_events")

    purged = await Retention(store.retention, RetentionConfig(), batch=2).purge()

    assert purged == Purged(messages=5, inbound=1)
    for message in old:
        assert await store.messages.get_message(message.id) is None
        assert await store.messages.message_history(message.id) == []
    for message in (recent, still_valid):
        assert await store.messages.get_message(message.id) is not None
        assert len(await store.messages.message_history(message.id)) >= 3  # queued, sent, receipt
    assert _count(path, "message_parts") == 2
    assert _count(path, "message_events") < events_before
    assert [row.id for row in await store.inbound.unhandled_inbound(10)] == ["t-old-unhandled"]
    assert _count(path, "inbound") == 2  # the unhandled one waits to be handled, whatever its age
    assert await Retention(store.retention, RetentionConfig()).purge() == Purged(0, 0)
