"""The whole gateway as a user meets it: HTTP API → SMPP over real TCP → simulator → SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from channels.base import LinkState
from channels.simulator import Simulator, SimulatorConfig
from channels.smpp.codec import Status
from smsgw.app import GATEWAY, Gateway, build_app
from smsgw.config import load
from smsgw.delivery.sender import RetryPolicy
from smsgw.tokens import Role, issue
from tests.smsgw.fakes import CONFIG, WriteConfig

Client = TestClient[web.Request, web.Application]
WAIT = 10.0
FINAL = {"delivered", "undeliverable", "expired", "rejected", "failed"}


@pytest.fixture
async def simulator(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """Parametrize indirectly to change its settings."""
    settings = {"port": 0, "control_port": None, "receipt_delay_s": 0.05, "seed": 5,
                "receipt_mix": {"delivered": 1.0}}  # fmt: skip
    settings.update(getattr(request, "param", {}))
    async with Simulator(SimulatorConfig(**settings)) as simulator:
        yield simulator


@pytest.fixture
async def client(
    simulator: Simulator, write_config: WriteConfig, tmp_path: Path
) -> AsyncIterator[Client]:
    text = CONFIG.replace("port = 2775", f"port = {simulator.port}")
    text = text.replace('password = "secret"', 'password = "secret"\nreconnect_min_s = 0.05')
    app = build_app(
        load(write_config(text)), retry=RetryPolicy(first_delay_s=0.01, max_delay_s=0.05)
    )
    async with TestClient(TestServer(app)) as client:
        gateway = client.app[GATEWAY]
        async with asyncio.timeout(WAIT):
            for channel in gateway.channels:
                await channel.wait_bound()  # type: ignore[attr-defined]
        yield client


@pytest.fixture
async def admin(client: Client) -> dict[str, str]:
    gateway: Gateway = client.app[GATEWAY]
    secret, token = issue(Role.ADMIN, now=datetime.now(UTC), ministry=None, expires_days=1)
    await gateway.tokens.add_token(token)
    return {"Authorization": f"Bearer {secret}"}


Send = Callable[..., Awaitable[str]]


@pytest.fixture
def send(client: Client, admin: dict[str, str]) -> Send:
    async def send(to: str = "+5016012345", text: str = "Clinic open Saturday 9am") -> str:
        response = await client.post(
            "/api/v1/messages", json={"to": to, "text": text}, headers=admin
        )
        assert response.status == 201, await response.text()
        return str((await response.json())["id"])

    return send


async def eventually(condition: Callable[[], bool | Awaitable[bool]]) -> None:
    """Polls what a user would look at (the API, the database), which sends no events."""
    async with asyncio.timeout(WAIT):
        while True:
            result = condition()
            if await result if isinstance(result, Awaitable) else result:
                return
            await asyncio.sleep(0.02)


async def settled(client: Client, admin: dict[str, str], message_id: str) -> dict[str, Any]:
    """The message once it reached a final state (or an unknown outcome), as the API shows it."""
    body: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal body
        response = await client.get(f"/api/v1/messages/{message_id}", headers=admin)
        body = await response.json()
        events = {e["state"] for e in body["history"]}
        return body["state"] in FINAL or "unknown_outcome" in events

    await eventually(done)
    return body


async def test_message_is_submitted_delivered_and_its_history_kept(client, admin, send, simulator):
    message_id = await send()

    body = await settled(client, admin, message_id)

    assert body["state"] == "delivered"
    assert [e["state"] for e in body["history"]] == ["queued", "submitted", "delivered"]
    [submit] = simulator.submits
    assert submit.destination_addr == "5016012345"
    assert submit.source_addr == "1515"


async def test_receipt_before_the_submit_response_still_delivers(client, admin, send, simulator):
    simulator.receipt_before_response = True

    body = await settled(client, admin, await send())

    assert body["state"] == "delivered"


async def test_two_part_message_is_delivered_when_both_parts_are(client, admin, send, simulator):
    body = await settled(client, admin, await send(text="Hurricane watch for the coast. " * 7))

    assert body["parts"] == 2
    assert body["state"] == "delivered"
    assert len(simulator.submits) == 2


@pytest.mark.parametrize(
    ("simulator", "state"),
    [
        ({"receipt_mix": {"undeliverable": 1.0}}, "undeliverable"),
        ({"receipt_mix": {"expired": 1.0}}, "expired"),
        ({"receipt_mix": {"rejected": 1.0}}, "rejected"),
    ],
    indirect=["simulator"],
    ids=["undeliverable", "expired", "rejected"],
)
async def test_failure_receipt_fails_the_message(client, admin, send, state):
    body = await settled(client, admin, await send())

    assert body["state"] == state
    assert body["history"][-1]["state"] == state


async def test_throttled_submit_is_retried_and_delivered(client, admin, send, simulator):
    simulator.reply_next(Status.ESME_RTHROTTLED, count=2)

    body = await settled(client, admin, await send())

    assert body["state"] == "delivered"
    assert [s.status for s in simulator.submits] == [
        Status.ESME_RTHROTTLED,
        Status.ESME_RTHROTTLED,
        Status.ESME_ROK,
    ]


async def test_rejected_number_fails_with_the_smpp_status_name(client, admin, send, simulator):
    simulator.reply_next(Status.ESME_RINVDSTADR)

    body = await settled(client, admin, await send())

    assert body["state"] == "rejected"
    assert body["error"] == "ESME_RINVDSTADR"


async def test_link_drop_mid_send_reports_an_unknown_outcome(client, admin, send, simulator):
    simulator.hang()
    message_id = await send()
    gateway: Gateway = client.app[GATEWAY]
    btl = next(c for c in gateway.channels if c.name == "btl-1")
    await eventually(lambda: btl.backlog > 0)

    simulator.drop_links()
    body = await settled(client, admin, message_id)

    assert "unknown_outcome" in [e["state"] for e in body["history"]]
    simulator.hang(False)
    async with asyncio.timeout(WAIT):
        await btl.wait_bound()  # type: ignore[attr-defined]


async def test_mobile_originated_text_is_stored(client, simulator, tmp_path):
    await simulator.inject_mo("+5016012345", "JOIN HEALTH")

    db = tmp_path / "data" / "test.db"
    rows: list[tuple[str, ...]] = []

    def stored() -> bool:
        nonlocal rows
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT sender, recipient, text FROM inbound").fetchall()
        return bool(rows)

    await eventually(stored)
    assert rows == [("+5016012345", "1515", "JOIN HEALTH")]


async def test_health_shows_each_bind(client, simulator):
    response = await client.get("/healthz")
    body = await response.json()

    assert body["status"] == "ok"
    assert {c["name"]: c["state"] for c in body["channels"]} == {
        "btl-1": LinkState.BOUND,
        "smart-1": LinkState.BOUND,
    }
