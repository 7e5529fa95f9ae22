"""The dispatcher under load and faults, over real SMPP: three capped binds on two carriers
(btl-a and btl-b share btl's traffic), the simulator's timestamps as the judge."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from channels.simulator import Simulator, SimulatorConfig
from channels.smpp.codec import Status
from smsgw.app import Gateway
from smsgw.config import Settings, load
from smsgw.storage.sqlite.times import timestamp
from subscriptions.models import Source
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import (
    create,
    numbers,
    seed,
    sent_to,
    stop,
    view,
    wait_state,
)
from tests.smsgw.testbed import WAIT, Client, WriteConfig, eventually

TPS = 50
WINDOW = 5
BINDS = 2  # of btl

BIND = """
[[channels]]
name = "{name}"
carrier = "{carrier}"
host = "127.0.0.1"
port = PORT
system_id = "{name}"
password = "secret"
tps = {tps}
window = {window}
prefixes = {prefixes}
reconnect_min_s = 0.05
throttle_pause_s = 0.05
"""
CONFIG = """
[gateway]
short_code = "1515"
default_region = "BZ"
timezone = "America/Belize"
data_dir = "data"

[database]
url = "sqlite:///data/test.db"
""" + "".join(
    BIND.format(name=name, carrier=carrier, tps=TPS, window=WINDOW, prefixes=prefixes)
    for name, carrier, prefixes in (
        ("btl-a", "btl", '["+50160", "+50161"]'),
        ("btl-b", "btl", '["+50160", "+50161"]'),
        ("smart-1", "smart", '["+50165"]'),
    )
)


@pytest.fixture
async def smart_smsc() -> AsyncIterator[Simulator]:
    """A second SMSC, smart's own (the settings put smart-1 on it when a test asks for it)."""
    config = SimulatorConfig(port=0, control_port=None, receipt_delay_s=0.01,
                             receipt_mix={"delivered": 1.0})  # fmt: skip
    async with Simulator(config) as smsc:
        yield smsc


@pytest.fixture
def settings(
    simulator: Simulator, write_config: WriteConfig, request: pytest.FixtureRequest
) -> Settings:
    text = CONFIG.replace("PORT", str(simulator.port))
    if "smart_smsc" in request.fixturenames:
        smart: Simulator = request.getfixturevalue("smart_smsc")
        head, tail = text.split('name = "smart-1"')
        text = head + 'name = "smart-1"' + tail.replace(str(simulator.port), str(smart.port))
    return load(write_config(text))


