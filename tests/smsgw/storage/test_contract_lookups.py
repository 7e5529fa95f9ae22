"""The look-ups' reads on every backend: one number's subscriptions and latest consent events
(SubscriptionStore), and a broadcast's recipients page by page (BroadcastStore.recipients),
the same from the same calls on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from channels.base import DeliveryReceipt, ReceiptState, SegmentSubmitted
from smsgw.broadcasts.model import BroadcastState
from smsgw.broadcasts.store import OutboxPurged, Recipient
from smsgw.delivery.message import DeliveryBatch
from smsgw.delivery.outbox import Priority
from subscriptions.models import Action, Service, Source
from tests.smsgw.storage.test_contract_broadcasts import (
    NOW,
    AnyStore,
    add,
    btl,
    carrier_of,
    fan_out,
    record,
    seed,
    settled,
    smart,
)

pytestmark = pytest.mark.usefixtures("postgres_database")

SMS, ASSISTED = Source.SMS, Source.ASSISTED
CITIZEN = btl(1)


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


@pytest.fixture
async def store(any_store: AnyStore) -> AnyStore:
    """Each backend, with two ministries' services."""
    for keyword, ministry in (("HEALTH", "health"), ("JOBS", "labour"), ("FLU", "health")):
        await any_store.catalogue.add_service(Service(keyword, ministry, {"en": keyword}))
    return any_store


async def _a_life(store: AnyStore) -> None:
    """CITIZEN joins HEALTH by SMS, JOBS at a centre, chooses Spanish, leaves HEALTH, STOPs
    (leaving JOBS), STARTs again (rejoining it)."""
    subs = store.subscriptions
    await subs.join(CITIZEN, "HEALTH", at=at(0), source=SMS, consent="mo-1")
    await subs.join(CITIZEN, "JOBS", at=at(1), source=ASSISTED, consent="centre", actor="t1")
    await subs.set_language(CITIZEN, "es", at=at(2), source=SMS, consent="mo-2")
    await subs.leave(CITIZEN, "HEALTH", at=at(3), source=SMS, consent="mo-3")
    await subs.stop_all(CITIZEN, at=at(4), source=SMS, consent="mo-4")
    await subs.unstop(CITIZEN, at=at(5), source=SMS, consent="mo-5")


async def test_every_subscription_lists_the_active_and_the_left_oldest_first(
    store: AnyStore,
) -> None:
    await _a_life(store)
    found = await store.subscriptions.every_subscription(CITIZEN)
    assert [(s.service, s.subscribed_at, s.source, s.consent, s.left_at) for s in found] == [
        ("HEALTH", at(0), SMS, "mo-1", at(3)),
        ("JOBS", at(1), ASSISTED, "centre", at(4)),  # left by the STOP
        ("JOBS", at(5), SMS, "mo-5", None),  # rejoined by the START
    ]
    assert await store.subscriptions.every_subscription(btl(2)) == []


async def test_the_latest_events_come_newest_first_bounded_and_cut_to_some_services(
    store: AnyStore,
) -> None:
    await _a_life(store)
    subs = store.subscriptions
    every = await subs.latest_events(CITIZEN, limit=100)
    assert [(e.action, e.service, e.detail) for e in every] == [
        (Action.UNSTOP, None, "JOBS"),
        (Action.STOP_ALL, None, "JOBS"),
        (Action.LEAVE, "HEALTH", None),
        (Action.LANGUAGE, None, "es"),
        (Action.JOIN, "JOBS", None),
        (Action.JOIN, "HEALTH", None),
    ]
    assert every == list(reversed(await subs.history(CITIZEN)))
    assert await subs.latest_events(CITIZEN, limit=2) == every[:2]
    health = await subs.latest_events(CITIZEN, limit=100, services={"HEALTH", "FLU"})
    assert [(e.action, e.service) for e in health] == [
        (Action.UNSTOP, None),  # about every service
        (Action.STOP_ALL, None),
        (Action.LEAVE, "HEALTH"),
        (Action.LANGUAGE, None),
        (Action.JOIN, "HEALTH"),
    ]
    assert [e.service for e in await subs.latest_events(CITIZEN, limit=9, services=())] == [
        None,
        None,
        None,
    ]
    assert await subs.latest_events(btl(2), limit=9) == []


