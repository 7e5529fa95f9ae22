"""Quiet hours: local hours (the gateway's time zone) when routine broadcasts wait."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo


class QuietHours:
    """From ``start`` to ``end`` local time; ``end`` before ``start`` spans midnight."""

    def __init__(self, hours: tuple[time, time] | None, zone: ZoneInfo) -> None:
        self._hours = hours
        self._zone = zone

    def __bool__(self) -> bool:
        return self._hours is not None and self._hours[0] != self._hours[1]

    def active(self, now: datetime) -> bool:
        if not self or self._hours is None:
            return False
        start, end = self._hours
        local = now.astimezone(self._zone).time()
        if start < end:
            return start <= local < end
        return local >= start or local < end
