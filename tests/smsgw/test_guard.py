"""The reply guard's memory: numbers past its windows are forgotten, so it holds a few minutes
of traffic, not every number ever seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smsgw.inbound.guard import Guard

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_a_text_repeated_within_the_window_is_a_duplicate_and_after_it_is_not() -> None:
    guard = Guard(duplicate_window=timedelta(seconds=120))
    assert not guard.is_duplicate("+5016012345", "join health", T0)
    assert guard.is_duplicate("+5016012345", "JOIN  HEALTH", T0 + timedelta(seconds=119))
    assert not guard.is_duplicate("+5016012345", "JOIN HEALTH", T0 + timedelta(seconds=240))


def test_a_number_gets_at_most_the_limit_within_the_window() -> None:
    guard = Guard(reply_limit=2, reply_window=timedelta(minutes=10))
    assert guard.may_reply("+5016012345", T0)
    assert guard.may_reply("+5016012345", T0 + timedelta(minutes=1))
    assert not guard.may_reply("+5016012345", T0 + timedelta(minutes=2))
    assert guard.may_reply("+5016012345", T0 + timedelta(minutes=11))
    assert not guard.may_reply("+5016099999", T0, count=3)  # more than the limit at once


def test_a_day_of_texts_from_ever_new_numbers_leaves_only_the_last_minutes_in_memory() -> None:
    guard = Guard(duplicate_window=timedelta(seconds=120), reply_window=timedelta(minutes=10))
    for second in range(86_400 // 4):  # a new number every 4 s for a day
        at = T0 + timedelta(seconds=4 * second)
        number = f"+50160{second:06d}"
        guard.is_duplicate(number, "HELP", at)
        guard.may_reply(number, at)
    assert len(guard._seen) <= 120 // 4 + 1
    assert len(guard._replies) <= 600 // 4 + 1


def test_the_cap_holds_even_within_the_windows() -> None:
    guard = Guard(max_numbers=100)
    for n in range(1_000):
        guard.is_duplicate(f"+50160{n:06d}", "HELP", T0)
        guard.may_reply(f"+50160{n:06d}", T0)
    assert len(guard._seen) == len(guard._replies) == 100


def test_an_auto_responder_gets_at_most_the_daily_limit_however_it_spaces_its_texts() -> None:
    guard = Guard(reply_limit=5, reply_window=timedelta(minutes=10), daily_limit=8)
    number = "+5016012345"
    every_11_minutes = [T0 + timedelta(minutes=11 * n) for n in range(130)]  # a whole day
    answered = [at for at in every_11_minutes if guard.may_reply(number, at)]
    assert len(answered) == 8  # was one every 11 minutes for ever (130 a day)
    assert guard.may_reply(number, T0 + timedelta(hours=24))  # the next day begins
    assert guard.may_reply("+5016099999", T0)  # others are not held back
