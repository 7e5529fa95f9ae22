"""The broadcasts' contract on every backend (BroadcastStore, BroadcastOutbox, OutboxStore): the
same broadcasts, fan-outs, takes and figures from the same calls, on SQLite and PostgreSQL.

The audience is made through the SubscriptionStore and the dispatcher's outcomes go through
the DeliveryLog, as in the gateway. Tests named "gateways" are PostgreSQL's alone: several
gateways share a PostgreSQL database, while a SQLite one serves one gateway (serving.py), whose
dispatcher remembers what it took (its reads of the outbox are not claims).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

import pytest

from channels.base import DeliveryReceipt, ReceiptState, SegmentSubmitted
from smsgw.broadcasts.model import Broadcast, BroadcastState, BroadcastStats
from smsgw.delivery.message import DeliveryBatch
from smsgw.delivery.outbox import OutboxMessage, OutboxOutcome, OutboxState, Priority
from smsgw.storage import Outbox
from smsgw.storage.postgres import PostgresStore
from smsgw.storage.postgres import outbox as pg_outbox
from smsgw.storage.sqlite import SqliteStore
from subscriptions.models import Service, Source

AnyStore: TypeAlias = SqliteStore | PostgresStore
# made outside any event loop: any_store asks for it from inside one, where its asyncio.run fails
pytestmark = pytest.mark.usefixtures("postgres_database")

NOW = datetime.now(UTC)
NORMAL, EMERGENCY = Priority.NORMAL, Priority.EMERGENCY
SENDING = BroadcastState.SENDING


def btl(n: int) -> str:
    return f"+50160{n:05d}"


def smart(n: int) -> str:
    return f"+50165{n:05d}"


def carrier_of(number: str) -> str | None:
    """The router's answer: two carriers, and numbers no channel serves (+50169…)."""
    return {"+50160": "btl", "+50165": "smart"}.get(number[:6])


