"""Broadcasts end to end: the API, the fan-out, the dispatcher over real SMPP to the simulator
(two carriers), the receipts, and the figures the API reports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from channels.simulator import Simulator
from smsgw.access.tokens import Role
from smsgw.app import Gateway
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
from tests.smsgw.testbed import BOTH_BACKENDS, Client, bearer

pytestmark = BOTH_BACKENDS  # storage matters here: each test on SQLite and PostgreSQL


async def test_a_broadcast_reaches_every_subscriber_once_in_their_language(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    btl, smart = numbers("+50160", 120), numbers("+50165", 60)
    spanish = numbers("+50161", 30)
    await seed(gateway, "HEALTH", btl + smart)
    await seed(gateway, "HEALTH", spanish, language="es")
    for number in btl[:5]:
        await stop(gateway, number)
    audience = set(btl[5:] + smart + spanish)

    created = await create(
        client, admin, service="health",
        texts={"en": "Vaccination day Saturday 9am.", "es": "Día de vacunación el sábado."},
    )  # fmt: skip
    assert created["audience"] == len(audience)
    assert created["audience_by_language"] == {"en": len(audience) - 30, "es": 30}
    assert created["segments"] == {"en": 1, "es": 1}
    assert created["encoding"] == {"en": "gsm7", "es": "ucs2"}  # í is not in GSM 03.38

    done = await wait_state(client, admin, created["id"], state="done", delivered=len(audience))
    assert done["audience"] == len(audience)
    assert done["queued"] == done["failed"] == done["expired"] == 0
    assert done["delivery_rate"] == 1.0
    assert done["latency_p50_s"] is not None

    received = sent_to(simulator)
    assert set(received) == audience  # no one left out, no opted-out number reached
    assert set(received.values()) == {1}  # each exactly once
    by_number = {"+" + s.destination_addr: s for s in simulator.submits}
    for number in audience:
        submit = by_number[number]
        carrier = "smsgw-smart" if number.startswith("+50165") else "smsgw-btl"
        assert submit.system_id == carrier
        assert submit.source_addr == "1515"
        if number in spanish:
            assert submit.data_coding == 8
            assert submit.short_message.decode("utf-16-be") == "Día de vacunación el sábado."
        else:
            assert submit.short_message == b"Vaccination day Saturday 9am."


@pytest.mark.parametrize("simulator", [{"receipts": False}], indirect=True, ids=["no-receipts"])
async def test_the_delivery_rate_is_over_the_finished_messages_not_the_audience(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 10))
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    in_flight = await wait_state(client, admin, created["id"], state="done", submitted=10)
    assert in_flight["delivery_rate"] is None  # none finished: no rate, not 0 %

    accepted = [s for s in simulator.submits if s.status == 0]
    outcomes = ["delivered"] * 6 + ["undeliverable"] * 2 + ["expired"]  # the last: none yet
    for submit, outcome in zip(accepted, outcomes, strict=False):
        await simulator.send_receipt(submit.message_id, outcome, system_id=submit.system_id)
    seen = await wait_state(
        client, admin, created["id"], state="done", delivered=6, failed=2, expired=1, submitted=1
    )
    assert seen["delivery_rate"] == round(6 / 9, 4)  # not 6 / 10: one is still on its way

    last = accepted[-1]
    await simulator.send_receipt(last.message_id, "delivered", system_id=last.system_id)
    done = await wait_state(client, admin, created["id"], state="done", delivered=7, submitted=0)
    assert done["delivery_rate"] == 0.7


async def test_a_broadcast_for_some_districts_reaches_them_and_who_never_said(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    toledo, cayo, corozal = numbers("+50160", 7), numbers("+50165", 5), numbers("+50161", 4)
    unsaid = numbers("+50160", 3, start=50)
    await seed(gateway, "HEALTH", toledo + cayo + corozal + unsaid)
    for district, members in (("Toledo", toledo), ("Cayo", cayo), ("Corozal", corozal)):
        await gateway.store.subscriptions.join_many(
            [(n, None) for n in members], "HEALTH", at=datetime.now(UTC), source=Source.IMPORT,
            consent="districts", districts=dict.fromkeys(members, district),
        )  # fmt: skip
    body = {"service": "HEALTH", "texts": {"en": "Flooding in the south."},
            "districts": ["punta gorda", "CAYO"]}  # fmt: skip
    estimate = await client.post("/api/v1/broadcasts/estimate", json=body, headers=admin)
    shown = await estimate.json()
    assert shown["audience"] == 7 + 5 + 3
    assert shown["districts"] == ["Toledo", "Cayo"]
    assert shown["audience_by_district"] == {"Toledo": 7, "Cayo": 5, "Corozal": 4, "none": 3}
    created = await create(client, admin, **body)
    done = await wait_state(client, admin, created["id"], state="done", delivered=15)
    assert done["districts"] == ["Toledo", "Cayo"]
    assert set(sent_to(simulator)) == set(toledo + cayo + unsaid)
    wrong = await client.post("/api/v1/broadcasts", json=body | {"districts": ["Atlantis"]},
                              headers=admin)  # fmt: skip
    assert wrong.status == 400
    assert (await wrong.json())["error"]["field"] == "districts"


@pytest.mark.parametrize("role", [Role.OFFICER, Role.ADMIN])
async def test_a_stop_after_the_fan_out_is_honoured_before_sending(
    client: Client, gateway: Gateway, simulator: Simulator, role: Role
) -> None:
    await add_service(gateway, requires_approval=True)
    members = numbers("+50160", 20)
    await seed(gateway, "HEALTH", members)
    author = await bearer(gateway, role, ministry="health")
    created = await create(client, author, service="HEALTH", texts={"en": "Clinic closed."})
    assert created["state"] == "awaiting_approval"
    # fanned out only once approved: the STOP below comes before the fan-out here, so this
    # checks the fan-out's exclusion; the check before each submit is in test_dispatch.py
    await stop(gateway, members[0])
    supervisor = await bearer(gateway, Role.SUPERVISOR)
    response = await client.post(f"/api/v1/broadcasts/{created['id']}/approve", headers=supervisor)
    assert response.status == 200, await response.text()
    await wait_state(client, supervisor, created["id"], state="done", delivered=19)
    assert set(sent_to(simulator)) == set(members[1:])


def _quiet_now() -> str:
    """A [broadcasts] table whose quiet hours are now, in the gateway's time zone."""
    now = datetime.now(ZoneInfo("America/Belize"))
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    return f'\n[broadcasts]\nquiet_hours = ["{start:%H:%M}", "{end:%H:%M}"]\n'


