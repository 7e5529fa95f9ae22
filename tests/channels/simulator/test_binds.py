"""Binding, keep-alive and unbinding against the simulator."""

from __future__ import annotations

import asyncio

import pytest

from channels.simulator import Simulator
from channels.smpp.codec import BindResp, Command, Status, SubmitSmResp
from tests.channels.conftest import MakeSimulator

from .conftest import Connect
from .esme import RawEsme

ACCOUNTS = {"accounts": {"smsgw": "secret"}}


@pytest.mark.parametrize(
    ("command_id", "bind_type"),
    [
        (Command.BIND_TRANSCEIVER, "transceiver"),
        (Command.BIND_TRANSMITTER, "transmitter"),
        (Command.BIND_RECEIVER, "receiver"),
    ],
    ids=["transceiver", "transmitter", "receiver"],
)
async def test_bind_with_good_credentials_is_accepted(
    make_simulator: MakeSimulator, command_id: int, bind_type: str
) -> None:
    simulator = await make_simulator(**ACCOUNTS)
    esme = await RawEsme.connect(simulator.port)
    response = await esme.bind("smsgw", "secret", command_id)
    assert isinstance(response, BindResp)
    assert (response.status, response.system_id) == (0, "SMSGWSIM")
    async with asyncio.timeout(5):
        await simulator.wait_bound(1)
    assert simulator.bound() == [f"smsgw:{bind_type}"]
    await esme.close()


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [
        ("smsgw", "wrong", Status.ESME_RINVPASWD),
        ("stranger", "secret", Status.ESME_RINVSYSID),
    ],
    ids=["bad-password", "unknown-system-id"],
)
async def test_bind_with_bad_credentials_is_refused(
    make_simulator: MakeSimulator, system_id: str, password: str, status: int
) -> None:
    simulator = await make_simulator(**ACCOUNTS)
    esme = await RawEsme.connect(simulator.port)
    response = await esme.bind(system_id, password)
    assert response.status == status
    assert simulator.bound() == []
    # The link stays open: a second attempt with the right password binds.
    assert (await esme.bind("smsgw", "secret")).status == 0
    await esme.close()


async def test_any_credentials_bind_when_no_accounts_are_configured(
    simulator: Simulator, connect: Connect
) -> None:
    await connect(simulator, system_id="anyone", password="anything")
    assert simulator.bound() == ["anyone:transceiver"]


async def test_submit_before_bind_is_refused_with_invalid_bind_status(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator, bind=None)
    esme.submit()
    response = await esme.expect(Command.SUBMIT_SM_RESP)
    assert response.status == Status.ESME_RINVBNDSTS
    assert simulator.submits[0].status == Status.ESME_RINVBNDSTS


async def test_submit_on_a_receiver_bind_is_refused(simulator: Simulator, connect: Connect) -> None:
    esme = await connect(simulator, bind=Command.BIND_RECEIVER)
    esme.submit()
    assert (await esme.expect(Command.SUBMIT_SM_RESP)).status == Status.ESME_RINVBNDSTS


async def test_second_bind_on_a_bound_session_is_refused(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    assert (await esme.bind()).status == Status.ESME_RALYBND


async def test_enquire_link_is_answered_with_its_sequence(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    esme.send(bytes.fromhex("00000010 00000015 00000000 0000002a"))
    response = await esme.expect(Command.ENQUIRE_LINK_RESP)
    assert (response.status, response.sequence) == (0, 42)


async def test_idle_esme_gets_enquire_link_and_its_answer_is_recorded(
    make_simulator: MakeSimulator, connect: Connect
) -> None:
    simulator = await make_simulator(enquire_link_s=0.05)
    esme = await connect(simulator)
    request = await esme.expect(Command.ENQUIRE_LINK)
    esme.answer(request)
    async with asyncio.timeout(5):
        answer = await simulator.await_pdu(Command.ENQUIRE_LINK_RESP)
    assert answer.sequence == request.sequence


async def test_unbind_is_answered_then_the_connection_closes(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    esme.send(bytes.fromhex("00000010 00000006 00000000 00000007"))
    response = await esme.expect(Command.UNBIND_RESP)
    assert response.sequence == 7
    assert await esme.closed_by_peer()
    async with asyncio.timeout(5):
        await simulator.wait_for(lambda: simulator.bound() == [])


async def test_unbind_all_unbinds_and_closes_once_answered(
    simulator: Simulator, connect: Connect
) -> None:
    esme = await connect(simulator)
    simulator.unbind_all()
    request = await esme.expect(Command.UNBIND)
    assert simulator.bound() == []
    esme.submit()  # in flight when the unbind crossed it: refused, the ESME is not bound
    response = await esme.expect(Command.SUBMIT_SM_RESP)
    assert isinstance(response, SubmitSmResp)
    assert response.status == Status.ESME_RINVBNDSTS
    esme.answer(request)
    assert await esme.closed_by_peer()
