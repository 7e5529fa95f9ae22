"""Protections around replies: a text delivered twice is handled once, and no number gets more
than a few replies in a window, so an auto-responder cannot start a reply loop with us."""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime, timedelta


class Guard:
    """In memory and bounded: after a restart the persisted queue is handled again, and the
    store's own idempotence (joining twice is a no-op) covers what this forgets."""

    def __init__(
        self,
        *,
        duplicate_window: timedelta = timedelta(seconds=120),
        reply_limit: int = 5,
        reply_window: timedelta = timedelta(minutes=10),
        max_numbers: int = 200_000,
    ) -> None:
        self._duplicate_window = duplicate_window
        self._reply_limit = reply_limit
        self._reply_window = reply_window
        self._max_numbers = max_numbers
        self._seen: OrderedDict[tuple[str, str], datetime] = OrderedDict()
        self._replies: OrderedDict[str, deque[datetime]] = OrderedDict()

    def is_duplicate(self, msisdn: str, text: str, at: datetime) -> bool:
        """The same text from the same number within the window (SMSCs redeliver)."""
        key = (msisdn, " ".join(text.split()).upper())
        last = self._seen.pop(key, None)
        self._seen[key] = at
        if len(self._seen) > self._max_numbers:
            self._seen.popitem(last=False)
        return last is not None and at - last < self._duplicate_window

    def may_reply(self, msisdn: str, at: datetime, count: int = 1) -> bool:
        """True, counting them, if ``count`` more replies keep the number under its limit."""
        sent = self._replies.pop(msisdn, None) or deque()
        while sent and at - sent[0] >= self._reply_window:
            sent.popleft()
        allowed = len(sent) + count <= self._reply_limit
        if allowed:
            sent.extend([at] * count)
        self._replies[msisdn] = sent
        if len(self._replies) > self._max_numbers:
            self._replies.popitem(last=False)
        return allowed