def new(**changes: Any) -> Broadcast:
    base = Broadcast(
        id=0, service="HEALTH", ministry="health", texts={"en": "Clinic hours.", "es": "Horas."},
        segments={"en": 1, "es": 1}, encodings={"en": "gsm7", "es": "gsm7"},
        default_language="en", priority=NORMAL, state=SENDING, send_at=None,
        expires_at=NOW + timedelta(hours=1), audience=None, cost_estimate=0.5,
        created_by="tok1", created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


async def add(store: AnyStore, **changes: Any) -> Broadcast:
    broadcast_id = await store.broadcasts.add_broadcast(new(**changes))
    found = await store.broadcasts.broadcast(broadcast_id)
    assert found is not None
    return found


async def seed(
    store: AnyStore, numbers: Sequence[str], *, language: str | None = None,
    service: str = "HEALTH", at: datetime = NOW,
) -> None:  # fmt: skip
    if await store.catalogue.service(service) is None:
        await store.catalogue.add_service(Service(service, "health", {"en": service.title()}))
    rows = [(number, language) for number in numbers]
    await store.subscriptions.join_many(rows, service, at=at, source=Source.IMPORT, consent="t")


async def fan_out(outbox: Outbox, broadcast: Broadcast, chunk: int = 1000) -> int:
    added, done = 0, False
    while not done:
        n, done = await outbox.fan_out_chunk(broadcast, chunk=chunk, carrier_of=carrier_of, at=NOW)
        added += n
    return added


async def record(store: AnyStore, *outcomes: OutboxOutcome) -> None:
    """What the dispatcher learnt, through the delivery log as the Recorder writes it."""
    await store.delivery.record(DeliveryBatch(outbox=[(o, time.time()) for o in outcomes]))


def retry(message: OutboxMessage, at: datetime) -> OutboxOutcome:
    return OutboxOutcome(message.id, OutboxState.QUEUED, "throttled", at, attempted=True)


def settled(message: OutboxMessage) -> OutboxOutcome:
    return OutboxOutcome(message.id, OutboxState.REJECTED, "ESME_RINVDSTADR")


# ------------------------------------------------------------------ broadcasts


async def test_a_broadcast_reads_back_as_stored(any_store: AnyStore) -> None:
    await seed(any_store, [])
    stored = new(texts={"en": "Clinic hours.", "es": "Día de vacunación."}, priority=EMERGENCY,
                 send_at=NOW + timedelta(minutes=5), joined_at=NOW - timedelta(minutes=1),
                 state=BroadcastState.SCHEDULED)  # fmt: skip
    broadcast_id = await any_store.broadcasts.add_broadcast(stored)

    assert await any_store.broadcasts.broadcast(broadcast_id) == dataclasses.replace(
        stored, id=broadcast_id
    )
    assert await any_store.broadcasts.broadcast(broadcast_id + 1) is None


async def test_the_list_is_newest_first_by_page_and_matches_ministries_as_scopes_do(
    any_store: AnyStore,
) -> None:
    await seed(any_store, [])
    ministries = ["health", " Health ", "STRASSE", "Straße", "education"]
    ids = [(await add(any_store, ministry=m)).id for m in ministries]
    listed = any_store.broadcasts.broadcasts

    assert [b.id for b in await listed(ministry=None, before=None, limit=10)] == ids[::-1]
    assert [b.id for b in await listed(ministry=None, before=ids[3], limit=2)] == [ids[2], ids[1]]
    assert [b.id for b in await listed(ministry="health", before=None, limit=10)] == [
        ids[1],
        ids[0],
    ]
    # ignoring case as Python's casefold does (ß is ss), and surrounding spaces
    assert [b.id for b in await listed(ministry="strasse ", before=None, limit=10)] == [
        ids[3],
        ids[2],
    ]
    assert await listed(ministry="transport", before=None, limit=10) == []


async def test_open_ones_are_emergency_first_then_oldest_and_a_service_s_include_approval(
    any_store: AnyStore,
) -> None:
    await seed(any_store, [])
    await seed(any_store, [], service="WEATHER")
    states = [BroadcastState.AWAITING_APPROVAL, BroadcastState.SCHEDULED, BroadcastState.DONE,
              BroadcastState.QUEUED, BroadcastState.CANCELLED, SENDING]  # fmt: skip
    ids = [(await add(any_store, state=s)).id for s in states]
    urgent = (await add(any_store, state=BroadcastState.QUEUED, priority=EMERGENCY)).id
    weather = (await add(any_store, service="WEATHER")).id

    opened = await any_store.broadcasts.open_broadcasts()
    assert [b.id for b in opened] == [urgent, ids[1], ids[3], ids[5], weather]
    of_health = await any_store.broadcasts.open_of_service("HEALTH")
    assert [b.id for b in of_health] == [ids[0], ids[1], ids[3], ids[5], urgent]


async def test_an_approval_moves_a_broadcast_awaiting_it_once(any_store: AnyStore) -> None:
    await seed(any_store, [])
    waiting = await add(any_store, state=BroadcastState.AWAITING_APPROVAL)
    later, valid = NOW + timedelta(minutes=3), NOW + timedelta(hours=5)
    approve = any_store.broadcasts.approve_broadcast

    assert await approve(waiting.id, by="sup1", at=later, state=BroadcastState.QUEUED,
                         expires_at=valid)  # fmt: skip
    assert not await approve(waiting.id, by="sup2", at=later, state=BroadcastState.QUEUED,
                             expires_at=valid)  # fmt: skip
    approved = await any_store.broadcasts.broadcast(waiting.id)
    assert approved == dataclasses.replace(
        waiting, state=BroadcastState.QUEUED, approved_by="sup1", approved_at=later,
        updated_at=later, expires_at=valid,
    )  # fmt: skip


async def test_a_state_change_keeps_the_first_start_and_never_reopens_a_closed_one(
    any_store: AnyStore,
) -> None:
    await seed(any_store, [])
    broadcast = await add(any_store, state=BroadcastState.QUEUED)
    first, second, third = (NOW + timedelta(minutes=m) for m in (1, 2, 3))
    move = any_store.broadcasts.set_broadcast_state

    assert await move(broadcast.id, SENDING, at=first, started=True)
    assert await move(broadcast.id, SENDING, at=second, started=True)
    assert await move(broadcast.id, BroadcastState.DONE, at=third, finished=True)
    assert not await move(broadcast.id, SENDING, at=third + timedelta(1), started=True)
    done = await any_store.broadcasts.broadcast(broadcast.id)
    assert done is not None
    assert (done.state, done.started_at, done.finished_at, done.updated_at) == (
        BroadcastState.DONE, first, third, third,
    )  # fmt: skip


async def test_a_cancel_cancels_the_queued_messages_once(any_store: AnyStore) -> None:
    await seed(any_store, [btl(n) for n in range(4)] + ["+5016900001"])  # the last: no route
    broadcast = await add(any_store)
    await fan_out(any_store.outbox, broadcast)
    taken = await any_store.outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=1)
    await record(any_store, settled(taken[0]))
    at = NOW + timedelta(minutes=1)

    assert await any_store.broadcasts.cancel_broadcast(broadcast.id, by="off1", at=at) == 3
    assert await any_store.broadcasts.cancel_broadcast(broadcast.id, by="off2", at=at) is None
    cancelled = await any_store.broadcasts.broadcast(broadcast.id)
    assert cancelled is not None
    assert (cancelled.state, cancelled.cancelled_by, cancelled.cancelled_at) == (
        BroadcastState.CANCELLED, "off1", at,
    )  # fmt: skip
    stats = await any_store.broadcasts.broadcast_stats(broadcast.id)
    assert stats.by_state == {"cancelled": 3, "rejected": 2}
    assert await any_store.outbox.queued_count(broadcast.id) == 0
    assert await any_store.outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=9) == []
    other = await add(any_store, state=BroadcastState.AWAITING_APPROVAL)
    assert await any_store.broadcasts.cancel_broadcast(
        other.id, by="system", at=at, reason="service_deactivated"
    ) == 0  # fmt: skip
    cancelled = await any_store.broadcasts.broadcast(other.id)
    assert cancelled is not None
    assert cancelled.cancel_reason == "service_deactivated"


