from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from smsgw.access.quota import DailyQuota

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
