"""The delivery log's contract on every backend (DeliveryLog, read back through MessageStore,
InboundQueue and AuditStore): the same batches leave the same messages and histories, on
SQLite and PostgreSQL.

Plain SQL only for the outbox rows a broadcast's messages update (no method adds one alone nor
shows its state): the per-backend helpers under "Rows no method shows".
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

import pytest

from channels.base import DeliveryReceipt, InboundSms, ReceiptState, SegmentSubmitted
from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.delivery.message import DeliveryBatch, Message, MessageState, Outcome
from smsgw.delivery.outbox import OutboxOutcome, OutboxState
from smsgw.storage.postgres import PostgresStore
from smsgw.storage.sqlite import SqliteStore
from tests.smsgw.testbed import new_message

AnyStore: TypeAlias = SqliteStore | PostgresStore

# made outside any event loop: any_store asks for it from inside one, where its asyncio.run fails
pytestmark = pytest.mark.usefixtures("postgres_database")

DELIVERED = ReceiptState.DELIVERED
BTL, SMART = "btl", "smart"  # carriers: receipts match per carrier


def _segment(
    message_id: str, carrier_id: str, part: int = 1, parts: int = 1, carrier: str = BTL
) -> tuple[str, SegmentSubmitted, float]:
    return (
        carrier,
        SegmentSubmitted(message_id, part, parts, carrier_id, f"{carrier}-1"),
        time.time(),
    )


def _receipt(
    carrier_id: str, state: ReceiptState = DELIVERED, error: str = "000", carrier: str = BTL
) -> tuple[str, DeliveryReceipt, float]:
    return carrier, DeliveryReceipt(carrier_id, state, error, f"{carrier}-1"), time.time()


async def _queued(store: AnyStore, parts: int = 1) -> Message:
    message = new_message(parts=parts)
    await store.delivery.record(DeliveryBatch(messages=[message]))
    return message


async def _sent(store: AnyStore, message: Message, *carrier_ids: str) -> None:
    """The message's parts accepted, one carrier id each."""
    parts = len(carrier_ids)
    segments = [_segment(message.id, c, n, parts) for n, c in enumerate(carrier_ids, 1)]
    await store.delivery.record(DeliveryBatch(segments=segments))


async def _states(store: AnyStore, message_id: str) -> tuple[str, list[str]]:
    stored = await store.messages.get_message(message_id)
    assert stored is not None
    history = await store.messages.message_history(message_id)
    return stored.state, [event.state for event in history]


async def test_new_messages_read_back_with_their_first_history_row_and_their_audit_entry(
    any_store: AnyStore,
) -> None:
    messages = [new_message(), dataclasses.replace(new_message(), callback_url="https://x.test")]
    ids = {"ids": [m.id for m in messages]}
    entry = AuditEntry(messages[0].created_at, "tok1", "officer", "health",
                       AuditAction.MESSAGES_SENT, "2 messages", ids)  # fmt: skip
    await any_store.delivery.record(DeliveryBatch(messages=messages, audit=[entry]))
    for message in messages:
        assert await any_store.messages.get_message(message.id) == message
        (event,) = await any_store.messages.message_history(message.id)
        assert (event.state, event.at, event.detail) == ("queued", message.created_at, None)
    assert await any_store.messages.get_message("nope") is None
    (stored,) = await any_store.audit.audit_entries(before=None, limit=10)
    assert dataclasses.replace(stored, id=0) == entry


async def test_the_audit_entries_of_a_batch_are_stored_in_their_order(any_store: AnyStore) -> None:
    """Many single POSTs share one batch: each its entry, in the order they were made."""
    messages = [new_message() for _ in range(3)]
    entries = [
        AuditEntry(m.created_at, f"tok{n}", "integrator", None, AuditAction.MESSAGE_SENT, m.id,
                   {"to": m.to, "segments": 1})
        for n, m in enumerate(messages)
    ]  # fmt: skip
    await any_store.delivery.record(DeliveryBatch(messages=messages, audit=entries))
    stored = await any_store.audit.audit_entries(before=None, limit=10)  # newest first
    assert [dataclasses.replace(e, id=0) for e in reversed(stored)] == entries


async def test_a_submitted_then_delivered_message_is_delivered(any_store: AnyStore) -> None:
    message = await _queued(any_store)
    await _sent(any_store, message, "a1")
    assert await _states(any_store, message.id) == ("submitted", ["queued", "submitted"])
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("a1")]))
    assert await _states(any_store, message.id) == (
        "delivered",
        ["queued", "submitted", "delivered"],
    )
    stored = await any_store.messages.get_message(message.id)
    assert stored is not None
    assert (stored.channel, stored.error) == ("btl-1", None)
    history = await any_store.messages.message_history(message.id)
    assert history[1].detail == "btl-1"  # submitted: through which bind


