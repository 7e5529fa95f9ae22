"""Status callbacks through the real gateway, SMPP and a real local HTTP receiver that fails,
times out and comes back: each change of a message's state arrives, signed, in order."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from smsgw.app import Gateway
from smsgw.delivery.callbacks import signature
from tests.smsgw.testbed import BOTH_BACKENDS, Client, eventually

pytestmark = BOTH_BACKENDS  # PostgreSQL hands callbacks out as claims: order must hold too

FAST = """
[callbacks]
timeout_s = 0.5
first_retry_s = 0.2
"""
MESSAGES = "/api/v1/messages"


@dataclass
class Receiver:
    """An integrator's endpoint: answers 500, then too late, then 200 from then on."""

    url: str = ""
    plan: list[str] = field(default_factory=lambda: ["fail", "hang"])
    taken: list[tuple[dict[str, Any], dict[str, str], bytes]] = field(default_factory=list)
    refused: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        step = self.plan.pop(0) if self.plan else "ok"
        if step == "fail":
            self.refused += 1
            return web.Response(status=500)
        if step == "hang":
            self.refused += 1
            await asyncio.sleep(2)  # past the gateway's timeout_s
            return web.Response(status=200)
        self.taken.append((json.loads(body), dict(request.headers), body))
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/status", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/status"
    yield receiver
    await runner.cleanup()


def _counted(text: str, outcome: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "smsgw_callbacks":
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels["outcome"] == outcome:
                    return sample.value
    return 0.0


@pytest.mark.parametrize("settings", [FAST], indirect=True)
async def test_each_state_change_is_posted_signed_in_order_through_failures(
    client: Client, gateway: Gateway, admin: dict[str, str], receiver: Receiver
) -> None:
    body = {"to": "+5016010001", "text": "Your tax is due.", "callback_url": receiver.url}
    response = await client.post(MESSAGES, json=body, headers=admin)
    assert response.status == 201
    message_id = (await response.json())["id"]

    await eventually(lambda: len(receiver.taken) >= 2)
    states = [payload["state"] for payload, _, _ in receiver.taken]
    assert states == ["submitted", "delivered"]  # in order, though the first had to wait
    assert receiver.refused == 2  # a 500, then an answer too late: each tried again
    key = hashlib.sha256(admin["Authorization"].removeprefix("Bearer ").encode()).hexdigest()
    for payload, headers, raw in receiver.taken:
        assert payload["id"] == message_id
        assert set(payload) == {"id", "state", "at", "error", "parts"}
        stamp = headers["X-Smsgw-Timestamp"]
        assert headers["X-Smsgw-Signature"] == signature(key, stamp, raw)
    metrics = await (await client.get("/metrics")).text()
    assert _counted(metrics, "failed") == 2
    assert _counted(metrics, "delivered") == 2


@pytest.mark.parametrize("settings", [FAST], indirect=True)
async def test_a_batch_names_one_callback_url_for_its_messages(
    client: Client, admin: dict[str, str], receiver: Receiver
) -> None:
    receiver.plan = []
    items = [{"to": "+5016010001", "text": "One."}, {"to": "+5016010002", "text": "Two."}]
    batch = {"messages": items, "callback_url": receiver.url}
    response = await client.post(f"{MESSAGES}/batch", json=batch, headers=admin)
    ids = {r["id"] for r in (await response.json())["results"]}
    await eventually(lambda: len(receiver.taken) >= 4)
    delivered = {p["id"] for p, _, _ in receiver.taken if p["state"] == "delivered"}
    assert delivered == ids


async def test_a_callback_url_must_be_http(client: Client, admin: dict[str, str]) -> None:
    body = {"to": "+5016010001", "text": "Hi", "callback_url": "file:///etc/passwd"}
    response = await client.post(MESSAGES, json=body, headers=admin)
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "callback_url"


@pytest.mark.parametrize("settings", [FAST], indirect=True)
async def test_an_integrators_token_names_the_callback_url_of_its_messages(
    client: Client, admin: dict[str, str], receiver: Receiver
) -> None:
    receiver.plan = []
    body = {"role": "admin", "person": "Tax office system", "callback_url": receiver.url}
    issued = await (await client.post("/api/v1/tokens", json=body, headers=admin)).json()
    assert issued["callback_url"] == receiver.url
    tax = {"Authorization": f"Bearer {issued['token']}"}
    sent = await client.post(MESSAGES, json={"to": "+5016010001", "text": "Tax due."}, headers=tax)
    message_id = (await sent.json())["id"]
    await eventually(lambda: len(receiver.taken) >= 2)
    assert {p["id"] for p, _, _ in receiver.taken} == {message_id}
    key = hashlib.sha256(issued["token"].encode()).hexdigest()
    _, headers, raw = receiver.taken[0]
    assert headers["X-Smsgw-Signature"] == signature(key, headers["X-Smsgw-Timestamp"], raw)
    bad = body | {"callback_url": "ftp://tax.example"}
    refused = await client.post("/api/v1/tokens", json=bad, headers=admin)
    assert refused.status == 400
