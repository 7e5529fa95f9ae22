"""Fault switches (STYLE B6) and how the simulator treats garbage from an ESME."""

from __future__ import annotations

import asyncio

import pytest

from channels.simulator import Simulator
from channels.smpp.codec import (
    Command,
    FrameError,
    PduError,
    Status,
    decode,
    encode_header,
    take_frames,
)

from .conftest import Connect

ENQUIRE_LINK = encode_header(Command.ENQUIRE_LINK, 77)


async def test_hang_answers_nothing_until_it_ends(simulator: Simulator, connect: Connect) -> None:
    esme = await connect(simulator)
    simulator.hang()
    esme.send(ENQUIRE_LINK)
    esme.submit()
    async with asyncio.timeout(5):
        await simulator.await_pdu(Command.SUBMIT_SM)  # both were read…
    simulator.hang(False)
    esme.send(encode_header(Command.ENQUIRE_LINK, 78))
    # …and never answered: the first answer on the link is the one sent after the hang.
    assert (await esme.expect(Command.ENQUIRE_LINK_RESP)).sequence == 78
    assert len(simulator.submits) == 0


async def test_hang_with_seconds_ends_by_itself(simulator: Simulator, connect: Connect) -> None:
    esme = await connect(simulator)
    simulator.hang(seconds=0.05)
    async with asyncio.timeout(5):
        await simulator.wait_for(lambda: not simulator.status()["hanging"])
    esme.send(ENQUIRE_LINK)
    assert (await esme.expect(Command.ENQUIRE_LINK_RESP)).sequence == 77


async def test_drop_links_closes_every_connection(simulator: Simulator, connect: Connect) -> None:
    first, second = await connect(simulator), await connect(simulator, bind=None)
    simulator.drop_links()
    assert await first.closed_by_peer()
    assert await second.closed_by_peer()
    async with asyncio.timeout(5):
        await simulator.wait_for(lambda: simulator.status()["connections"] == 0)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("bad_tlv", Status.ESME_RINVCMDLEN),
        ("truncated_body", Status.ESME_RINVCMDLEN),
        ("unknown_command", Status.ESME_RINVCMDID),
    ],
    ids=["bad_tlv", "truncated_body", "unknown_command"],
)
async def test_malformed_pdu_is_sent_and_the_esme_nack_is_recorded(
    simulator: Simulator, connect: Connect, kind: str, status: int
) -> None:
    esme = await connect(simulator)
    simulator.send_malformed(kind)
    frame = await esme.read_frame()
    with pytest.raises(PduError) as error:
        decode(frame)
    assert error.value.status == status
    esme.send(encode_header(Command.GENERIC_NACK, error.value.sequence, status))
    async with asyncio.timeout(5):
        nack = await simulator.await_pdu(Command.GENERIC_NACK)
    assert (nack.status, nack.sequence) == (status, error.value.sequence)
    assert simulator.generic_nacks == [nack]


@pytest.mark.parametrize("kind", ["bad_length", "oversized"])
async def test_malformed_lengths_cannot_be_framed(
    simulator: Simulator, connect: Connect, kind: str
) -> None:
    """Below the header, or 16 MB (more than any PDU may be): the ESME must drop the link."""
    esme = await connect(simulator)
    simulator.send_malformed(kind)
    async with asyncio.timeout(5):
        head = await esme.reader.readexactly(16)
    with pytest.raises(FrameError):
        take_frames(bytearray(head))


async def test_unknown_malformed_kind_is_an_error(simulator: Simulator) -> None:
    with pytest.raises(ValueError, match="bad_tlv"):
        simulator.send_malformed("nonsense")


@pytest.mark.parametrize(
    ("pdu", "status"),
    [
        (encode_header(0x00001234, 5), Status.ESME_RINVCMDID),
        # submit_sm cut inside source_addr: framed fine, body unreadable.
        (bytes.fromhex("00000015 00000004 00000000 00000005 0001013530"), Status.ESME_RINVCMDLEN),
        # query_sm: a real SMPP request the simulator does not serve.
        (bytes.fromhex("00000014 00000003 00000000 00000005 31000000"), Status.ESME_RINVCMDID),
    ],
    ids=["unknown-command", "truncated-submit", "unsupported-query_sm"],
)
async def test_garbage_from_the_esme_gets_generic_nack_and_the_session_lives(
    simulator: Simulator, connect: Connect, pdu: bytes, status: int
) -> None:
    esme = await connect(simulator)
    esme.send(pdu)
    nack = await esme.expect(Command.GENERIC_NACK)
    assert (nack.status, nack.sequence) == (status, 5)
    esme.send(ENQUIRE_LINK)
    await esme.expect(Command.ENQUIRE_LINK_RESP)


async def test_bad_command_length_from_the_esme_closes_the_link(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    esme.send(bytes.fromhex("00000008 00000015 00000000 00000001"))
    assert await esme.closed_by_peer()


async def test_fail_share_refuses_about_that_share_with_the_given_statuses(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    statuses = (Status.ESME_RTHROTTLED, Status.ESME_RMSGQFUL)
    simulator.fail_share(0.5, statuses)
    for _ in range(200):
        esme.submit(registered_delivery=0)
    answers = [(await esme.expect(Command.SUBMIT_SM_RESP)).status for _ in range(200)]
    refused = [status for status in answers if status]
    assert 60 < len(refused) < 140  # seeded: the same draw every run
    assert set(refused) == set(statuses)
    simulator.fail_share(0)
    esme.submit(registered_delivery=0)
    assert (await esme.expect(Command.SUBMIT_SM_RESP)).status == 0


def test_fail_share_needs_a_share_and_a_status(simulator: Simulator) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        simulator.fail_share(1.5)
    with pytest.raises(ValueError, match="at least one status"):
        simulator.fail_share(0.5, ())


async def test_refused_binds_until_the_switch_is_off(
    simulator: Simulator, connect: Connect
) -> None:
    simulator.refuse_binds(Status.ESME_RINVPASWD)
    esme = await connect(simulator, bind=None)
    assert (await esme.bind()).status == Status.ESME_RINVPASWD
    simulator.refuse_binds(0)
    assert (await esme.bind()).status == 0


async def test_duplicate_receipts_sends_each_receipt_twice(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    simulator.duplicate_receipts()
    esme.submit()
    response = await esme.expect(Command.SUBMIT_SM_RESP)
    first, second = await esme.read_short_message(), await esme.read_short_message()
    assert first.short_message == second.short_message
    assert response.message_id.encode() in first.short_message  # type: ignore[attr-defined]
    assert first.sequence != second.sequence


async def test_down_refuses_connections_until_it_comes_up_on_the_same_port(
    simulator: Simulator, connect: Connect
) -> None:
    esme, port = await connect(simulator), simulator.port
    await simulator.go_down()
    assert await esme.closed_by_peer()
    with pytest.raises(ConnectionRefusedError):
        await connect(simulator)
    await simulator.come_up()
    assert simulator.port == port
    await connect(simulator)
