from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from smsgw.access.quota import DailyQuota
from smsgw.storage.postgres import PostgresStore
from tests import postgres

ZONE = ZoneInfo("America/Belize")  # UTC-6
NOW = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)  # 14:00 in Belize


async def test_the_day_is_read_from_storage_once_then_counted_in_memory() -> None:
    reads: list[tuple[str, datetime]] = []

    async def sent_since(token: str, since: datetime) -> int:
        reads.append((token, since))
        return 1  # sent earlier today, before a restart

    quota = DailyQuota(3, sent_since, ZONE)
    assert [await quota.take("t", NOW) for _ in range(2)] == [0.0, 0.0]
    wait = await quota.take("t", NOW)
    assert wait == timedelta(hours=10).total_seconds()  # until midnight in Belize
    assert reads == [("t", datetime(2026, 12, 3, tzinfo=ZONE))]
    tomorrow = NOW + timedelta(hours=10)
    assert await quota.take("t", tomorrow) == 0.0  # a new day: read again
    assert len(reads) == 2


async def test_requests_arriving_while_the_day_is_read_are_all_counted() -> None:
    """32 requests at once on a token not yet counted today: each waits for the same read, and
    none may overwrite the others' counts (331 of a quota of 300 went out that way)."""

    async def sent_since(token: str, since: datetime) -> int:
        await asyncio.sleep(0.01)  # a trip to the database
        return 0

    quota = DailyQuota(10, sent_since, ZONE)
    waits = await asyncio.gather(*(quota.take("t", NOW) for _ in range(32)))
    assert sum(wait == 0.0 for wait in waits) == 10
    granted = await asyncio.gather(*(quota.take_up_to("u", 4, NOW) for _ in range(5)))
    assert sum(n for n, _ in granted) == 10


@pytest.mark.usefixtures("postgres_database")
async def test_gateways_sharing_a_database_never_grant_more_than_the_limit_together(
    postgres_database: str,
) -> None:
    """Two gateways take a token's quota from PostgreSQL by blocks: together they grant the
    limit exactly, counting what the token sent before the day's first block."""
    store = await PostgresStore.open(postgres_database)
    await store.db.read(postgres.empty)
    try:

        async def never(token: str, since: datetime) -> int:
            raise AssertionError("the shared counter reads the day itself")

        assert store.shared_quota is not None
        one, two = (DailyQuota(250, never, ZONE, shared=store.shared_quota) for _ in range(2))
        granted = await asyncio.gather(*(  # 220 asked, at once
            gateway.take_up_to("t", n, NOW)
            for _ in range(10) for n in (1, 3, 7) for gateway in (one, two)
        ))  # fmt: skip
        assert sum(n for n, _ in granted) == 220
        more = await asyncio.gather(*(g.take_up_to("t", 10, NOW) for g in (one, two) * 5))
        assert sum(n for n, _ in more) == 30  # the rest of 250, wherever it was reserved
        assert await one.take("t", NOW) > 0 and await two.take("t", NOW) > 0  # noqa: PT018
        tomorrow = NOW + timedelta(hours=10)
        assert await one.take("t", tomorrow) == 0.0
    finally:
        await store.close()