async def _recipients(store: AnyStore, broadcast_id: int, batch: int) -> list[list[Recipient]]:
    return [list(page) async for page in store.broadcasts.recipients(broadcast_id, batch=batch)]


async def test_recipients_come_by_page_each_once_with_what_happened_to_them(
    any_store: AnyStore,
) -> None:
    await seed(any_store, [btl(n) for n in range(4)] + [smart(0), "+5016900001"])
    await seed(any_store, [btl(9)], language="es")
    broadcast = await add(any_store)
    other = await add(any_store)
    fan = any_store.outbox.fan_out_chunk
    while not await any_store.outbox.fanned_out(broadcast.id):  # the two interleaved
        await fan(broadcast, chunk=2, carrier_of=carrier_of, at=NOW)
        await fan(other, chunk=1, carrier_of=carrier_of, at=NOW)
    await fan_out(any_store.outbox, other)
    taken = await any_store.outbox.take_ready(
        carrier="btl", priority=Priority.NORMAL, after=0, limit=9
    )
    mine = sorted((m for m in taken if m.broadcast == broadcast.id), key=lambda m: m.id)
    t0 = time.time() - 60
    submitted = SegmentSubmitted(mine[0].message_id, 1, 1, "c1", "btl-1")
    await any_store.delivery.record(DeliveryBatch(segments=[("btl", submitted, t0)]))
    receipt = DeliveryReceipt("c1", ReceiptState.DELIVERED, "000", "btl-1")
    await any_store.delivery.record(DeliveryBatch(receipts=[("btl", receipt, t0 + 2)]))
    await record(any_store, settled(mine[1]))

    pages = await _recipients(any_store, broadcast.id, batch=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    rows = [r for page in pages for r in page]
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    by_number = {r.msisdn: r for r in rows}
    assert set(by_number) == {btl(n) for n in (0, 1, 2, 3, 9)} | {smart(0), "+5016900001"}
    delivered = by_number[mine[0].recipient]
    assert (delivered.state, delivered.carrier, delivered.language) == ("delivered", "btl", "en")
    assert delivered.submitted_at is not None
    assert delivered.done_at is not None
    assert abs(delivered.submitted_at.timestamp() - t0) < 1e-3
    assert abs(delivered.done_at.timestamp() - (t0 + 2)) < 1e-3
    rejected = by_number[mine[1].recipient]
    assert (rejected.state, rejected.error, rejected.submitted_at) == (
        "rejected",
        "ESME_RINVDSTADR",
        None,
    )
    no_route = by_number["+5016900001"]
    assert (no_route.carrier, no_route.state) == (None, "rejected")
    assert by_number[btl(9)].language == "es"
    assert by_number[smart(0)].state == "queued"
    assert {r.msisdn for page in await _recipients(any_store, other.id, 100) for r in page} == set(
        by_number
    )
    assert await _recipients(any_store, (await add(any_store)).id, batch=3) == []  # not fanned


async def test_recipients_are_gone_once_retention_summed_the_broadcast_up(
    any_store: AnyStore,
) -> None:
    await seed(any_store, [btl(n) for n in range(3)])
    broadcast = await add(any_store)
    await fan_out(any_store.outbox, broadcast)
    pages = any_store.broadcasts.recipients(broadcast.id, batch=1)
    assert [r.msisdn for r in await anext(pages)] == [btl(0)]
    await any_store.broadcasts.set_broadcast_state(
        broadcast.id, BroadcastState.DONE, at=NOW - timedelta(days=1), finished=True
    )
    assert await any_store.retention.summarise_broadcast(NOW) == broadcast.id
    with pytest.raises(OutboxPurged):  # between two pages
        await anext(pages)
    with pytest.raises(OutboxPurged):  # before the first, rows still there or not
        await _recipients(any_store, broadcast.id, batch=10)
    await any_store.retention.purge_outbox(limit=100)
    with pytest.raises(OutboxPurged):
        await _recipients(any_store, broadcast.id, batch=10)
