"""Mobile-originated texts injected into the simulator, single and multi-part."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from channels.concatenation import parse_udh
from channels.simulator import NoReceiverError, Simulator
from channels.smpp.codec import Command, ShortMessage, Tag
from channels.text import decode

from .conftest import Connect
from .esme import RawEsme


async def _read(esme: RawEsme, n: int) -> list[ShortMessage]:
    return [await esme.read_short_message() for _ in range(n)]


async def test_single_mo_reaches_the_receiver(simulator: Simulator, connect: Connect) -> None:
    esme = await connect(simulator)
    assert await simulator.inject_mo("+5016012345", "JOIN HEALTH") == 1
    (pdu,) = await _read(esme, 1)
    assert (pdu.source_addr, pdu.source_ton, pdu.source_npi) == ("5016012345", 1, 1)
    assert (pdu.destination_addr, pdu.esm_class, pdu.data_coding) == ("1515", 0, 0)
    assert decode(pdu.short_message, pdu.data_coding) == "JOIN HEALTH"
    esme.answer(pdu)
    async with asyncio.timeout(5):
        answer = await simulator.await_pdu(Command.DELIVER_SM_RESP)
    assert answer.sequence == pdu.sequence


async def test_long_mo_is_split_with_udh(simulator: Simulator, connect: Connect) -> None:
    esme = await connect(simulator)
    text = "AYUDA " + "€" * 10 + "x" * 300  # GSM with escapes: 3 parts of 153 septets
    n = await simulator.inject_mo("+5016012345", text, "2020")
    assert n == 3
    pdus = await _read(esme, n)
    assert {p.esm_class for p in pdus} == {0x40}
    assert {p.destination_addr for p in pdus} == {"2020"}
    parts = [parse_udh(p.short_message) for p in pdus]
    concats = [concat for concat, _ in parts]
    assert all(c is not None for c in concats)
    assert [(c.total, c.seq) for c in concats if c] == [(3, 1), (3, 2), (3, 3)]
    assert len({c.reference for c in concats if c}) == 1
    assert "".join(decode(payload, 0) for _, payload in parts) == text


async def test_long_ucs2_mo_split_with_sar_tlvs(simulator: Simulator, connect: Connect) -> None:
    esme = await connect(simulator)
    text = "¿Cuándo es el día de vacunación? " * 5  # á: UCS-2, 67 characters a part
    n = await simulator.inject_mo("+5016012345", text, parts="sar")
    assert n == 3
    pdus = await _read(esme, n)
    assert {(p.esm_class, p.data_coding) for p in pdus} == {(0, 0x08)}
    assert [p.tlvs[Tag.SAR_SEGMENT_SEQNUM] for p in pdus] == [b"\1", b"\2", b"\3"]
    assert {p.tlvs[Tag.SAR_TOTAL_SEGMENTS] for p in pdus} == {b"\3"}
    assert len({p.tlvs[Tag.SAR_MSG_REF_NUM] for p in pdus}) == 1
    assert "".join(decode(p.short_message, 0x08) for p in pdus) == text


async def test_mo_goes_to_a_receiver_not_to_a_transmitter(
    simulator: Simulator, connect: Connect
) -> None:
    await connect(simulator, bind=Command.BIND_TRANSMITTER)
    receiver = await connect(simulator, bind=Command.BIND_RECEIVER)
    await simulator.inject_mo("+5016012345", "HELP")
    (pdu,) = await _read(receiver, 1)
    assert pdu.short_message == b"HELP"


async def test_mo_without_a_receiver_raises(simulator: Simulator, connect: Connect) -> None:
    await connect(simulator, bind=Command.BIND_TRANSMITTER)
    with pytest.raises(NoReceiverError):
        await simulator.inject_mo("+5016012345", "HELP")


async def test_mo_log_masks_the_numbers(simulator: Simulator, connect: Connect) -> None:
    await connect(simulator)
    with capture_logs() as logs:
        await simulator.inject_mo("+5016012345", "STOP")
    (entry,) = [e for e in logs if e["event"] == "mo_injected"]
    assert entry["sender"] == "…45"
    assert "5016012345" not in repr(logs)
