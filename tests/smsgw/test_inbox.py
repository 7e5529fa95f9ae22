"""Citizens ask, ministries answer, end to end: a citizen's text over SMPP from the simulator →
the inbound queue → a ticket in the ministry's inbox → an officer answers through the HTTP API
→ the answer reaches the citizen over SMPP. Two languages, two ministries, on both stores."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from channels.simulator import Simulator
from smsgw.access.tokens import Role, issue
from smsgw.app import Gateway
from smsgw.demo_catalogue import DEMO_SERVICES
from tests.smsgw.test_citizens import replies, texts
from tests.smsgw.testbed import BOTH_BACKENDS, WAIT, Client, bearer, eventually

# storage matters in these (each on SQLite and PostgreSQL): the conversation, replies to a
# broadcast, scope, service levels and polls; the rest run on SQLite (the stores' contract is
# tests/smsgw/storage/test_contract_inbox.py)

ANA = "+5016012345"  # English
JUAN = "+5016054321"  # Spanish
ROSA = "+5016511111"  # the other carrier


@pytest.fixture
async def catalogue(gateway: Gateway) -> None:
    for service in DEMO_SERVICES:
        await gateway.store.catalogue.add_service(service)
    await gateway.catalogue_changed()


async def person(gateway: Gateway, role: Role, name: str, ministry: str | None = "health"):
    """Authorization headers of a token belonging to the person ``name``."""
    ministry = ministry if role in (Role.OFFICER, Role.SUPERVISOR) else None
    secret, token = issue(role, now=datetime.now(UTC), ministry=ministry, expires_days=1,
                          person=name)  # fmt: skip
    await gateway.store.tokens.add_token(token)
    return {"Authorization": f"Bearer {secret}"}


async def text_only(simulator: Simulator, body: str, sender: str) -> None:
    """A text that gets no reply: waits until the gateway has handled it."""
    await simulator.inject_mo(sender, body)
    await asyncio.sleep(0.3)


async def inbox(client: Client, headers: dict[str, str], query: str = "") -> list[Any]:
    response = await client.get(f"/api/v1/inbox{query}", headers=headers)
    assert response.status == 200, await response.text()
    tickets: list[Any] = (await response.json())["tickets"]
    return tickets


@BOTH_BACKENDS
@pytest.mark.usefixtures("catalogue")
async def test_a_citizen_and_an_officer_hold_a_conversation(client, gateway, simulator):
    officer = await person(gateway, Role.OFFICER, "maria", "health")
    [ack] = await texts(simulator, "ASK HEALTH Where can my son get the measles vaccine?",
                        sender=ANA)  # fmt: skip
    assert ack.startswith("Thank you. Your question #1 is with Health alerts")
    [ticket] = await inbox(client, officer)
    assert ticket["ticket"] == "#1"
    assert ticket["state"] == "open"
    assert ticket["service"] == "HEALTH"
    assert ticket["msisdn"] == "+50160****45"  # an officer sees it masked
    assert ticket["language"] == "en"
    assert ticket["due_at"] is not None

    answered = await client.post(
        "/api/v1/inbox/1/answer", headers=officer,
        json={"text": "Any clinic, Monday to Friday 8am-4pm. Bring his card."},
    )  # fmt: skip
    assert answered.status == 200, await answered.text()
    async with asyncio.timeout(WAIT):
        await simulator.wait_submits(2)
    assert replies(simulator, ANA)[-1] == "Any clinic, Monday to Friday 8am-4pm. Bring his card."
    thread = await answered.json()
    assert thread["ticket"]["state"] == "answered"
    assert thread["ticket"]["first_answer_at"] is not None
    assert [e["kind"] for e in thread["entries"]] == ["question", "answer"]
    assert thread["entries"][0]["text"] == "Where can my son get the measles vaccine?"
    assert thread["entries"][1]["by"] == "maria"

    # the citizen writes again: their open ticket, no new acknowledgement
    await text_only(simulator, "Thank you! And for my daughter, same?", ANA)

    async def reopened() -> bool:
        got = await (await client.get("/api/v1/inbox/1", headers=officer)).json()
        return got["ticket"]["state"] == "open" and len(got["entries"]) == 3

    await eventually(reopened)
    assert len(replies(simulator, ANA)) == 2

    # the delivery state of the answer is shown
    async def delivered() -> bool:
        got = await (await client.get("/api/v1/inbox/1", headers=officer)).json()
        return bool(got["entries"][1]["state"] == "delivered")

    await eventually(delivered)

    # note, assign, close
    noted = await client.post("/api/v1/inbox/1/note", headers=officer,
                              json={"text": "Called the clinic: they have stock."})  # fmt: skip
    assert noted.status == 200
    assigned = await client.post("/api/v1/inbox/1/assign", headers=officer, json={"to": "me"})
    assert (await assigned.json())["ticket"]["assigned_to"] == "maria"
    assert [t["id"] for t in await inbox(client, officer, "?assigned=me")] == [1]
    closed = await client.post("/api/v1/inbox/1/close", headers=officer)
    assert (await closed.json())["ticket"]["state"] == "closed"
    assert await inbox(client, officer, "?state=open") == []
    assert [t["id"] for t in await inbox(client, officer, "?service=salud")] == [1]  # an alias
    unknown = await client.get("/api/v1/inbox?service=NOPE", headers=officer)
    assert unknown.status == 400
    assert (await unknown.json())["error"]["field"] == "service"
    kinds = [e["kind"] for e in (await closed.json())["entries"]]
    assert kinds == ["question", "answer", "question", "note", "assigned", "closed"]
    # a closed ticket is answered only once reopened
    refused = await client.post("/api/v1/inbox/1/answer", headers=officer, json={"text": "Hi"})
    assert refused.status == 409
    assert (await refused.json())["error"]["code"] == "ticket_closed"
    reopened_now = await client.post("/api/v1/inbox/1/reopen", headers=officer)
    assert (await reopened_now.json())["ticket"]["state"] == "answered"
    # closed again, the citizen asks anew: #2; #1 cannot be reopened beside it
    await client.post("/api/v1/inbox/1/close", headers=officer)
    [*_, ack] = await texts(simulator, "ASK HEALTH And the booster?", sender=ANA)
    assert ack.startswith("Thank you. Your question #2 is with Health alerts")
    twice = await client.post("/api/v1/inbox/1/reopen", headers=officer)
    assert twice.status == 409
    assert (await twice.json())["error"]["code"] == "ticket_open_elsewhere"


@pytest.mark.usefixtures("catalogue")
async def test_spanish_questions_are_acknowledged_in_spanish(client, gateway, simulator):
    officer = await person(gateway, Role.OFFICER, "maria", "health")
    [ack] = await texts(simulator, "PREGUNTA SALUD ¿Hay vacunas en Dangriga?", sender=JUAN)
    assert ack.startswith("Gracias. Recibimos su pregunta #1 para Alertas de salud")
    assert ack.endswith("Escriba ALTO SALUD para salir.")  # the Spanish word for the service
    [ticket] = await inbox(client, officer)
    assert ticket["language"] == "es"
    thread = await (await client.get("/api/v1/inbox/%231", headers=officer)).json()
    assert thread["entries"][0]["text"] == "¿Hay vacunas en Dangriga?"
    # ASK with no question, and with no service: how to ask
    [how] = await texts(simulator, "ASK HEALTH", sender=ROSA)
    assert how.startswith("To ask a ministry a question send ASK")
    got = await texts(simulator, "PREGUNTA", sender=ROSA)
    assert got[-1].startswith("Para preguntar a un ministerio")


@BOTH_BACKENDS
@pytest.mark.usefixtures("catalogue")
async def test_an_officer_never_sees_another_ministrys_tickets(client, gateway, simulator):
    health = await person(gateway, Role.OFFICER, "maria", "health")
    met = await person(gateway, Role.OFFICER, "tom", "met")
    supervisor = await person(gateway, Role.SUPERVISOR, "ines", "health")
    admin = await bearer(gateway, Role.ADMIN)
    await texts(simulator, "ASK HEALTH Is the water safe?", sender=ANA)
    await texts(simulator, "ASK WEATHER Will it rain Saturday?", sender=ANA)
    assert [t["service"] for t in await inbox(client, health)] == ["HEALTH"]
    assert [t["service"] for t in await inbox(client, met)] == ["WEATHER"]
    assert {t["service"] for t in await inbox(client, admin)} == {"HEALTH", "WEATHER"}
    # supervisors and admins see the number whole
    assert (await inbox(client, supervisor))[0]["msisdn"] == ANA
    weather_id = (await inbox(client, met))[0]["id"]
    for path in ("", "/answer", "/note", "/close", "/assign"):
        method = client.get if not path else client.post
        body = {"to": "me"} if path == "/assign" else {"text": "x"}
        response = await method(f"/api/v1/inbox/{weather_id}{path}", headers=health,
                                **({} if not path else {"json": body}))  # fmt: skip
        assert response.status == 404, path
    # nor assigns one to someone of another ministry
    health_id = (await inbox(client, health))[0]["id"]
    wrong = await client.post(f"/api/v1/inbox/{health_id}/assign", headers=health,
                              json={"to": "tom"})  # fmt: skip
    assert wrong.status == 400
    assert (await wrong.json())["error"]["field"] == "to"
    assert (await client.get("/api/v1/inbox", headers=await bearer(gateway, Role.OPERATOR))
            ).status == 403  # fmt: skip


@BOTH_BACKENDS
@pytest.mark.usefixtures("catalogue")
async def test_a_reply_to_a_broadcast_goes_to_its_services_inbox(client, gateway, simulator):
    met = await person(gateway, Role.OFFICER, "tom", "met")
    await texts(simulator, "WEATHER", sender=ANA)
    await texts(simulator, "CLIMA", sender=JUAN)
    # a question to HEALTH is open: a reply to a later broadcast is about that broadcast
    await texts(simulator, "ASK HEALTH Is the clinic open Sunday?", sender=ANA)
    created = await client.post(
        "/api/v1/broadcasts",
        headers=met,
        json={
            "service": "WEATHER",
            "texts": {"en": "Heavy rain Saturday.", "es": "Lluvia el sabado."},
        },
    )
    assert created.status == 201, await created.text()
    broadcast = (await created.json())["id"]
    async with asyncio.timeout(WAIT):
        await simulator.wait_submits(5)
    got = await texts(simulator, "Will the road to San Ignacio flood?", sender=ANA)
    assert got[-1].startswith("Thank you. Your question #2 is with Weather forecast")
    got = await texts(simulator, "¿Hay refugio en Cayo?", sender=JUAN)
    assert got[-1].startswith("Gracias. Recibimos su pregunta #3 para Pronostico del tiempo")
    tickets = await inbox(client, met)
    assert {t["broadcast"] for t in tickets} == {broadcast}
    assert {t["language"] for t in tickets} == {"en", "es"}
    # someone the broadcast did not reach gets the usual reply
    got = await texts(simulator, "Will the road to San Ignacio flood?", sender=ROSA)
    assert got[-1].startswith("Sorry, we did not understand")
    assert len(await inbox(client, met)) == 2


@pytest.mark.usefixtures("catalogue")
async def test_no_answer_reaches_a_number_under_stop(client, gateway, simulator):
    officer = await person(gateway, Role.OFFICER, "maria", "health")
    await texts(simulator, "ASK HEALTH Is there dengue in Belmopan?", sender=ANA)
    await texts(simulator, "STOP", sender=ANA)
    before = simulator.submit_total
    refused = await client.post("/api/v1/inbox/1/answer", headers=officer,
                                json={"text": "Not this week."})  # fmt: skip
    assert refused.status == 409
    error = (await refused.json())["error"]
    assert error["code"] == "opted_out"
    assert "STOP" in error["message"]
    thread = await (await client.get("/api/v1/inbox/1", headers=officer)).json()
    assert thread["stopped_at"] is not None
    assert [e["kind"] for e in thread["entries"]] == ["question"]
    await asyncio.sleep(0.2)
    assert simulator.submit_total == before


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("settings", ["[inbox]\ntexts_per_hour = 2\n"], indirect=True)
async def test_questions_are_limited_per_number(client, gateway, simulator):
    officer = await person(gateway, Role.OFFICER, "maria", "health")
    await texts(simulator, "ASK HEALTH one?", "ASK HEALTH two?", sender=ANA)
    got = await texts(simulator, "ASK HEALTH three?", sender=ANA)
    assert got[-1].startswith("You have sent many questions this hour")
    await text_only(simulator, "ASK HEALTH four?", ANA)
    assert len(replies(simulator, ANA)) == 3  # told once
    thread = await (await client.get("/api/v1/inbox/1", headers=officer)).json()
    assert [e["text"] for e in thread["entries"]] == ["one?", "two?"]


@BOTH_BACKENDS
@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize(
    "settings",
    [
        "[inbox]\nservice_first_answer_h = { HEALTH = 0.0003 }\n\n"
        '[[inbox.canned]]\nministry = "health"\nlanguage = "es"\ntitle = "Horario"\n'
        'text = "Las clinicas abren de 8 a 4."\n'
    ],
    indirect=True,
)
async def test_overdue_questions_stand_out_and_the_kpis_count_them(client, gateway, simulator):
    officer = await person(gateway, Role.OFFICER, "maria", "health")
    await texts(simulator, "ASK HEALTH first?", sender=ANA)
    await texts(simulator, "ASK HEALTH second?", sender=ROSA)
    await texts(simulator, "ASK WEATHER rain?", sender=JUAN)
    await asyncio.sleep(1.2)  # HEALTH's target: about a second
    overdue = await inbox(client, officer, "?overdue=true")
    assert {t["id"] for t in overdue} == {1, 2}
    assert all(t["overdue"] for t in overdue)
    answered = await client.post("/api/v1/inbox/1/answer", headers=officer, json={"text": "Yes."})
    assert answered.status == 200
    assert [t["id"] for t in await inbox(client, officer, "?overdue=true")] == [2]
    metrics = await (await client.get("/metrics")).text()
    assert 'smsgw_tickets_overdue{service="HEALTH"} 1.0' in metrics
    kpis = await (await client.get("/api/v1/inbox/kpis", headers=officer)).json()
    [health] = kpis["services"]  # the officer's ministry only
    assert (health["service"], health["received"], health["answered"]) == ("HEALTH", 2, 1)
    assert health["median_first_answer_s"] > 1
    assert health["overdue"] == 1
    assert kpis["ministries"]["health"]["received"] == 2
    admin = await bearer(gateway, Role.ADMIN)
    everything = await (await client.get("/api/v1/inbox/kpis", headers=admin)).json()
    assert everything["ministries"]["met"]["received"] == 1
    canned = await (await client.get("/api/v1/inbox/canned?language=es", headers=officer)).json()
    assert canned["answers"] == [{"ministry": "health", "language": "es", "title": "Horario",
                                  "text": "Las clinicas abren de 8 a 4."}]  # fmt: skip
    met = await person(gateway, Role.OFFICER, "tom", "met")
    assert (await (await client.get("/api/v1/inbox/canned", headers=met)).json())["answers"] == []


@BOTH_BACKENDS
@pytest.mark.usefixtures("catalogue")
async def test_a_poll_is_tallied_per_option_language_and_district(client, gateway, simulator):
    officer = await person(gateway, Role.OFFICER, "maria", "health")
    voters = {"+5016000001": "HEALTH TOLEDO", "+5016000002": "SALUD", "+5016500003": "HEALTH",
              "+5016000004": "SALUD CAYO"}  # fmt: skip
    for number, join in voters.items():
        await texts(simulator, join, sender=number)
    closes = datetime.now(UTC) + timedelta(seconds=4)
    created = await client.post("/api/v1/broadcasts", headers=officer, json={
        "service": "HEALTH",
        "texts": {"en": "Did you get the dengue leaflet? 1 YES / 2 NO",
                  "es": "Recibio el folleto del dengue? 1 SI / 2 NO"},
        "poll": {"question": {"en": "Got the leaflet?"}, "closes_at": closes.isoformat(),
                 "options": [{"number": 1, "words": {"en": ["YES"], "es": ["SI"]}},
                             {"number": 2, "words": {"en": ["NO"], "es": ["NO"]}}]},
    })  # fmt: skip
    assert created.status == 201, await created.text()
    broadcast = (await created.json())["id"]
    async with asyncio.timeout(WAIT):
        await simulator.wait_submits(8)
    got = await texts(simulator, "yes", sender="+5016000001")
    assert got[-1].startswith("Thank you! Your answer 1 is counted")
    got = await texts(simulator, "Sí", sender="+5016000002")
    assert got[-1].startswith("¡Gracias! Contamos su respuesta 1")
    await texts(simulator, "1", sender="+5016500003")
    await texts(simulator, "2 no", sender="+5016500003")  # the last answer counts
    await texts(simulator, "2", sender="+5016000004")
    # a number outside the poll's audience is not counted
    got = await texts(simulator, "1", sender="+5016099999")
    assert got[-1].startswith("Sorry, we did not understand")
    results = await (await client.get(f"/api/v1/broadcasts/{broadcast}/poll",
                                      headers=officer)).json()  # fmt: skip
    assert results["answers"] == 4
    assert results["open"] is True
    assert [(o["number"], o["count"]) for o in results["options"]] == [(1, 2), (2, 2)]
    assert results["by_language"] == {"en": {"1": 1, "2": 1}, "es": {"1": 1, "2": 1}}
    assert results["by_district"] == {"Cayo": {"1": 0, "2": 1}, "Toledo": {"1": 1, "2": 0},
                                      "none": {"1": 1, "2": 1}}  # fmt: skip
    other = await person(gateway, Role.OFFICER, "tom", "met")
    hidden = await client.get(f"/api/v1/broadcasts/{broadcast}/poll", headers=other)
    assert hidden.status == 404
    await asyncio.sleep(max(0.0, (closes - datetime.now(UTC)).total_seconds()) + 0.1)
    got = await texts(simulator, "2", sender="+5016000001")
    assert got[-1].startswith("Thank you, but this poll is closed")
    after = await (await client.get(f"/api/v1/broadcasts/{broadcast}/poll",
                                    headers=officer)).json()  # fmt: skip
    assert after["options"][0]["count"] == 2
    assert after["open"] is False


@pytest.mark.usefixtures("catalogue")
async def test_a_bad_poll_is_refused_naming_the_field(client, gateway):
    officer = await person(gateway, Role.OFFICER, "maria", "health")
    closes = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    cases = [
        ([{"number": 1}], "at least 2"),
        ([{"number": 1}, {"number": 1}], "own number"),
        ([{"number": 1, "words": {"en": ["STOP"]}}, {"number": 2}], "command word"),
        ([{"number": 1, "words": {"fr": ["OUI"]}}, {"number": 2}], "languages"),
        (
            [{"number": 1, "words": {"en": ["YES"]}}, {"number": 2, "words": {"en": ["YES"]}}],
            "two options",
        ),
    ]
    for options, said in cases:
        response = await client.post("/api/v1/broadcasts", headers=officer, json={
            "service": "HEALTH", "texts": {"en": "Poll"},
            "poll": {"options": options, "closes_at": closes}})  # fmt: skip
        assert response.status == 400, options
        error = (await response.json())["error"]
        assert error["field"].startswith("poll.options"), error
        assert said in error["message"], error
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = await client.post("/api/v1/broadcasts", headers=officer, json={
        "service": "HEALTH", "texts": {"en": "Poll"},
        "poll": {"options": [{"number": 1}, {"number": 2}], "closes_at": past}})  # fmt: skip
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "poll.closes_at"


@pytest.mark.usefixtures("catalogue")
async def test_bad_requests_to_the_inbox_get_clear_errors_and_change_nothing(
    client, gateway, simulator
):
    officer = await person(gateway, Role.OFFICER, "maria", "health")
    await texts(simulator, "ASK HEALTH Is the water safe?", sender=ANA)
    cases = [
        ("post", "/api/v1/inbox/1/answer", {"text": "   "}, 400, "text"),
        ("post", "/api/v1/inbox/1/answer", {"text": "x" * 1601}, 400, "text"),
        ("post", "/api/v1/inbox/1/answer", {"text": "á" * 800}, 400, "text"),  # 12 SMS > 6
        ("post", "/api/v1/inbox/1/answer", {"txt": "hi"}, 400, None),
        ("post", "/api/v1/inbox/1/note", {"text": ""}, 400, "text"),
        ("post", "/api/v1/inbox/1/assign", {"to": "nobody"}, 400, "to"),
        ("get", "/api/v1/inbox/abc", None, 400, None),
        ("get", "/api/v1/inbox/99", None, 404, None),
        ("get", "/api/v1/inbox?state=pending", None, 400, "state"),
        ("get", "/api/v1/inbox/kpis?since=2026-02-01&until=2026-01-01", None, 400, "since"),
    ]
    for method, path, body, status, field in cases:
        response = await client.request(method, path, headers=officer,
                                        **({} if body is None else {"json": body}))  # fmt: skip
        assert response.status == status, (path, body, await response.text())
        if field is not None:
            assert (await response.json())["error"]["field"] == field, (path, body)
    thread = await (await client.get("/api/v1/inbox/1", headers=officer)).json()
    assert [e["kind"] for e in thread["entries"]] == ["question"]
    assert thread["ticket"]["state"] == "open"
    assert thread["ticket"]["assigned_to"] is None
    # assigned, then to no one
    await client.post("/api/v1/inbox/1/assign", headers=officer, json={"to": "maria"})
    cleared = await client.post("/api/v1/inbox/1/assign", headers=officer, json={"to": None})
    assert (await cleared.json())["ticket"]["assigned_to"] is None


@BOTH_BACKENDS
@pytest.mark.usefixtures("catalogue")
async def test_a_scheduled_polls_answers_count_from_its_start(client, gateway, simulator):
    """The inbox's list of recent broadcasts, read before the poll started, is read again when
    it starts: the first answers count (a helper's benchmark lost them)."""
    officer = await person(gateway, Role.OFFICER, "maria", "health")
    await texts(simulator, "HEALTH", sender=ANA)
    send_at = datetime.now(UTC) + timedelta(seconds=1.5)
    created = await client.post("/api/v1/broadcasts", headers=officer, json={
        "service": "HEALTH", "texts": {"en": "Leaflet? 1 YES / 2 NO"},
        "send_at": send_at.isoformat(),
        "poll": {"closes_at": (send_at + timedelta(hours=1)).isoformat(),
                 "options": [{"number": 1, "words": {"en": ["YES"]}}, {"number": 2}]},
    })  # fmt: skip
    assert created.status == 201, await created.text()
    broadcast = (await created.json())["id"]
    await texts(simulator, "hello there", sender=ROSA)  # the inbox reads its recent ones now
    async with asyncio.timeout(WAIT):
        await simulator.wait_submits(3)  # the welcome, the unknown reply, the poll
    got = await texts(simulator, "yes", sender=ANA)
    assert got[-1].startswith("Thank you! Your answer 1 is counted")
    results = await (await client.get(f"/api/v1/broadcasts/{broadcast}/poll",
                                      headers=officer)).json()  # fmt: skip
    assert results["answers"] == 1
