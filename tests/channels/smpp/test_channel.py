"""The SMPP channel against the simulator, over real TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import structlog

from channels.base import (
    DeliveryReceipt,
    InboundSms,
    LinkState,
    NotSent,
    OutboundSms,
    PermanentSendError,
    ReceiptState,
    SegmentSubmitted,
    TemporarySendError,
    UnknownOutcome,
)
from channels.concatenation import parse_udh
from channels.simulator import Simulator
from channels.simulator.records import most_within
from channels.smpp.channel import SmppChannel
from channels.smpp.codec import Command, Status
from channels.smpp.config import SmppChannelConfig

WAIT = 10.0


class Sink:
    """Collects what the channel reports, in order, and lets a test await it."""

    def __init__(self) -> None:
        self.events: list[SegmentSubmitted | InboundSms | DeliveryReceipt] = []
        self._changed = asyncio.Event()

    def segment_submitted(self, event: SegmentSubmitted) -> None:
        self._add(event)

    def received(self, item: InboundSms | DeliveryReceipt) -> asyncio.Future[None] | None:
        self._add(item)
        return None

    def _add(self, item: Any) -> None:
        self.events.append(item)
        self._changed.set()

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait(self, kind: type, n: int) -> list[Any]:
        async with asyncio.timeout(WAIT):
            while len(self.of(kind)) < n:
                self._changed.clear()
                await self._changed.wait()
        return self.of(kind)


MakeChannel = Callable[..., Awaitable[SmppChannel]]


@pytest.fixture
async def make_channel() -> AsyncIterator[MakeChannel]:
    started: list[SmppChannel] = []

    async def make(simulator: Simulator, sink: Sink, *, bound: bool = True, **overrides: Any):
        settings = {
            "name": "btl-1",
            "carrier": "btl",
            "host": "127.0.0.1",
            "port": simulator.port,
            "system_id": "smsgw",
            "password": "secret",
            "tps": 0,
            "window": 10,
            "prefixes": ["+5016"],
            "enquire_link_s": 5.0,
            "response_timeout_s": 2.0,
            "reconnect_min_s": 0.05,
            "reconnect_max_s": 0.2,
            "throttle_pause_s": 0.05,
        }
        channel = SmppChannel(SmppChannelConfig(**{**settings, **overrides}))
        await channel.start(sink)
        started.append(channel)
        if bound:
            async with asyncio.timeout(WAIT):
                await channel.wait_bound()
        return channel

    yield make
    for channel in started:
        await channel.stop()


def sms(n: int = 0, text: str = "Vaccination day Saturday 9am at all clinics.") -> OutboundSms:
    return OutboundSms(id=f"m{n}", to=f"+50160{n:05d}", text=text, sender="1515")


async def test_submit_is_accepted_and_its_receipt_carries_the_same_id(make_simulator, make_channel):
    simulator = await make_simulator(receipt_mix={"delivered": 1.0})
    sink = Sink()
    channel = await make_channel(simulator, sink)

    result = await channel.send(sms(1))

    [submitted] = sink.of(SegmentSubmitted)
    assert submitted.sms_id == "m1"
    assert (submitted.part, submitted.parts) == (1, 1)
    assert result.carrier_ids == (submitted.carrier_id,)
    [receipt] = await sink.wait(DeliveryReceipt, 1)
    assert receipt.carrier_id == submitted.carrier_id
    assert receipt.state is ReceiptState.DELIVERED
    [submit] = simulator.submits
    assert submit.destination_addr == "5016000001"
    assert (submit.pdu.dest_ton, submit.pdu.dest_npi) == (1, 1)
    assert submit.pdu.registered_delivery == 1


async def test_long_message_goes_as_concatenated_segments(make_simulator, make_channel):
    simulator = await make_simulator()
    sink = Sink()
    channel = await make_channel(simulator, sink)

    result = await channel.send(sms(2, "Hurricane warning. " * 20))

    assert len(result.carrier_ids) == 3
    headers = [parse_udh(s.pdu.short_message)[0] for s in simulator.submits]
    assert all(headers)
    assert [(h.total, h.seq) for h in headers if h] == [(3, 1), (3, 2), (3, 3)]
    assert len({h.reference for h in headers if h}) == 1
    assert all(s.pdu.esm_class & 0x40 for s in simulator.submits)
    await sink.wait(DeliveryReceipt, 3)


async def test_receipt_before_its_submit_response_still_carries_the_id(
    make_simulator, make_channel
):
    simulator = await make_simulator(receipt_mix={"delivered": 1.0})
    simulator.receipt_before_response = True
    sink = Sink()
    channel = await make_channel(simulator, sink)

    await channel.send(sms(3))

    receipt, submitted = sink.events
    assert isinstance(receipt, DeliveryReceipt)
    assert isinstance(submitted, SegmentSubmitted)
    assert receipt.carrier_id == submitted.carrier_id


@pytest.mark.parametrize(
    ("submit_base", "receipt_base"),
    [("text", "text"), ("hex", "decimal")],
    ids=["same-form", "hex-response-decimal-receipt"],
)
async def test_receipt_ids_in_another_base_are_matched(
    make_simulator, make_channel, submit_base, receipt_base
):
    text_id = "same" if receipt_base == "text" else "decimal"
    simulator = await make_simulator(receipt_text_id=text_id, receipt_format="text")
    sink = Sink()
    channel = await make_channel(
        simulator, sink, submit_id_base=submit_base, receipt_id_base=receipt_base
    )

    result = await channel.send(sms(4))

    [receipt] = await sink.wait(DeliveryReceipt, 1)
    assert receipt.carrier_id == result.carrier_ids[0]


async def test_rate_never_exceeds_the_cap_in_any_one_second_window(make_simulator, make_channel):
    simulator = await make_simulator(receipts=False)
    sink = Sink()
    tps = 20
    channel = await make_channel(simulator, sink, tps=tps, window=5)

    await asyncio.gather(*(channel.send(sms(i)) for i in range(3 * tps + 5)))

    times = [s.at for s in simulator.submits]
    assert len(times) == 3 * tps + 5
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t - start < 1.0)
        assert in_window <= tps, f"{in_window} submits in the second after submit {i}"


async def test_the_smsc_never_counts_over_the_cap_with_the_jitter_margin(
    make_simulator, make_channel
):
    """A routine load, urgent messages jumping the queue, the bind idle, more load: counted
    on the simulator's receive times, even windows of 1 s + 100 ms hold at most the cap (the
    margin is 200 ms: the other half is left to this machine's scheduling noise)."""
    simulator = await make_simulator(receipts=False)
    tps = 50
    channel = await make_channel(simulator, Sink(), tps=tps, window=10, jitter_margin_ms=200)
    routine = [channel.enqueue(sms(i)) for i in range(70)]
    async with asyncio.timeout(WAIT):
        await simulator.wait_submits(30)
    urgent = [
        channel.enqueue(OutboundSms(id=f"u{i}", to=f"+50161{i:05d}", text="Shelter now.",
                                    sender="1515", urgent=True))
        for i in range(10)
    ]  # fmt: skip
    await asyncio.gather(*routine, *urgent)
    await asyncio.gather(*(channel.enqueue(sms(100 + i)) for i in range(30)))

    times = [s.at for s in simulator.submits]
    assert len(times) == 110
    assert most_within(times, 1.1) <= tps
    lanes = [s.destination_addr.startswith("50161") for s in simulator.submits]
    first = lanes.index(True)
    assert lanes[first : first + 10] == [True] * 10