async def test_each_state_change_of_a_message_with_a_callback_url_is_queued_in_order(
    any_store: AnyStore,
) -> None:
    message = dataclasses.replace(new_message(), callback_url="https://x.test/cb")
    await any_store.delivery.record(DeliveryBatch(messages=[message]))
    await _sent(any_store, message, "a0")
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("a0")]))
    later = datetime.now(UTC) + timedelta(minutes=1)
    states = []
    while due := await any_store.callbacks.due_callbacks(later, limit=10):
        (callback,) = due  # one at a time per message
        assert (callback.message_id, callback.url) == (message.id, "https://x.test/cb")
        payload = json.loads(callback.payload)
        states.append((payload["state"], payload["error"], payload["parts"]))
        await any_store.callbacks.callback_delivered(callback.id)
    assert states == [("submitted", None, 1), ("delivered", None, 1)]


async def test_a_receipt_before_its_submit_response_is_kept_and_matched_later(
    any_store: AnyStore,
) -> None:
    message = await _queued(any_store)
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("a2")]))  # kept unmatched
    assert await _states(any_store, message.id) == ("queued", ["queued"])
    await _sent(any_store, message, "a2")
    state, history = await _states(any_store, message.id)
    assert (state, history) == ("delivered", ["queued", "submitted", "delivered"])
    events = await any_store.messages.message_history(message.id)
    assert events[1].at <= events[2].at  # dated no earlier than its part
    assert await any_store.delivery.purge_unmatched(message.created_at + timedelta(days=1)) == []


async def test_a_receipt_and_its_submit_in_one_batch_match(any_store: AnyStore) -> None:
    message = await _queued(any_store)
    receipt = _receipt("a3")  # arrived first
    batch = DeliveryBatch(receipts=[receipt], segments=[_segment(message.id, "a3")])
    await any_store.delivery.record(batch)
    assert await _states(any_store, message.id) == (
        "delivered",
        ["queued", "submitted", "delivered"],
    )


async def test_receipts_match_per_carrier_not_per_bind(any_store: AnyStore) -> None:
    message = await _queued(any_store)
    await _sent(any_store, message, "a4")
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("a4", carrier=SMART)]))
    assert (await _states(any_store, message.id))[0] == "submitted"
    (dropped,) = await any_store.delivery.purge_unmatched(datetime.now(UTC) + timedelta(1))
    assert (dropped.carrier, dropped.carrier_id) == (SMART, "a4")


async def test_a_two_part_message_is_delivered_only_when_both_parts_are(
    any_store: AnyStore,
) -> None:
    message = await _queued(any_store, parts=2)
    await _sent(any_store, message, "b1", "b2")
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("b1")]))
    assert (await _states(any_store, message.id))[0] == "submitted"
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("b2")]))
    state, history = await _states(any_store, message.id)
    assert state == "delivered"
    assert history == ["queued", "submitted", "delivered", "delivered", "delivered"]
    details = [event.detail for event in await any_store.messages.message_history(message.id)]
    assert details[2:4] == ["part 1/2", "part 2/2"]


async def test_a_part_submitted_alone_leaves_its_message_submitted(any_store: AnyStore) -> None:
    message = await _queued(any_store, parts=2)
    await any_store.delivery.record(DeliveryBatch(segments=[_segment(message.id, "b3", 1, 2)]))
    assert await _states(any_store, message.id) == ("submitted", ["queued", "submitted"])


async def test_one_failed_part_fails_the_message_with_the_carrier_error(
    any_store: AnyStore,
) -> None:
    message = await _queued(any_store, parts=2)
    await _sent(any_store, message, "c1", "c2")
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("c1")]))
    failed = _receipt("c2", ReceiptState.UNDELIVERABLE, "034")
    await any_store.delivery.record(DeliveryBatch(receipts=[failed]))
    stored = await any_store.messages.get_message(message.id)
    assert stored is not None
    assert (stored.state, stored.error) == ("undeliverable", "034")
    details = [event.detail for event in await any_store.messages.message_history(message.id)]
    assert details[-2:] == ["part 2/2, error 034", "034"]
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("c2")]))  # contradicting
    assert (await _states(any_store, message.id))[0] == "undeliverable"


