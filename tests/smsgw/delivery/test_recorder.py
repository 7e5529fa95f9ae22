from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from channels.base import DeliveryReceipt, InboundSms, ReceiptState, SegmentSubmitted
from smsgw.delivery.message import DeliveryBatch, DroppedReceipt, Message, MessageState, Outcome
from smsgw.delivery.recorder import Recorder
from smsgw.storage.sqlite import SqliteStore
from tests.smsgw.testbed import new_message

DELIVERED = ReceiptState.DELIVERED


async def _queued(recorder: Recorder, parts: int = 1) -> Message:
    message = new_message(parts=parts)
    await recorder.message_queued(message)
    return message


def _segment(
    message: Message, carrier_id: str, part: int = 1, channel: str = "btl-1"
) -> SegmentSubmitted:
    return SegmentSubmitted(message.id, part, message.parts, carrier_id, channel)


def _receipt(
    carrier_id: str, state: ReceiptState = DELIVERED, error: str = "000", channel: str = "btl-1"
) -> DeliveryReceipt:
    return DeliveryReceipt(carrier_id, state, error, channel)


async def _states(store: SqliteStore, message: Message) -> tuple[MessageState, list[str]]:
    stored = await store.messages.get_message(message.id)
    assert stored is not None
    return stored.state, [event.state for event in await store.messages.message_history(message.id)]


async def test_a_submitted_then_delivered_message_is_delivered(
    store: SqliteStore, recorder: Recorder
) -> None:
    message = await _queued(recorder)
    recorder.segment_submitted(_segment(message, "a1"))
    await recorder.flush()
    assert await _states(store, message) == ("submitted", ["queued", "submitted"])
    await recorder.received(_receipt("a1"))
    assert await _states(store, message) == ("delivered", ["queued", "submitted", "delivered"])
    stored = await store.messages.get_message(message.id)
    assert stored is not None
    assert (stored.channel, stored.error) == ("btl-1", None)


async def test_a_receipt_before_its_submit_response_is_kept_and_matched_later(
    store: SqliteStore, recorder: Recorder
) -> None:
    message = await _queued(recorder)
    await recorder.received(_receipt("a2"))  # stored unmatched, acknowledged
    assert await _states(store, message) == ("queued", ["queued"])
    recorder.segment_submitted(_segment(message, "a2"))
    await recorder.flush()
    assert await _states(store, message) == ("delivered", ["queued", "submitted", "delivered"])
    assert await store.delivery.purge_unmatched(message.created_at + timedelta(days=1)) == []


async def test_a_receipt_and_its_submit_in_one_batch_match_whatever_their_order(
    store: SqliteStore, recorder: Recorder
) -> None:
    message = await _queued(recorder)
    receipt = recorder.received(_receipt("a3"))
    recorder.segment_submitted(_segment(message, "a3"))
    await receipt
    assert (await _states(store, message))[0] == "delivered"


async def test_receipts_match_per_carrier_not_per_bind(
    store: SqliteStore, recorder: Recorder
) -> None:
    message = await _queued(recorder)
    recorder.segment_submitted(_segment(message, "a4", channel="btl-1"))
    await recorder.received(_receipt("a4", channel="smart-1"))  # another carrier's id
    assert (await _states(store, message))[0] == "submitted"


async def test_a_two_part_message_is_delivered_only_when_both_parts_are(
    store: SqliteStore, recorder: Recorder
) -> None:
    message = await _queued(recorder, parts=2)
    recorder.segment_submitted(_segment(message, "b1", part=1))
    recorder.segment_submitted(_segment(message, "b2", part=2))
    await recorder.received(_receipt("b1"))
    assert (await _states(store, message))[0] == "submitted"
    await recorder.received(_receipt("b2"))
    state, history = await _states(store, message)
    assert state == "delivered"
    assert history == ["queued", "submitted", "delivered", "delivered", "delivered"]
    details = [event.detail for event in await store.messages.message_history(message.id)]
    assert details[2:4] == ["part 1/2", "part 2/2"]