@pytest.mark.parametrize("settings", [_quiet_now()], indirect=True, ids=["quiet-now"])
async def test_routine_broadcasts_wait_out_quiet_hours_and_emergencies_do_not(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await add_service(gateway, keyword="HURRICANE", aliases=["HURACAN"])
    routine, alert = numbers("+50160", 10), numbers("+50161", 10)
    await seed(gateway, "HEALTH", routine)
    await seed(gateway, "HURRICANE", alert)
    waiting = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    urgent = await create(
        client, admin, service="HURRICANE", priority="emergency", texts={"en": "Shelter now."}
    )

    done = await wait_state(client, admin, urgent["id"], state="done", delivered=10)
    await asyncio.sleep(1.5)  # the scheduler looked at the routine one again meanwhile
    held = await view(client, admin, waiting["id"])
    assert held["state"] == "queued"
    assert set(sent_to(simulator)) == set(alert)
    # the view says until when: the quiet hours' end, on the gateway's clock, within the hour
    quiet = gateway.settings.broadcasts.quiet_hours
    assert quiet is not None
    until = datetime.fromisoformat(held["held_until"])
    assert until.astimezone(ZoneInfo("America/Belize")).time() == quiet[1]
    assert timedelta(0) < until - datetime.now(UTC) <= timedelta(hours=1)
    assert done["held_until"] is None  # an emergency is never held


async def test_receipts_that_come_before_their_submit_response_still_count(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    members = numbers("+50160", 40) + numbers("+50165", 20)
    await seed(gateway, "HEALTH", members)
    simulator.receipt_before_response = True  # the receipt is written ahead of its response

    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})

    done = await wait_state(client, admin, created["id"], state="done", delivered=60)
    assert done["submitted"] == 0
    assert set(sent_to(simulator).values()) == {1}