@pytest.mark.parametrize(
    ("receipt_state", "message_state"),
    [
        (ReceiptState.EXPIRED, "expired"),
        (ReceiptState.REJECTED, "rejected"),
        (ReceiptState.UNKNOWN, "failed"),
        (ReceiptState.DELETED, "failed"),
    ],
    ids=str,
)
async def test_a_final_receipt_sets_the_message_state(
    any_store: AnyStore, receipt_state: ReceiptState, message_state: str
) -> None:
    message = await _queued(any_store)
    await _sent(any_store, message, "d1")
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("d1", receipt_state, "001")]))
    stored = await any_store.messages.get_message(message.id)
    assert stored is not None
    assert (stored.state, stored.error) == (message_state, "001")


async def test_intermediate_receipts_only_add_history_and_a_final_one_wins_in_a_batch(
    any_store: AnyStore,
) -> None:
    message = await _queued(any_store)
    await _sent(any_store, message, "e1")
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("e1", ReceiptState.ENROUTE)]))
    assert await _states(any_store, message.id) == (
        "submitted",
        ["queued", "submitted", "enroute"],
    )
    # out of order in one batch: the final receipt wins over a later intermediate one (each
    # dated as it came)
    receipts = [_receipt("e1"), _receipt("e1", ReceiptState.ACCEPTED)]
    await any_store.delivery.record(DeliveryBatch(receipts=receipts))
    assert await _states(any_store, message.id) == (
        "delivered",
        ["queued", "submitted", "enroute", "delivered", "accepted"],
    )


async def test_sender_outcomes_change_state_only_of_unfinished_messages(
    any_store: AnyStore,
) -> None:
    message = await _queued(any_store)
    now = time.time()
    outcomes = [
        (Outcome(message.id, "retry_scheduled", None, "link_down; retry in 1 s"), now),
        (Outcome(message.id, "rejected", MessageState.REJECTED, "no_route"), now + 0.001),
        (Outcome(message.id, "expired", MessageState.EXPIRED, "too late"), now + 0.002),
    ]
    await any_store.delivery.record(DeliveryBatch(outcomes=outcomes))
    stored = await any_store.messages.get_message(message.id)
    assert stored is not None
    assert (stored.state, stored.error) == ("rejected", "no_route")
    history = await any_store.messages.message_history(message.id)
    assert [(e.state, e.detail) for e in history] == [
        ("queued", None),
        ("retry_scheduled", "link_down; retry in 1 s"),
        ("rejected", "no_route"),
        ("expired", "too late"),
    ]


async def test_inbound_texts_are_queued_in_arrival_order(any_store: AnyStore) -> None:
    now = time.time()
    texts = [
        ("i1", InboundSms("+5016012345", "1515", "JOIN HEALTH", "btl-1", ("1f", "20")), now),
        ("i2", InboundSms("+5016012346", "1515", "STOP", "smart-1"), now + 0.001),
    ]
    await any_store.delivery.record(DeliveryBatch(inbound=texts))
    stored = await any_store.inbound.unhandled_inbound(10)
    assert [(s.id, s.sender, s.to, s.text, s.channel) for s in stored] == [
        ("i1", "+5016012345", "1515", "JOIN HEALTH", "btl-1"),
        ("i2", "+5016012346", "1515", "STOP", "smart-1"),
    ]
    assert stored[0].received_at == datetime.fromtimestamp(now, UTC)


async def test_thousands_of_messages_in_few_batches_all_end_delivered(
    any_store: AnyStore,
) -> None:
    messages = [new_message() for _ in range(2000)]
    for chunk in (messages[:1000], messages[1000:]):
        await any_store.delivery.record(DeliveryBatch(messages=chunk))
    segments = [_segment(m.id, f"{i:x}") for i, m in enumerate(messages)]
    receipts = [_receipt(f"{i:x}") for i in range(len(messages))]
    # a batch with the second half's parts and the first half's receipts
    await any_store.delivery.record(DeliveryBatch(segments=segments[:1000]))
    await any_store.delivery.record(
        DeliveryBatch(segments=segments[1000:], receipts=receipts[:1000])
    )
    await any_store.delivery.record(DeliveryBatch(receipts=receipts[1000:]))
    for message in messages[::97]:
        assert await _states(any_store, message.id) == (
            "delivered",
            ["queued", "submitted", "delivered"],
        )
    assert await any_store.delivery.purge_unmatched(datetime.now(UTC) + timedelta(1)) == []


