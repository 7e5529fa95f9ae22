"""A subscriber looked up by number, end to end: a citizen's texts over SMPP from the simulator
and an officer's assisted removal make the history; each role looks it up through the HTTP API
and sees what their ministry may (masked for officers); every look-up is audited. On both
stores."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import structlog.testing

from channels.simulator import Simulator
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from smsgw.demo_catalogue import DEMO_SERVICES
from tests.smsgw.test_citizens import texts
from tests.smsgw.testbed import BOTH_BACKENDS, Client, bearer

pytestmark = BOTH_BACKENDS

ANA = "+5016012345"
ROSA = "+5016511111"  # never joined anything: texted STOP only
LOOKUP = "/api/v1/subscribers/"


@pytest.fixture
async def catalogue(gateway: Gateway) -> None:
    for service in DEMO_SERVICES:  # HEALTH: ministry health; HURRICANE: nemo
        await gateway.store.catalogue.add_service(service)
    await gateway.catalogue_changed()


@pytest.fixture
async def lived(client: Client, gateway: Gateway, simulator: Simulator) -> dict[str, str]:
    """ANA's life: HEALTH, HURRICANE with her district, Spanish, a STOP, a START, then an
    officer removes her from HEALTH at a clinic; ROSA texts STOP. The health officer's
    headers."""
    await texts(simulator, "HEALTH", "JOIN HURRICANE TOLEDO", "LANG ES", "STOP", "START",
                sender=ANA)  # fmt: skip
    await texts(simulator, "STOP", sender=ROSA)
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    removal = {"msisdn": ANA, "service": "HEALTH", "consent_source": "clinic:dangriga"}
    left = await client.delete("/api/v1/subscriptions", json=removal, headers=officer)
    assert left.status == 200, await left.text()
    return officer


async def look_up(client: Client, headers: dict[str, str], typed: str, status: int = 200) -> Any:
    response = await client.get(LOOKUP + quote(typed, safe="+"), headers=headers)
    assert response.status == status, await response.text()
    return await response.json()


def history(found: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(e["action"], e["service"], e["detail"]) for e in found["consent_history"]]


def subscriptions(found: dict[str, Any]) -> list[tuple[str, bool, str]]:
    return [(s["service"], s["active"], s["source"]) for s in found["subscriptions"]]


@pytest.mark.usefixtures("catalogue")
async def test_an_officer_sees_their_ministrys_part_of_a_number_masked(
    client: Client, lived: dict[str, str]
) -> None:
    found = await look_up(client, lived, "601-2345")  # as a person types it: local
    assert found["msisdn"] == "+50160****45"
    assert (found["language"], found["district"], found["opted_out_at"]) == ("es", "Toledo", None)
    assert subscriptions(found) == [
        ("HEALTH", False, "sms"),  # left by the STOP
        ("HEALTH", False, "sms"),  # rejoined by the START, then removed at the clinic
    ]
    first, again = found["subscriptions"]
    assert first["left_at"] is not None
    assert first["consent"]  # the id of the text that joined
    assert again["subscribed_at"] >= first["left_at"]
    assert history(found) == [  # newest first; HURRICANE's join is nemo's, not shown
        ("leave", "HEALTH", None),
        ("unstop", None, "HEALTH"),  # it rejoined HURRICANE too: not theirs to see
        ("stop_all", None, "HEALTH"),
        ("language", None, "es"),
        ("district", None, "Toledo"),
        ("language", None, "en"),  # the language she joined in
        ("join", "HEALTH", None),
    ]
    removed = found["consent_history"][0]
    assert (removed["source"], removed["consent"]) == ("assisted", "clinic:dangriga")
    assert removed["actor"] is not None  # the officer's token
    assert found["consent_history"][1]["actor"] is None  # the citizen, by SMS
    assert found["more_history"] is False
    assert ANA not in str(found)


@pytest.mark.usefixtures("catalogue")
async def test_admins_see_everything_and_supervisors_their_ministry_unmasked(
    client: Client, gateway: Gateway, lived: dict[str, str]
) -> None:
    admin = await bearer(gateway, Role.ADMIN)
    found = await look_up(client, admin, "+501 601 2345")
    assert found["msisdn"] == ANA
    assert subscriptions(found) == [
        ("HEALTH", False, "sms"),
        ("HURRICANE", False, "sms"),
        ("HEALTH", False, "sms"),
        ("HURRICANE", True, "sms"),
    ]
    assert [s["ministry"] for s in found["subscriptions"]] == ["health", "nemo"] * 2
    assert history(found)[:3] == [
        ("leave", "HEALTH", None),
        ("unstop", None, "HEALTH HURRICANE"),
        ("stop_all", None, "HEALTH HURRICANE"),
    ]
    assert ("join", "HURRICANE", None) in history(found)
    response = await client.get(f"{LOOKUP}{quote(ANA)}", params={"limit": "2"}, headers=admin)
    bounded = await response.json()
    assert history(bounded) == history(found)[:2]
    assert bounded["more_history"] is True

    supervisor = await bearer(gateway, Role.SUPERVISOR, ministry="health")
    seen = await look_up(client, supervisor, "6012345")
    assert seen["msisdn"] == ANA
    assert {s["service"] for s in seen["subscriptions"]} == {"HEALTH"}
    nemo = await bearer(gateway, Role.OFFICER, ministry="nemo")
    theirs = await look_up(client, nemo, ANA)
    assert subscriptions(theirs) == [("HURRICANE", False, "sms"), ("HURRICANE", True, "sms")]
    assert ("leave", "HEALTH", None) not in history(theirs)

    stopped = await look_up(client, admin, ROSA)  # a STOP from a number never subscribed
    assert stopped["opted_out_at"] is not None
    assert stopped["subscriptions"] == []
    assert history(stopped) == [("stop_all", None, None)]


@pytest.mark.usefixtures("catalogue")
async def test_a_number_unknown_or_of_another_ministry_is_404_and_each_look_up_is_audited(
    client: Client, gateway: Gateway, lived: dict[str, str]
) -> None:
    education = await bearer(gateway, Role.OFFICER, ministry="education")
    refused = await look_up(client, education, ANA, status=404)
    assert ANA not in str(refused)  # masked in the message, for an officer
    health = lived
    await look_up(client, health, ROSA, status=404)  # known, but nothing of health's
    admin = await bearer(gateway, Role.ADMIN)
    await look_up(client, admin, "+5016099999", status=404)
    await look_up(client, health, ANA)

    response = await client.get(
        "/api/v1/audit", params={"action": "subscriber_looked_up"}, headers=admin
    )
    entries = (await response.json())["entries"]
    assert [(e["target"], e["role"], e["detail"]["found"]) for e in reversed(entries)] == [
        (ANA, "officer", False),  # numbers kept whole, as sign-ups are
        (ROSA, "officer", False),
        ("+5016099999", "admin", False),
        (ANA, "officer", True),
    ]
    assert entries[0]["ministry"] == "health"
    assert entries[0]["detail"]["services"] == ["HEALTH"]


@pytest.mark.parametrize(
    "typed", ["12", "not-a-number", "+999 123 4567", "+5016012345 ext 9", "6" * 40],
    ids=["short", "words", "country", "extension", "long"],
)  # fmt: skip
async def test_a_bad_number_is_400_naming_it(client: Client, gateway: Gateway, typed: str) -> None:
    admin = await bearer(gateway, Role.ADMIN)
    error = (await look_up(client, admin, typed, status=400))["error"]
    assert (error["code"], error["field"]) == ("invalid", "msisdn")


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ALERTING])
async def test_operators_and_alerting_systems_may_not_look_up(
    client: Client, gateway: Gateway, role: Role
) -> None:
    headers = await bearer(gateway, role)
    assert (await look_up(client, headers, ANA, status=403))["error"]["code"] == "forbidden"


async def test_a_number_typed_in_local_form_stays_out_of_the_request_log(
    client: Client, gateway: Gateway
) -> None:
    """The log masks runs of 7+ digits; "601 2345" is two runs: the path is logged as its
    route's template instead."""
    admin = await bearer(gateway, Role.ADMIN)
    with structlog.testing.capture_logs() as logs:
        response = await client.get(f"/api/v1/subscribers/{quote('601 2345')}", headers=admin)
    assert response.status == 404
    handled = [entry for entry in logs if entry["event"] == "request_handled"]
    assert [entry["path"] for entry in handled] == ["/api/v1/subscribers/{msisdn}"]
    # (the normalised +501… elsewhere is a run the log's own masking catches)
