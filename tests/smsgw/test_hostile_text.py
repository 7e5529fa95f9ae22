"""SQL-looking text and control characters are data: stored and sent verbatim, never run."""

from __future__ import annotations

import sqlite3

import pytest

from channels.simulator import Simulator
from channels.text import decode
from smsgw.app import Gateway
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed, wait_state
from tests.smsgw.testbed import Client, eventually

NASTY = [
    "Robert'); DROP TABLE messages;--",
    'x" OR 1=1; DELETE FROM subscribers WHERE "a"="a',
    "tab\there, bell\a, nul-free \x1b[31mred\x1b[0m",
    "%s %d {0} ${HOME} $(rm -rf /) `id` <script>alert(1)</script>",
]


def _tables(gateway: Gateway) -> set[str]:
    with sqlite3.connect(gateway.settings.database.sqlite_path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master")}


@pytest.mark.parametrize("text", NASTY)
async def test_a_message_is_sent_exactly_as_written(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str], text: str
) -> None:
    tables = _tables(gateway)
    response = await client.post(
        "/api/v1/messages", json={"to": "+5016012345", "text": text}, headers=admin
    )
    assert response.status == 201, await response.text()
    await simulator.wait_submits(1)

    [submit] = simulator.submits
    assert decode(submit.pdu.short_message, submit.pdu.data_coding) == text
    stored = await (await client.get(f"/api/v1/messages/{(await response.json())['id']}",
                                     headers=admin)).json()  # fmt: skip
    assert stored["to"] == "+5016012345"
    assert _tables(gateway) == tables


async def test_a_broadcast_of_sql_looking_text_reaches_everyone_verbatim(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    text = NASTY[0]
    created = await create(client, admin, service="HEALTH", texts={"en": text})
    await wait_state(client, admin, created["id"], state="done", delivered=3)
    assert {decode(s.pdu.short_message, s.pdu.data_coding) for s in simulator.submits} == {text}
    listed = await (await client.get("/api/v1/broadcasts", headers=admin)).json()
    assert listed["broadcasts"][0]["texts"] == {"en": text}


@pytest.mark.parametrize("body", [*NASTY, "JOIN HEALTH'; DROP TABLE subscriptions;--", ""])
async def test_a_citizens_nasty_text_is_answered_and_changes_nothing_else(
    gateway: Gateway, simulator: Simulator, body: str
) -> None:
    await add_service(gateway)
    tables = _tables(gateway)
    await simulator.inject_mo("+5016012345", body)

    await eventually(lambda: simulator.submit_total >= 1)  # a helpful reply, as to any text
    with sqlite3.connect(gateway.settings.database.sqlite_path) as db:
        stored = db.execute("SELECT text FROM inbound").fetchall()
    assert stored == [(body,)]  # kept as it came
    assert _tables(gateway) == tables
