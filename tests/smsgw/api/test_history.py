"""``GET /api/v1/operator/history`` on the real gateway and simulator: what was sent and what
waits show in the samples, and the ring keeps its size."""

from __future__ import annotations

from typing import Any

import pytest

from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed, wait_state
from tests.smsgw.testbed import Client, bearer, eventually

HISTORY = "/api/v1/operator/history"
POINTS = 5
FAST = f"\n[operator]\nhistory_every_s = 0.1\nhistory_points = {POINTS}\n"


async def history(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(HISTORY, headers=headers)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


@pytest.mark.parametrize("settings", [FAST], indirect=True, ids=["fast"])
async def test_the_history_shows_submits_per_bind_and_the_queue_and_keeps_its_size(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    operator = await bearer(gateway, Role.OPERATOR)
    first = await history(client, operator)
    assert first["instance"] == gateway.settings.cluster.instance
    assert (first["every_s"], first["points"]) == (0.1, POINTS)
    assert first["binds"] == [
        {"name": "btl-1", "carrier": "btl", "tps": 50, "held": True},  # the default cap
        {"name": "smart-1", "carrier": "smart", "tps": 50, "held": True},
    ]

    for to in ("+5016012301", "+5016012302", "+5016012303"):  # btl's
        response = await client.post("/api/v1/messages", json={"to": to, "text": "x"},
                                     headers=admin)  # fmt: skip
        assert response.status == 201, await response.text()
    seen: dict[str, dict[str, Any]] = {}  # every sample read, by its time

    async def sent() -> bool:
        for sample in (await history(client, operator))["samples"]:
            seen[sample["at"]] = sample
        return any(s["submits_per_s"]["btl-1"] > 0 for s in seen.values())

    await eventually(sent)
    for sample in seen.values():
        assert sample["submits_per_s"]["smart-1"] == 0  # every bind, those idle at 0
        assert sample["queued"] == {"emergency": 0, "normal": 0}
        assert 0.05 < sample["span_s"] < 5
    # each sample's count, its rate times its span (both rounded in the answer)
    count = sum(round(s["submits_per_s"]["btl-1"] * s["span_s"]) for s in seen.values())
    assert 1 <= count <= 3  # at most the three (a sample may have gone unread)

    # the ring: full, then the oldest goes as each new one comes
    full = await history(client, operator)

    async def moved_on() -> bool:
        now = await history(client, operator)
        assert len(now["samples"]) <= POINTS
        return len(now["samples"]) == POINTS and now["samples"][0]["at"] > full["samples"][0]["at"]

    await eventually(moved_on)

    # what waits: a broadcast to smart's numbers while its bind is down
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50165", 4))
    [_, smart] = gateway.channels
    await smart.stop()
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    await wait_state(client, admin, created["id"], state="sending", queued=4)

    async def queued() -> bool:
        last = (await history(client, operator))["samples"][-1]
        return bool(last["queued"] == {"emergency": 0, "normal": 4})

    await eventually(queued)
    officer = await bearer(gateway, Role.OFFICER)  # every staff role reads it, as /api/v1/kpis
    assert (await history(client, officer))["binds"][0]["name"] == "btl-1"
    assert (await client.get(HISTORY)).status == 401
