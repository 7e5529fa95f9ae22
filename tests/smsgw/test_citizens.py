"""Citizens texting the short code, end to end: simulator MO → SMPP → stored → keyword engine →
consent in SQLite → reply submitted back through the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from channels.base import InboundSms
from channels.simulator import Simulator
from channels.text import decode
from smsgw.app import Gateway, build_app
from smsgw.delivery.message import DeliveryBatch
from smsgw.demo_catalogue import DEMO_SERVICES
from smsgw.storage import open_store
from subscriptions.models import Action
from tests.smsgw.testbed import BOTH_BACKENDS, WAIT, Client, eventually

CITIZEN = "+5016012345"

pytestmark = BOTH_BACKENDS  # storage matters here: each test on SQLite and PostgreSQL


@pytest.fixture
async def catalogue(gateway: Gateway) -> None:
    for service in DEMO_SERVICES:
        await gateway.store.catalogue.add_service(service)
    await gateway.catalogue_changed()


def replies(simulator: Simulator, to: str = CITIZEN) -> list[str]:
    digits = to.removeprefix("+")
    return [
        decode(s.pdu.short_message, s.pdu.data_coding)
        for s in simulator.submits
        if s.destination_addr == digits
    ]


async def texts(simulator: Simulator, *bodies: str, sender: str = CITIZEN) -> list[str]:
    """Each text in turn, waiting for its reply; returns the replies the citizen got."""
    for body in bodies:
        before = simulator.submit_total
        await simulator.inject_mo(sender, body)
        async with asyncio.timeout(WAIT):
            await simulator.wait_submits(before + 1)
    return replies(simulator, sender)


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize(
    ("bodies", "expected"),
    [
        (["JOIN HEALTH"], "Welcome to Health alerts"),
        (["Salud"], "Bienvenido a Alertas de salud"),  # a Spanish alias: a Spanish reply
        (["JOIN SALUD"], "Welcome to Health alerts"),  # words of two languages: the default
        (["unir salud"], "Bienvenido a Alertas de salud"),
        (["HEALTH", "STOP HEALTH"], "You left Health alerts"),
        (["HEALTH", "ALTO SALUD"], "Alertas de salud"),
        (["HEALTH", "STOP"], "You left all"),
        (["ALTO"], "no le va a enviar"),
        (["HEALTH", "STOP", "START"], "Health alerts"),
        (["HELP"], "STOP to end all"),
        (["AYUDA"], "Salir: ALTO"),
        (["LIST"], "HURRICANE"),
        (["LISTA"], "HURRICANE"),
        (["HEALTH", "MY"], "Health alerts"),
        (["LANG ES"], "Espa"),
        (["HEALHT"], "HEALTH"),
        (["what is this"], "LIST"),
    ],
    ids=["join", "alias", "join-alias", "join-es", "leave", "leave-es", "stop", "stop-es",
         "start", "help", "help-es", "list", "list-es", "my", "lang", "near-miss", "unknown"],
)  # fmt: skip
async def test_every_command_is_answered_over_smpp(simulator, bodies, expected):
    got = await texts(simulator, *bodies)

    def answered() -> bool:  # a reply of two SMS (LIST) comes as two paced submits
        nonlocal got
        got = replies(simulator, CITIZEN)
        return expected in got[-1] or expected in " ".join(got[len(bodies) - 1 :])

    with contextlib.suppress(TimeoutError):
        await eventually(answered)
    assert answered(), got


@pytest.mark.usefixtures("catalogue")
async def test_join_leave_rejoin_is_kept_as_consent_history(simulator, gateway):
    await texts(simulator, "JOIN HEALTH", "STOP HEALTH", "HEALTH")

    history = await gateway.store.subscriptions.history(CITIZEN)
    joins_and_leaves = [(e.action, e.service) for e in history if e.action != Action.LANGUAGE]
    assert joins_and_leaves == [
        (Action.JOIN, "HEALTH"),
        (Action.LEAVE, "HEALTH"),
        (Action.JOIN, "HEALTH"),
    ]
    assert all(e.consent for e in history)  # each names the text that asked for it


@pytest.mark.usefixtures("catalogue")
async def test_a_spanish_alias_from_a_new_number_is_welcomed_in_spanish_and_kept(
    simulator, gateway
):
    got = await texts(simulator, "SALUD", "HEALTH")
    assert got[0].startswith("Bienvenido a Alertas de salud del Ministerio de Salud.")
    assert got[1].startswith("Usted ya recibe Alertas de salud.")  # HEALTH tells none: theirs
    subscriber = await gateway.store.subscriptions.subscriber(CITIZEN)
    assert subscriber.language == "es"


@pytest.mark.usefixtures("catalogue")
async def test_a_citizen_says_their_district_with_the_join_and_my_shows_it(simulator, gateway):
    got = await texts(simulator, "HURACAN toledo", "JOIN HURRICANE DANGRIGA", "MY")
    assert got[0].startswith("¡Le damos la bienvenida a Alertas de huracan")  # HURACAN: Spanish
    assert " en Toledo! " in got[0]
    assert "Your district is now Stann Creek." in got[1]  # JOIN HURRICANE: English
    assert "District: Stann Creek." in got[2]  # MY: English
    subscriber = await gateway.store.subscriptions.subscriber(CITIZEN)
    assert subscriber.district == "Stann Creek"


@pytest.mark.usefixtures("catalogue")
async def test_the_same_text_delivered_twice_is_handled_once(simulator, gateway):
    await simulator.inject_mo(CITIZEN, "JOIN HEALTH")
    await simulator.inject_mo(CITIZEN, "JOIN HEALTH")
    await texts(simulator, "MY")  # a later text: the two before it were handled by then

    got = replies(simulator)
    assert sum("Welcome to Health alerts" in r for r in got) == 1
    assert not any("already" in r for r in got)


@pytest.mark.usefixtures("catalogue")
async def test_an_auto_responder_cannot_start_a_reply_loop(simulator, gateway, client: Client):
    for i in range(8):
        await simulator.inject_mo(CITIZEN, f"Out of office, message {i}")
    await texts(simulator, "MY", sender="+5016099999")  # handled after the eight above
    limit = gateway.settings.citizens.reply_limit
    # that reply may come back through another bind, ahead of the citizen's last ones
    await eventually(lambda: len(replies(simulator)) >= limit)
    await asyncio.sleep(0.3)

    assert len(replies(simulator)) == limit


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("sender", ["GOVBZ", "1515"], ids=["alphanumeric", "short-code"])
async def test_texts_from_short_codes_and_names_get_no_reply(simulator, sender):
    await simulator.inject_mo(sender, "HELP")
    await texts(simulator, "HELP")  # handled after the one above

    assert all(s.destination_addr == CITIZEN.removeprefix("+") for s in simulator.submits)


@pytest.mark.usefixtures("catalogue")
async def test_a_stop_from_a_number_never_seen_is_recorded(simulator, gateway):
    await texts(simulator, "STOP")

    subscriber = await gateway.store.subscriptions.subscriber(CITIZEN)
    assert subscriber is not None
    assert subscriber.opted_out_at is not None


@pytest.mark.usefixtures("catalogue")
async def test_a_sender_that_is_no_valid_number_gets_no_reply(simulator, gateway):
    await simulator.inject_mo("+99912", "HELP")
    await texts(simulator, "HELP")  # handled after the one above

    assert all(s.destination_addr == CITIZEN.removeprefix("+") for s in simulator.submits)
    assert await gateway.store.subscriptions.subscriber("+99912") is None


async def test_texts_stored_by_a_previous_run_are_handled_at_start(simulator, settings):
    # A storm cut short by a crash: the texts were stored (and acknowledged), not yet handled.
    store = await open_store(settings.database)
    texts = [
        InboundSms(CITIZEN, "1515", "HELP", "btl-1"),
        InboundSms(CITIZEN, "1515", "MY", "btl-1"),
    ]
    await store.delivery.record(
        DeliveryBatch(inbound=[(f"i{n}", t, time.time()) for n, t in enumerate(texts)])
    )
    await store.close()

    async with TestClient(TestServer(build_app(settings))):
        async with asyncio.timeout(WAIT):
            await simulator.wait_submits(2)

    got = replies(simulator)
    assert "STOP to end all" in got[0]
    assert "not subscribed" in got[1]
