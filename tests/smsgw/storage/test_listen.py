"""LISTEN/NOTIFY on PostgreSQL: what one gateway writes wakes the others, whoever writes it (the
triggers notify), and a lost listening connection comes back by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from smsgw.storage.postgres import PostgresStore
from subscriptions.models import Service
from tests import postgres
from tests.smsgw.api.catalogue_testbed import health_body

WAIT = 10.0


@pytest.fixture
async def serving(postgres_database: str) -> AsyncIterator[PostgresStore]:
    store = await PostgresStore.open(postgres_database, serving=True, instance="listening")
    await store.db.read(postgres.empty)
    yield store
    await store.close()


class Heard:
    def __init__(self) -> None:
        self.payloads: list[str] = []
        self.event = asyncio.Event()

    def __call__(self, payload: str) -> None:
        self.payloads.append(payload)
        self.event.set()

    async def next(self) -> str:
        async with asyncio.timeout(WAIT):
            await self.event.wait()
        self.event.clear()
        return self.payloads[-1]


async def test_another_gateways_writes_are_heard(
    serving: PostgresStore, postgres_database: str
) -> None:
    catalogue, inbound = Heard(), Heard()
    serving.watch("catalogue", catalogue)
    serving.watch("inbound", inbound)
    # once listening, each watcher is called (for what changed before LISTEN took hold)
    assert (await catalogue.next(), await inbound.next()) == ("", "")
    inbound.payloads.clear()
    other = await PostgresStore.open(postgres_database)  # not serving: it only writes
    try:
        body = health_body()
        await other.catalogue.add_service(Service(**{**body, "aliases": ("SALUD",)}))
        assert await catalogue.next() == ""
        conn = await asyncpg.connect(postgres_database)
        try:  # a write from outside smsgw notifies too: the trigger does
            await conn.execute("UPDATE services SET active = false")
        finally:
            await conn.close()
        assert await catalogue.next() == ""
        assert inbound.payloads == []
    finally:
        await other.close()


async def test_a_lost_listening_connection_comes_back_and_says_so(
    serving: PostgresStore, postgres_database: str
) -> None:
    outbox = Heard()
    serving.watch("outbox", outbox)
    listener = serving._listener
    assert listener is not None
    assert await outbox.next() == ""  # listening
    await postgres.execute(
        postgres_database,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        "smsgw listening listen",
    )
    # back within its retry (a second): every watcher is called, for what it may have missed
    assert await outbox.next() == ""
    assert listener.connected.is_set()
    await postgres.execute(postgres_database, "SELECT pg_notify('smsgw_outbox', 'x')")
    assert await outbox.next() == "x"