async def test_an_urgent_message_goes_ahead_of_those_already_queued(make_simulator, make_channel):
    simulator = await make_simulator(receipts=False)
    channel = await make_channel(simulator, Sink(), tps=20, window=2)
    routine = [channel.enqueue(sms(i)) for i in range(30)]
    await simulator.wait_submits(3)
    urgent = OutboundSms(id="alert", to="+5016199999", text="Shelter now.", sender="1515",
                         urgent=True)  # fmt: skip

    await channel.send(urgent)

    order = [s.destination_addr for s in simulator.submits]
    assert order.index("5016199999") <= 3 + 2  # only what was already written or in the window
    await asyncio.gather(*routine)
    assert [a for a in order if a != "5016199999"] == [
        f"50160{i:05d}" for i in range(len(order) - 1)
    ]


async def test_a_withdrawn_message_is_never_written(make_simulator, make_channel):
    simulator = await make_simulator(receipts=False)
    channel = await make_channel(simulator, Sink(), tps=10, window=1)
    queued = [channel.enqueue(sms(i)) for i in range(10)]
    await simulator.wait_submits(2)
    for future in queued[5:]:
        future.cancel()  # withdrawn before any part of them was written

    await asyncio.gather(*queued[:5])
    await asyncio.sleep(0.3)

    assert [s.destination_addr for s in simulator.submits] == [f"50160{i:05d}" for i in range(5)]
    assert channel.backlog == 0


