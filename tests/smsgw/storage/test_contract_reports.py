"""The reports' contract on every backend (KpiStore, RetentionStore and the summaries retention
writes): the same figures from the same history, on SQLite and PostgreSQL.

The data is made through the other repositories' Protocols (a service, subscribers, a
broadcast's fan-out, the delivery log's segments and receipts). Plain SQL only where a test
must look at rows no method shows (segments, events, callbacks, a broadcast's stored summary):
the per-backend helpers under "Rows no method shows".
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeAlias

import pytest

from channels.base import DeliveryReceipt, InboundSms, ReceiptState, SegmentSubmitted
from smsgw.broadcasts.model import Broadcast, BroadcastState, BroadcastStats
from smsgw.config import RetentionConfig
from smsgw.delivery.message import DeliveryBatch, Message
from smsgw.delivery.outbox import OutboxOutcome, OutboxState, Priority
from smsgw.delivery.retention import Purged, Retention
from smsgw.inbound.queue import HandledInbound, InboundOutcome
from smsgw.kpis import latency
from smsgw.kpis.figures import ConsentFlow, DeliveryTotals, Period, ServiceCount, SubscriberCounts
from smsgw.storage.postgres import PostgresStore
from smsgw.storage.postgres import kpis as pg_kpis
from smsgw.storage.sqlite import SqliteStore
from smsgw.storage.sqlite import kpis as sqlite_kpis
from subscriptions.models import Service, Source
from tests.smsgw.testbed import new_message

AnyStore: TypeAlias = SqliteStore | PostgresStore
# The PostgreSQL database made before any test's event loop runs: conftest's any_store asks
# for it from inside its loop, where its asyncio.run() may not run
pytestmark = pytest.mark.usefixtures("postgres_database")

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)
THIS_YEAR = Period("1", NOW - 30 * DAY, NOW + DAY)
SMS = Source.SMS
# (language, state, seconds from submit to the final receipt; None: never submitted)
ROWS = [
    ("en", "delivered", 4.0),
    ("en", "delivered", 1.0),
    ("es", "delivered", 3.0),
    ("en", "delivered", 2.0),
    ("es", "undeliverable", 5.0),  # went out
    ("es", "expired", 9.0),  # went out; its receipt said expired
    ("es", "expired", None),  # validity ended before any submit
    ("en", "rejected", None),  # no route
    ("en", "cancelled", None),
    ("en", "queued", None),
]
_RECEIPTS = {
    "delivered": ReceiptState.DELIVERED,
    "undeliverable": ReceiptState.UNDELIVERABLE,
    "expired": ReceiptState.EXPIRED,
}
_OUTCOMES = {
    "expired": OutboxState.EXPIRED,
    "rejected": OutboxState.REJECTED,
    "cancelled": OutboxState.CANCELLED,
}


def _service(keyword: str = "HEALTH", ministry: str = "health", *, active: bool = True) -> Service:
    return Service(keyword, ministry, {"en": keyword.title()}, active=active)


def _broadcast(
    *, service: str = "HEALTH", ministry: str = "health", state: BroadcastState,
    created_at: datetime = NOW,
) -> Broadcast:  # fmt: skip
    """One text in English (1 SMS) and one in Spanish (3 SMS)."""
    return Broadcast(
        id=0, service=service, ministry=ministry, texts={"en": "a", "es": "b"},
        segments={"en": 1, "es": 3}, encodings={"en": "gsm7", "es": "ucs2"},
        default_language="en", priority=Priority.NORMAL, state=state, send_at=None,
        expires_at=created_at + DAY, audience=None, cost_estimate=0.0, created_by="test",
        created_at=created_at, updated_at=created_at,
    )  # fmt: skip


def _numbers(count: int) -> list[str]:
    return [f"+50160000{i:02d}" for i in range(count)]


async def _subscribe(store: AnyStore, languages: Sequence[str]) -> None:
    """HEALTH, and one subscriber in each language, numbers in the order given."""
    await store.catalogue.add_service(_service())
    for msisdn, language in zip(_numbers(len(languages)), languages, strict=True):
        await store.subscriptions.join(msisdn, "HEALTH", at=NOW - 60 * DAY, source=SMS,
                                       consent="mo", language=language)  # fmt: skip


async def _sent_broadcast(
    store: AnyStore, rows: Sequence[tuple[str, str, float | None]], *, created_at: datetime = NOW
) -> int:
    """A sending broadcast of HEALTH, fanned out to its subscribers (made by _subscribe with
    the rows' languages, in their order), each recipient's message brought to its row's state
    by the delivery log, as the dispatcher and the carriers would; returns its id."""
    broadcast = _broadcast(state=BroadcastState.SENDING, created_at=created_at)
    broadcast_id = await store.broadcasts.add_broadcast(broadcast)
    broadcast = dataclasses.replace(broadcast, id=broadcast_id)
    added, done = await store.outbox.fan_out_chunk(
        broadcast, chunk=1000, carrier_of=lambda _: "btl", at=created_at
    )
    assert (added, done) == (len(rows), True)
    taken = await store.outbox.take_ready(
        carrier="btl", priority=Priority.NORMAL, after=0, limit=1000
    )
    ids = {message.recipient: message.id for message in taken if message.broadcast == broadcast_id}
    batch = DeliveryBatch()
    at = created_at.timestamp()
    for (language, state, seconds), msisdn in zip(rows, _numbers(len(rows)), strict=True):
        [message] = [m for m in taken if m.id == ids[msisdn]]
        assert message.language == language
        if seconds is not None:
            carrier_id = f"b{broadcast_id}-{message.id}"
            segment = SegmentSubmitted(message.message_id, 1, 1, carrier_id, "btl-1")
            receipt = DeliveryReceipt(carrier_id, _RECEIPTS[state], "000", "btl-1")
            batch.segments.append(("btl", segment, at))
            batch.receipts.append(("btl", receipt, at + seconds))
        elif state in _OUTCOMES:
            batch.outbox.append((OutboxOutcome(message.id, _OUTCOMES[state]), at + 1))
    await store.delivery.record(batch)
    return broadcast_id


def _totals(totals: DeliveryTotals) -> tuple[int, int, int, int, int]:
    return totals.audience, totals.delivered, totals.cancelled, totals.finished, totals.segments


# ------------------------------------------------------------------------- the KPIs


async def test_services_are_listed_by_ministry_then_keyword_with_their_subscribers(
    any_store: AnyStore,
) -> None:
    for service in (_service("NEWS", "nemo"), _service("HEALTH"),
                    _service("CLINICS", active=False), _service("Z", "Agriculture")):  # fmt: skip
        await any_store.catalogue.add_service(service)
    subscriptions = any_store.subscriptions
    for msisdn in _numbers(4):
        await subscriptions.join(msisdn, "HEALTH", at=NOW, source=SMS, consent="mo")
    await subscriptions.join(_numbers(1)[0], "NEWS", at=NOW, source=SMS, consent="mo")
    await subscriptions.leave(_numbers(2)[1], "HEALTH", at=NOW, source=SMS, consent="mo")
    await subscriptions.stop_all(_numbers(3)[2], at=NOW, source=SMS, consent="mo")

    assert await any_store.kpis.service_counts() == [
        ServiceCount("Z", "Agriculture", True, 0),  # byte order: upper case first
        ServiceCount("CLINICS", "health", False, 0),
        ServiceCount("HEALTH", "health", True, 2),
        ServiceCount("NEWS", "nemo", True, 1),
    ]


async def test_subscribers_are_counted_active_seen_and_opted_out(any_store: AnyStore) -> None:
    assert await any_store.kpis.subscriber_counts() == SubscriberCounts(0, 0, 0)
    await any_store.catalogue.add_service(_service())
    await any_store.catalogue.add_service(_service("NEWS", "nemo"))
    subscriptions = any_store.subscriptions
    a, b, c, d = _numbers(4)
    for msisdn, service in ((a, "HEALTH"), (a, "NEWS"), (b, "HEALTH"), (c, "HEALTH")):
        await subscriptions.join(msisdn, service, at=NOW, source=SMS, consent="mo")
    await subscriptions.leave(b, "HEALTH", at=NOW, source=SMS, consent="mo")  # seen, inactive
    await subscriptions.stop_all(c, at=NOW, source=SMS, consent="mo")
    await subscriptions.stop_all(d, at=NOW, source=SMS, consent="mo")  # never subscribed

    # a counts once for its two services
    assert await any_store.kpis.subscriber_counts() == SubscriberCounts(1, 4, 2)


async def test_consent_flow_counts_joins_leaves_and_stops_in_each_period(
    any_store: AnyStore,
) -> None:
    await any_store.catalogue.add_service(_service())
    await any_store.catalogue.add_service(_service("NEWS", "nemo"))
    subscriptions = any_store.subscriptions
    a, b, c = _numbers(3)
    yesterday, today = NOW - DAY, NOW
    for msisdn, service in ((a, "HEALTH"), (a, "NEWS"), (b, "HEALTH")):
        await subscriptions.join(msisdn, service, at=yesterday, source=SMS, consent="mo")
    await subscriptions.stop_all(a, at=today, source=SMS, consent="mo")  # leaves 2
    await subscriptions.unstop(a, at=today, source=SMS, consent="mo")  # gives 2 back
    await subscriptions.leave(b, "HEALTH", at=today, source=SMS, consent="mo")
    await subscriptions.stop_all(c, at=today, source=SMS, consent="mo")  # left nothing
    periods = [
        Period("yesterday", yesterday - timedelta(hours=1), today - timedelta(hours=1)),
        Period("today", today - timedelta(hours=1), today + timedelta(hours=1)),
        Period("last year", NOW - 400 * DAY, NOW - 300 * DAY),
    ]

    assert await any_store.kpis.consent_flow(periods) == [
        ConsentFlow(joined=3, left=0, stops=0),
        ConsentFlow(joined=2, left=2 + 1, stops=2),
        ConsentFlow(0, 0, 0),
    ]
    assert await any_store.kpis.consent_flow([]) == []


async def test_broadcasts_sent_are_those_sending_or_done_per_period_and_ministry(
    any_store: AnyStore,
) -> None:
    await any_store.catalogue.add_service(_service())
    await any_store.catalogue.add_service(_service("NEWS", "nemo"))
    old = NOW - 100 * DAY
    for state, created_at, service, ministry in [
        (BroadcastState.DONE, NOW, "HEALTH", "health"),
        (BroadcastState.SENDING, NOW, "HEALTH", "health"),
        (BroadcastState.DONE, NOW, "NEWS", "nemo"),
        (BroadcastState.CANCELLED, NOW, "NEWS", "nemo"),  # even if part of it went out
        (BroadcastState.AWAITING_APPROVAL, NOW, "NEWS", "nemo"),
        (BroadcastState.SCHEDULED, NOW, "NEWS", "nemo"),
        (BroadcastState.DONE, old, "NEWS", "nemo"),
    ]:
        await any_store.broadcasts.add_broadcast(
            _broadcast(service=service, ministry=ministry, state=state, created_at=created_at)
        )
    # an import's sign-up confirmations: sent, but no broadcast of the programme's
    confirmations = _broadcast(state=BroadcastState.DONE)
    await any_store.broadcasts.add_broadcast(dataclasses.replace(confirmations, joined_at=NOW))
    periods = [
        THIS_YEAR,
        Period("old", old - DAY, old + DAY),
        Period("none", NOW - 400 * DAY, NOW - 300 * DAY),
    ]

    sent = await any_store.kpis.broadcasts_sent(periods)

    assert sent == [{"health": 2, "nemo": 1}, {"nemo": 1}, {}]
    assert list(sent[0]) == ["health", "nemo"]  # by ministry
    assert await any_store.kpis.broadcasts_sent([]) == []


async def test_sent_messages_are_those_a_carrier_accepted_in_their_language(
    any_store: AnyStore,
) -> None:
    await _subscribe(any_store, [language for language, _, _ in ROWS])
    await _sent_broadcast(any_store, ROWS)

    totals = await any_store.kpis.delivery_totals(THIS_YEAR)

    assert (totals.audience, totals.delivered, totals.cancelled) == (10, 4, 1)
    assert totals.finished == 8  # neither the cancelled nor the queued one
    # 4 delivered (3 × 1 SMS in English, 1 × 3 in Spanish), undeliverable and expired in Spanish
    assert totals.segments == 3 + 3 + 3 + 3
    assert totals.median_delivery_s == pytest.approx(2.0, abs=1e-3)
    assert not totals.sampled
    nothing = await any_store.kpis.delivery_totals(Period("0", NOW - 400 * DAY, THIS_YEAR.start))
    assert (nothing.audience, nothing.segments, nothing.median_delivery_s) == (0, 0, None)
    assert not nothing.sampled


async def test_the_median_is_the_lower_one_and_a_sample_takes_every_nth_id(
    any_store: AnyStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _subscribe(any_store, [language for language, _, _ in ROWS])
    await _sent_broadcast(any_store, ROWS)
    # delivered: ids 1-4 with 4, 1, 3, 2 s: the lower median of 1 2 3 4 is 2
    exact = await _delivery_totals(any_store, tmp_path, THIS_YEAR)
    assert exact.median_delivery_s == pytest.approx(2.0, abs=1e-3)

    for module in (sqlite_kpis, pg_kpis):
        monkeypatch.setattr(module, "SAMPLE", 2)  # 4 delivered: every 2nd id, 2 and 4: 1 s, 2 s
    sampled = await _delivery_totals(any_store, tmp_path, THIS_YEAR, sorted_at_most=3)
    assert sampled.sampled
    assert sampled.delivered == 4  # counted whole, only the median is sampled
    assert sampled.median_delivery_s == pytest.approx(1.0, abs=1e-3)


# ------------------------------------------------------------------------- retention


def _aged(message: Message, days: int, *, valid_days: float = 1) -> Message:
    at = datetime.now(UTC) - days * DAY
    return dataclasses.replace(
        message, created_at=at, updated_at=at, expires_at=at + valid_days * DAY,
        callback_url="https://example.org/status",
    )  # fmt: skip


def _sent(message: Message, carrier_id: str) -> DeliveryBatch:
    """The message, its one segment accepted, and the segment's receipt."""
    at = message.created_at.timestamp()
    segment = SegmentSubmitted(message.id, 1, 1, carrier_id, "btl-1")
    receipt = DeliveryReceipt(carrier_id, ReceiptState.DELIVERED, "000", "btl-1")
    return DeliveryBatch(
        messages=[message], segments=[("btl", segment, at)], receipts=[("btl", receipt, at + 5)]
    )


async def test_messages_and_texts_past_their_days_go_with_their_segments_and_receipts(
    any_store: AnyStore, tmp_path: Path
) -> None:
    store = any_store
    old = [_aged(new_message(), 200) for _ in range(5)]
    recent = _aged(new_message(), 100)
    still_valid = _aged(new_message(), 200, valid_days=365)  # created long ago, not yet expired
    for n, message in enumerate([*old, recent, still_valid]):
        await store.delivery.record(_sent(message, f"c{n:04x}"))
    long_ago, lately = NOW - 200 * DAY, NOW - timedelta(hours=1)
    texts = [
        ("t-old-handled", long_ago), ("t-old-unhandled", long_ago), ("t-new-handled", lately)
    ]  # fmt: skip
    await store.delivery.record(
        DeliveryBatch(
            inbound=[
                (id_, InboundSms("+5016012345", "1515", "JOIN", "btl-1"), at.timestamp())
                for id_, at in texts
            ]
        )
    )
    handled = datetime.now(UTC)
    await store.inbound.mark_inbound_handled(
        [
            HandledInbound(i, InboundOutcome.ANSWERED, handled)
            for i in ("t-old-handled", "t-new-handled")
        ]
    )
    events_before = await _count(store, tmp_path, "message_events")
    called_back = await _message_ids(store, tmp_path, "callbacks")
    assert called_back == {message.id for message in [*old, recent, still_valid]}

    purged = await Retention(store.retention, RetentionConfig(), batch=2).purge()

    assert purged == Purged(messages=5, inbound=1)
    for message in old:
        assert await store.messages.get_message(message.id) is None
        assert await store.messages.message_history(message.id) == []
    for message in (recent, still_valid):
        assert await store.messages.get_message(message.id) is not None
        assert len(await store.messages.message_history(message.id)) >= 3  # queued, sent, receipt
    assert await _count(store, tmp_path, "message_parts") == 2
    assert await _count(store, tmp_path, "message_events") < events_before
    assert await _message_ids(store, tmp_path, "callbacks") == {recent.id, still_valid.id}
    assert [row.id for row in await store.inbound.unhandled_inbound(10)] == ["t-old-unhandled"]
    # the unhandled one waits to be handled, whatever its age
    assert await _count(store, tmp_path, "inbound") == 2
    assert await Retention(store.retention, RetentionConfig()).purge() == Purged(0, 0)


async def test_purges_take_at_most_their_limit_oldest_first(any_store: AnyStore) -> None:
    retention = any_store.retention
    messages = [_aged(new_message(), days) for days in (300, 200, 250)]
    await any_store.delivery.record(DeliveryBatch(messages=messages))

    assert await retention.purge_messages(NOW, limit=2) == 2
    assert [await any_store.messages.get_message(m.id) is None for m in messages] == [
        True, False, True,
    ]  # fmt: skip
    assert await retention.purge_messages(NOW, limit=2) == 1
    assert await retention.purge_messages(NOW, limit=2) == 0
    assert await retention.purge_inbound(NOW, limit=10) == 0


async def test_idempotency_keys_first_used_before_the_time_go_in_batches(
    any_store: AnyStore,
) -> None:
    keys, then = any_store.idempotency, NOW - 3 * DAY
    for key, at in (("k1", then), ("k2", then + timedelta(seconds=1)), ("k3", NOW)):
        assert await keys.claim("tok", key, f"digest-{key}", at=at) is None
    before = then + timedelta(seconds=2)

    assert await any_store.retention.purge_keys(before, limit=1) == 1
    assert await any_store.retention.purge_keys(before, limit=1) == 1
    assert await any_store.retention.purge_keys(before, limit=1) == 0
    # gone: free again when next used at that time; the newer one is still remembered
    assert await keys.claim("tok", "k1", "other", at=before) is None
    remembered = await keys.claim("tok", "k3", "other", at=NOW)
    assert remembered is not None
    assert remembered.digest == "digest-k3"


# ------------------------------------------------------------------------- summaries


def _rows_of(states: dict[int, tuple[str, float | None]]) -> list[tuple[str, str, float | None]]:
    """ROWS' recipients (their languages), in the states given by index; the others queued."""
    return [(language, *states.get(n, ("queued", None))) for n, (language, _, _) in enumerate(ROWS)]


async def test_a_finished_broadcast_is_summed_up_once_and_its_figures_outlive_its_rows(
    any_store: AnyStore, tmp_path: Path
) -> None:
    store, long_ago = any_store, NOW - 100 * DAY
    await _subscribe(store, [language for language, _, _ in ROWS])
    done = await _sent_broadcast(store, ROWS, created_at=long_ago)
    await store.broadcasts.set_broadcast_state(
        done, BroadcastState.DONE, at=long_ago + DAY, finished=True
    )
    part_sent = _rows_of({0: ("delivered", 4.0), 1: ("delivered", 1.0)})
    cancelled = await _sent_broadcast(store, part_sent, created_at=long_ago)
    assert await store.broadcasts.cancel_broadcast(cancelled, by="test", at=long_ago + DAY) == 8
    recent = await _sent_broadcast(store, ROWS)
    await store.broadcasts.set_broadcast_state(recent, BroadcastState.DONE, at=NOW, finished=True)
    sending = await _sent_broadcast(store, _rows_of({}), created_at=long_ago)
    ids = [done, cancelled, recent, sending]
    stats = [await store.broadcasts.broadcast_stats(id_) for id_ in ids]
    whole = Period("all", long_ago - DAY, NOW + DAY)
    totals = await store.kpis.delivery_totals(whole)
    recipients = await _message_ids(store, tmp_path, "message_parts")
    assert len(recipients) == 6 + 2 + 6  # one segment per message submitted
    assert await store.retention.purge_outbox(limit=100) == 0  # nothing summed up yet

    finished_before = NOW - 30 * DAY
    assert await store.retention.summarise_broadcast(finished_before) == done
    assert await store.retention.summarise_broadcast(finished_before) == cancelled
    assert await store.retention.summarise_broadcast(finished_before) is None
    assert [await store.broadcasts.broadcast_stats(id_) for id_ in ids] == stats
    summary = await _summary(store, tmp_path, done)
    assert summary is not None
    assert {k: v for k, v in summary.items() if k != "latencies"} == _expected(stats[0], ROWS)
    assert sum(summary["latencies"].values()) == 4  # the delivered (buckets: the next test)
    assert await _summary(store, tmp_path, recent) is None
    assert await _summary(store, tmp_path, sending) is None

    assert [await store.retention.purge_outbox(limit=8) for _ in range(4)] == [8, 8, 4, 0]
    assert await _count(store, tmp_path, "outbox") == 10 + 10  # the recent and sending ones
    kept = await _message_ids(store, tmp_path, "message_parts")
    assert len(kept) == 6
    # the purged recipients' events went with them (those of the others, if any, stay)
    assert await _message_ids(store, tmp_path, "message_events", outbox_only=True) <= kept
    assert [await store.broadcasts.broadcast_stats(id_) for id_ in ids] == stats
    after = await store.kpis.delivery_totals(whole)
    assert _totals(after) == _totals(totals)  # every count and SMS as before
    assert totals.median_delivery_s == pytest.approx(2.0, abs=1e-3)  # of 1 1 1 2 2 3 3 4 4 4
    assert after.median_delivery_s is not None
    # from the kept histograms: within 2.5%
    assert after.median_delivery_s == pytest.approx(totals.median_delivery_s, rel=0.025)
    assert (totals.sampled, after.sampled) == (False, True)
    assert await Retention(store.retention, RetentionConfig()).purge() == Purged(0, 0)


async def test_a_summary_keeps_delivered_latencies_in_their_buckets(
    any_store: AnyStore, tmp_path: Path
) -> None:
    # either side of a bucket's edge (1.05 ** 20), below the 1 ms floor, and a receipt before
    # its submit (clocks apart): each in the bucket kpis.latency puts it in. Not within a
    # millisecond of an edge: SQLite reads times to the millisecond.
    seconds = [1.05**20 * 0.999, 1.05**20 * 1.001, 0.0004, -2.0, 0.5, 60.0, 3600.0, 0.5, 7.0, 7.0]
    rows = [(language, "delivered", s) for (language, _, _), s in zip(ROWS, seconds, strict=True)]
    await _subscribe(any_store, [language for language, _, _ in rows])
    broadcast_id = await _sent_broadcast(any_store, rows, created_at=NOW - 100 * DAY)
    await any_store.broadcasts.set_broadcast_state(
        broadcast_id, BroadcastState.DONE, at=NOW - 99 * DAY, finished=True
    )

    assert await any_store.retention.summarise_broadcast(NOW) == broadcast_id

    summary = await _summary(any_store, tmp_path, broadcast_id)
    assert summary is not None
    assert summary["latencies"] == _buckets(seconds)
    assert summary["rows"] == [["delivered", "en", 6, 6], ["delivered", "es", 4, 4]]


def _buckets(latencies: Sequence[float]) -> dict[str, int]:
    kept: dict[str, int] = {}
    for seconds in latencies:
        key = str(latency.bucket(seconds))
        kept[key] = kept.get(key, 0) + 1
    return kept


def _expected(
    stats: BroadcastStats, rows: Sequence[tuple[str, str, float | None]]
) -> dict[str, Any]:
    """What sqlite/summaries.py writes, on either backend (a copied database reads the same),
    but the latencies."""
    groups: dict[tuple[str, str], list[int]] = {}
    for language, state, seconds in rows:
        counts = groups.setdefault((state, language), [0, 0])
        counts[0] += 1
        counts[1] += seconds is not None  # accepted by a carrier
    return {
        "stats": {
            "by_state": stats.by_state,
            "latency_p50_s": stats.latency_p50_s,
            "latency_p95_s": stats.latency_p95_s,
            "first_submit_at": _stamp(stats.first_submit_at),
            "last_submit_at": _stamp(stats.last_submit_at),
        },
        "rows": [
            [state, language, *counts] for (state, language), counts in sorted(groups.items())
        ],
    }


def _stamp(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat(timespec="microseconds") if at else None


# ----------------------------------------------------------------- rows no method shows
# Per-backend SQL, marked as such: no Protocol reads these rows, nor the module functions'
# sampling threshold.


async def _fetch(store: AnyStore, tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    if isinstance(store, SqliteStore):
        with closing(sqlite3.connect(tmp_path / "store.db")) as db:  # the any_store file
            return db.execute(sql).fetchall()
    async with store.db.pool.acquire() as conn:
        return [tuple(row) for row in await conn.fetch(sql)]


async def _count(store: AnyStore, tmp_path: Path, table: str) -> int:
    [(count,)] = await _fetch(store, tmp_path, f"SELECT count(*) FROM {table}")  # noqa: S608
    return int(count)


async def _message_ids(
    store: AnyStore, tmp_path: Path, table: str, *, outbox_only: bool = False
) -> set[str]:
    """The messages ``table`` has rows of (``outbox_only``: broadcasts' recipients', 'o' + id)."""
    where = " WHERE message_id LIKE 'o%'" if outbox_only else ""
    rows = await _fetch(store, tmp_path, f"SELECT message_id FROM {table}{where}")  # noqa: S608
    return {str(row[0]) for row in rows}


async def _summary(store: AnyStore, tmp_path: Path, broadcast_id: int) -> dict[str, Any] | None:
    [(kept,)] = await _fetch(
        store,
        tmp_path,
        f"SELECT outbox_summary FROM broadcasts WHERE id = {int(broadcast_id)}",  # noqa: S608
    )
    return json.loads(kept) if kept is not None else None


async def _delivery_totals(
    store: AnyStore, tmp_path: Path, period: Period, *, sorted_at_most: int | None = None
) -> DeliveryTotals:
    """The backend's own delivery_totals function, whose threshold the Protocol does not take."""
    if isinstance(store, SqliteStore):
        with closing(sqlite3.connect(tmp_path / "store.db")) as db:
            if sorted_at_most is None:
                return sqlite_kpis.delivery_totals(db, period)
            return sqlite_kpis.delivery_totals(db, period, sorted_at_most=sorted_at_most)
    return await store.db.report(
        partial(pg_kpis.delivery_totals, period=period, sorted_at_most=sorted_at_most)
    )
