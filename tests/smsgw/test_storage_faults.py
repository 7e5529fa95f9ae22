"""The database cannot be written (disk full, locked by another process) in the middle of a
broadcast and of citizens' texts: the gateway says so (log, /healthz, /metrics, a 503 for new
work), holds sending instead of losing what it cannot record, and once the database can be
written again finishes everything with nothing lost and nothing sent twice.

A full disk is SQLite's own SQLITE_FULL, raised by capping the gateway connection's database
size (PRAGMA max_page_count) at its current size: the same error a full filesystem gives."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from prometheus_client.parser import text_string_to_metric_families

from channels.simulator import Simulator
from smsgw.app import Gateway
from smsgw.config import Settings
from smsgw.storage import Store
from smsgw.storage.sqlite import SqliteStore
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed, sent_to, wait_state
from tests.smsgw.testbed import WAIT, Client, eventually

MEMBERS = numbers("+50160", 200) + numbers("+50165", 100)
CITIZENS = ("+5016077001", "+5016077002", "+5016577003")


async def cap_size(store: Store, pages: int | None) -> None:
    """Caps the database at its current size (None) or at ``pages``. The pragma belongs to
    the connection, so it must run on the gateway's own (a private attribute: test only)."""

    def run(db: sqlite3.Connection) -> None:
        (count,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count = {count if pages is None else pages}")

    assert isinstance(store, SqliteStore)
    await store._thread.read(run)


async def health(client: Client) -> dict[str, object]:
    response = await client.get("/healthz")
    body: dict[str, object] = await response.json()
    return body


async def storage_failing_metric(client: Client) -> float:
    text = await (await client.get("/metrics")).text()
    for family in text_string_to_metric_families(text):
        if family.name == "smsgw_storage_failing":
            return float(family.samples[0].value)
    raise AssertionError("no smsgw_storage_failing metric")


async def replies_to(simulator: Simulator, numbers: tuple[str, ...]) -> None:
    """Waits until each number got a text (its JOIN's answer)."""
    await eventually(lambda: set(numbers) <= set(sent_to(simulator)))


async def until_failing(client: Client) -> dict[str, object]:
    seen: dict[str, object] = {}

    async def failing() -> bool:
        nonlocal seen
        seen = await health(client)
        return seen["storage"] != {"status": "ok", "error": None}

    await eventually(failing)
    return seen


async def test_a_full_disk_holds_sending_and_loses_nothing_once_space_returns(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", MEMBERS)
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    await simulator.wait_submits(40)

    await cap_size(gateway.store, None)
    for number in CITIZENS:
        await simulator.inject_mo(number, "JOIN HEALTH")
    seen = await until_failing(client)
    assert seen["status"] == "degraded"
    assert seen["storage"] == {"status": "failing", "error": "database or disk is full"}
    assert await storage_failing_metric(client) == 1.0
    body = {"to": "+5016011111", "text": "Your appointment is on Monday."}
    refused = await client.post("/api/v1/messages", json=body, headers=admin)
    assert refused.status == 503
    assert (await refused.json())["error"]["code"] == "storage_unavailable"
    assert refused.headers["Retry-After"] == "10"
    # Sending holds: each bind keeps the slots of what it cannot record, so it stops.
    await asyncio.sleep(0.5)
    held = len(simulator.submits)
    await asyncio.sleep(1.0)
    assert len(simulator.submits) == held < len(MEMBERS)

    await cap_size(gateway.store, 1_000_000_000)  # space is back
    await wait_state(client, admin, created["id"], state="done", delivered=len(MEMBERS))
    await replies_to(simulator, CITIZENS)
    received = sent_to(simulator)
    assert all(received[n] == 1 for n in MEMBERS)  # nothing lost, nothing sent twice
    assert (await health(client))["storage"] == {"status": "ok", "error": None}
    assert await storage_failing_metric(client) == 0.0
    accepted = await client.post("/api/v1/messages", json=body, headers=admin)
    assert accepted.status == 201


async def test_a_database_locked_by_another_process_is_said_and_outlasted(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str],
    settings: Settings,
) -> None:  # fmt: skip
    await add_service(gateway)
    await seed(gateway, "HEALTH", MEMBERS)
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    await simulator.wait_submits(40)

    release, taken = threading.Event(), threading.Event()

    def hold() -> None:
        with sqlite3.connect(settings.database.sqlite_path, isolation_level=None) as db:
            db.execute("BEGIN EXCLUSIVE")
            taken.set()
            release.wait(3 * WAIT)
            db.execute("COMMIT")

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert await asyncio.to_thread(taken.wait, WAIT)
        # the store waits 5 s (busy_timeout) for a lock before it calls the database locked
        seen = await until_failing(client)
        assert seen["storage"] == {"status": "failing", "error": "database is locked"}
    finally:
        release.set()
        await asyncio.to_thread(thread.join)

    await wait_state(client, admin, created["id"], state="done", delivered=len(MEMBERS))
    assert all(sent_to(simulator)[n] == 1 for n in MEMBERS)
    assert (await health(client))["storage"] == {"status": "ok", "error": None}
