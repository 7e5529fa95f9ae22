"""The per-bind rate limiter, on a fake clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from channels.throttle import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def drive(
    limiter: RateLimiter, clock: Clock, seconds: float,
    answer: Callable[[list[float]], None] | None = None,
) -> list[float]:  # fmt: skip
    """Send whenever allowed for ``seconds``; returns the send times. ``answer`` plays the
    SMSC after each send, given the send times so far."""
    sent: list[float] = []
    end = clock.now + seconds
    while clock.now < end:
        wait = limiter.delay()
        if wait > 0:
            clock.now += wait
            continue
        limiter.sent()
        sent.append(clock.now)
        if answer is not None:
            answer(sent)
    return sent


def most_in_any_second(times: list[float]) -> int:
    return max(sum(1 for t in times[i:] if t - start < 1.0) for i, start in enumerate(times))


@pytest.mark.parametrize("tps", [1, 7, 50, 400], ids=lambda t: f"tps-{t}")
def test_never_over_the_cap_and_at_least_97_percent_of_it(tps: int) -> None:
    clock = Clock()
    limiter = RateLimiter(tps, clock=clock)

    sent = drive(limiter, clock, 20.0)

    assert most_in_any_second(sent) <= tps
    assert len(sent) >= 0.97 * tps * 20


def test_no_cap_never_waits() -> None:
    limiter = RateLimiter(0, clock=Clock())
    for _ in range(10_000):
        assert limiter.delay() == 0.0
        limiter.sent()


def test_throttling_pauses_halves_the_rate_then_ramps_back() -> None:
    clock = Clock()
    limiter = RateLimiter(100, pause_s=1.0, clock=clock)
    drive(limiter, clock, 2.0)

    pause = limiter.throttled()

    assert pause == 1.0
    assert limiter.delay() == pytest.approx(1.0)
    assert limiter.limit == 50
    drive(limiter, clock, 1.0)  # the pause
    drive(limiter, clock, 8.0)
    assert limiter.limit == 100


def test_answers_to_one_burst_extend_the_pause_once() -> None:
    clock = Clock()
    limiter = RateLimiter(100, pause_s=1.0, clock=clock)

    first = limiter.throttled()
    second = limiter.throttled()

    assert first == second == 1.0
    assert limiter.limit == 50


def test_repeated_throttling_doubles_the_pause_up_to_a_cap() -> None:
    clock = Clock()
    limiter = RateLimiter(0, pause_s=1.0, clock=clock)
    pauses = []
    for _ in range(8):
        pauses.append(limiter.throttled())
        clock.now += pauses[-1]

    assert pauses[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(pauses) == RateLimiter.MAX_PAUSE_S


def test_an_accepted_submit_after_the_pause_resets_it() -> None:
    clock = Clock()
    limiter = RateLimiter(0, pause_s=1.0, clock=clock)
    clock.now += limiter.throttled()
    clock.now += limiter.throttled()

    limiter.accepted()

    assert limiter.throttled() == 1.0


def test_an_smsc_below_the_configured_cap_gets_short_pauses_not_ever_longer_ones() -> None:
    """The SMSC's real limit is 30/s, the config says 50: refusals come each time the ramp
    passes 30; each follows accepted submits, so each pause is the first, short one."""
    clock = Clock()
    limiter = RateLimiter(50, pause_s=0.1, clock=clock)
    pauses = []

    def smsc(sent: list[float]) -> None:
        if most_in_any_second(sent[-31:]) > 30:
            pauses.append(limiter.throttled())
        else:
            limiter.accepted()

    sent = drive(limiter, clock, 30.0, smsc)
    assert len(pauses) > 3
    assert set(pauses) == {0.1}
    assert len(sent) > 0.6 * 30 * 30  # well over half the SMSC's real rate
