"""The sender over real SMPP binds to the simulator: routing, retries, expiry, shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from channels.routing import Router
from channels.simulator import Simulator
from channels.smpp.channel import SmppChannel
from channels.smpp.codec import Command, Status
from smsgw.config import Settings
from smsgw.delivery.message import Message
from smsgw.delivery.recorder import Recorder
from smsgw.delivery.sender import NewMessage, RetryPolicy, Sender
from smsgw.storage.sqlite import SqliteStore
from tests.smsgw.testbed import WAIT, eventually, new_message

FAST = RetryPolicy(first_delay_s=0.001, max_delay_s=0.004)
BTL, SMART = "+5016012345", "+5016512345"


@pytest.fixture
async def channels(settings: Settings, recorder: Recorder) -> AsyncIterator[list[SmppChannel]]:
    """Every configured bind, up; no receipts asked: these tests end at the carrier's answer."""
    configs = [c.model_copy(update={"registered_delivery": False}) for c in settings.channels]
    channels = [SmppChannel(config) for config in configs]
    try:
        for channel in channels:
            await channel.start(recorder)
        async with asyncio.timeout(WAIT):
            for channel in channels:
                await channel.wait_bound()
        yield channels
    finally:
        for channel in channels:
            await channel.stop()


@pytest.fixture
def btl(channels: list[SmppChannel]) -> SmppChannel:
    return channels[0]


async def _sender(
    store: SqliteStore, recorder: Recorder, channels: list[SmppChannel], policy: RetryPolicy
) -> Sender:
    return Sender(Router(channels), store.messages, recorder, short_code="1515", policy=policy)


@pytest.fixture
async def sender(
    store: SqliteStore, recorder: Recorder, channels: list[SmppChannel]
) -> AsyncIterator[Sender]:
    sender = await _sender(store, recorder, channels, FAST)
    yield sender
    await sender.stop()


async def _settled(sender: Sender, recorder: Recorder, store: SqliteStore, id_: str) -> Message:
    async with asyncio.timeout(WAIT):
        await sender.join()
        await recorder.flush()
    message = await store.messages.get_message(id_)
    assert message is not None
    return message


async def _history(store: SqliteStore, id_: str) -> list[tuple[str, str | None]]:
    return [(event.state, event.detail) for event in await store.messages.message_history(id_)]


async def test_a_message_goes_to_the_carrier_of_its_prefix(
    sender: Sender, recorder: Recorder, store: SqliteStore, simulator: Simulator
) -> None:
    created = await sender.create(SMART, "Clinic open", segments=1, encoding="gsm7")
    assert created.state == "queued"
    message = await _settled(sender, recorder, store, created.id)
    assert (message.state, message.channel) == ("submitted", "smart-1")
    [submit] = simulator.submits  # and none to btl
    assert (submit.system_id, submit.destination_addr, submit.source_addr) == (
        "smsgw-smart",
        "5016512345",
        "1515",
    )
    assert submit.short_message == b"Clinic open"


async def test_temporary_errors_are_retried_until_the_carrier_accepts(
    sender: Sender, recorder: Recorder, store: SqliteStore, simulator: Simulator
) -> None:
    simulator.reply_next(Status.ESME_RSYSERR, count=2)
    created = await sender.create(BTL, "Hello", segments=1, encoding="gsm7")
    message = await _settled(sender, recorder, store, created.id)
    assert message.state == "submitted"
    assert [submit.status for submit in simulator.submits] == [
        Status.ESME_RSYSERR,
        Status.ESME_RSYSERR,
        Status.ESME_ROK,
    ]
    assert await _history(store, created.id) == [
        ("queued", None),
        ("retry_scheduled", "ESME_RSYSERR; retry in 0.001 s"),
        ("retry_scheduled", "ESME_RSYSERR; retry in 0.002 s"),
        ("submitted", "btl-1"),
    ]


