"""The HTTP control API, driven over its real port with an aiohttp client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from channels.simulator import Simulator
from channels.smpp.codec import Command, Status, SubmitSmResp
from channels.text import decode
from tests.channels.conftest import MakeSimulator

from .conftest import Connect


@pytest.fixture
async def controlled(make_simulator: MakeSimulator) -> Simulator:
    return await make_simulator(control_port=0)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


async def _post(
    http: aiohttp.ClientSession, simulator: Simulator, path: str, body: Any
) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{simulator.control_port}{path}"
    async with http.post(url, json=body) as response:
        return response.status, await response.json()


async def test_post_mo_delivers_to_the_bound_receiver(
    controlled: Simulator, connect: Connect, http: aiohttp.ClientSession
) -> None:
    esme = await connect(controlled)
    body = {"from": "+5016012345", "text": "JOIN HEALTH"}
    assert await _post(http, controlled, "/mo", body) == (200, {"pdus": 1})
    pdu = await esme.read_short_message()
    assert (pdu.source_addr, pdu.destination_addr) == ("5016012345", "1515")
    assert decode(pdu.short_message, pdu.data_coding) == "JOIN HEALTH"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "HELP"}, "from"),
        ({"from": "+5016012345", "text": "HELP", "parts": "other"}, "parts"),
        ({"from": "+5016012345", "text": "HELP", "colour": "red"}, "colour"),
        (["not", "an", "object"], None),
    ],
    ids=["missing-from", "bad-parts", "unknown-key", "not-an-object"],
)
async def test_post_mo_with_a_bad_body_is_400(
    controlled: Simulator,
    connect: Connect,
    http: aiohttp.ClientSession,
    body: Any,
    field: str | None,
) -> None:
    await connect(controlled)
    status, answer = await _post(http, controlled, "/mo", body)
    assert status == 400
    assert answer["error"]["code"] == "invalid_body"
    assert answer["error"]["field"] == field


async def test_post_mo_with_broken_json_is_400(
    controlled: Simulator, http: aiohttp.ClientSession
) -> None:
    url = f"http://127.0.0.1:{controlled.control_port}/mo"
    async with http.post(url, data=b"{nope", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
        assert (await r.json())["error"]["code"] == "bad_json"


async def test_post_mo_without_a_receiver_is_409(
    controlled: Simulator, http: aiohttp.ClientSession
) -> None:
    status, answer = await _post(http, controlled, "/mo", {"from": "+5016012345", "text": "X"})
    assert status == 409
    assert answer["error"]["code"] == "no_receiver"


async def test_get_status_shows_binds_and_counts(
    controlled: Simulator, connect: Connect, http: aiohttp.ClientSession
) -> None:
    esme = await connect(controlled)
    esme.submit(registered_delivery=0)
    await esme.expect(Command.SUBMIT_SM_RESP)
    async with http.get(f"http://127.0.0.1:{controlled.control_port}/status") as response:
        status = await response.json()
    assert status["bound"] == ["smsgw:transceiver"]
    assert (status["submits"], status["accepted"], status["throttled"]) == (1, 1, 0)
    assert status["binds"] == 1


async def test_post_faults_reply_next_and_hang(
    controlled: Simulator, connect: Connect, http: aiohttp.ClientSession
) -> None:
    esme = await connect(controlled)
    body = {"reply_next": {"status": Status.ESME_RTHROTTLED, "count": 1}}
    assert await _post(http, controlled, "/faults", body) == (200, {"applied": ["reply_next"]})
    esme.submit()
    response = await esme.expect(Command.SUBMIT_SM_RESP)
    assert isinstance(response, SubmitSmResp)
    assert response.status == Status.ESME_RTHROTTLED
    assert (await _post(http, controlled, "/faults", {"hang": True}))[0] == 200
    assert controlled.status()["hanging"] is True
    assert (await _post(http, controlled, "/faults", {"hang": False}))[0] == 200
    assert controlled.status()["hanging"] is False


async def test_post_faults_malformed_and_drop_links(
    controlled: Simulator, connect: Connect, http: aiohttp.ClientSession
) -> None:
    esme = await connect(controlled)
    assert (await _post(http, controlled, "/faults", {"malformed": "unknown_command"}))[0] == 200
    frame = await esme.read_frame()
    assert frame[4:8] == bytes.fromhex("00001234")
    assert (await _post(http, controlled, "/faults", {"drop_links": True}))[0] == 200
    assert await esme.closed_by_peer()
    async with asyncio.timeout(5):
        await controlled.wait_for(lambda: controlled.bound() == [])


@pytest.mark.parametrize(
    "body",
    [{}, {"malformed": "nonsense"}, {"reply_next": {"status": -1}}, {"explode": True}],
    ids=["empty", "unknown-malformed", "negative-status", "unknown-fault"],
)
async def test_post_faults_with_a_bad_body_is_400(
    controlled: Simulator, http: aiohttp.ClientSession, body: Any
) -> None:
    status, answer = await _post(http, controlled, "/faults", body)
    assert status == 400
    assert answer["error"]["code"] == "invalid_body"


async def test_post_faults_share_refusal_duplicates_and_down(
    controlled: Simulator, connect: Connect, http: aiohttp.ClientSession
) -> None:
    body = {
        "fail_share": {"share": 0.25, "statuses": [Status.ESME_RTHROTTLED]},
        "refuse_binds": Status.ESME_RINVPASWD,
        "duplicate_receipts": True,
    }
    status, answer = await _post(http, controlled, "/faults", body)
    assert status == 200
    assert sorted(answer["applied"]) == sorted(body)
    esme = await connect(controlled, bind=None)
    assert (await esme.bind()).status == Status.ESME_RINVPASWD
    assert (await _post(http, controlled, "/faults", {"down": True}))[0] == 200
    assert await esme.closed_by_peer()
    assert (await _post(http, controlled, "/faults", {"down": False}))[0] == 200
    await connect(controlled, bind=None)  # listening again


async def test_post_faults_with_json_nested_too_deep_is_400(
    controlled: Simulator, http: aiohttp.ClientSession
) -> None:
    url = f"http://127.0.0.1:{controlled.control_port}/faults"
    deep, json_type = "[" * 100_000 + "]" * 100_000, {"Content-Type": "application/json"}
    async with http.post(url, data=deep, headers=json_type) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "bad_json"


async def test_a_web_page_cannot_drive_it_neither_by_a_form_nor_by_dns_rebinding(
    controlled: Simulator, http: aiohttp.ClientSession
) -> None:
    url = f"http://127.0.0.1:{controlled.control_port}"
    form = {"from": "+5016012345", "text": "STOP"}
    async with http.post(f"{url}/mo", data=form) as response:  # what a form post sends
        assert response.status == 415
        assert (await response.json())["error"]["code"] == "unsupported_media_type"
    async with http.post(f"{url}/faults", data='{"drop_links": true}') as response:  # text/plain
        assert response.status == 415
    rebound = {"Host": f"attacker.example:{controlled.control_port}"}
    async with http.get(f"{url}/status", headers=rebound) as response:
        assert response.status == 421
    async with http.post(f"{url}/faults", json={"hang": False}, headers=rebound) as response:
        assert response.status == 421
    for host in ("127.0.0.1", "localhost"):
        own = {"Host": f"{host}:{controlled.control_port}"}
        async with http.get(f"{url}/status", headers=own) as response:
            assert response.status == 200
