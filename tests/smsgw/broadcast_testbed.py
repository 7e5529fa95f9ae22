"""What the broadcast tests share: an audience seeded in the store, the simulator's view of
what was sent, and a way to wait for a broadcast's state through the API."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from channels.simulator import Simulator
from smsgw.app import Gateway
from subscriptions.models import Source
from tests.smsgw.testbed import Client, eventually

BROADCASTS = "/api/v1/broadcasts"


def numbers(prefix: str, count: int, start: int = 0) -> list[str]:
    """``count`` E.164 numbers under ``prefix`` ("+50160" → "+5016000000" …)."""
    width = 11 - len(prefix) + 1
    return [f"{prefix}{i:0{width}d}" for i in range(start, start + count)]


async def seed(
    gateway: Gateway, service: str, members: list[str], *, language: str | None = None
) -> None:
    rows = [(number, language) for number in members]
    await gateway.store.subscriptions.join_many(
        rows, service, at=datetime.now(UTC), source=Source.IMPORT, consent="test list"
    )


async def stop(gateway: Gateway, number: str) -> None:
    """The number texts STOP (a global opt-out)."""
    await gateway.store.subscriptions.stop_all(
        number, at=datetime.now(UTC), source=Source.SMS, consent="test"
    )


def sent_to(simulator: Simulator) -> Counter[str]:
    """How many times each number got a submit_sm (E.164)."""
    return Counter("+" + s.destination_addr for s in simulator.submits if s.status == 0)


async def create(client: Client, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(BROADCASTS, json=body, headers=headers)
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def view(client: Client, headers: dict[str, str], broadcast_id: int) -> dict[str, Any]:
    response = await client.get(f"{BROADCASTS}/{broadcast_id}", headers=headers)
    assert response.status == 200, await response.text()
    found: dict[str, Any] = await response.json()
    return found


async def wait_state(
    client: Client, headers: dict[str, str], broadcast_id: int, *, state: str, **counts: int
) -> dict[str, Any]:
    """Waits until the broadcast is in ``state`` with the given counts; returns its view."""
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        nonlocal seen
        seen = await view(client, headers, broadcast_id)
        return seen["state"] == state and all(seen[k] == v for k, v in counts.items())

    try:
        await eventually(reached)
    except TimeoutError:
        raise AssertionError(
            f"broadcast {broadcast_id} never reached {state} {counts}: {seen}"
        ) from None
    return seen
