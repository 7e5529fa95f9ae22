"""POST /api/v1/alerts as an alerting authority's system uses it, through a real aiohttp
server, the store and the SMSC simulator: what each kind of CAP alert does."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from defusedxml import ElementTree
from yarl import URL

from channels.simulator import Simulator
from channels.text import decode
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from smsgw.config import Settings, load
from tests.smsgw.alerts.cap_testbed import alert, info
from tests.smsgw.api.catalogue_testbed import add_service, error_of
from tests.smsgw.broadcast_testbed import numbers, seed, sent_to, stop, view, wait_state
from tests.smsgw.testbed import Client, WriteConfig, bearer, eventually, on_simulator

ALERTS = "/api/v1/alerts"
ATOM = "http://www.w3.org/2005/Atom"
CAP = {"Content-Type": "application/cap+xml"}
ROUTES = """
[alerts]
max_segments = 2
exercise_numbers = ["+5016001001", "+5016501002", "+5016001003", "+5016001004"]
cancel_notice = true

[[alerts.routes]]
event = "Hurricane Warning"
service = "HURRICANE"

[[alerts.routes]]
sender = "moh@health.gov.bz"
category = "Health"
service = "HEALTH"
"""
# [alerts] exercise_numbers: an English and a Spanish subscriber, a number that subscribes
# to nothing, and one under a STOP
DRILL = ["+5016001001", "+5016501002", "+5016001003", "+5016001004"]
FIRST = "nms@hydromet.gov.bz,NMS-2026-0042,2026-10-01T14:00:00-06:00"  # the CAP key of alert()
AUDIENCE = numbers("+50160", 6) + numbers("+50165", 4)


def later(hours: float) -> str:
    """A CAP dateTime ``hours`` from now."""
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S-00:00")


@pytest.fixture
def settings(simulator: Simulator, write_config: WriteConfig) -> Settings:
    """With quiet hours from an hour ago to an hour from now: routine alerts wait."""
    here = datetime.now(ZoneInfo("America/Belize"))
    start, end = ((here + timedelta(hours=h)).strftime("%H:%M") for h in (-1, 1))
    quiet = f'\n[broadcasts]\nquiet_hours = ["{start}", "{end}"]\n'
    return load(write_config(on_simulator(simulator.port) + ROUTES + quiet))


@pytest.fixture
async def authority(gateway: Gateway) -> dict[str, str]:
    await add_service(gateway, keyword="HURRICANE", aliases=["HURACAN"], ministry="nemo",
                      requires_approval=True)  # fmt: skip
    await add_service(gateway)  # HEALTH
    await seed(gateway, "HURRICANE", AUDIENCE[:5], language="en")
    await seed(gateway, "HURRICANE", AUDIENCE[5:], language="es")
    return await bearer(gateway, Role.ALERTING) | CAP


async def post(client: Client, headers: dict[str, str], document: bytes,
               status: int = 201) -> dict[str, Any]:  # fmt: skip
    response = await client.post(ALERTS, data=document, headers=headers)
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def warning(**changes: Any) -> bytes:
    return alert(
        info(language="en-US", expires=later(2),
             parameters={"SMS": "Hurricane warning: go to a shelter now \u2014 don\u2019t wait."}),
        info(language="es-BZ", expires=later(2), headline="Aviso de huracán",
             instruction="Vaya a un refugio ahora."),
        **changes,
    )  # fmt: skip


async def test_an_actual_warning_goes_out_at_once_as_an_emergency_in_each_language(
    client: Client, gateway: Gateway, simulator: Simulator, authority: dict[str, str],
) -> None:  # fmt: skip
    """HURRICANE needs a second person's approval, but not for an alerting authority."""
    answer = await post(client, authority, warning())
    assert answer["action"] == "sent"
    assert (answer["alert"], answer["status"], answer["service"]) == (
        "NMS-2026-0042", "Actual", "HURRICANE")  # fmt: skip
    admin = await bearer(gateway, Role.ADMIN)
    seen = await wait_state(client, admin, answer["broadcast"], state="done",
                            delivered=len(AUDIENCE))  # fmt: skip
    assert seen["priority"] == "emergency"
    assert seen["districts"] == ["Toledo"]  # its area; the audience never said theirs: all get it
    texts = {(s.data_coding, decode(s.short_message, s.data_coding)) for s in simulator.submits}
    assert texts == {
        (0, "Hurricane warning: go to a shelter now - don't wait."),  # made plain: GSM 7-bit
        (8, "Aviso de hurac\xe1n Vaya a un refugio ahora."),  # á is not in GSM 7-bit
    }
    assert set(sent_to(simulator)) == set(AUDIENCE)
    listed = (await (await client.get(ALERTS, headers=admin)).json())["alerts"]
    assert [a["alert"] for a in listed] == ["NMS-2026-0042"]
    assert listed[0]["by_carrier"] == {"btl": {"delivered": 6}, "smart": {"delivered": 4}}
    assert 0 <= listed[0]["first_submit_s"] < 60
    assert listed[0]["exercise"] is False
    entries = (await (await client.get("/api/v1/audit", headers=admin)).json())["entries"]
    received = [e for e in entries if e["action"] == "alert_received"]
    assert received[0]["target"] == "NMS-2026-0042"
    assert received[0]["detail"]["sender"] == "nms@hydromet.gov.bz"