async def test_throttled_submits_pause_the_bind_and_keep_their_order(make_simulator, make_channel):
    simulator = await make_simulator(receipts=False)
    sink = Sink()
    channel = await make_channel(simulator, sink, window=1)
    simulator.reply_next(Status.ESME_RTHROTTLED, count=3)

    await asyncio.gather(*(channel.send(sms(i)) for i in range(6)))

    statuses = [s.status for s in simulator.submits]
    assert statuses[:3] == [Status.ESME_RTHROTTLED] * 3
    accepted = [s.destination_addr for s in simulator.submits if s.status == Status.ESME_ROK]
    assert accepted == [f"50160{i:05d}" for i in range(6)]
    assert [e.sms_id for e in sink.of(SegmentSubmitted)] == [f"m{i}" for i in range(6)]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (Status.ESME_RINVDSTADR, "ESME_RINVDSTADR"),
        (0x00000045, "ESME_RSUBMITFAIL"),
    ],
    ids=["invalid-destination-permanent", "submit-fail-temporary"],
)
async def test_error_status_fails_the_message_with_its_smpp_name(
    make_simulator, make_channel, status, code
):
    simulator = await make_simulator()
    channel = await make_channel(simulator, Sink())
    simulator.reply_next(status)

    with pytest.raises((PermanentSendError, TemporarySendError)) as caught:
        await channel.send(sms(5))

    assert caught.value.code == code
    assert caught.value.temporary is (code == "ESME_RSUBMITFAIL")
    assert (await channel.send(sms(6))).carrier_ids


async def test_dropped_link_reports_in_flight_messages_and_reconnects(make_simulator, make_channel):
    simulator = await make_simulator(receipts=False, response_delay_s=30)
    channel = await make_channel(simulator, Sink(), window=5, response_timeout_s=20)
    sends = [asyncio.ensure_future(channel.send(sms(i))) for i in range(3)]
    async with asyncio.timeout(WAIT):
        await simulator.wait_submits(3)

    simulator.drop_links()
    results = await asyncio.gather(*sends, return_exceptions=True)

    assert [getattr(r, "code", r) for r in results] == ["link_lost"] * 3
    assert all(isinstance(r, UnknownOutcome) for r in results)
    async with asyncio.timeout(WAIT):
        await channel.wait_bound()
    assert channel.in_flight == 0


async def test_send_while_down_is_a_temporary_error(make_simulator, make_channel):
    simulator = await make_simulator()
    channel = await make_channel(simulator, Sink())
    await simulator.stop()
    async with asyncio.timeout(WAIT):
        await channel.wait_for(lambda c: c.state is not LinkState.BOUND)

    with pytest.raises(NotSent) as caught:
        await channel.send(sms(1))
    assert caught.value.code == "link_down"


async def test_silent_smsc_is_detected_by_enquire_link(make_simulator, make_channel):
    simulator = await make_simulator()
    channel = await make_channel(simulator, Sink(), enquire_link_s=0.2, response_timeout_s=0.3)
    simulator.hang()

    async with asyncio.timeout(WAIT):
        await channel.wait_for(lambda c: c.state is not LinkState.BOUND)
    assert "enquire_link" in channel.last_error
    simulator.hang(False)
    async with asyncio.timeout(WAIT):
        await channel.wait_bound()


async def test_channel_answers_the_smscs_enquire_link(make_simulator, make_channel):
    simulator = await make_simulator(enquire_link_s=0.1)
    await make_channel(simulator, Sink())

    async with asyncio.timeout(WAIT):
        resp = await simulator.await_pdu(Command.ENQUIRE_LINK_RESP)
    assert resp.status == 0


async def test_malformed_pdu_is_nacked_and_the_session_lives_on(make_simulator, make_channel):
    simulator = await make_simulator()
    channel = await make_channel(simulator, Sink())

    simulator.send_malformed("bad_tlv")
    async with asyncio.timeout(WAIT):
        nack = await simulator.await_pdu(Command.GENERIC_NACK)

    assert nack.status == Status.ESME_RINVCMDLEN
    assert channel.state is LinkState.BOUND
    assert (await channel.send(sms(1))).carrier_ids
    assert len(simulator.bound()) == 1


async def test_unknown_command_is_nacked(make_simulator, make_channel):
    simulator = await make_simulator()
    channel = await make_channel(simulator, Sink())

    simulator.send_malformed("unknown_command")
    async with asyncio.timeout(WAIT):
        nack = await simulator.await_pdu(Command.GENERIC_NACK)

    assert nack.status == Status.ESME_RINVCMDID
    assert (await channel.send(sms(1))).carrier_ids


async def test_bind_refusal_is_reported_with_its_status_name(make_simulator, make_channel):
    simulator = await make_simulator(accounts={"smsgw": "right"})
    channel = await make_channel(simulator, Sink(), bound=False, password="wrong")

    async with asyncio.timeout(WAIT):
        await channel.wait_for(lambda c: bool(c.last_error))
    assert channel.last_error == "ESME_RINVPASWD"
    assert channel.state is not LinkState.BOUND


