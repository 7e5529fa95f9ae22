"""The whole gateway as a user meets it: HTTP API → SMPP over real TCP → simulator → SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from channels.simulator import Simulator
from channels.smpp.codec import Command, Status
from smsgw.app import GATEWAY
from tests.smsgw.testbed import BOTH_BACKENDS, WAIT, Client

Send = Callable[..., Awaitable[str]]

pytestmark = BOTH_BACKENDS  # storage matters here: each test on SQLite and PostgreSQL


@pytest.fixture
def send(client: Client, admin: dict[str, str]) -> Send:
    async def send(to: str = "+5016012345", text: str = "Clinic open Saturday 9am") -> str:
        response = await client.post(
            "/api/v1/messages", json={"to": to, "text": text}, headers=admin
        )
        assert response.status == 201, await response.text()
        return str((await response.json())["id"])

    return send


Settled = Callable[[str], Awaitable[dict[str, Any]]]


@pytest.fixture
def settled(client: Client, admin: dict[str, str], simulator: Simulator) -> Settled:
    async def settled(message_id: str) -> dict[str, Any]:
        """The message as the API shows it once the gateway is done with it: submitted,
        refused or lost with the link, and every receipt of an accepted part stored."""
        gateway = client.app[GATEWAY]
        async with asyncio.timeout(WAIT):
            await gateway.sender.join()
            accepted = sum(submit.status == Status.ESME_ROK for submit in simulator.submits)
            # The gateway acknowledges a receipt only once it is stored.
            await simulator.wait_for(lambda: sum(simulator.deliver_sm_resps.values()) >= accepted)
            await gateway.recorder.flush()
        response = await client.get(f"/api/v1/messages/{message_id}", headers=admin)
        body: dict[str, Any] = await response.json()
        return body

    return settled


async def test_receipt_before_the_submit_response_still_delivers(send, settled, simulator):
    simulator.receipt_before_response = True

    body = await settled(await send())

    assert body["state"] == "delivered"


async def test_two_part_message_is_delivered_when_both_parts_are(send, settled, simulator):
    body = await settled(await send(text="Hurricane watch for the coast. " * 7))

    assert body["parts"] == 2
    assert body["state"] == "delivered"
    assert len(simulator.submits) == 2


@pytest.mark.parametrize(
    ("simulator", "state"),
    [
        ({"receipt_mix": {"undeliverable": 1.0}}, "undeliverable"),
        ({"receipt_mix": {"expired": 1.0}}, "expired"),
        ({"receipt_mix": {"rejected": 1.0}}, "rejected"),
    ],
    indirect=["simulator"],
    ids=["undeliverable", "expired", "rejected"],
)
async def test_failure_receipt_fails_the_message(send, settled, state):
    body = await settled(await send())

    assert body["state"] == state
    assert body["history"][-1]["state"] == state


async def test_throttled_submit_is_retried_and_delivered(send, settled, simulator):
    simulator.reply_next(Status.ESME_RTHROTTLED, count=2)

    body = await settled(await send())

    assert body["state"] == "delivered"
    assert [s.status for s in simulator.submits] == [
        Status.ESME_RTHROTTLED,
        Status.ESME_RTHROTTLED,
        Status.ESME_ROK,
    ]


async def test_rejected_number_fails_with_the_smpp_status_name(send, settled, simulator):
    simulator.reply_next(Status.ESME_RINVDSTADR)

    body = await settled(await send())

    assert body["state"] == "rejected"
    assert body["error"] == "ESME_RINVDSTADR"


async def test_a_message_in_flight_at_a_link_drop_is_sent_again_and_delivered(
    send, settled, simulator, gateway
):
    simulator.hang()
    message_id = await send()
    async with asyncio.timeout(WAIT):
        await simulator.await_pdu(Command.SUBMIT_SM)  # in flight, never answered

    simulator.drop_links()
    simulator.hang(False)  # before the reconnect: a bind sent while hung is never answered
    body = await settled(message_id)

    assert body["state"] == "delivered"
    assert "resent" in [e["state"] for e in body["history"]]


async def test_mobile_originated_text_is_stored(client, simulator, settings):
    await simulator.inject_mo("+5016012345", "JOIN HEALTH")

    async with asyncio.timeout(WAIT):  # the gateway acknowledges a text once it is stored
        await simulator.wait_for(lambda: simulator.deliver_sm_resps[Status.ESME_ROK] == 1)
    query = "SELECT sender, recipient, text FROM inbound"
    if settings.database.is_postgres:  # no method lists handled texts: the row itself
        conn = await asyncpg.connect(settings.database.url)
        try:
            rows = [tuple(row) for row in await conn.fetch(query)]
        finally:
            await conn.close()
    else:
        with sqlite3.connect(settings.database.sqlite_path) as lite:
            rows = lite.execute(query).fetchall()
    assert rows == [("+5016012345", "1515", "JOIN HEALTH")]
