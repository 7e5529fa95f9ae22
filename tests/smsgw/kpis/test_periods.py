"""Programme years, yearly targets, and the last days and months, in the gateway's time zone."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smsgw.config import KpisConfig, parse
from smsgw.errors import ConfigError
from smsgw.kpis.periods import last_days, last_months, programme_year, programme_years, target
from tests.smsgw.testbed import CONFIG

BELIZE = ZoneInfo("America/Belize")  # UTC-6, no daylight saving


@pytest.mark.parametrize(
    ("start", "today", "year"),
    [
        (date(2026, 1, 1), date(2026, 1, 1), 1),
        (date(2026, 1, 1), date(2026, 12, 31), 1),
        (date(2026, 1, 1), date(2027, 1, 1), 2),
        (date(2026, 7, 15), date(2028, 7, 14), 2),
        (date(2026, 7, 15), date(2028, 7, 15), 3),
        (date(2026, 1, 1), date(2025, 6, 1), 1),  # before the start: year 1, not yet begun
        (date(2024, 2, 29), date(2025, 2, 27), 1),
        (date(2024, 2, 29), date(2025, 2, 28), 2),  # no 29th: the 28th
    ],
    ids=["first-day", "last-day", "anniversary", "mid-year", "mid-year-anniversary",
         "before-start", "leap-day-eve", "leap-day"],
)  # fmt: skip
def test_programme_years_run_twelve_months_from_the_start(
    start: date, today: date, year: int
) -> None:
    assert programme_year(start, today) == year
    assert len(programme_years(start, today, BELIZE)) == year


def test_a_programme_year_starts_at_local_midnight() -> None:
    [one, two] = programme_years(date(2026, 1, 1), date(2027, 3, 1), BELIZE)
    assert (one.label, two.label) == ("1", "2")
    assert one.start == datetime(2026, 1, 1, 6, tzinfo=UTC)
    assert one.end == two.start == datetime(2027, 1, 1, 6, tzinfo=UTC)


@pytest.mark.parametrize(("year", "expected"), [(1, 10), (2, 25), (3, 40), (4, 40), (9, 40)])
def test_past_the_list_the_last_target_holds(year: int, expected: int) -> None:
    assert target((10, 25, 40), year) == expected


def test_the_last_30_days_end_today() -> None:
    days = last_days(date(2026, 3, 2), BELIZE)
    assert len(days) == 30
    assert (days[0].label, days[-2].label, days[-1].label) == (
        "2026-02-01",
        "2026-03-01",
        "2026-03-02",
    )
    assert days[-1].start == datetime(2026, 3, 2, 6, tzinfo=UTC)
    assert days[-1].end == datetime(2026, 3, 3, 6, tzinfo=UTC)
    assert all(a.end == b.start for a, b in pairwise(days))


def test_the_last_12_months_cross_the_new_year() -> None:
    months = last_months(date(2026, 2, 15), BELIZE)
    assert [m.label for m in months] == [
        "2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09",
        "2025-10", "2025-11", "2025-12", "2026-01", "2026-02",
    ]  # fmt: skip
    assert months[-1].start == datetime(2026, 2, 1, 6, tzinfo=UTC)
    assert months[-1].end == datetime(2026, 3, 1, 6, tzinfo=UTC)


def test_the_default_targets_are_the_programme_s() -> None:
    kpis = KpisConfig()
    assert kpis.programme_start == date(2026, 1, 1)
    assert (kpis.services, kpis.subscribers, kpis.broadcasts) == (
        (10, 25, 40),
        (25_000, 40_000, 50_000, 75_000),
        (100, 300, 500, 700),
    )


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"services": []}, "config: kpis.services: at least one yearly target is needed"),
        ({"broadcasts": [100, -1]}, "config: kpis.broadcasts[1]: Input should be greater"),
        ({"programme_start": "soon"}, "config: kpis.programme_start: Input should be a valid"),
        ({"targets": [1]}, "config: kpis.targets: unknown key"),
    ],
    ids=["empty", "negative", "not-a-date", "unknown-key"],
)
def test_a_bad_kpis_table_names_the_key(table: dict[str, object], problem: str) -> None:
    data = tomllib.loads(CONFIG) | {"kpis": table}
    with pytest.raises(ConfigError) as raised:
        parse(data, base_dir=Path())
    assert str(raised.value).startswith(problem)
