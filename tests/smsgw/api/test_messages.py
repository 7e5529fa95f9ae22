from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from channels.simulator import Simulator
from channels.smpp.codec import Status
from smsgw.access.audit import AuditAction
from smsgw.access.tokens import Role, hash_secret
from smsgw.api import MAX_BODY
from smsgw.app import GATEWAY, Gateway, build_app
from smsgw.config import Settings
from tests.smsgw.testbed import WAIT, Client, bearer

MESSAGES = "/api/v1/messages"


async def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status
    assert response.content_type == "application/json"
    body: dict[str, dict[str, Any]] = await response.json()
    return body["error"]


async def test_a_message_is_queued_then_its_history_follows_the_carrier(
    client: Client, admin: dict[str, str], simulator: Simulator
) -> None:
    response = await client.post(MESSAGES, json={"to": "601-2345", "text": "Hello"}, headers=admin)
    assert response.status == 201
    created = await response.json()
    assert created == {"id": created["id"], "state": "queued", "segments": 1, "encoding": "gsm7"}
    async with asyncio.timeout(WAIT):  # the gateway acknowledges a receipt once it is stored
        await simulator.wait_for(lambda: simulator.deliver_sm_resps[Status.ESME_ROK] == 1)
    [submit] = simulator.submits  # a local number, read in the default region BZ
    assert (submit.system_id, submit.destination_addr, submit.source_addr, submit.status) == (
        "smsgw-btl",
        "5016012345",
        "1515",
        Status.ESME_ROK,
    )

    response = await client.get(f"{MESSAGES}/{created['id']}", headers=admin)
    assert response.status == 200
    view = await response.json()
    assert {k: view[k] for k in ("id", "to", "state", "error", "parts", "channel")} == {
        "id": created["id"],
        "to": "+5016012345",
        "state": "delivered",
        "error": None,
        "parts": 1,
        "channel": "btl-1",
    }
    assert [(h["state"], h["detail"]) for h in view["history"]] == [
        ("queued", None),
        ("submitted", "btl-1"),
        ("delivered", None),
    ]


async def test_a_long_unicode_text_counts_its_segments(
    client: Client, admin: dict[str, str]
) -> None:
    text = "Vacunación en la clínica el sábado. " * 4  # á, ó: UCS-2, 67 characters a segment
    response = await client.post(MESSAGES, json={"to": "+5016012345", "text": text}, headers=admin)
    assert response.status == 201
    assert {k: (await response.json())[k] for k in ("segments", "encoding")} == {
        "segments": 3,
        "encoding": "ucs2",
    }


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"to": "12", "text": "Hi"}, "to", "invalid"),
        ({"to": "+1555", "text": "Hi"}, "to", "invalid"),
        ({"to": "+5016012345", "text": ""}, "text", "invalid"),
        ({"to": "+5016012345"}, "text", "invalid"),
        ({"to": "+5016012345", "text": "Hi", "priority": "high"}, "priority", "invalid"),
        ({"to": "+5016012345", "text": "x" * 1531}, "text", "too_long"),
        (["+5016012345", "Hi"], None, "invalid"),
        ({"to": "+5016012345", "text": " \n\t "}, "text", "invalid"),
        ({"to": "+5016012345 ext. 12", "text": "Hi"}, "to", "invalid"),  # was dropped
        ({"to": 5016012345, "text": "Hi"}, "to", "invalid"),
        ({"to": "+5016012345", "text": 42}, "text", "invalid"),
    ],
    ids=["short-number", "invalid-number", "empty-text", "no-text", "unknown-field",
         "eleven-segments", "not-an-object", "blank-text", "extension", "number-not-text",
         "text-not-text"],
)  # fmt: skip
async def test_an_invalid_message_is_400_naming_the_field(
    client: Client, admin: dict[str, str], body: Any, field: str | None, code: str
) -> None:
    error = await _error(await client.post(MESSAGES, json=body, headers=admin), 400)
    assert (error["field"], error["code"]) == (field, code)
    assert error["message"]


async def test_malformed_json_is_400(client: Client, admin: dict[str, str]) -> None:
    for raw in (b'{"to": "+5016012345",', b"\xff\xfe", b""):
        response = await client.post(MESSAGES, data=raw, headers=admin)
        assert (await _error(response, 400))["code"] == "malformed_json"


async def test_a_body_over_the_limit_is_413(client: Client, admin: dict[str, str]) -> None:
    body = json.dumps({"to": "+5016012345", "text": "x" * (MAX_BODY + 1)}).encode()
    headers = admin | {"Content-Type": "application/json"}
    response = await client.post(MESSAGES, data=io.BytesIO(body), headers=headers)
    error = await _error(response, 413)
    assert error["code"] == "request_entity_too_large"