def max_per_second(simulator: Simulator, system_id: str) -> int:
    """The most submits ``system_id`` sent in any one-second window (by receive time)."""
    times = sorted(s.at for s in simulator.submits if s.system_id == system_id)
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_an_emergency_overtakes_a_routine_broadcast_and_binds_keep_their_rate(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await add_service(gateway, keyword="HURRICANE", aliases=["HURACAN"])
    routine, alert = numbers("+50160", 400), numbers("+50161", 40)
    await seed(gateway, "HEALTH", routine)
    await seed(gateway, "HURRICANE", alert)
    first = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours change."})
    await simulator.wait_submits(60)  # the routine broadcast is well under way
    second = await create(
        client, admin, service="HURRICANE", priority="emergency",
        texts={"en": "Hurricane warning: go to a shelter now."},
    )  # fmt: skip
    await wait_state(client, admin, second["id"], state="done", delivered=40)
    await wait_state(client, admin, first["id"], state="done", delivered=400)

    for bind in ("btl-a", "btl-b"):
        order = [
            "alert" if "+" + s.destination_addr in alert else "routine"
            for s in sorted(simulator.submits, key=lambda s: s.at)
            if s.system_id == bind
        ]
        start, end = order.index("alert"), len(order) - order[::-1].index("alert")
        # on each bind, once the alert's first message left, no routine one went until its last
        assert set(order[start:end]) == {"alert"}
        assert end < len(order)  # routine messages were still waiting behind it
    for bind in ("btl-a", "btl-b"):
        # by the simulator's receive time: one PDU held up on a loaded machine lands beside the
        # next second's first, so a sender paced at TPS may show TPS + 1 in a window (never more)
        assert max_per_second(simulator, bind) <= TPS + 1
    assert set(sent_to(simulator).values()) == {1}


async def test_cancel_stops_what_is_not_yet_handed_to_a_bind(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    members = numbers("+50160", 500)
    await seed(gateway, "HEALTH", members)
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    await simulator.wait_submits(40)
    response = await client.post(f"/api/v1/broadcasts/{created['id']}/cancel", headers=admin)
    assert response.status == 200, await response.text()
    at_cancel = len(simulator.submits)
    await asyncio.sleep(1.0)  # what was handed ahead drains; nothing more follows
    sent = len(sent_to(simulator))
    ahead = BINDS * (int(TPS * 0.5) + WINDOW)  # config default queue_ahead_s = 0.5
    assert sent <= at_cancel + ahead
    assert sent < 500
    seen = await view(client, admin, created["id"])
    assert seen["state"] == "cancelled"
    assert seen["cancelled"] + seen["delivered"] + seen["submitted"] == 500
    assert seen["delivered"] + seen["submitted"] == sent
    await asyncio.sleep(0.5)
    assert len(sent_to(simulator)) == sent


async def test_messages_retry_until_the_validity_ends_then_expire(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str],
    settings: Settings,
) -> None:  # fmt: skip
    await add_service(gateway)
    members = numbers("+50165", 10)
    await seed(gateway, "HEALTH", members)
    simulator.reply_next(Status.ESME_RSYSERR, count=1_000_000)  # a temporary error, forever
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    await simulator.wait_submits(30)  # every message was tried, and tried again
    # the validity ends in a second (the API counts it in minutes)
    with sqlite3.connect(settings.database.sqlite_path, timeout=WAIT) as db:
        soon = timestamp(datetime.now(UTC) + timedelta(seconds=1))
        db.execute("UPDATE broadcasts SET expires_at = ? WHERE id = ?", (soon, created["id"]))
    done = await wait_state(client, admin, created["id"], state="done", expired=10)
    assert done["delivered"] == done["submitted"] == 0
    assert not sent_to(simulator)
    tries: defaultdict[str, int] = defaultdict(int)
    for submit in simulator.submits:
        tries[submit.destination_addr] += 1
    assert min(tries.values()) >= 2


async def test_a_dropped_link_mid_broadcast_leaves_no_one_out(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    members = numbers("+50160", 300)
    await seed(gateway, "HEALTH", members)
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    await simulator.wait_submits(80)
    simulator.drop_links()
    await wait_state(client, admin, created["id"], state="done", delivered=300)
    received = sent_to(simulator)
    assert set(received) == set(members)
    # sent again only if in flight when the link went: one window per bind at most
    assert sum(received.values()) - 300 <= BINDS * WINDOW


@pytest.mark.parametrize("simulator", [{"tps": 30}], indirect=True)
async def test_a_throttling_smsc_slows_the_binds_and_loses_nothing(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    members = numbers("+50160", 200) + numbers("+50165", 60)
    await seed(gateway, "HEALTH", members)
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    await wait_state(client, admin, created["id"], state="done", delivered=260)
    throttled = [s for s in simulator.submits if s.status == Status.ESME_RTHROTTLED]
    assert throttled  # the SMSC did push back
    received = sent_to(simulator)
    assert set(received) == set(members)
    assert set(received.values()) == {1}


async def test_a_long_text_is_delivered_when_all_its_parts_are(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    members = numbers("+50165", 15)
    await seed(gateway, "HEALTH", members)
    text = "Vaccination days: " + "clinics open 8am to 4pm, bring your card. " * 5
    created = await create(client, admin, service="HEALTH", texts={"en": text})
    assert created["segments"] == {"en": 2}
    await wait_state(client, admin, created["id"], state="done", delivered=15)
    assert sum(sent_to(simulator).values()) == 30

    async def every_receipt_counted() -> bool:
        rate: float = (await view(client, admin, created["id"]))["delivery_rate"]
        return rate == 1.0

    await eventually(every_receipt_counted)


async def test_a_stop_during_a_broadcast_is_honoured_before_its_message_leaves(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    members = numbers("+50160", 300)
    await seed(gateway, "HEALTH", members)
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    await simulator.wait_submits(20)  # fanned out, under way; the last ones are still queued
    late = members[-1]
    await stop(gateway, late)
    await gateway.store.subscriptions.leave(
        members[-2], "HEALTH", at=datetime.now(UTC), source=Source.SMS, consent="test"
    )

    done = await wait_state(client, admin, created["id"], state="done", delivered=298)
    assert done["cancelled"] == 2
    assert set(sent_to(simulator)) == set(members[:-2])


async def test_a_carrier_that_is_down_does_not_stall_the_other(
    client: Client, gateway: Gateway, simulator: Simulator, smart_smsc: Simulator,
    admin: dict[str, str],
) -> None:  # fmt: skip
    await add_service(gateway)
    btl, smart = numbers("+50160", 100), numbers("+50165", 50)
    await seed(gateway, "HEALTH", btl + smart)
    await smart_smsc.stop()  # smart's SMSC goes down: connection refused from now on
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})

    seen = await wait_state(client, admin, created["id"], state="sending", delivered=100)
    assert seen["queued"] == 50  # smart's wait, btl's went
    assert set(sent_to(simulator)) == set(btl)
    assert not smart_smsc.submits
