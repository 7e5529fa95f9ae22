"""The periods KPIs are counted in: programme years from the configured start, and the last
days and months, each bounded at local midnight in the gateway's time zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from smsgw.kpis.figures import Period


def _anniversary(start: date, years: int) -> date:
    """``start`` moved on by whole years (29 February becomes the 28th in other years)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def _month(day: date, months: int) -> date:
    """The first of the month ``months`` after the one of ``day`` (negative: before)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _period(label: str, first: date, end: date, zone: ZoneInfo) -> Period:
    return Period(label, _midnight(first, zone), _midnight(end, zone))


def programme_year(start: date, today: date) -> int:
    """Year 1 is the first twelve months from ``start``; before the start it is year 1 too."""
    years = today.year - start.year
    if _anniversary(start, years) > today:
        years -= 1
    return max(1, years + 1)


def programme_years(start: date, today: date, zone: ZoneInfo) -> list[Period]:
    """Years 1 to the current one, labelled "1", "2", …"""
    return [
        _period(str(year), _anniversary(start, year - 1), _anniversary(start, year), zone)
        for year in range(1, programme_year(start, today) + 1)
    ]


def target(targets: Sequence[int], year: int) -> int:
    """The target of programme ``year``; past the list, its last one."""
    return targets[min(year, len(targets)) - 1]


def last_days(today: date, zone: ZoneInfo, count: int = 30) -> list[Period]:
    """The ``count`` days up to and including ``today``, oldest first ("2026-11-27")."""
    days = [today - timedelta(days=back) for back in range(count - 1, -1, -1)]
    return [_period(day.isoformat(), day, day + timedelta(days=1), zone) for day in days]


def last_months(today: date, zone: ZoneInfo, count: int = 12) -> list[Period]:
    """The ``count`` months up to and including this one, oldest first ("2026-11")."""
    firsts = [_month(today, -back) for back in range(count - 1, -1, -1)]
    return [_period(first.isoformat()[:7], first, _month(first, 1), zone) for first in firsts]