def test_retry_delays_double_from_one_second_up_to_a_minute() -> None:
    delays = [RetryPolicy().delay(attempt) for attempt in range(8)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    assert RetryPolicy().delay(10_000) == 60


@pytest.mark.parametrize(
    ("to", "status", "error"),
    [
        (BTL, Status.ESME_RINVDSTADR, "ESME_RINVDSTADR"),
        ("+447700900123", None, "no_route"),
    ],
    ids=["carrier-refuses", "no-route"],
)
async def test_a_permanent_error_rejects_the_message(
    sender: Sender,
    recorder: Recorder,
    store: SqliteStore,
    simulator: Simulator,
    to: str,
    status: int | None,
    error: str,
) -> None:
    if status is not None:
        simulator.reply_next(status)
    created = await sender.create(to, "Hello", segments=1, encoding="gsm7")
    message = await _settled(sender, recorder, store, created.id)
    assert (message.state, message.error) == ("rejected", error)
    assert await _history(store, created.id) == [("queued", None), ("rejected", error)]
    assert [submit.status for submit in simulator.submits] == ([status] if status else [])


async def test_a_message_expires_when_its_validity_ends_before_a_bind_comes_up(
    store: SqliteStore,
    recorder: Recorder,
    channels: list[SmppChannel],
    btl: SmppChannel,
    simulator: Simulator,
) -> None:
    sender = await _sender(store, recorder, channels, RetryPolicy(validity=timedelta(0)))
    await simulator.stop()  # every bind of btl goes down: the router says no_channel_up
    async with asyncio.timeout(WAIT):
        await btl.wait_for(lambda channel: not channel.can_send)
    created = await sender.create(BTL, "Hello", segments=1, encoding="gsm7")
    message = await _settled(sender, recorder, store, created.id)
    assert (message.state, message.error) == ("expired", "no_channel_up")
    await sender.stop()


async def test_a_message_in_flight_when_its_link_drops_is_sent_again(
    sender: Sender, recorder: Recorder, store: SqliteStore, btl: SmppChannel, simulator: Simulator
) -> None:
    """As a broadcast's: the SMSC may have had it (a duplicate, bounded by the window), but a
    message lost without anyone noticing is worse."""
    simulator.hang()
    created = await sender.create(BTL, "Hello", segments=1, encoding="gsm7")
    async with asyncio.timeout(WAIT):
        await simulator.await_pdu(Command.SUBMIT_SM)  # in flight, never answered
    simulator.drop_links()
    simulator.hang(False)  # before the reconnect: a bind sent while hung is never answered
    message = await _settled(sender, recorder, store, created.id)
    assert message.state == "submitted"  # by the new link
    history = await _history(store, created.id)
    assert history[:2] == [("queued", None), ("resent", "link_lost; the first may have arrived")]
    assert history[-1] == ("submitted", "btl-1")
    assert {state for state, _ in history[2:-1]} <= {"retry_scheduled"}  # until it is back
    assert [s.destination_addr for s in simulator.submits] == ["5016012345"]  # the second


async def test_a_message_resumed_after_its_validity_expires_unsent(
    store: SqliteStore, recorder: Recorder, channels: list[SmppChannel], simulator: Simulator
) -> None:
    """The gateway was down past the message's validity: too late to send it."""
    stale = dataclasses.replace(new_message(BTL), expires_at=datetime.now(UTC) - timedelta(1))
    await recorder.message_queued(stale)
    sender = await _sender(store, recorder, channels, FAST)
    assert await sender.resume() == 1
    message = await _settled(sender, recorder, store, stale.id)
    assert (message.state, message.error) == ("expired", "validity_ended")
    assert simulator.submit_total == 0
    await sender.stop()


async def test_a_text_too_long_for_sms_is_rejected_without_a_submit(
    sender: Sender, recorder: Recorder, store: SqliteStore, simulator: Simulator
) -> None:
    text = "x" * 153 * 256  # more segments than a one-octet count holds
    created = await sender.create(BTL, text, segments=256, encoding="gsm7")
    message = await _settled(sender, recorder, store, created.id)
    assert (message.state, message.error) == ("rejected", "message_too_long")
    assert simulator.submit_total == 0


async def test_messages_left_queued_by_the_last_run_are_sent_at_start(
    sender: Sender, recorder: Recorder, store: SqliteStore, simulator: Simulator
) -> None:
    left = new_message(BTL)
    await recorder.message_queued(left)
    assert await sender.resume() == 1
    message = await _settled(sender, recorder, store, left.id)
    assert message.state == "submitted"
    assert [submit.destination_addr for submit in simulator.submits] == ["5016012345"]


async def test_stopping_ends_a_waiting_retry_at_once_and_keeps_the_message_queued(
    store: SqliteStore, recorder: Recorder, channels: list[SmppChannel], simulator: Simulator
) -> None:
    sender = await _sender(store, recorder, channels, RetryPolicy(first_delay_s=60))
    simulator.reply_next(Status.ESME_RSYSERR)
    created = await sender.create(BTL, "Hello", segments=1, encoding="gsm7")

    async def retry_scheduled() -> bool:
        await recorder.flush()
        return ("retry_scheduled", "ESME_RSYSERR; retry in 60 s") in await _history(
            store, created.id
        )

    await eventually(retry_scheduled)
    async with asyncio.timeout(1):  # far less than the retry's 60 s or the 5 s shutdown grace
        await sender.stop()
        await recorder.flush()
    message = await store.messages.get_message(created.id)
    assert message is not None
    assert message.state == "queued"
    sender.submit(message)  # ignored once stopped
    async with asyncio.timeout(WAIT):
        await sender.join()
    assert simulator.submit_total == 1


@pytest.mark.parametrize("simulator", [{"response_delay_s": 0.3}], indirect=True)
async def test_a_send_failing_during_shutdown_stays_queued_and_is_not_retried(
    store: SqliteStore, recorder: Recorder, channels: list[SmppChannel], simulator: Simulator
) -> None:
    sender = await _sender(store, recorder, channels, RetryPolicy(first_delay_s=0.01))
    simulator.reply_next(Status.ESME_RSYSERR)
    created = await sender.create(BTL, "Clinic closed today", segments=1, encoding="gsm7")
    async with asyncio.timeout(WAIT):
        await simulator.wait_submits(1)

    async with asyncio.timeout(2):  # well under the 5 s grace: it ends when the send does
        await sender.stop()

    await recorder.flush()
    message = await store.messages.get_message(created.id)
    assert message is not None
    assert message.state == "queued"  # the next start sends it
    await asyncio.sleep(0.1)  # a retry would have gone by now (first delay 0.01 s)
    assert simulator.submit_total == 1


def _numbers(count: int, first: int = 0) -> list[str]:
    return [f"+50160{n:05d}" for n in range(first, first + count)]


async def test_a_burst_waits_in_the_store_and_each_message_goes_once_in_order(
    store: SqliteStore, recorder: Recorder, channels: list[SmppChannel], simulator: Simulator
) -> None:
    """Only `in_memory` messages are held at once; the others are read back from the store as
    those go, including those posted while a read back is under way."""
    sender = Sender(
        Router(channels), store.messages, recorder, short_code="1515", policy=FAST, in_memory=4
    )
    numbers = _numbers(60)
    first = [NewMessage(to, "Tax is due", 1, "gsm7") for to in numbers[:30]]
    await sender.create_many(first)
    assert sender.held == 4  # not 30
    for to in numbers[30:]:  # one by one, while the first burst is read back and sent
        await sender.create(to, "Tax is due", segments=1, encoding="gsm7")
        assert sender.held <= 4
    async with asyncio.timeout(WAIT):
        await sender.join()
        await recorder.flush()
    sent = ["+" + submit.destination_addr for submit in simulator.submits]
    assert sent == numbers  # each once, in the order they were posted
    assert await store.messages.take_queued(instance="local", carriers=(), limit=100) == []
    await sender.stop()


async def test_more_messages_left_queued_than_fit_in_memory_are_all_sent_at_start(
    store: SqliteStore, recorder: Recorder, channels: list[SmppChannel], simulator: Simulator
) -> None:
    left = [new_message(to) for to in _numbers(10)]
    await recorder.messages_queued(left)
    sender = Sender(
        Router(channels), store.messages, recorder, short_code="1515", policy=FAST, in_memory=3
    )
    assert await sender.resume() == 3  # the others as these go
    async with asyncio.timeout(WAIT):
        await sender.join()
        await recorder.flush()
    assert sorted("+" + s.destination_addr for s in simulator.submits) == _numbers(10)
    for message in left:
        stored = await store.messages.get_message(message.id)
        assert stored is not None
        assert stored.state == "submitted"
    await sender.stop()
