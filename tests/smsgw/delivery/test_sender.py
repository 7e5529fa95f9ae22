from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from channels.base import PermanentSendError, TemporarySendError, UnknownOutcome
from channels.routing import Router
from smsgw.config import Settings
from smsgw.delivery.message import Message
from smsgw.delivery.recorder import Recorder
from smsgw.delivery.sender import RetryPolicy, Sender
from smsgw.storage.sqlite import SqliteStore
from tests.smsgw.fakes import FakeChannel, new_message

FAST = RetryPolicy(first_delay_s=0.001, max_delay_s=0.004)
BTL, SMART = "+5016012345", "+5016512345"


@pytest.fixture
async def channels(settings: Settings, recorder: Recorder) -> list[FakeChannel]:
    channels = [FakeChannel(config) for config in settings.channels]
    for channel in channels:
        await channel.start(recorder)
    return channels


@pytest.fixture
def btl(channels: list[FakeChannel]) -> FakeChannel:
    return channels[0]


async def _sender(
    store: SqliteStore, recorder: Recorder, channels: list[FakeChannel], policy: RetryPolicy
) -> Sender:
    return Sender(Router(channels), store, recorder, short_code="1515", policy=policy)


@pytest.fixture
async def sender(
    store: SqliteStore, recorder: Recorder, channels: list[FakeChannel]
) -> AsyncIterator[Sender]:
    sender = await _sender(store, recorder, channels, FAST)
    yield sender
    await sender.stop()


async def _settled(sender: Sender, recorder: Recorder, store: SqliteStore, id_: str) -> Message:
    async with asyncio.timeout(5):
        await sender.join()
        await recorder.flush()
    message = await store.get_message(id_)
    assert message is not None
    return message


async def _history(store: SqliteStore, id_: str) -> list[tuple[str, str | None]]:
    return [(event.state, event.detail) for event in await store.message_history(id_)]


async def test_a_message_goes_to_the_carrier_of_its_prefix(
    sender: Sender, recorder: Recorder, store: SqliteStore, channels: list[FakeChannel]
) -> None:
    created = await sender.create(SMART, "Clinic open", segments=1, encoding="gsm7")
    assert created.state == "queued"
    message = await _settled(sender, recorder, store, created.id)
    assert (message.state, message.channel) == ("submitted", "smart-1")
    sms = channels[1].attempts.get_nowait()
    assert (sms.id, sms.to, sms.text, sms.sender) == (created.id, SMART, "Clinic open", "1515")
    assert channels[0].attempts.empty()


async def test_temporary_errors_are_retried_until_the_carrier_accepts(
    sender: Sender, recorder: Recorder, store: SqliteStore, btl: FakeChannel
) -> None:
    btl.failures += [TemporarySendError("ESME_RTHROTTLED"), TemporarySendError("timeout")]
    created = await sender.create(BTL, "Hello", segments=1, encoding="gsm7")
    message = await _settled(sender, recorder, store, created.id)
    assert message.state == "submitted"
    assert btl.attempts.qsize() == 3
    assert await _history(store, created.id) == [
        ("queued", None),
        ("retry_scheduled", "ESME_RTHROTTLED; retry in 0.001 s"),
        ("retry_scheduled", "timeout; retry in 0.002 s"),
        ("submitted", "btl-1"),
    ]


def test_retry_delays_double_from_one_second_up_to_a_minute() -> None:
    delays = [RetryPolicy().delay(attempt) for attempt in range(8)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    assert RetryPolicy().delay(10_000) == 60


@pytest.mark.parametrize(
    ("to", "failure", "error"),
    [
        (BTL, PermanentSendError("ESME_RINVDSTADR"), "ESME_RINVDSTADR"),
        ("+447700900123", None, "no_route"),
    ],
    ids=["carrier-refuses", "no-route"],
)
async def test_a_permanent_error_rejects_the_message(
    sender: Sender,
    recorder: Recorder,
    store: SqliteStore,
    btl: FakeChannel,
    to: str,
    failure: PermanentSendError | None,
    error: str,
) -> None:
    btl.failures += [failure] if failure else []
    created = await sender.create(to, "Hello", segments=1, encoding="gsm7")
    message = await _settled(sender, recorder, store, created.id)
    assert (message.state, message.error) == ("rejected", error)
    assert await _history(store, created.id) == [("queued", None), ("rejected", error)]


async def test_a_message_expires_when_its_validity_ends_before_a_bind_comes_up(
    store: SqliteStore, recorder: Recorder, channels: list[FakeChannel], btl: FakeChannel
) -> None:
    sender = await _sender(store, recorder, channels, RetryPolicy(validity=timedelta(0)))
    await btl.stop()  # every bind of btl down: the router says no_channel_up
    created = await sender.create(BTL, "Hello", segments=1, encoding="gsm7")
    message = await _settled(sender, recorder, store, created.id)
    assert (message.state, message.error) == ("expired", "no_channel_up")
    await sender.stop()


async def test_an_unknown_outcome_is_never_sent_again(
    sender: Sender, recorder: Recorder, store: SqliteStore, btl: FakeChannel
) -> None:
    btl.failures.append(UnknownOutcome("link_lost", "in flight when the link dropped"))
    created = await sender.create(BTL, "Hello", segments=1, encoding="gsm7")
    message = await _settled(sender, recorder, store, created.id)
    assert (message.state, message.error) == ("submitted", "link_lost")
    assert btl.attempts.qsize() == 1
    assert await _history(store, created.id) == [
        ("queued", None),
        ("unknown_outcome", "link_lost"),
    ]


async def test_a_crash_while_sending_fails_the_message_and_is_logged(
    sender: Sender, recorder: Recorder, store: SqliteStore, btl: FakeChannel
) -> None:
    btl.failures.append(RuntimeError("bug"))
    with capture_logs() as logs:
        created = await sender.create(BTL, "Hello", segments=1, encoding="gsm7")
        message = await _settled(sender, recorder, store, created.id)
    assert (message.state, message.error) == ("failed", "internal_error")
    assert "send_crashed" in [log["event"] for log in logs]


async def test_messages_left_queued_by_the_last_run_are_sent_at_start(
    sender: Sender, recorder: Recorder, store: SqliteStore, btl: FakeChannel
) -> None:
    left = new_message(BTL)
    await recorder.message_queued(left)
    assert await sender.resume() == 1
    message = await _settled(sender, recorder, store, left.id)
    assert message.state == "submitted"


async def test_stopping_ends_a_waiting_retry_at_once_and_keeps_the_message_queued(
    store: SqliteStore, recorder: Recorder, channels: list[FakeChannel], btl: FakeChannel
) -> None:
    sender = await _sender(store, recorder, channels, RetryPolicy(first_delay_s=60))
    btl.failures.append(TemporarySendError("ESME_RMSGQFUL"))
    created = await sender.create(BTL, "Hello", segments=1, encoding="gsm7")
    async with asyncio.timeout(5):
        await btl.attempts.get()
        await sender.stop()
        await recorder.flush()
    message = await store.get_message(created.id)
    assert message is not None
    assert message.state == "queued"
    sender.submit(message)  # ignored once stopped
    assert btl.attempts.empty()