async def test_a_fan_out_chunk_after_a_cancel_adds_nothing(any_store: AnyStore) -> None:
    """A cancel may land between two chunks (another gateway's, or an officer's click): what
    is fanned out after it would stay queued for ever, counted in the queue depth."""
    await seed(any_store, [btl(n) for n in range(6)])
    broadcast = await add(any_store)
    outbox = any_store.outbox
    assert await outbox.fan_out_chunk(broadcast, chunk=2, carrier_of=carrier_of, at=NOW) == (
        2, False,
    )  # fmt: skip
    assert await any_store.broadcasts.cancel_broadcast(broadcast.id, by="off1", at=NOW) == 2
    assert await outbox.fan_out_chunk(broadcast, chunk=2, carrier_of=carrier_of, at=NOW) == (
        0, True,
    )  # fmt: skip
    assert await outbox.queued_count(broadcast.id) == 0
    assert (await any_store.broadcasts.broadcast_stats(broadcast.id)).by_state == {"cancelled": 2}


async def test_the_audience_counts_active_subscribers_in_the_language_they_would_get(
    any_store: AnyStore,
) -> None:
    await seed(any_store, [btl(n) for n in range(5)])
    await seed(any_store, [btl(n) for n in range(5, 8)], language="es")
    await seed(any_store, [btl(n) for n in range(8, 10)], language="fr")
    await any_store.subscriptions.stop_all(btl(0), at=NOW, source=Source.SMS, consent="t")
    await any_store.subscriptions.leave(btl(5), "HEALTH", at=NOW, source=Source.SMS, consent="t")

    counts = await any_store.broadcasts.audience_by_language("HEALTH", ["en", "es"], "en")
    assert counts == {"en": 4 + 2, "es": 2}
    assert await any_store.broadcasts.audience_by_language("HEALTH", ["es"], "es") == {"es": 8}


# ------------------------------------------------------------------ the fan-out


