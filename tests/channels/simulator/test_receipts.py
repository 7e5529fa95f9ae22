"""Delivery receipts: content (Appendix B text and TLVs), outcome mix, routing and timing."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from channels.simulator import NoReceiverError, Simulator
from channels.simulator.receipt_pdu import STATES, encode_receipt, job_for
from channels.smpp.codec import (
    Command,
    ShortMessage,
    SubmitSmResp,
    Tag,
    decode,
    encode_deliver_sm_resp,
    encode_short_message,
    encode_tlv,
)
from tests.channels.conftest import MakeSimulator

from .conftest import Connect
from .esme import RawEsme

RECEIPT_TEXT = re.compile(
    r"id:(?P<id>\w+) sub:001 dlvrd:(?P<dlvrd>\d{3}) submit date:(?P<submit>\d{10}) "
    r"done date:(?P<done>\d{10}) stat:(?P<stat>[A-Z]{7}) err:(?P<err>\d{3}) text:(?P<text>.*)",
    re.DOTALL,
)


async def _submit_and_receipt(esme: RawEsme, text: bytes = b"hello") -> tuple[str, ShortMessage]:
    esme.submit(text)
    response = await esme.expect(Command.SUBMIT_SM_RESP)
    assert isinstance(response, SubmitSmResp)
    receipt = await esme.read_short_message()
    return response.message_id, receipt


async def test_receipt_carries_text_and_tlvs_and_its_answer_is_recorded(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    message_id, receipt = await _submit_and_receipt(esme, b"Vaccination day Saturday 9am")
    assert receipt.esm_class == 0x04
    # From the handset back to the sender.
    assert (receipt.source_addr, receipt.destination_addr) == ("5016012345", "1515")
    match = RECEIPT_TEXT.fullmatch(receipt.short_message.decode("ascii"))
    assert match is not None, receipt.short_message
    assert match["id"] == message_id
    assert match["text"] == "Vaccination day Satu"  # the first 20 characters
    now = time.strftime("%y%m%d%H%M", time.gmtime())
    assert match["submit"] <= match["done"] <= now  # YYMMDDhhmm, UTC
    assert receipt.tlvs[Tag.RECEIPTED_MESSAGE_ID] == message_id.encode() + b"\0"
    state = receipt.tlvs[Tag.MESSAGE_STATE][0]
    expected = {"DELIVRD": (2, "001"), "UNDELIV": (5, "000"), "EXPIRED": (3, "000")}
    assert (state, match["dlvrd"]) == expected[match["stat"]]
    assert receipt.tlvs[Tag.NETWORK_ERROR_CODE][0] == 3  # GSM
    assert int.from_bytes(receipt.tlvs[Tag.NETWORK_ERROR_CODE][1:], "big") == int(match["err"])
    esme.answer(receipt)
    async with asyncio.timeout(5):
        await simulator.wait_for(lambda: simulator.deliver_sm_resps[0] == 1)
    assert simulator.status()["receipts_sent"] == 1


@pytest.mark.parametrize(
    ("receipt_format", "has_text", "has_tlvs"),
    [("text", True, False), ("tlv", False, True), ("both", True, True)],
    ids=["text", "tlv", "both"],
)
async def test_receipt_format(
    make_simulator: MakeSimulator,
    connect: Connect,
    receipt_format: str,
    has_text: bool,
    has_tlvs: bool,
) -> None:
    simulator = await make_simulator(receipt_format=receipt_format)
    _, receipt = await _submit_and_receipt(await connect(simulator))
    assert bool(receipt.short_message) is has_text
    assert (Tag.RECEIPTED_MESSAGE_ID in receipt.tlvs) is has_tlvs
    assert (Tag.MESSAGE_STATE in receipt.tlvs) is has_tlvs


@pytest.mark.parametrize(
    ("outcome", "stat", "message_state"),
    [
        ("delivered", "DELIVRD", 2),
        ("undeliverable", "UNDELIV", 5),
        ("expired", "EXPIRED", 3),
        ("rejected", "REJECTD", 8),
        ("deleted", "DELETED", 4),
        ("unknown", "UNKNOWN", 7),
    ],
    ids=lambda value: str(value),
)
async def test_receipt_outcome_follows_the_mix(
    make_simulator: MakeSimulator, connect: Connect, outcome: str, stat: str, message_state: int
) -> None:
    simulator = await make_simulator(receipt_mix={outcome: 1.0})
    _, receipt = await _submit_and_receipt(await connect(simulator))
    assert f"stat:{stat}" in receipt.short_message.decode()
    assert receipt.tlvs[Tag.MESSAGE_STATE] == bytes((message_state,))


async def test_same_seed_draws_the_same_outcomes(make_simulator: MakeSimulator) -> None:
    mix = {"delivered": 1.0, "undeliverable": 1.0, "expired": 1.0}
    first = await make_simulator(seed=3, receipt_mix=mix)
    second = await make_simulator(seed=3, receipt_mix=mix)
    draws = [[s._receipts.draw() for _ in range(50)] for s in (first, second)]
    assert draws[0] == draws[1]
    assert set(draws[0]) == set(mix)


async def test_receipt_text_id_can_be_decimal_while_the_tlv_keeps_hex(
    make_simulator: MakeSimulator, connect: Connect
) -> None:
    simulator = await make_simulator(receipt_text_id="decimal")
    message_id, receipt = await _submit_and_receipt(await connect(simulator))
    match = RECEIPT_TEXT.fullmatch(receipt.short_message.decode())
    assert match is not None
    assert match["id"] == str(int(message_id, 16))
    assert receipt.tlvs[Tag.RECEIPTED_MESSAGE_ID] == message_id.encode() + b"\0"


async def test_no_receipt_unless_registered_delivery_asks(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    esme.submit(registered_delivery=0)
    esme.submit(registered_delivery=1)
    await esme.expect(Command.SUBMIT_SM_RESP)
    await esme.expect(Command.SUBMIT_SM_RESP)
    receipt = await esme.read_short_message()
    match = RECEIPT_TEXT.fullmatch(receipt.short_message.decode())
    assert match is not None
    assert match["id"] == simulator.submits[1].message_id


async def test_ucs2_text_excerpt_is_ascii(simulator: Simulator, connect: Connect) -> None:
    esme = await connect(simulator)
    esme.submit("Día de vacunación el sábado".encode("utf-16-be"), data_coding=0x08)
    await esme.expect(Command.SUBMIT_SM_RESP)
    receipt = await esme.read_short_message()
    assert receipt.short_message.endswith(b"text:D?a de vacunaci?n el")


async def test_receipt_waits_for_a_receiver_of_the_same_system_id(
    simulator: Simulator, connect: Connect
) -> None:
    transmitter = await connect(simulator, bind=Command.BIND_TRANSMITTER)
    # A receiver of another system_id does not get it.
    await connect(simulator, bind=Command.BIND_RECEIVER, system_id="other")
    transmitter.submit()
    response = await transmitter.expect(Command.SUBMIT_SM_RESP)
    assert isinstance(response, SubmitSmResp)
    async with asyncio.timeout(5):
        await simulator.wait_for(lambda: simulator.status()["receipts_queued"] == 1)
    receiver = await connect(simulator, bind=Command.BIND_RECEIVER)
    receipt = await receiver.read_short_message()
    assert response.message_id.encode() in receipt.short_message
    assert simulator.status()["receipts_queued"] == 0


async def test_a_receipt_not_acknowledged_when_the_link_goes_is_sent_again(
    simulator: Simulator, connect: Connect
) -> None:
    first = await connect(simulator)
    message_id, receipt = await _submit_and_receipt(first)  # and never answered
    first.writer.transport.abort()  # the ESME dies before its deliver_sm_resp
    async with asyncio.timeout(5):
        await simulator.wait_for(lambda: simulator.status()["receipts_queued"] == 1)

    again = await connect(simulator)
    resent = await again.read_short_message()

    assert resent.short_message == receipt.short_message
    assert message_id.encode() in resent.short_message
    again.send(encode_deliver_sm_resp(resent.sequence))
    async with asyncio.timeout(5):
        await simulator.wait_for(lambda: sum(simulator.deliver_sm_resps.values()) == 1)
    again.writer.transport.abort()  # acknowledged: not kept any more
    await asyncio.sleep(0.1)
    assert simulator.status()["receipts_queued"] == 0


async def test_receipt_before_response_writes_the_receipt_first(
    make_simulator: MakeSimulator, connect: Connect
) -> None:
    simulator = await make_simulator(receipt_delay_s=5.0)
    simulator.receipt_before_response = True
    esme = await connect(simulator)
    esme.submit()
    receipt = await esme.read_short_message()
    response = await esme.expect(Command.SUBMIT_SM_RESP)
    assert isinstance(response, SubmitSmResp)
    assert receipt.tlvs[Tag.RECEIPTED_MESSAGE_ID] == response.message_id.encode() + b"\0"


async def test_explicit_receipt_for_an_id_never_submitted(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    await simulator.send_receipt("00C0FFEE", "undeliverable")
    receipt = await esme.read_short_message()
    match = RECEIPT_TEXT.fullmatch(receipt.short_message.decode())
    assert match is not None
    assert (match["id"], match["stat"], match["err"]) == ("00C0FFEE", "UNDELIV", "001")


async def test_explicit_receipt_with_nobody_bound_raises(simulator: Simulator) -> None:
    with pytest.raises(NoReceiverError):
        await simulator.send_receipt("1")


async def test_failure_only_receipts_skip_delivered_messages(
    make_simulator: MakeSimulator, connect: Connect
) -> None:
    simulator = await make_simulator(receipt_mix={"delivered": 1.0})
    esme = await connect(simulator)
    esme.submit(registered_delivery=2)  # SMPP 3.4 §5.2.17: receipt on failure only
    esme.submit(registered_delivery=1)
    await esme.expect(Command.SUBMIT_SM_RESP)
    await esme.expect(Command.SUBMIT_SM_RESP)
    receipt = await esme.read_short_message()
    assert (
        receipt.tlvs[Tag.RECEIPTED_MESSAGE_ID] == simulator.submits[1].message_id.encode() + b"\0"
    )


async def test_receipts_wait_out_a_hang(simulator: Simulator, connect: Connect) -> None:
    esme = await connect(simulator)
    esme.submit()
    await esme.expect(Command.SUBMIT_SM_RESP)
    simulator.hang()
    async with asyncio.timeout(5):
        await simulator.wait_receipts(1)  # written to the session, held there
    simulator.hang(False)
    receipt = await esme.read_short_message()
    assert receipt.esm_class == 0x04


async def test_explicit_receipt_for_a_system_id_waits_for_its_receiver(
    simulator: Simulator, connect: Connect
) -> None:
    await simulator.send_receipt("abc", "expired", system_id="smsgw")
    esme = await connect(simulator, bind=Command.BIND_RECEIVER)
    receipt = await esme.read_short_message()
    assert receipt.tlvs[Tag.RECEIPTED_MESSAGE_ID] == b"abc\0"
    assert receipt.tlvs[Tag.MESSAGE_STATE] == b"\3"


@pytest.mark.parametrize("receipt_format", ["text", "tlv", "both"])
@pytest.mark.parametrize("state", sorted(STATES))
def test_receipt_encoding_matches_the_codec(receipt_format: str, state: str) -> None:
    pdu = ShortMessage(
        Command.SUBMIT_SM,
        0,
        9,
        source_ton=5,
        source_npi=0,
        source_addr="GOV",
        dest_ton=1,
        dest_npi=1,
        destination_addr="5016012345",
        short_message=b"Clinic open Saturday 9am",
    )
    job = job_for("smsgw", "1f2e3d", pdu)
    dates = {"submit_date": b"2611261200", "done_date": b"2611261201"}
    ours = encode_receipt(42, job, state, receipt_format=receipt_format, text_id="1f2e3d", **dates)
    decoded = decode(ours)
    assert isinstance(decoded, ShortMessage)
    stat, message_state, error = STATES[state]
    text = b""
    if receipt_format != "tlv":
        dlvrd = b"001" if state == "delivered" else b"000"
        text = b"id:1f2e3d sub:001 dlvrd:%s submit date:2611261200 done date:2611261201 " % dlvrd
        text += b"stat:%s err:%03d text:Clinic open Saturday" % (stat.encode(), error)
    tlvs = b""
    if receipt_format != "text":
        tlvs = (
            encode_tlv(Tag.RECEIPTED_MESSAGE_ID, b"1f2e3d\0")
            + encode_tlv(Tag.MESSAGE_STATE, bytes((message_state,)))
            + encode_tlv(Tag.NETWORK_ERROR_CODE, bytes((3,)) + error.to_bytes(2, "big"))
        )
    reference = encode_short_message(
        Command.DELIVER_SM,
        42,
        source_addr="5016012345",
        source_ton=1,
        source_npi=1,
        destination_addr="GOV",
        dest_ton=5,
        dest_npi=0,
        esm_class=0x04,
        short_message=text,
        tlvs=tlvs,
    )
    assert ours == reference
