"""A daily quota per token: counted in memory, read from storage once a token's day begins
(counting a day's messages in SQL on every request costs more the closer it gets to the cap)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SentSince = Callable[[str, datetime], Awaitable[int]]  # (token id, since) -> messages sent


class DailyQuota:
    def __init__(self, limit: int, sent_since: SentSince, zone: ZoneInfo) -> None:
        self._limit = limit
        self._sent_since = sent_since
        self._zone = zone
        self._used: dict[str, tuple[datetime, int]] = {}  # token id -> (its day, used)

    @property
    def limit(self) -> int:
        return self._limit

    async def take(self, token_id: str, now: datetime) -> float:
        """Counts one use and returns 0, or returns the seconds until the quota renews."""
        granted, wait = await self.take_up_to(token_id, 1, now)
        return 0.0 if granted else wait

    async def take_up_to(self, token_id: str, wanted: int, now: datetime) -> tuple[int, float]:
        """Counts up to ``wanted`` uses; returns how many it granted and, when fewer, the
        seconds until the quota renews."""
        day = now.astimezone(self._zone).replace(hour=0, minute=0, second=0, microsecond=0)
        known_day, used = self._used.get(token_id, (None, 0))
        if known_day != day:  # a new day, or a token not seen since the start
            used = await self._sent_since(token_id, day)
            known_day, counted = self._used.get(token_id, (None, 0))
            if known_day == day:  # another request counted it meanwhile: that count holds
                used = counted
            self._used = {t: u for t, u in self._used.items() if u[0] == day}  # forget old days
        granted = max(0, min(wanted, self._limit - used))
        self._used[token_id] = (day, used + granted)
        wait = (day + timedelta(days=1) - now).total_seconds() if granted < wanted else 0.0
        return granted, wait
