"""Protections around replies: a text delivered twice is handled once, and no number gets more
than a few replies in a window nor more than a small number a day, so an auto-responder cannot
keep a reply loop going with us."""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime, timedelta


class Guard:
    """In memory and bounded: after a restart the persisted queue is handled again, and the
    store's own idempotence (joining twice is a no-op) covers what this forgets.

    It holds only numbers seen within its windows (a few minutes of traffic), forgetting the
    rest as time passes; ``max_numbers`` caps even that. Both maps are kept in order of last
    use, so what is past its window is at their front."""

    def __init__(
        self,
        *,
        duplicate_window: timedelta = timedelta(seconds=120),
        reply_limit: int = 5,
        reply_window: timedelta = timedelta(minutes=10),
        daily_limit: int = 20,
        max_numbers: int = 200_000,
    ) -> None:
        self._duplicate_window = duplicate_window
        self._reply_limit = reply_limit
        self._reply_window = reply_window
        self._daily_limit = daily_limit
        self._max_numbers = max_numbers
        self._seen: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        self._replies: OrderedDict[str, deque[datetime]] = OrderedDict()
        # number -> (when its day of replies began, replies in it)
        self._days: OrderedDict[str, tuple[datetime, int]] = OrderedDict()

    def is_duplicate(self, msisdn: str, text: str, at: datetime) -> bool:
        """The same text from the same number within the window (SMSCs redeliver)."""
        key = (msisdn, " ".join(text.split()).upper())
        seen = self._seen
        last = seen.pop(key, None)
        seen[key] = at
        while seen and (
            len(seen) > self._max_numbers
            or at - next(iter(seen.values())) >= self._duplicate_window
        ):
            seen.popitem(last=False)
        return last is not None and at - last < self._duplicate_window

    def may_reply(self, msisdn: str, at: datetime, count: int = 1) -> bool:
        """True, counting them, if ``count`` more replies keep the number under its limit."""
        sent = self._replies.pop(msisdn, None) or deque()
        while sent and at - sent[0] >= self._reply_window:
            sent.popleft()
        day_began, today = self._days.pop(msisdn, (at, 0))
        if at - day_began >= _DAY:
            day_began, today = at, 0
        allowed = len(sent) + count <= self._reply_limit and today + count <= self._daily_limit
        if allowed:
            sent.extend([at] * count)
            today += count
        days = self._days
        days[msisdn] = (day_began, today)
        while days and (len(days) > self._max_numbers or at - next(iter(days.values()))[0] >= _DAY):
            days.popitem(last=False)
        replies = self._replies
        replies[msisdn] = sent
        while replies and (
            len(replies) > self._max_numbers
            or not recent(next(iter(replies.values())), at, self._reply_window)
        ):
            replies.popitem(last=False)
        return allowed


_DAY = timedelta(hours=24)


def recent(sent: deque[datetime], at: datetime, window: timedelta) -> bool:
    """Some reply of ``sent`` still counts at ``at``."""
    return bool(sent) and at - sent[-1] < window