async def test_unmatched_receipts_older_than_the_cut_off_are_purged(any_store: AnyStore) -> None:
    before = datetime.now(UTC)
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("ff01")]))
    assert await any_store.delivery.purge_unmatched(before - timedelta(minutes=10)) == []
    (dropped,) = await any_store.delivery.purge_unmatched(datetime.now(UTC) + timedelta(seconds=1))
    assert (dropped.carrier, dropped.carrier_id, dropped.state) == (BTL, "ff01", "delivered")
    assert before <= dropped.received_at <= datetime.now(UTC)
    assert await any_store.delivery.purge_unmatched(datetime.now(UTC) + timedelta(seconds=1)) == []


async def test_a_message_with_no_final_receipt_by_the_end_of_its_validity_becomes_unknown(
    any_store: AnyStore,
) -> None:
    """Every message reaches a final state; a late receipt still says what happened."""
    lapsed = dataclasses.replace(new_message(), expires_at=datetime.now(UTC))
    current = new_message()  # valid for an hour still
    queued = dataclasses.replace(new_message(), expires_at=datetime.now(UTC))  # never sent
    await any_store.delivery.record(DeliveryBatch(messages=[lapsed, current, queued]))
    segments = [_segment(lapsed.id, "g0"), _segment(current.id, "g1")]
    await any_store.delivery.record(DeliveryBatch(segments=segments))
    assert await any_store.delivery.settle_unconfirmed(datetime.now(UTC)) == [lapsed.id]
    assert await _states(any_store, lapsed.id) == ("unknown", ["queued", "submitted", "unknown"])
    assert await _states(any_store, current.id) == ("submitted", ["queued", "submitted"])
    assert await _states(any_store, queued.id) == ("queued", ["queued"])
    stored = await any_store.messages.get_message(lapsed.id)
    assert stored is not None
    assert stored.error == "no_receipt"
    assert await any_store.delivery.settle_unconfirmed(datetime.now(UTC)) == []  # settled once
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("g0")]))  # late
    assert (await _states(any_store, lapsed.id))[0] == "delivered"


async def test_a_part_sent_twice_in_one_batch_keeps_the_later_carrier_id(
    any_store: AnyStore,
) -> None:
    """A resend whose first submit response comes late: both in one batch, the later wins."""
    message = await _queued(any_store)
    segments = [_segment(message.id, "h1"), _segment(message.id, "h2")]
    await any_store.delivery.record(DeliveryBatch(segments=segments))
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("h1")]))
    assert (await _states(any_store, message.id))[0] == "submitted"
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("h2")]))
    assert (await _states(any_store, message.id))[0] == "delivered"


async def test_a_part_sent_again_replaces_the_first_submit(any_store: AnyStore) -> None:
    message = await _queued(any_store)
    await _sent(any_store, message, "h3")
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("h3", ReceiptState.ENROUTE)]))
    await _sent(any_store, message, "h4")
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("h3")]))  # the first: gone
    assert (await _states(any_store, message.id))[0] == "submitted"
    await any_store.delivery.record(DeliveryBatch(receipts=[_receipt("h4")]))
    assert (await _states(any_store, message.id))[0] == "delivered"


async def test_a_broadcast_message_is_submitted_once_all_its_parts_are_then_delivered(
    any_store: AnyStore, tmp_path: Path
) -> None:
    row = await _add_outbox_row(any_store, tmp_path)
    await any_store.delivery.record(DeliveryBatch(segments=[_segment(f"o{row}", "j1", 1, 2)]))
    assert await _outbox_row(any_store, tmp_path, row) == ("queued", None, None, False)
    await any_store.delivery.record(DeliveryBatch(segments=[_segment(f"o{row}", "j2", 2, 2)]))
    assert await _outbox_row(any_store, tmp_path, row) == ("submitted", "btl-1", None, False)
    receipts = [_receipt("j1"), _receipt("j2", ReceiptState.EXPIRED, "006")]
    await any_store.delivery.record(DeliveryBatch(receipts=receipts))
    assert await _outbox_row(any_store, tmp_path, row) == ("expired", "btl-1", "006", True)
    assert await any_store.messages.message_history(f"o{row}") == []  # no history kept


