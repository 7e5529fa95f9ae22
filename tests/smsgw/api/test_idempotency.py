"""Idempotency-Key on the sends, through the real API and SMPP: a retried request is answered
as the first was and sends nothing again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from channels.simulator import Simulator
from smsgw.access.idempotency import KEPT
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import numbers, seed
from tests.smsgw.testbed import Client, bearer

MESSAGES = "/api/v1/messages"
HI = {"to": "+5016010001", "text": "Your appointment is on Monday."}


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return headers | {"Idempotency-Key": key}


async def test_a_message_sent_again_with_its_key_is_answered_as_the_first_and_sent_once(
    client: Client, gateway: Gateway, admin: dict[str, str], simulator: Simulator
) -> None:
    first = await client.post(MESSAGES, json=HI, headers=keyed(admin, "k-1"))
    again = await client.post(MESSAGES, json=HI, headers=keyed(admin, "k-1"))
    assert (first.status, again.status) == (201, 201)
    assert await again.json() == await first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    await gateway.sender.join()
    listed = await (await client.get(MESSAGES, headers=admin)).json()
    assert len(listed["messages"]) == 1
    await asyncio.sleep(0.2)
    assert [s.destination_addr for s in simulator.submits] == ["5016010001"]


async def test_the_key_with_another_body_is_409_and_another_token_has_keys_of_its_own(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    assert (await client.post(MESSAGES, json=HI, headers=keyed(admin, "k-2"))).status == 201
    other_body = HI | {"text": "Another text."}
    reused = await client.post(MESSAGES, json=other_body, headers=keyed(admin, "k-2"))
    assert reused.status == 409
    assert (await reused.json())["error"]["code"] == "idempotency_key_reused"
    other = await bearer(gateway, Role.ADMIN)
    assert (await client.post(MESSAGES, json=HI, headers=keyed(other, "k-2"))).status == 201


async def test_a_refused_request_leaves_its_key_free_for_the_corrected_one(
    client: Client, admin: dict[str, str]
) -> None:
    bad = await client.post(MESSAGES, json=HI | {"to": "12"}, headers=keyed(admin, "k-3"))
    assert bad.status == 400
    fixed = await client.post(MESSAGES, json=HI, headers=keyed(admin, "k-3"))
    assert fixed.status == 201


async def test_two_requests_with_one_key_at_once_send_one_message(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    answers = await asyncio.gather(
        *(client.post(MESSAGES, json=HI, headers=keyed(admin, "k-4")) for _ in range(2))
    )
    statuses = sorted(a.status for a in answers)
    assert statuses in ([201, 201], [201, 409])
    for answer in answers:
        if answer.status == 409:
            assert (await answer.json())["error"]["code"] == "request_in_progress"
            assert answer.headers["Retry-After"] == "1"
    await gateway.sender.join()
    listed = await (await client.get(MESSAGES, headers=admin)).json()
    assert len(listed["messages"]) == 1


async def test_a_batch_and_a_broadcast_are_sent_once_per_key(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    batch = {"messages": [HI, HI | {"to": "+5016010002"}]}
    answers = [
        await client.post(f"{MESSAGES}/batch", json=batch, headers=keyed(admin, "b-1"))
        for _ in range(2)
    ]
    assert await answers[0].json() == await answers[1].json()
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    alert: dict[str, Any] = {"service": "HEALTH", "texts": {"en": "Clinics open Saturday."}}
    created = [
        await client.post("/api/v1/broadcasts", json=alert, headers=keyed(admin, "b-2"))
        for _ in range(2)
    ]
    assert [c.status for c in created] == [201, 201]
    assert (await created[0].json())["id"] == (await created[1].json())["id"]
    listed = await (await client.get("/api/v1/broadcasts", headers=admin)).json()
    assert len(listed["broadcasts"]) == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "é"])
async def test_a_key_that_is_not_printable_ascii_is_400(
    client: Client, admin: dict[str, str], key: str
) -> None:
    headers = admin | {"Idempotency-Key": key}
    response = await client.post(MESSAGES, json=HI, headers=headers)
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "Idempotency-Key"


async def test_a_key_is_remembered_for_24_hours_then_taken_anew(gateway: Gateway) -> None:
    keys, now = gateway.store.idempotency, datetime.now(UTC)
    assert await keys.claim("t", "k", "d1", at=now - KEPT - timedelta(minutes=1)) is None
    await keys.remember("t", "k", status=201, body="{}")
    assert await keys.claim("t", "k", "d2", at=now) is None  # past 24 hours: free again
    seen = await keys.claim("t", "k", "d3", at=now)
    assert seen is not None
    assert (seen.digest, seen.status) == ("d2", None)