async def test_smsc_unbind_is_answered_and_the_channel_binds_again(make_simulator, make_channel):
    simulator = await make_simulator()
    channel = await make_channel(simulator, Sink())

    simulator.unbind_all()
    async with asyncio.timeout(WAIT):
        resp = await simulator.await_pdu(Command.UNBIND_RESP)
        await simulator.wait_for(lambda: channel.state is not LinkState.BOUND)
        await channel.wait_bound()
    assert resp.status == 0


async def test_stop_unbinds(make_simulator, make_channel):
    simulator = await make_simulator()
    channel = await make_channel(simulator, Sink())

    await channel.stop()

    async with asyncio.timeout(WAIT):
        await simulator.await_pdu(Command.UNBIND)
    assert channel.state is LinkState.STOPPED


async def test_a_stopped_channel_binds_and_sends_again_when_started(make_simulator, make_channel):
    """A gateway that lost a bind's lease and took it back starts the same channel again."""
    simulator = await make_simulator()
    sink = Sink()
    channel = await make_channel(simulator, sink)
    await channel.stop()
    await channel.start(sink)
    async with asyncio.timeout(WAIT):
        await channel.wait_for(lambda c: c.state is LinkState.BOUND)
        result = await channel.send(
            OutboundSms(id="m1", to="+5016012345", text="Back", sender="1515")
        )
    assert result.carrier_ids
    assert simulator.submits[-1].short_message == b"Back"


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("JOIN HEALTH", "udh"),
        ("únete salud ¿sí? " * 10, "udh"),
        ("Please send me the list of services and how to stop them. " * 4, "sar"),
    ],
    ids=["single", "ucs2-multipart-udh", "gsm-multipart-sar"],
)
async def test_mobile_originated_text_is_decoded_and_reassembled(
    make_simulator, make_channel, text, parts
):
    simulator = await make_simulator()
    sink = Sink()
    await make_channel(simulator, sink)

    await simulator.inject_mo("+5016012345", text, parts=parts)

    [mo] = await sink.wait(InboundSms, 1)
    assert mo.text == text
    assert mo.sender == "+5016012345"
    assert mo.to == "1515"


async def test_transmitter_receiver_pair_sends_and_receives(make_simulator, make_channel):
    simulator = await make_simulator(receipt_mix={"delivered": 1.0})
    sink = Sink()
    channel = await make_channel(simulator, sink, bind="transmitter+receiver")

    result = await channel.send(sms(1))
    await simulator.inject_mo("+5016012345", "HELP")

    [receipt] = await sink.wait(DeliveryReceipt, 1)
    assert receipt.carrier_id == result.carrier_ids[0]
    [mo] = await sink.wait(InboundSms, 1)
    assert mo.text == "HELP"
    assert sorted(simulator.bound()) == ["smsgw:receiver", "smsgw:transmitter"]


async def test_submit_without_response_is_an_unknown_outcome(make_simulator, make_channel):
    simulator = await make_simulator()
    channel = await make_channel(simulator, Sink(), response_timeout_s=0.2, enquire_link_s=30)
    simulator.hang()

    with pytest.raises(UnknownOutcome) as caught:
        await channel.send(sms(1))

    assert caught.value.code == "response_timeout"


async def test_a_window_too_small_for_the_rate_is_warned_about_at_start(make_simulator):
    simulator = await make_simulator()
    config = SmppChannelConfig(
        name="btl-1", carrier="btl", host="127.0.0.1", port=simulator.port, system_id="smsgw",
        tps=100, window=10, expected_response_ms=200,
    )  # fmt: skip
    channel = SmppChannel(config)
    with structlog.testing.capture_logs() as logs:
        await channel.start(Sink())
    await channel.stop()

    [warning] = [e for e in logs if e["event"] == "window_too_small"]
    # a slot turns over in the answer's 200 ms plus ~2 ms to store it; the pacing's 97.1/s
    assert (warning["reachable_tps"], warning["window_needed"]) == (49, 20)

    enough = SmppChannel(config.model_copy(update={"expected_response_ms": 100.0}))
    with structlog.testing.capture_logs() as logs:
        await enough.start(Sink())  # 10 slots of ~102 ms: 98/s, above the pacing's 97.1
    await enough.stop()
    assert not [e for e in logs if e["event"] == "window_too_small"]


@pytest.mark.parametrize("attempt", [0, 1, 5, 20], ids=lambda a: f"attempt-{a}")
def test_reconnect_back_off_grows_with_jitter_and_stays_under_the_cap(attempt):
    channel = SmppChannel(
        SmppChannelConfig(
            name="b",
            carrier="b",
            host="127.0.0.1",
            port=1,
            system_id="s",
            reconnect_min_s=1.0,
            reconnect_max_s=60.0,
        )
    )
    ceiling = min(60.0, 2.0**attempt)
    delays = [channel._backoff(attempt) for _ in range(200)]

    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 100  # jittered: binds reconnecting together spread out
