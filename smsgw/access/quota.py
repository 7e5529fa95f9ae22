"""A daily quota per token: counted in memory, read from storage once a token's day begins
(counting a day's messages in SQL on every request costs more the closer it gets to the cap).

With several gateways on one database (``shared``), each takes the token's quota from a counter
in the database by blocks (a hundredth of it, at most 100) and counts them out in memory: the
gateways together never grant more than the limit, and a request costs a database trip only once
a block is used up. Near the cap a gateway may refuse while another still holds a block's rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SentSince = Callable[[str, datetime], Awaitable[int]]  # (token id, since) -> messages sent


class SharedQuota(Protocol):
    async def reserve(self, token_id: str, day: datetime, wanted: int, limit: int) -> int:
        """Counts up to ``wanted`` more of the token's ``limit`` for the day beginning at
        ``day`` (the first time: from the messages it sent since then); returns how many."""


class DailyQuota:
    def __init__(
        self,
        limit: int,
        sent_since: SentSince,
        zone: ZoneInfo,
        *,
        shared: SharedQuota | None = None,
    ) -> None:
        self._limit = limit
        self._sent_since = sent_since
        self._zone = zone
        self._shared = shared
        self._block = max(1, min(100, limit // 100))
        self._used: dict[str, tuple[datetime, int]] = {}  # token id -> (its day, used)
        self._left: dict[str, tuple[datetime, int]] = {}  # shared: (day, reserved, not used)

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
        if self._shared is not None:
            granted = await self._from_shared(self._shared, token_id, day, wanted)
            wait = (day + timedelta(days=1) - now).total_seconds() if granted < wanted else 0.0
            return granted, wait
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

    async def _from_shared(
        self, shared: SharedQuota, token_id: str, day: datetime, wanted: int
    ) -> int:
        known_day, left = self._left.get(token_id, (day, 0))
        if known_day != day:
            left = 0
            self._left = {t: kept for t, kept in self._left.items() if kept[0] == day}
        if left < wanted:
            more = await shared.reserve(token_id, day, max(wanted - left, self._block), self._limit)
            known_day, left = self._left.get(token_id, (day, 0))  # others meanwhile: theirs
            if known_day != day:
                left = 0
            left += more
        granted = min(wanted, left)
        self._left[token_id] = (day, left - granted)
        return granted