async def test_a_repeat_is_answered_with_the_first_result_and_sends_nothing(
    client: Client, gateway: Gateway, authority: dict[str, str],
) -> None:  # fmt: skip
    first = await post(client, authority, warning())
    again = await post(client, authority, warning())  # 201 as the first (SPEC)
    assert again["action"] == "duplicate"
    assert again["broadcast"] == first["broadcast"]
    admin = await bearer(gateway, Role.ADMIN)
    broadcasts = await (await client.get("/api/v1/broadcasts", headers=admin)).json()
    assert len(broadcasts["broadcasts"]) == 1


@pytest.mark.parametrize("status", ["Test", "System"])
async def test_test_and_system_alerts_are_stored_never_sent(
    client: Client, gateway: Gateway, simulator: Simulator, authority: dict[str, str],
    status: str,
) -> None:  # fmt: skip
    answer = await post(client, authority, warning(status=status))
    assert (answer["action"], answer["broadcast"]) == ("not_sent", None)
    found = await client.get(f"{ALERTS}/NMS-2026-0042", headers=authority)
    assert (await found.json())["status"] == status
    assert simulator.submit_total == 0


async def test_a_draft_is_refused(client: Client, authority: dict[str, str]) -> None:
    response = await client.post(ALERTS, data=warning(status="Draft"), headers=authority)
    assert (await error_of(response, 422))["field"] == "status"
    assert (await client.get(f"{ALERTS}/NMS-2026-0042", headers=authority)).status == 404


async def test_a_bad_document_is_a_400_naming_the_element_and_stores_nothing(
    client: Client, authority: dict[str, str],
) -> None:  # fmt: skip
    response = await client.post(ALERTS, data=alert(info(urgency="Now")), headers=authority)
    error = await error_of(response, 400)
    assert (error["code"], error["field"]) == ("invalid_cap", "info/urgency")
    xxe = alert(head='<!DOCTYPE alert [<!ENTITY x SYSTEM "file:///etc/passwd">]>')
    assert (await error_of(await client.post(ALERTS, data=xxe, headers=authority), 400))[
        "field"] == "alert"  # fmt: skip
    token = {"Authorization": authority["Authorization"]}
    json = await client.post(ALERTS, json={"alert": 1}, headers=token)
    assert (await error_of(json, 415))["code"] == "unsupported_media_type"
    listed = await (await client.get(ALERTS, headers=authority)).json()
    assert listed["alerts"] == []