async def test_the_fan_out_goes_chunk_by_chunk_from_its_cursor_and_adds_everyone_once(
    any_store: AnyStore,
) -> None:
    await seed(any_store, [btl(n) for n in range(4)] + [smart(n) for n in range(2)])
    await seed(any_store, [btl(n) for n in range(4, 7)], language="es")
    await seed(any_store, [btl(7), "+5016900001"], language="fr")  # no text in French; no route
    await any_store.subscriptions.stop_all(btl(1), at=NOW, source=Source.SMS, consent="t")
    await any_store.subscriptions.leave(btl(4), "HEALTH", at=NOW, source=Source.SMS, consent="t")
    broadcast = await add(any_store)
    outbox = any_store.outbox

    steps = []
    while not await outbox.fanned_out(broadcast.id):
        steps.append(await outbox.fan_out_chunk(broadcast, chunk=4, carrier_of=carrier_of, at=NOW))
    # 9 active subscriptions (a STOP left its number's), 4 at a time
    assert steps == [(4, False), (4, False), (1, True)]
    fanned = await any_store.broadcasts.broadcast(broadcast.id)
    assert fanned is not None
    assert fanned.audience == 9
    assert await outbox.queued_count(broadcast.id) == 8
    assert (await any_store.broadcasts.broadcast_stats(broadcast.id)).by_state == {
        "queued": 8,
        "rejected": 1,  # no route
    }
    again = await outbox.fan_out_chunk(broadcast, chunk=4, carrier_of=carrier_of, at=NOW)
    assert again == (0, True)
    taken = await outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=9)
    taken += await outbox.take_ready(carrier="smart", priority=NORMAL, after=0, limit=9)
    languages = {m.recipient: m.language for m in taken}
    assert languages == {
        btl(0): "en", btl(2): "en", btl(3): "en", btl(5): "es", btl(6): "es", btl(7): "en",
        smart(0): "en", smart(1): "en",
    }  # fmt: skip


async def test_an_audience_of_whole_chunks_ends_with_an_empty_one(any_store: AnyStore) -> None:
    await seed(any_store, [btl(n) for n in range(4)])
    broadcast = await add(any_store)
    fan = any_store.outbox.fan_out_chunk
    steps = [await fan(broadcast, chunk=2, carrier_of=carrier_of, at=NOW) for _ in range(3)]
    assert steps == [(2, False), (2, False), (0, True)]


async def test_an_import_s_confirmations_go_only_to_those_who_joined_at_that_moment(
    any_store: AnyStore,
) -> None:
    earlier, imported = NOW - timedelta(days=3), NOW - timedelta(minutes=2)
    await seed(any_store, [btl(n) for n in range(3)], at=earlier)
    await seed(any_store, [btl(n) for n in range(3, 5)], at=imported)
    broadcast = await add(any_store, joined_at=imported)

    assert await fan_out(any_store.outbox, broadcast) == 2
    taken = await any_store.outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=9)
    assert {m.recipient for m in taken} == {btl(3), btl(4)}


@pytest.fixture
async def gateway(any_store: AnyStore, postgres_database: str) -> AsyncIterator[AnyStore]:
    """Another gateway on the same database: PostgreSQL's own store; SQLite's one store."""
    if isinstance(any_store, SqliteStore):
        yield any_store
        return
    other = await PostgresStore.open(postgres_database)
    yield other
    await other.close()


async def test_two_fan_outs_of_one_broadcast_at_once_add_everyone_once(
    any_store: AnyStore, gateway: AnyStore
) -> None:
    members = [btl(n) for n in range(500)]
    await seed(any_store, members)
    broadcast = await add(any_store)

    added = await asyncio.gather(*(fan_out(s.outbox, broadcast, chunk=30)
                                   for s in (any_store, gateway, any_store)))  # fmt: skip
    assert sum(added) == 500
    taken = await any_store.outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=900)
    assert sorted(m.recipient for m in taken) == members
    fanned = await any_store.broadcasts.broadcast(broadcast.id)
    assert fanned is not None
    assert fanned.audience == 500


# ------------------------------------------------------------------ takes


