"""The CAP alerts' repository contract (AlertStore) on every backend."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from smsgw.alerts.store import AlertAction, AlertRecord
from smsgw.storage.postgres import PostgresStore
from smsgw.storage.sqlite import SqliteStore

AnyStore = SqliteStore | PostgresStore
pytestmark = pytest.mark.usefixtures("postgres_database")
T0 = datetime(2026, 10, 1, 20, 0, 0, 123456, tzinfo=UTC)


def record(identifier: str = "NMS-1", *, sender: str = "nms@hydromet.gov.bz",
           sent: str = "2026-10-01T14:00:00-06:00", seconds: float = 0) -> AlertRecord:  # fmt: skip
    return AlertRecord(
        id=0, sender=sender, identifier=identifier, sent=sent, status="Actual", msg_type="Alert",
        event="Hurricane Warning", headline="Hurricane warning ¡ya!", action=AlertAction.PENDING,
        reason=None, service=None, broadcast=None, document="<alert>…</alert>",
        received_by="t-nms", received_at=T0 + timedelta(seconds=seconds),
    )  # fmt: skip


async def test_an_alert_is_claimed_once_by_its_cap_key(any_store: AnyStore) -> None:
    assert await any_store.alerts.claim(record()) is None
    first = await any_store.alerts.alert("NMS-1")
    assert first is not None
    assert first.id > 0
    assert first == dataclasses.replace(record(), id=first.id)
    again = await any_store.alerts.claim(record(seconds=5))  # the same key: the first back
    assert again == first
    # another sender, or another sent time, is another alert
    assert await any_store.alerts.claim(record(sender="nemo@nemo.gov.bz")) is None
    assert await any_store.alerts.claim(record(sent="2026-10-01T15:00:00-06:00")) is None
    assert len(await any_store.alerts.alerts(limit=10)) == 3


async def test_one_of_many_claims_at_once_wins(any_store: AnyStore) -> None:
    results = await asyncio.gather(*(any_store.alerts.claim(record()) for _ in range(8)))
    assert results.count(None) == 1
    assert len(await any_store.alerts.alerts(limit=10)) == 1


async def test_settled_alerts_say_what_was_done(any_store: AnyStore) -> None:
    await any_store.alerts.claim(record())
    claimed = await any_store.alerts.alert_by_key(
        "nms@hydromet.gov.bz", "NMS-1", "2026-10-01T14:00:00-06:00"
    )
    assert claimed is not None
    await any_store.alerts.settle(claimed.id, action=AlertAction.SENT, reason=None,
                                  service="HURRICANE", broadcast=7)  # fmt: skip
    settled = await any_store.alerts.alert("NMS-1")
    assert settled == dataclasses.replace(
        claimed, action=AlertAction.SENT, service="HURRICANE", broadcast=7
    )
    assert await any_store.alerts.alert_by_key("nms@hydromet.gov.bz", "NMS-1", "other") is None
    assert await any_store.alerts.alert("NMS-2") is None


async def test_alerts_are_listed_newest_first_a_page_at_a_time(any_store: AnyStore) -> None:
    for n in range(5):
        await any_store.alerts.claim(record(f"NMS-{n}", seconds=n))
    page = await any_store.alerts.alerts(limit=3)
    assert [a.identifier for a in page] == ["NMS-4", "NMS-3", "NMS-2"]
    rest = await any_store.alerts.alerts(limit=3, before=page[-1].id)
    assert [a.identifier for a in rest] == ["NMS-1", "NMS-0"]
    # the latest with an identifier, when two senders used one
    await any_store.alerts.claim(record("NMS-0", sender="nemo@nemo.gov.bz", seconds=9))
    latest = await any_store.alerts.alert("NMS-0")
    assert latest is not None
    assert latest.sender == "nemo@nemo.gov.bz"


async def test_published_alerts_are_the_actual_ones_acted_on(any_store: AnyStore) -> None:
    kinds = [("Actual", AlertAction.SENT), ("Test", AlertAction.NOT_SENT),
             ("Actual", AlertAction.CANCELLED), ("Exercise", AlertAction.EXERCISE),
             ("Actual", AlertAction.NOT_SENT), ("Actual", AlertAction.PENDING),
             ("Actual", AlertAction.UPDATED), ("Actual", AlertAction.SENT)]  # fmt: skip
    for n, (status, action) in enumerate(kinds):
        scope = "Restricted" if n == 7 else "Public"  # names its addressees: never published
        mine = dataclasses.replace(record(f"NMS-{n}", seconds=n), status=status, scope=scope)
        await any_store.alerts.claim(mine)
        claimed = await any_store.alerts.alert(f"NMS-{n}")
        assert claimed is not None
        await any_store.alerts.settle(claimed.id, action=action, reason=None, service=None,
                                      broadcast=None)  # fmt: skip
    published = await any_store.alerts.alerts(limit=10, published=True)
    assert [a.identifier for a in published] == ["NMS-6", "NMS-2", "NMS-0"]
    by_id = await any_store.alerts.alert_by_id(published[1].id)
    assert by_id is not None
    assert by_id.identifier == "NMS-2"
    restricted = await any_store.alerts.alert("NMS-7")
    assert restricted is not None
    assert restricted.scope == "Restricted"
    assert await any_store.alerts.alert_by_id(restricted.id + 1) is None
