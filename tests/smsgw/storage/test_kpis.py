"""The KPIs' outbox figures (sqlite/kpis.py) on outbox rows written by hand: which messages
count as sent, the median and its sample."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smsgw.broadcasts.model import Broadcast, BroadcastState
from smsgw.delivery.outbox import Priority
from smsgw.kpis.figures import Period
from smsgw.storage.sqlite import SqliteStore
from smsgw.storage.sqlite import kpis as kpi_sql
from smsgw.storage.sqlite.times import timestamp
from subscriptions.models import Service

NOW = datetime.now(UTC)
THIS_YEAR = Period("1", NOW - timedelta(days=30), NOW + timedelta(days=1))
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


@pytest.fixture
async def outbox(store: SqliteStore, tmp_path: Path) -> AsyncIterator[sqlite3.Connection]:
    """ROWS in the outbox of a broadcast of this year with 1 SMS in English, 3 in Spanish."""
    await store.catalogue.add_service(Service("HEALTH", "health", {"en": "Health"}))
    broadcast = await store.broadcasts.add_broadcast(
        Broadcast(id=0, service="HEALTH", ministry="health", texts={"en": "a", "es": "b"},
                  segments={"en": 1, "es": 3}, encodings={"en": "gsm7", "es": "ucs2"},
                  default_language="en", priority=Priority.NORMAL, state=BroadcastState.DONE,
                  send_at=None, expires_at=NOW, audience=len(ROWS), cost_estimate=0.0,
                  created_by="test", created_at=NOW, updated_at=NOW)
    )  # fmt: skip
    db = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    for i, (language, state, latency) in enumerate(ROWS):
        submitted = timestamp(NOW) if latency is not None else None
        done = timestamp(NOW + timedelta(seconds=latency)) if latency is not None else None
        db.execute(
            """INSERT INTO outbox (broadcast, recipient, language, carrier, priority, state,
                submitted_at, done_at, updated_at) VALUES (?, ?, ?, 'btl', 1, ?, ?, ?, ?)""",
            (broadcast, f"+50160000{i:02d}", language, state, submitted, done, timestamp(NOW)),
        )
    yield db
    db.close()


async def test_sent_messages_are_those_a_carrier_accepted_in_their_language(
    store: SqliteStore, outbox: sqlite3.Connection
) -> None:
    totals = await store.kpis.delivery_totals(THIS_YEAR)

    assert (totals.audience, totals.delivered, totals.cancelled) == (10, 4, 1)
    # 4 delivered (3 × 1 SMS in English, 1 × 3 in Spanish), undeliverable and expired in Spanish
    assert totals.segments == 3 + 3 + 3 + 3
    assert totals.median_delivery_s == pytest.approx(2.0, abs=1e-3)
    assert not totals.sampled
    nothing = await store.kpis.delivery_totals(
        Period("0", NOW - timedelta(days=400), THIS_YEAR.start)
    )
    assert (nothing.audience, nothing.segments, nothing.median_delivery_s) == (0, 0, None)


def test_the_median_is_the_lower_one_and_a_sample_takes_every_nth_id(
    outbox: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # delivered: ids 1-4 with 4, 1, 3, 2 s: the lower median of 1 2 3 4 is 2
    exact = kpi_sql.delivery_totals(outbox, THIS_YEAR)
    assert exact.median_delivery_s == pytest.approx(2.0, abs=1e-3)

    monkeypatch.setattr(kpi_sql, "SAMPLE", 2)  # 4 delivered: every 2nd id, 2 and 4: 1 s, 2 s
    sampled = kpi_sql.delivery_totals(outbox, THIS_YEAR, sorted_at_most=3)
    assert sampled.sampled
    assert sampled.delivered == 4  # counted whole, only the median is sampled
    assert sampled.median_delivery_s == pytest.approx(1.0, abs=1e-3)