async def test_takes_are_per_carrier_and_priority_oldest_first_above_the_cursor(
    any_store: AnyStore,
) -> None:
    await seed(any_store, [btl(n) for n in range(5)] + [smart(0)])
    await seed(any_store, [btl(n) for n in range(2)], service="ALERT")
    routine = await add(any_store)
    urgent = await add(any_store, service="ALERT", priority=EMERGENCY)
    await fan_out(any_store.outbox, routine)
    await fan_out(any_store.outbox, urgent)
    take = any_store.outbox.take_ready

    first = await take(carrier="btl", priority=NORMAL, after=0, limit=3)
    assert [m.recipient for m in first] == [btl(0), btl(1), btl(2)]
    assert [m.id for m in first] == sorted(m.id for m in first)
    assert {(m.broadcast, m.priority, m.attempts, m.excluded) for m in first} == {
        (routine.id, NORMAL, 0, None)
    }
    rest = await take(carrier="btl", priority=NORMAL, after=first[-1].id, limit=9)
    assert [m.recipient for m in rest] == [btl(3), btl(4)]
    alerts = await take(carrier="btl", priority=EMERGENCY, after=0, limit=9)
    assert [(m.recipient, m.broadcast) for m in alerts] == [
        (btl(0), urgent.id),
        (btl(1), urgent.id),
    ]
    assert [
        m.recipient for m in await take(carrier="smart", priority=NORMAL, after=0, limit=9)
    ] == [smart(0)]
    assert await any_store.outbox.queued_by_priority() == {NORMAL: 6, EMERGENCY: 2}


async def test_a_stop_or_a_leave_after_the_fan_out_marks_the_message_excluded(
    any_store: AnyStore,
) -> None:
    await seed(any_store, [btl(n) for n in range(3)])
    broadcast = await add(any_store)
    await fan_out(any_store.outbox, broadcast)
    await any_store.subscriptions.stop_all(btl(0), at=NOW, source=Source.SMS, consent="t")
    await any_store.subscriptions.leave(btl(1), "HEALTH", at=NOW, source=Source.SMS, consent="t")

    taken = await any_store.outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=9)
    assert [(m.recipient, m.excluded) for m in taken] == [
        (btl(0), "opted_out"), (btl(1), "left"), (btl(2), None),
    ]  # fmt: skip


async def test_retries_come_when_due_soonest_first_and_again_until_settled(
    any_store: AnyStore,
) -> None:
    await seed(any_store, [btl(n) for n in range(5)])
    broadcast = await add(any_store)
    await fan_out(any_store.outbox, broadcast)
    outbox = any_store.outbox
    taken = await outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=9)
    soon, later, never = NOW + timedelta(seconds=5), NOW + timedelta(seconds=10), NOW + timedelta(1)
    await record(any_store, retry(taken[0], later), retry(taken[1], soon), retry(taken[2], never),
                 settled(taken[3]))  # fmt: skip

    assert await outbox.take_retries(carrier="btl", priority=NORMAL, now=NOW, limit=9) == []
    due = await outbox.take_retries(carrier="btl", priority=NORMAL, now=later, limit=9)
    assert [(m.recipient, m.attempts) for m in due] == [(btl(1), 1), (btl(0), 1)]
    assert await outbox.take_retries(carrier="smart", priority=NORMAL, now=later, limit=9) == []
    assert await outbox.take_retries(carrier="btl", priority=EMERGENCY, now=later, limit=9) == []
    # taken and not settled yet: the same taker is handed them again (its dispatcher knows)
    again = await outbox.take_retries(carrier="btl", priority=NORMAL, now=later, limit=9)
    assert {m.id for m in again} == {m.id for m in due}
    await record(any_store, retry(due[0], never), settled(due[1]))
    assert await outbox.take_retries(carrier="btl", priority=NORMAL, now=later, limit=9) == []
    assert await outbox.queued_count(broadcast.id) == 3  # 2 waiting to retry, 1 not settled
    assert await outbox.queued_by_priority() == {NORMAL: 3}


