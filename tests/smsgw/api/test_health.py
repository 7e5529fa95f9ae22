from __future__ import annotations

import re

from smsgw.api import routes
from smsgw.app import Gateway
from tests.smsgw.testbed import Client


async def test_health_needs_no_token_and_lists_every_channel(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {
        "status": "ok",
        "channels": [
            {"name": "btl-1", "carrier": "btl", "state": "bound", "error": None},
            {"name": "smart-1", "carrier": "smart", "state": "bound", "error": None},
        ],
        "storage": {"status": "ok", "error": None},
    }


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