async def test_outbox_outcomes_change_only_queued_broadcast_messages(
    any_store: AnyStore, tmp_path: Path
) -> None:
    retried, rejected, sent = [await _add_outbox_row(any_store, tmp_path) for _ in range(3)]
    await any_store.delivery.record(DeliveryBatch(segments=[_segment(f"o{sent}", "k1")]))
    later = datetime.now(UTC) + timedelta(minutes=1)
    now = time.time()
    outcomes = [
        (OutboxOutcome(retried, OutboxState.QUEUED, "link_down", later, attempted=True), now),
        (OutboxOutcome(rejected, OutboxState.REJECTED, "ESME_RINVDSTADR"), now),
        (OutboxOutcome(sent, OutboxState.EXPIRED, "validity_ended"), now),  # too late
        (OutboxOutcome(retried, OutboxState.QUEUED, "throttled", later, attempted=True), now),
    ]
    await any_store.delivery.record(DeliveryBatch(outbox=outcomes))
    assert await _outbox_row(any_store, tmp_path, retried) == ("queued", None, "throttled", False)
    assert await _outbox_attempts(any_store, tmp_path, retried) == (2, True)
    assert await _outbox_row(any_store, tmp_path, rejected) == (
        "rejected",
        None,
        "ESME_RINVDSTADR",
        False,
    )
    assert await _outbox_row(any_store, tmp_path, sent) == ("submitted", "btl-1", None, False)


async def test_receipts_kept_while_another_gateway_records_their_parts_all_match(
    any_store: AnyStore,
) -> None:
    """Receipts that come before their submit response, on another gateway: each receipt's
    batch and its part's batch recorded at the same moment, on two connections of PostgreSQL
    (SQLite writes one at a time). Whichever commits second must see the other's row."""
    messages = [new_message() for _ in range(200)]
    await any_store.delivery.record(DeliveryBatch(messages=messages))
    for round_ in range(0, len(messages), 10):
        pairs = []
        for n, message in enumerate(messages[round_ : round_ + 10], round_):
            segment = DeliveryBatch(segments=[_segment(message.id, f"r{n}")])
            receipt = DeliveryBatch(receipts=[_receipt(f"r{n}")])
            pairs += [any_store.delivery.record(receipt), any_store.delivery.record(segment)]
        await asyncio.gather(*pairs)
    states = {(await _states(any_store, m.id))[0] for m in messages}
    assert states == {"delivered"}
    assert await any_store.delivery.purge_unmatched(datetime.now(UTC) + timedelta(1)) == []


# Rows no method shows: an outbox row (a broadcast's recipient), per backend.


async def _add_outbox_row(store: AnyStore, tmp_path: Path) -> int:
    at = datetime.now(UTC)
    if isinstance(store, SqliteStore):
        with sqlite3.connect(tmp_path / "store.db") as db:
            cursor = db.execute(
                "INSERT INTO outbox (broadcast, recipient, language, carrier, priority, state,"
                " updated_at) VALUES (1, '+5016012345', 'en', 'btl', 1, 'queued', ?)",
                (at.isoformat(timespec="microseconds"),),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid
    async with store.db.pool.acquire() as conn:
        row_id = await conn.fetchval(
            "INSERT INTO outbox (broadcast, recipient, language, carrier, priority, state,"
            " updated_at) VALUES (1, '+5016012345', 'en', 'btl', 1, 'queued', $1) RETURNING id",
            at,
        )
        assert isinstance(row_id, int)
        return row_id


_OUTBOX = "SELECT state, channel, error, done_at IS NOT NULL FROM outbox WHERE id = "


async def _outbox_row(
    store: AnyStore, tmp_path: Path, row_id: int
) -> tuple[str, str | None, str | None, bool]:
    """(state, channel, error, done)"""
    if isinstance(store, SqliteStore):
        with sqlite3.connect(tmp_path / "store.db") as db:
            state, channel, error, done = db.execute(_OUTBOX + "?", (row_id,)).fetchone()
            return state, channel, error, bool(done)
    async with store.db.pool.acquire() as conn:
        row = await conn.fetchrow(_OUTBOX + "$1", row_id)
        assert row is not None
        return row[0], row[1], row[2], row[3]


async def _outbox_attempts(store: AnyStore, tmp_path: Path, row_id: int) -> tuple[int, bool]:
    """(attempts, a retry time set)"""
    sql = "SELECT attempts, not_before IS NOT NULL FROM outbox WHERE id = "
    if isinstance(store, SqliteStore):
        with sqlite3.connect(tmp_path / "store.db") as db:
            attempts, waiting = db.execute(sql + "?", (row_id,)).fetchone()
            return attempts, bool(waiting)
    async with store.db.pool.acquire() as conn:
        row = await conn.fetchrow(sql + "$1", row_id)
        assert row is not None
        return row[0], row[1]