async def test_one_failed_part_fails_the_message_with_the_carrier_error(
    store: SqliteStore, recorder: Recorder
) -> None:
    message = await _queued(recorder, parts=2)
    recorder.segment_submitted(_segment(message, "c1", part=1))
    recorder.segment_submitted(_segment(message, "c2", part=2))
    await recorder.received(_receipt("c1"))
    await recorder.received(_receipt("c2", ReceiptState.UNDELIVERABLE, "034"))
    stored = await store.messages.get_message(message.id)
    assert stored is not None
    assert (stored.state, stored.error) == ("undeliverable", "034")
    await recorder.received(_receipt("c2", DELIVERED))  # a late contradicting receipt
    assert (await _states(store, message))[0] == "undeliverable"


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
    store: SqliteStore,
    recorder: Recorder,
    receipt_state: ReceiptState,
    message_state: str,
) -> None:
    message = await _queued(recorder)
    recorder.segment_submitted(_segment(message, "d1"))
    await recorder.received(_receipt("d1", receipt_state, "001"))
    assert (await _states(store, message))[0] == message_state


async def test_intermediate_receipts_only_add_history(
    store: SqliteStore, recorder: Recorder
) -> None:
    message = await _queued(recorder)
    recorder.segment_submitted(_segment(message, "e1"))
    await recorder.received(_receipt("e1", ReceiptState.ENROUTE))
    assert await _states(store, message) == ("submitted", ["queued", "submitted", "enroute"])
    # out of order in one batch: the final receipt wins over a later intermediate one
    delivered = recorder.received(_receipt("e1", DELIVERED))
    recorder.received(_receipt("e1", ReceiptState.ACCEPTED))
    await delivered
    assert (await _states(store, message))[0] == "delivered"


async def test_sender_outcomes_change_state_only_of_unfinished_messages(
    store: SqliteStore, recorder: Recorder
) -> None:
    message = await _queued(recorder)
    recorder.outcome(Outcome(message.id, "retry_scheduled", None, "link_down; retry in 1 s"))
    recorder.outcome(Outcome(message.id, "rejected", MessageState.REJECTED, "no_route"))
    recorder.outcome(Outcome(message.id, "expired", MessageState.EXPIRED, "too late"))
    await recorder.flush()
    stored = await store.messages.get_message(message.id)
    assert stored is not None
    assert (stored.state, stored.error) == ("rejected", "no_route")
    assert (await _states(store, message))[1] == [
        "queued",
        "retry_scheduled",
        "rejected",
        "expired",
    ]


async def test_the_future_of_a_received_item_is_done_once_it_is_stored(
    store: SqliteStore, recorder: Recorder, tmp_path: object
) -> None:
    inbound = InboundSms("+5016012345", "1515", "JOIN HEALTH", "btl-1", ("1f",))
    with capture_logs() as logs:
        future = recorder.received(inbound)
        assert not future.done()
        async with asyncio.timeout(5):
            await future
    assert {"event": "inbound_received", "sender": "+5016012345", "to": "1515",
            "channel": "btl-1", "log_level": "info", "id": logs[0]["id"]} in logs  # fmt: skip


async def test_many_messages_in_few_batches_all_end_delivered(
    store: SqliteStore, recorder: Recorder
) -> None:
    messages = [new_message() for _ in range(2000)]
    await asyncio.gather(*(recorder.message_queued(m) for m in messages))
    for i, message in enumerate(messages):
        recorder.segment_submitted(_segment(message, f"{i:x}"))
    await asyncio.gather(*(recorder.received(_receipt(f"{i:x}")) for i in range(len(messages))))
    states = {(await store.messages.get_message(m.id)).state for m in messages[::97]}  # type: ignore[union-attr]
    assert states == {"delivered"}


async def test_old_unmatched_receipts_are_dropped_and_logged(store: SqliteStore) -> None:
    recorder = Recorder(store.delivery, {}, unmatched_keep=timedelta(0))
    await recorder.start()
    try:
        await recorder.received(_receipt("f1"))
        with capture_logs() as logs:
            await recorder.purge()
    finally:
        await recorder.close()
    assert [(log["event"], log["carrier_id"]) for log in logs] == [
        ("receipt_unmatched_dropped", "f1")
    ]