async def test_an_unknown_message_is_404(client: Client, admin: dict[str, str]) -> None:
    error = await _error(await client.get(f"{MESSAGES}/nope", headers=admin), 404)
    assert error == {"code": "not_found", "message": "no message nope", "field": None}


async def test_a_wrong_method_is_405(client: Client, admin: dict[str, str]) -> None:
    response = await client.put(MESSAGES, json={}, headers=admin)
    assert (await _error(response, 405))["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


async def test_without_a_usable_token_it_is_401(client: Client, gateway: Gateway) -> None:
    body = {"to": "+5016012345", "text": "Hi"}
    for headers in (
        {},
        {"Authorization": "Bearer smsgw_not-a-token"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        await bearer(gateway, Role.ADMIN, expired=True),
        await bearer(gateway, Role.ADMIN, revoked=True),
    ):
        response = await client.post(MESSAGES, json=body, headers=headers)
        assert (await _error(response, 401))["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await client.get("/api/v1/anything")).status == 401  # no hint of what exists


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.OFFICER, Role.SUPERVISOR], ids=str)
async def test_only_an_admin_may_send_messages_and_an_operator_read_them(
    client: Client, gateway: Gateway, role: Role
) -> None:
    headers = await bearer(gateway, role)
    body = {"to": "+5016012345", "text": "Hi"}
    assert (await _error(await client.post(MESSAGES, json=body, headers=headers), 403))[
        "code"
    ] == "forbidden"
    reading = 404 if role is Role.OPERATOR else 403  # the log: an admin's and an operator's
    await _error(await client.get(f"{MESSAGES}/x", headers=headers), reading)


async def test_an_unexpected_error_is_500_without_details(
    client: Client, gateway: Gateway, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(_id: str) -> None:
        raise RuntimeError("disk on fire at /var/lib/smsgw")

    monkeypatch.setattr(gateway.store.messages, "get_message", broken)  # a failing disk, simulated
    response = await client.get(f"{MESSAGES}/x", headers=admin)
    error = await _error(response, 500)
    assert error == {"code": "internal_error", "message": "internal server error", "field": None}
    assert "fire" not in await response.text()
    assert (await client.get("/healthz")).status == 200  # and the server goes on


async def test_each_message_names_its_sender_is_audited_and_counts_against_a_daily_quota(
    settings: Settings,
) -> None:
    http = settings.http.model_copy(update={"daily_messages_per_token": 2})
    app = build_app(settings.model_copy(update={"http": http}))
    async with TestClient(TestServer(app)) as client:
        gateway = client.app[GATEWAY]
        admin = await bearer(gateway, Role.ADMIN)
        body = {"to": "+5016012345", "text": "Hi"}
        sent = [await client.post(MESSAGES, json=body, headers=admin) for _ in range(3)]
        assert [response.status for response in sent] == [201, 201, 429]
        error = (await sent[2].json())["error"]
        assert error["code"] == "quota_exceeded"
        assert 0 < int(sent[2].headers["Retry-After"]) <= 24 * 3600
        other = await bearer(gateway, Role.ADMIN)  # the quota is per token
        assert (await client.post(MESSAGES, json=body, headers=other)).status == 201

        first = (await sent[0].json())["id"]
        message = await gateway.store.messages.get_message(first)
        assert message is not None
        entries = await gateway.store.audit.audit_entries(
            before=None, limit=10, action=AuditAction.MESSAGE_SENT
        )
        assert len(entries) == 3
        assert {e.target for e in entries} >= {first}
        assert message.created_by == next(e.actor for e in entries if e.target == first)


BATCH = f"{MESSAGES}/batch"


async def test_a_batch_answers_each_message_in_its_place_and_sends_the_good_ones(
    client: Client, admin: dict[str, str], simulator: Simulator
) -> None:
    items: list[dict[str, Any]] = [
        {"to": "+5016010001", "text": "Appointment Monday."},
        {"to": "12", "text": "Bad number."},
        {"to": "+5016510002", "text": "Día de vacunación."},
        {"to": "+5016010003", "text": " "},
        {"to": "+442071838750", "text": "No carrier here."},
        {"to": "+5016010004", "text": "x", "extra": 1},
        {"to": "+5016010005", "text": "Last one."},
    ]
    response = await client.post(BATCH, json={"messages": items}, headers=admin)
    assert response.status == 200
    answer = await response.json()
    results = answer["results"]
    assert answer["accepted"] == 3
    assert [bool(r["id"]) for r in results] == [True, False, True, False, False, False, True]
    errors = {n: r["error"] for n, r in enumerate(results) if r["error"]}
    assert {n: (e["code"], e["field"]) for n, e in errors.items()} == {
        1: ("invalid", "messages.1.to"),
        3: ("invalid", "messages.3.text"),
        4: ("no_route", "messages.4.to"),
        5: ("invalid", "messages.5.extra"),
    }
    async with asyncio.timeout(WAIT):
        await simulator.wait_for(lambda: simulator.deliver_sm_resps[Status.ESME_ROK] == 3)
    assert sorted(s.destination_addr for s in simulator.submits) == [
        "5016010001", "5016010005", "5016510002"
    ]  # fmt: skip
    for n in (0, 2, 6):
        view = await (await client.get(f"{MESSAGES}/{results[n]['id']}", headers=admin)).json()
        assert (view["to"], view["state"]) == (items[n]["to"], "delivered")


async def test_a_batch_beyond_the_daily_quota_sends_what_the_quota_allows(
    settings: Settings,
) -> None:
    http = settings.http.model_copy(update={"daily_messages_per_token": 3})
    app = build_app(settings.model_copy(update={"http": http}))
    async with TestClient(TestServer(app)) as client:
        admin = await bearer(client.app[GATEWAY], Role.ADMIN)
        items = [{"to": f"+501601000{n}", "text": "Hi"} for n in range(5)]
        response = await client.post(BATCH, json={"messages": items}, headers=admin)
        results = (await response.json())["results"]
        assert [r["id"] is not None for r in results] == [True, True, True, False, False]
        assert {r["error"]["code"] for r in results[3:]} == {"quota_exceeded"}
        entries = await client.app[GATEWAY].store.audit.audit_entries(
            before=None, limit=10, action=AuditAction.MESSAGES_SENT
        )
        assert [len(e.detail["ids"]) for e in entries] == [3]


@pytest.mark.parametrize("count", [0, 1001])
async def test_an_empty_or_oversized_batch_is_400(
    client: Client, admin: dict[str, str], count: int
) -> None:
    items = [{"to": "+5016010001", "text": "Hi"}] * count
    error = await _error(await client.post(BATCH, json={"messages": items}, headers=admin), 400)
    assert error["field"] == "messages"


async def test_messages_are_listed_newest_first_filtered_a_page_at_a_time(
    client: Client, gateway: Gateway, admin: dict[str, str], simulator: Simulator
) -> None:
    other = await bearer(gateway, Role.ADMIN)
    sent: list[str] = []
    for n in range(5):
        body = {"to": f"+501601000{n % 2}", "text": f"Message {n}"}
        token = admin if n < 4 else other
        response = await client.post(MESSAGES, json=body, headers=token)
        sent.append((await response.json())["id"])
    async with asyncio.timeout(WAIT):
        await simulator.wait_for(lambda: simulator.deliver_sm_resps[Status.ESME_ROK] == 5)
        await gateway.recorder.flush()

    async def listed(query: str) -> dict[str, Any]:
        response = await client.get(f"{MESSAGES}?{query}", headers=admin)
        assert response.status == 200, await response.text()
        page: dict[str, Any] = await response.json()
        return page

    everything = await listed("limit=2")
    ids = [m["id"] for m in everything["messages"]]
    while everything["next"]:
        everything = await listed(f"limit=2&cursor={everything['next']}")
        ids += [m["id"] for m in everything["messages"]]
    assert ids == sent[::-1]  # newest first, each once across the pages
    to_one = await listed("to=601-0001")  # a local number, as elsewhere
    assert [m["id"] for m in to_one["messages"]] == [sent[3], sent[1]]
    assert to_one["next"] is None
    sender = await gateway.store.tokens.token_by_hash(
        hash_secret(other["Authorization"].removeprefix("Bearer "))
    )
    assert sender is not None
    by_other = (await listed(f"token={sender.id}"))["messages"]
    assert [m["id"] for m in by_other] == [sent[4]]
    delivered = (await listed("state=delivered&since=2000-01-01T00:00:00Z"))["messages"]
    assert len(delivered) == 5
    assert (await listed("state=queued"))["messages"] == []
    for bad, field in (("state=lost", "state"), ("cursor=%21%21", "cursor"), ("to=12", "to"),
                       ("limit=0", "limit"), ("since=yesterday", "since")):  # fmt: skip
        error = await _error(await client.get(f"{MESSAGES}?{bad}", headers=admin), 400)
        assert error["field"] == field, bad

    # an operator follows the traffic: the same log and history, each number masked
    operator = await bearer(gateway, Role.OPERATOR)
    seen = await (await client.get(f"{MESSAGES}?to=601-0001", headers=operator)).json()
    assert [(m["id"], m["to"]) for m in seen["messages"]] == [
        (sent[3], "+50160****01"),
        (sent[1], "+50160****01"),
    ]
    one = await (await client.get(f"{MESSAGES}/{sent[3]}", headers=operator)).json()
    assert (one["to"], one["state"]) == ("+50160****01", "delivered")
    assert [entry["state"] for entry in one["history"]][-1] == "delivered"
