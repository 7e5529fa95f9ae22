"""submit_sm handling: ids, records, TPS limit, response delay, scripted answers."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest

from channels.simulator import Simulator
from channels.smpp.codec import Command, Status, SubmitSmResp
from tests.channels.conftest import MakeSimulator

from .conftest import Connect
from .esme import RawEsme


def _submit_sm(sequence: int, destination: bytes) -> bytes:
    """A submit_sm written by hand: our codec refuses addresses over 20 octets."""
    body = b"\0" + b"\0\0" + b"1515\0" + b"\1\1" + destination + b"\0"
    body += bytes(3) + b"\0\0" + bytes((0, 0, 0, 0, 1)) + b"x"
    return struct.pack(">IIII", 16 + len(body), Command.SUBMIT_SM, 0, sequence) + body


async def _responses(esme: RawEsme, n: int) -> list[SubmitSmResp]:
    responses = []
    for _ in range(n):
        response = await esme.expect(Command.SUBMIT_SM_RESP)
        assert isinstance(response, SubmitSmResp)
        responses.append(response)
    return responses


async def test_submit_is_answered_with_a_unique_id_and_recorded(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    before = time.monotonic()
    sequences = [esme.submit(b"hello %d" % i, to="5016012345") for i in range(3)]
    responses = await _responses(esme, 3)
    assert [r.sequence for r in responses] == sequences
    assert all(r.status == 0 for r in responses)
    ids = [r.message_id for r in responses]
    assert len(set(ids)) == 3
    assert all(int(message_id, 16) for message_id in ids)  # hex by default
    first = simulator.submits[0]
    assert (first.system_id, first.source_addr, first.destination_addr) == (
        "smsgw",
        "1515",
        "5016012345",
    )
    assert (first.short_message, first.message_id, first.status) == (b"hello 0", ids[0], 0)
    assert (first.data_coding, first.esm_class, first.registered_delivery) == (0, 0, 1)
    assert before <= first.at <= time.monotonic()


async def test_decimal_message_ids(make_simulator: MakeSimulator, connect: Connect) -> None:
    simulator = await make_simulator(message_id_format="decimal")
    esme = await connect(simulator)
    esme.submit()
    (response,) = await _responses(esme, 1)
    assert response.message_id.isdigit()


async def test_wait_submits_returns_once_enough_arrived(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    waiter = asyncio.create_task(simulator.wait_submits(2))
    esme.submit()
    esme.submit()
    async with asyncio.timeout(5):
        await waiter
    assert len(simulator.submits) == 2


async def test_submits_over_tps_in_one_second_are_throttled(
    make_simulator: MakeSimulator, connect: Connect
) -> None:
    simulator = await make_simulator(tps=3)
    esme = await connect(simulator)
    for _ in range(5):
        esme.submit(registered_delivery=0)
    responses = await _responses(esme, 5)
    statuses = [r.status for r in responses]
    # All five arrive well within one second: the first three fit, the rest do not.
    assert statuses == [0, 0, 0, Status.ESME_RTHROTTLED, Status.ESME_RTHROTTLED]
    assert [s.status for s in simulator.submits] == statuses
    assert responses[3].message_id == simulator.submits[3].message_id == ""
    assert simulator.status()["throttled"] == 2


async def test_tps_window_is_per_bind(make_simulator: MakeSimulator, connect: Connect) -> None:
    simulator = await make_simulator(tps=1)
    first, second = await connect(simulator), await connect(simulator)
    first.submit(registered_delivery=0)
    second.submit(registered_delivery=0)
    assert [r.status for r in await _responses(first, 1)] == [0]
    assert [r.status for r in await _responses(second, 1)] == [0]


async def test_response_delay_holds_the_answer(
    make_simulator: MakeSimulator, connect: Connect
) -> None:
    simulator = await make_simulator(response_delay_s=0.05, receipts=False)
    esme = await connect(simulator)
    started = time.monotonic()
    esme.submit()
    esme.submit()
    responses = await _responses(esme, 2)
    assert time.monotonic() - started >= 0.05
    assert [r.status for r in responses] == [0, 0]


async def test_reply_next_answers_the_next_submits_with_that_status(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    simulator.reply_next(Status.ESME_RINVDSTADR, count=2)
    for _ in range(3):
        esme.submit()
    statuses = [r.status for r in await _responses(esme, 3)]
    assert statuses == [Status.ESME_RINVDSTADR, Status.ESME_RINVDSTADR, 0]
    assert simulator.status()["receipts_queued"] + simulator.status()["receipts_sent"] <= 1


@pytest.mark.parametrize(
    ("destination", "status"),
    [(b"5" * 21, Status.ESME_RINVDSTADR), (b"5" * 20, 0)],
    ids=["over-20-octets", "20-octets"],
)
async def test_destination_longer_than_smpp_3_4_allows_is_refused(
    simulator: Simulator, connect: Connect, destination: bytes, status: int
) -> None:
    esme = await connect(simulator)
    esme.send(_submit_sm(5, destination))
    (response,) = await _responses(esme, 1)
    assert (response.sequence, response.status) == (5, status)