async def test_a_validity_that_ended_expires_the_queued_messages(any_store: AnyStore) -> None:
    await seed(any_store, [btl(n) for n in range(3)])
    broadcast = await add(any_store)
    await fan_out(any_store.outbox, broadcast)
    taken = await any_store.outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=1)
    await record(any_store, settled(taken[0]))

    assert await any_store.outbox.expire_outbox(broadcast.id, at=NOW) == 2
    assert await any_store.outbox.expire_outbox(broadcast.id, at=NOW) == 0
    assert await any_store.outbox.queued_count(broadcast.id) == 0
    assert await any_store.outbox.queued_by_priority() == {}
    stats = await any_store.broadcasts.broadcast_stats(broadcast.id)
    assert stats.by_state == {"expired": 2, "rejected": 1}


# ------------------------------------------------------------------ figures


async def test_the_figures_count_states_and_receipt_latencies_and_outlive_the_rows(
    any_store: AnyStore,
) -> None:
    await seed(any_store, [btl(n) for n in range(6)])
    broadcast = await add(any_store)
    await fan_out(any_store.outbox, broadcast)
    taken = await any_store.outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=9)
    t0 = time.time() - 60
    latencies = [4.0, 1.0, 3.0, 2.0, 5.0]  # the 5th: its receipt says undeliverable
    segments = [("btl", SegmentSubmitted(m.message_id, 1, 1, f"c{i}", "btl-1"), t0 + i)
                for i, m in enumerate(taken[:5])]  # fmt: skip
    receipts = [
        ("btl", DeliveryReceipt(f"c{i}", state, "000", "btl-1"), t0 + i + latency)
        for i, latency in enumerate(latencies)
        for state in [ReceiptState.DELIVERED if i < 4 else ReceiptState.UNDELIVERABLE]
    ]
    await any_store.delivery.record(DeliveryBatch(segments=segments))
    await any_store.delivery.record(DeliveryBatch(receipts=receipts))

    stats = await any_store.broadcasts.broadcast_stats(broadcast.id)
    assert stats.by_state == {"delivered": 4, "undeliverable": 1, "queued": 1}
    # the lower median of 1 2 3 4, and the 95th percentile's (4 × 95 - 1) // 100 = 3rd from 0
    assert stats.latency_p50_s == pytest.approx(2.0, abs=1e-3)
    assert stats.latency_p95_s == pytest.approx(4.0, abs=1e-3)
    assert stats.first_submit_at is not None
    assert stats.last_submit_at is not None
    assert abs(stats.first_submit_at.timestamp() - t0) < 1e-3
    assert abs(stats.last_submit_at.timestamp() - (t0 + 4)) < 1e-3
    empty = await add(any_store)
    assert await any_store.broadcasts.broadcast_stats(empty.id) == BroadcastStats({})

    # summed up (retention), its rows deleted: the same figures from the summary
    await record(any_store, settled(taken[5]))
    await any_store.broadcasts.set_broadcast_state(
        broadcast.id, BroadcastState.DONE, at=NOW - timedelta(days=1), finished=True
    )
    assert await any_store.retention.summarise_broadcast(NOW) == broadcast.id
    assert await any_store.retention.purge_outbox(limit=100) == 6
    kept = await any_store.broadcasts.broadcast_stats(broadcast.id)
    assert kept.by_state == {"delivered": 4, "undeliverable": 1, "rejected": 1}
    assert (kept.latency_p50_s, kept.latency_p95_s) == pytest.approx((2.0, 4.0), abs=1e-3)
    assert (kept.first_submit_at, kept.last_submit_at) == (
        stats.first_submit_at,
        stats.last_submit_at,
    )


# ------------------------------------------------------------------ gateways: PostgreSQL alone


@pytest.fixture
async def gateways(any_store: AnyStore, gateway: AnyStore) -> tuple[PostgresStore, PostgresStore]:
    if not isinstance(any_store, PostgresStore) or not isinstance(gateway, PostgresStore):
        pytest.skip("SQLite serves one gateway, whose dispatcher remembers what it took")
    return any_store, gateway