async def test_a_cancel_stops_what_is_still_queued(
    client: Client, gateway: Gateway, simulator: Simulator, authority: dict[str, str],
) -> None:  # fmt: skip
    """A routine alert waits out quiet hours (the whole test runs in them); a Cancel stops it."""
    routine = alert(info(urgency="Future", severity="Moderate", expires=later(2)))
    first = await post(client, authority, routine)
    admin = await bearer(gateway, Role.ADMIN)
    assert (await view(client, admin, first["broadcast"]))["priority"] == "normal"
    cancel = alert(identifier="NMS-2026-0043", msg_type="Cancel", references=FIRST)
    answer = await post(client, authority, cancel)
    assert answer["action"] == "cancelled"
    assert answer["reason"] == f"cancelled the rest of broadcast {first['broadcast']}"
    assert (await view(client, admin, first["broadcast"]))["state"] == "cancelled"
    assert simulator.submit_total == 0  # the notice, normal as what it cancels, waits too
    again = await post(client, authority, cancel)  # a repeat cancels nothing more
    assert (again["action"], again["reason"]) == ("duplicate", answer["reason"])


async def test_an_update_replaces_the_alert_on_the_same_service(
    client: Client, gateway: Gateway, authority: dict[str, str],
) -> None:  # fmt: skip
    first = await post(client, authority, warning())
    update = alert(
        info(event="Hurricane Update", expires=later(3),
             parameters={"SMS": "Hurricane now category 3. Stay in shelters."}),
        identifier="NMS-2026-0044", msg_type="Update",
        references=FIRST,
    )  # fmt: skip
    answer = await post(client, authority, update)
    assert answer["action"] == "updated"
    assert answer["service"] == "HURRICANE"  # from the referenced alert: no route matches it
    assert answer["broadcast"] not in (None, first["broadcast"])


async def test_an_alert_no_route_matches_is_stored_not_sent(
    client: Client, authority: dict[str, str],
) -> None:  # fmt: skip
    answer = await post(
        client, authority, alert(info(event="Earthquake", category="Geo", expires=later(1)))
    )
    assert (answer["action"], answer["service"]) == ("not_sent", None)
    assert "routes" in answer["reason"]


async def test_an_expired_alert_is_not_sent(client: Client, authority: dict[str, str]) -> None:
    answer = await post(client, authority, alert(info(expires="2020-01-01T00:00:00-06:00")))
    assert answer["action"] == "not_sent"


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR])
async def test_only_alerting_systems_and_admins_post_alerts(
    client: Client, gateway: Gateway, authority: dict[str, str], role: Role,
) -> None:  # fmt: skip
    headers = await bearer(gateway, role) | CAP
    assert (await client.post(ALERTS, data=warning(), headers=headers)).status == 403
    admin = await bearer(gateway, Role.ADMIN) | CAP
    assert (await post(client, admin, warning()))["action"] == "sent"


async def test_an_exercise_goes_to_the_exercise_list_only_marked_as_an_exercise(
    client: Client, gateway: Gateway, simulator: Simulator, authority: dict[str, str],
) -> None:  # fmt: skip
    await seed(gateway, "HURRICANE", DRILL[:1], language="en")
    await seed(gateway, "HURRICANE", DRILL[1:2], language="es")
    await seed(gateway, "HURRICANE", DRILL[3:], language="en")
    await stop(gateway, DRILL[3])
    answer = await post(client, authority, warning(status="Exercise"))
    assert (answer["action"], answer["status"], answer["broadcast"]) == (
        "exercise", "Exercise", None)  # fmt: skip
    assert "3 of the exercise list" in answer["reason"]
    await eventually(lambda: len(sent_to(simulator)) == 3)
    got = {"+" + s.destination_addr: decode(s.short_message, s.data_coding)
           for s in simulator.submits}  # fmt: skip
    english = "EXERCISE Hurricane warning: go to a shelter now - don't wait."
    assert got == {
        DRILL[0]: english,
        DRILL[1]: "SIMULACRO Aviso de hurac\xe1n Vaya a un refugio ahora.",
        DRILL[2]: english,  # no subscriber: the service's language
    }  # the service's 10 subscribers got nothing, nor the number under a STOP
    admin = await bearer(gateway, Role.ADMIN)
    listed = await (await client.get("/api/v1/broadcasts", headers=admin)).json()
    assert listed["broadcasts"] == []  # no broadcast: apart from the programme's figures
    found = await (await client.get(f"{ALERTS}/NMS-2026-0042", headers=admin)).json()
    assert (found["status"], found["action"], found["exercise"]) == ("Exercise", "exercise", True)


