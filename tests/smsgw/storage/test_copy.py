"""``smsgw db copy``: a deployment that ran on SQLite, copied to PostgreSQL, reads the same
through every repository there, and goes on from where it was."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from channels.simulator import Simulator
from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.app import Gateway
from smsgw.config import DatabaseConfig
from smsgw.errors import ConfigError
from smsgw.storage.copy import copy_database
from smsgw.storage.postgres import PostgresStore
from tests import postgres
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed, stop, wait_state
from tests.smsgw.testbed import Client


@pytest.fixture
async def target() -> AsyncIterator[DatabaseConfig]:
    name = postgres.create_database()
    yield DatabaseConfig(url=postgres.dsn_of(name))
    postgres.drop_database(name)


async def test_a_deployment_copied_to_postgresql_reads_the_same_and_goes_on(
    client: Client,
    gateway: Gateway,
    simulator: Simulator,
    admin: dict[str, str],
    target: DatabaseConfig,
) -> None:
    await add_service(gateway)
    members = numbers("+50160", 40)
    await seed(gateway, "HEALTH", members)
    await stop(gateway, members[0])
    created = await create(client, admin, service="health", texts={"en": "Clinic open."})
    await wait_state(client, admin, created["id"], state="done", delivered=39)
    sent = await client.post(
        "/api/v1/messages", json={"to": "+5016512345", "text": "Your visa is ready."},
        headers=admin,
    )  # fmt: skip
    message_id = (await sent.json())["id"]
    await wait_state(client, admin, created["id"], state="done")  # (receipts settled)

    copied = await copy_database(gateway.settings.database, target)
    counts = {c.table: c.rows for c in copied}
    assert counts["subscriptions"] == 40
    assert counts["outbox"] == 39
    assert counts["consent_events"] >= 41  # 40 sign-ups and a STOP
    assert counts["audit_log"] >= 2  # the token, the broadcast, the message

    lite = gateway.store
    store = await PostgresStore.open(target.url)
    try:
        assert await store.broadcasts.broadcast(created["id"]) == await lite.broadcasts.broadcast(
            created["id"]
        )
        figures = await store.broadcasts.broadcast_stats(created["id"])
        theirs_figures = await lite.broadcasts.broadcast_stats(created["id"])
        # SQLite works latencies out through julianday(): a double, good to ~50 µs
        assert figures.latency_p50_s == pytest.approx(theirs_figures.latency_p50_s, abs=1e-3)
        assert figures.latency_p95_s == pytest.approx(theirs_figures.latency_p95_s, abs=1e-3)
        assert dataclasses.replace(figures, latency_p50_s=0, latency_p95_s=0) == (
            dataclasses.replace(theirs_figures, latency_p50_s=0, latency_p95_s=0)
        )
        assert await store.messages.get_message(message_id) == (
            await lite.messages.get_message(message_id)
        )
        assert await store.messages.message_history(message_id) == (
            await lite.messages.message_history(message_id)
        )
        for number in members[:2]:
            assert await store.subscriptions.history(number) == (
                await lite.subscriptions.history(number)
            )
        theirs = await lite.audit.audit_entries(before=None, limit=100)
        assert await store.audit.audit_entries(before=None, limit=100) == theirs
        assert await store.tokens.tokens() == await lite.tokens.tokens()
        # it goes on: new rows get ids after the copied ones
        entry = AuditEntry(datetime.now(UTC), "cli", None, None, AuditAction.TOKEN_ISSUED, "t")
        await store.audit.audit(entry)
        [newest, *_] = await store.audit.audit_entries(before=None, limit=1)
        assert newest.id == max(e.id for e in theirs) + 1
        assert dataclasses.replace(newest, id=0) == entry
    finally:
        await store.close()

    with pytest.raises(ConfigError, match="is not empty; a copy never merges"):
        await copy_database(gateway.settings.database, target)