async def test_gateways_taking_at_once_never_get_the_same_message(
    gateways: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = gateways
    await seed(first, [btl(n) for n in range(300)])
    await seed(first, [btl(n) for n in range(40)], service="ALERT")
    broadcasts = [await add(first), await add(first, service="ALERT", priority=EMERGENCY)]
    for broadcast in broadcasts:
        await fan_out(first.outbox, broadcast)
    # a third of the routine ones back in the queue as due retries
    retried = await first.outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=100)
    await record(first, *(retry(m, NOW) for m in retried))
    later = NOW + timedelta(seconds=1)
    taken: dict[str, list[int]] = {"first": [], "second": []}

    async def dispatcher(name: str, store: PostgresStore) -> None:
        """Takes as a dispatcher does (emergency first, retries before new ones), settles
        what it took, until nothing is left."""
        after = dict.fromkeys(Priority, 0)
        while True:
            found: list[OutboxMessage] = []
            for priority in Priority:
                found += await store.outbox.take_retries(
                    carrier="btl", priority=priority, now=later, limit=7
                )
                fresh = await store.outbox.take_ready(
                    carrier="btl", priority=priority, after=after[priority], limit=7
                )
                after[priority] = fresh[-1].id if fresh else after[priority]
                found += fresh
            if not found:
                return
            taken[name] += [m.id for m in found]
            await record(store, *(settled(m) for m in found))

    await asyncio.gather(dispatcher("first", first), dispatcher("second", second))
    assert not set(taken["first"]) & set(taken["second"])
    everyone = taken["first"] + taken["second"]
    assert len(everyone) == len(set(everyone)) == 340
    assert taken["first"]
    assert taken["second"]
    assert await first.outbox.queued_by_priority() == {}


async def test_gateways_in_a_burst_of_takes_each_get_their_own_messages(
    gateways: tuple[PostgresStore, PostgresStore],
) -> None:
    await seed(gateways[0], [btl(n) for n in range(200)])
    broadcast = await add(gateways[0])
    await fan_out(gateways[0].outbox, broadcast)
    takes = [
        store.outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=30)
        for store in itertools.islice(itertools.cycle(gateways), 10)
    ]
    found = [m.id for batch in await asyncio.gather(*takes) for m in batch]
    assert len(found) == len(set(found)) == 200


async def test_gateways_take_what_a_dead_one_took_once_its_lease_lapses(
    gateways: tuple[PostgresStore, PostgresStore],
) -> None:
    alive, dead = gateways
    await seed(alive, [btl(n) for n in range(3)])
    broadcast = await add(alive)
    await fan_out(alive.outbox, broadcast)
    lost = await dead.outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=9)
    take = alive.outbox.take_retries

    assert await alive.outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=9) == []
    assert await take(carrier="btl", priority=NORMAL, now=datetime.now(UTC), limit=9) == []
    lapsed = datetime.now(UTC) + pg_outbox.LEASE + timedelta(seconds=5)
    again = await take(carrier="btl", priority=NORMAL, now=lapsed, limit=9)
    assert [m.id for m in again] == [m.id for m in lost]
    assert {m.attempts for m in again} == {0}


async def test_a_gateway_keeps_its_claims_alive_while_it_takes(
    gateways: tuple[PostgresStore, PostgresStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = gateways[0]
    await seed(store, [btl(n) for n in range(3)])
    broadcast = await add(store)
    await fan_out(store.outbox, broadcast)
    taken = await store.outbox.take_ready(carrier="btl", priority=NORMAL, after=0, limit=9)
    leases = await _leases(store, [m.id for m in taken])
    await record(store, settled(taken[0]))  # settled: its claim ends

    later = time.monotonic() + pg_outbox.LEASE.total_seconds() / 2
    monkeypatch.setattr(pg_outbox, "monotonic", lambda: later)
    assert await store.outbox.take_ready(carrier="btl", priority=NORMAL, after=99, limit=9) == []
    renewed = await _leases(store, [m.id for m in taken[1:]])
    assert all(renewed[i] > leases[i] for i in renewed)


async def _leases(store: PostgresStore, ids: list[int]) -> dict[int, datetime]:
    """Rows no method shows: where each claim runs to (not_before)."""
    async with store.db.pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, not_before FROM outbox WHERE id = ANY($1)", ids)
    return {row[0]: row[1] for row in rows}