async def test_a_cancel_of_a_sent_warning_tells_its_service_it_no_longer_applies(
    client: Client, gateway: Gateway, simulator: Simulator, authority: dict[str, str],
) -> None:  # fmt: skip
    """[alerts] cancel_notice: at the warning's priority (an emergency: quiet hours or not)."""
    first = await post(client, authority, warning())
    admin = await bearer(gateway, Role.ADMIN)
    await wait_state(client, admin, first["broadcast"], state="done", delivered=len(AUDIENCE))
    cancel = alert(identifier="NMS-2026-0045", msg_type="Cancel", references=FIRST)
    answer = await post(client, authority, cancel)
    assert answer["reason"] == "nothing referenced was still being sent"
    await eventually(lambda: simulator.submit_total == 2 * len(AUDIENCE))
    notices = Counter((s.destination_addr[:5], decode(s.short_message, s.data_coding))
                      for s in simulator.submits[len(AUDIENCE):])  # fmt: skip
    assert notices == {
        ("50160", "CANCELLED: the Hurricane Warning sent earlier by Government Info SMS"
                  " no longer applies."): 5,
        ("50160", "CANCELADO: el aviso Hurricane Warning enviado antes por Government Info"
                  " SMS ya no aplica."): 1,
        ("50165", "CANCELADO: el aviso Hurricane Warning enviado antes por Government Info"
                  " SMS ya no aplica."): 4,
    }  # fmt: skip


async def test_the_public_feed_carries_the_warnings_sent_and_their_cap_and_nothing_else(
    client: Client, authority: dict[str, str],
) -> None:  # fmt: skip
    """For radio, TV and web sites: no token; never tests, drills, restricted alerts or numbers."""
    document = warning()
    sent = await post(client, authority, document)
    await post(client, authority, warning(identifier="T-1", status="Test"))
    await post(client, authority, warning(identifier="X-1", status="Exercise"))
    await post(client, authority, warning(identifier="R-1", scope="Restricted"))
    cancel = alert(identifier="NMS-2026-0046", msg_type="Cancel", references=FIRST)
    await post(client, authority, cancel)
    response = await client.get("/alerts.atom")
    assert response.status == 200
    assert response.content_type == "application/atom+xml"
    body = await response.read()
    root = ElementTree.fromstring(body)
    entries = root.findall(f"{{{ATOM}}}entry")
    terms = [e.find(f"{{{ATOM}}}category[@term]").get("term") for e in entries]  # type: ignore[union-attr]
    assert terms == ["Cancel", "Alert"]
    assert entries[1].findtext(f"{{{ATOM}}}title") == "Hurricane warning for the coast"
    links = [str(e.find(f"{{{ATOM}}}link").get("href")) for e in entries]  # type: ignore[union-attr]
    documents = []
    for link in links:
        got = await client.get(URL(link).path)
        assert (got.status, got.content_type) == (200, "application/cap+xml")
        documents.append(await got.read())
    assert documents == [cancel, document]  # as the authority sent them
    assert not [n for n in (*AUDIENCE, *DRILL) if n[1:] in body.decode()]
    assert sent["action"] == "sent"
    served = [n for n in range(1, 8) if (await client.get(f"/alerts/{n}.cap")).status == 200]
    assert [f"/alerts/{n}.cap" for n in served] == sorted(URL(link).path for link in links)
    for path in ("/alerts/abc.cap", "/alerts/%D9%A3.cap", "/alerts/99999999999999999999.cap"):
        assert (await client.get(path)).status == 404, path
