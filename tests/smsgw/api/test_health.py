from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from smsgw.api import routes
from smsgw.app import GATEWAY, Gateway, build_app
from smsgw.config import Settings
from smsgw.storage.postgres import PostgresStore
from tests.smsgw.testbed import Client, eventually


async def test_health_needs_no_token_and_lists_every_channel(
    client: Client, gateway: Gateway
) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    me = gateway.settings.cluster.instance  # the host's name by default
    assert await response.json() == {
        "status": "ok",
        "instance": me,
        "gateways": [me],
        "channels": [
            {"name": "btl-1", "carrier": "btl", "state": "bound", "held": True, "held_by": me,
             "error": None},
            {"name": "smart-1", "carrier": "smart", "state": "bound", "held": True,
             "held_by": me, "error": None},
        ],
        "storage": {"status": "ok", "error": None},
    }  # fmt: skip


@pytest.fixture
async def held_elsewhere(settings: Settings) -> None:
    """Every bind's lease held by another gateway, for a minute."""
    store = await PostgresStore.open(settings.database.url)  # (emptied by `settings`)
    try:
        names = [channel.name for channel in settings.channels]
        assert await store.leases.hold("gw-2", names, 60) == dict.fromkeys(names, 1)
    finally:
        await store.close()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "settings", ['[cluster]\ninstance = "gw-1"\nlease_s = 3\n'], indirect=True, ids=["gw-1"]
)
async def test_a_gateway_whose_binds_another_holds_stands_by_then_binds_when_they_are_free(
    held_elsewhere: None, settings: Settings
) -> None:
    async with TestClient(TestServer(build_app(settings))) as client:
        await _stands_by_then_binds(client, client.app[GATEWAY], settings)


async def _stands_by_then_binds(client: Client, gateway: Gateway, settings: Settings) -> None:
    body = await (await client.get("/healthz")).json()
    assert (body["status"], body["instance"]) == ("standby", "gw-1")
    assert body["gateways"] == ["gw-1"]  # gw-2 holds leases but never checked in
    assert [(c["held"], c["held_by"], c["state"]) for c in body["channels"]] == (
        [(False, "gw-2", "down")] * 2
    )

    async def serving() -> bool:
        health = await (await client.get("/healthz")).json()
        return bool(health["status"] == "ok")

    held = 'smsgw_channel_held{channel="btl-1"} 0.0'
    assert held in await (await client.get("/metrics")).text()
    store = await PostgresStore.open(settings.database.url)
    try:
        await store.leases.let_go("gw-2", [channel.name for channel in settings.channels])
    finally:
        await store.close()
    await eventually(serving)  # at its next round (lease_s / 5), bound
    assert gateway.leases is not None
    assert gateway.leases.held == ["btl-1", "smart-1"]
    assert held.replace("0.0", "1.0") in await (await client.get("/metrics")).text()
    body = await (await client.get("/healthz")).json()
    assert [c["held_by"] for c in body["channels"]] == ["gw-1", "gw-1"]


async def test_health_is_degraded_with_a_bind_down_and_still_answers_200(
    client: Client, gateway: Gateway
) -> None:
    await gateway.channels[1].stop()
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "degraded"
    assert body["channels"][1]["state"] == "stopped"
    await gateway.channels[0].stop()
    assert (await (await client.get("/healthz")).json())["status"] == "down"


async def test_an_unknown_path_is_a_json_404(client: Client) -> None:
    response = await client.get("/nothing-here")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_head_answers_on_every_get_route_as_load_balancers_ask(
    client: Client, admin: dict[str, str]
) -> None:
    health = await client.head("/healthz")
    assert health.status == 200
    assert await health.read() == b""
    gets = [route.path for route in routes() if route.method == "GET"]
    assert len(gets) > 5
    for path in gets:
        response = await client.head(re.sub(r"\{[^}]+\}", "x", path), headers=admin)
        assert response.status != 405, path


async def test_api_answers_are_neither_sniffed_nor_cached_and_name_no_versions(
    client: Client, admin: dict[str, str]
) -> None:
    issued = await client.post(
        "/api/v1/tokens", json={"role": "operator", "person": "NOC"}, headers=admin
    )
    assert issued.status == 201  # its body holds a new secret: no cache may keep it
    for response in (issued, await client.get("/healthz"), await client.get("/api/v1/nope")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Server"] == "smsgw"