async def test_closing_stores_what_is_pending(store: SqliteStore) -> None:
    recorder = Recorder(store.delivery, {})
    await recorder.start()
    message = new_message()
    queued = recorder.message_queued(message)
    await recorder.close()
    assert queued.done()
    assert await store.messages.get_message(message.id) is not None


class _SlowLog:
    """A delivery log whose writes wait for the test's word: what a write in progress means."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()

    async def record(self, batch: DeliveryBatch) -> None:
        self.batches.append([m.id for m in batch.messages])
        await self.release.wait()
        self.release.clear()

    async def purge_unmatched(self, before: datetime) -> list[DroppedReceipt]:
        return []

    async def settle_unconfirmed(self, expired_before: datetime) -> list[str]:
        return []


async def _turns_until(condition: Callable[[], bool], most: int = 1000) -> int:
    """Turns of the event loop until ``condition`` holds (not seconds: no clock involved)."""
    for turn in range(most):
        if condition():
            return turn
        await asyncio.sleep(0)  # counting the loop's turns is the point
    raise AssertionError(f"not within {most} turns of the loop")


async def test_a_lone_item_is_written_at_once_and_what_comes_meanwhile_is_the_next_batch() -> None:
    """Group commit with no fixed wait: the writer takes what is there as soon as it is free
    (a fixed 20 ms wait made every API request take 20 ms on an idle gateway)."""
    log = _SlowLog()
    recorder = Recorder(log, {})
    await recorder.start()
    first = new_message()
    stored_first = recorder.message_queued(first)
    assert await _turns_until(lambda: bool(log.batches)) <= 5  # no waiting for company
    later = [new_message() for _ in range(3)]
    stored_later = [recorder.message_queued(m) for m in later]
    await asyncio.sleep(0.05)
    assert log.batches == [[first.id]]  # one write at a time: the others wait for it
    log.release.set()
    await stored_first
    assert await _turns_until(lambda: len(log.batches) == 2) <= 5
    assert log.batches[1] == [m.id for m in later]  # together, in one transaction
    assert not any(future.done() for future in stored_later)  # done only once committed
    log.release.set()
    await asyncio.gather(*stored_later)
    await recorder.close()


async def test_a_message_with_no_final_receipt_by_the_end_of_its_validity_becomes_unknown(
    store: SqliteStore,
) -> None:
    """Every message reaches a final state; a late receipt still says what happened."""
    recorder = Recorder(store.delivery, {}, receipt_grace=timedelta(0))
    await recorder.start()
    try:
        lapsed = dataclasses.replace(new_message(), expires_at=datetime.now(UTC))
        current = new_message()  # valid for an hour still
        for n, message in enumerate((lapsed, current)):
            await recorder.message_queued(message)
            recorder.segment_submitted(_segment(message, f"e{n}"))
        await recorder.flush()
        await recorder.purge()
        assert await _states(store, lapsed) == ("unknown", ["queued", "submitted", "unknown"])
        assert await _states(store, current) == ("submitted", ["queued", "submitted"])
        stored = await store.messages.get_message(lapsed.id)
        assert stored is not None
        assert stored.error == "no_receipt"
        await recorder.purge()  # settled once
        assert len(await store.messages.message_history(lapsed.id)) == 3
        await recorder.received(_receipt("e0"))  # the carrier's word, late
        assert (await _states(store, lapsed))[0] == "delivered"
    finally:
        await recorder.close()


async def test_a_batch_of_messages_is_stored_in_one_transaction() -> None:
    """POST /messages/batch: its messages and their audit entry go in one write."""
    log = _SlowLog()
    recorder = Recorder(log, {})
    await recorder.start()
    messages = [new_message() for _ in range(1000)]
    stored = recorder.messages_queued(messages)
    log.release.set()
    await stored
    assert log.batches == [[m.id for m in messages]]
    await recorder.close()
