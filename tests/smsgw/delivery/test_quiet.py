from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from smsgw.delivery.quiet import QuietHours

BELIZE = ZoneInfo("America/Belize")  # UTC-6, no daylight saving


@pytest.mark.parametrize(
    ("hours", "local", "quiet"),
    [
        ((time(21), time(7)), time(22, 30), True),  # across midnight
        ((time(21), time(7)), time(3), True),
        ((time(21), time(7)), time(7), False),  # the end is not quiet
        ((time(21), time(7)), time(21), True),  # the start is
        ((time(21), time(7)), time(12), False),
        ((time(12), time(14)), time(13), True),  # within a day
        ((time(12), time(14)), time(14, 1), False),
        ((time(8), time(8)), time(8), False),  # empty
        (None, time(3), False),
    ],
)
def test_quiet_hours_are_local_and_may_span_midnight(
    hours: tuple[time, time] | None, local: time, quiet: bool
) -> None:
    # local time in Belize; the gateway's clock is UTC
    at = datetime(2026, 11, 27, local.hour, local.minute, tzinfo=BELIZE).astimezone(UTC)
    assert QuietHours(hours, BELIZE).active(at) is quiet
