"""The per-bind rate limiter, on a fake clock."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest

from channels.simulator.records import most_within
from channels.throttle import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def drive(
    limiter: RateLimiter, clock: Clock, seconds: float,
    answer: Callable[[list[float]], None] | None = None,
    late: Callable[[], float] | None = None,
) -> list[float]:  # fmt: skip
    """Send whenever allowed for ``seconds``; returns the send times. ``answer`` plays the
    SMSC after each send, given the send times so far; ``late`` says how late each timer wakes
    (an event loop's timers are never early, and a busy loop's are late)."""
    sent: list[float] = []
    end = clock.now + seconds
    while clock.now < end:
        wait = limiter.delay()
        if wait > 0:
            clock.now += wait + (late() if late else 0.0)
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


# ------------------------------------------------------------ as the SMSC counts


def smsc_worst_count(sent: list[float], jitter: float) -> int:
    """The most submits an SMSC can count in one second of its receive times when each one
    reaches it 0..``jitter`` after we sent it: two sends less than 1 s + jitter apart can land
    less than 1 s apart (the first delayed by the whole jitter, the last not at all)."""
    return most_within(sent, 1.0 + jitter)


def late_allowance(margin: float) -> float:
    """What of the margin our own late timers may take (the network has the rest)."""
    return min(margin, RateLimiter.LATE_S)


TPS = 100
MARGIN = 0.03
SPACING = (1 + MARGIN) / TPS


def interrupt_by_idling(limiter: RateLimiter, clock: Clock) -> None:
    limiter.idle()  # the pump ran out of work
    clock.now += 0.3


def interrupt_by_a_full_window(limiter: RateLimiter, clock: Clock) -> None:
    clock.now += 0.04  # the pump waits for a submit_sm_resp, past the grid's next slot
    limiter.waited()


def interrupt_by_throttling(limiter: RateLimiter, clock: Clock) -> None:
    clock.now += limiter.throttled()


@pytest.mark.parametrize(
    "interrupt",
    [interrupt_by_idling, interrupt_by_a_full_window, interrupt_by_throttling],
    ids=["idle", "full-window", "pause"],
)
def test_after_an_interruption_sending_resumes_evenly_with_no_burst(
    interrupt: Callable[[RateLimiter, Clock], None],
) -> None:
    """Idle time, a wait for the window or a pause is not made up for by a burst: the first
    sends after it are as far apart as the rate wants (an urgent message jumping the queue
    changes nothing here: both lanes share the bind's one limiter)."""
    clock = Clock()
    limiter = RateLimiter(TPS, margin_s=MARGIN, clock=clock)
    before = drive(limiter, clock, 2.5)

    interrupt(limiter, clock)
    after = drive(limiter, clock, 0.5)

    spacing = (1 + MARGIN) / limiter.limit  # halved after a throttle
    gaps = [b - a for a, b in itertools.pairwise(after)]
    assert min(gaps) >= spacing * 0.99
    assert smsc_worst_count(before + after, MARGIN - late_allowance(MARGIN)) <= TPS


def test_a_fresh_bind_sends_evenly_from_its_first_submit() -> None:
    clock = Clock()
    limiter = RateLimiter(TPS, margin_s=MARGIN, clock=clock)

    sent = drive(limiter, clock, 1.0)

    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= SPACING * 0.99
    assert most_within(sent, 0.05) <= 5


@pytest.mark.parametrize("tps", [7, 100, 400], ids=lambda t: f"tps-{t}")
@pytest.mark.parametrize("margin", [0.0, 0.03, 0.1], ids=lambda m: f"margin-{m * 1000:.0f}ms")
def test_late_timers_and_stalls_never_let_the_smsc_count_over_the_cap(
    tps: int, margin: float
) -> None:
    """Timers wake up to 1.5 ms late, and one in 100 waits 30 ms (a stalled loop): what is
    made up afterwards still leaves no one-second window over the cap on the SMSC's side, as
    long as the delay to it varies by less than the margin (less what our timers take of it);
    nor more than twice the rate in any 50 ms, and at low rates nothing back to back."""
    clock = Clock()
    limiter = RateLimiter(tps, margin_s=margin, clock=clock)
    rng = random.Random(7)

    def late() -> float:
        return 0.03 if rng.random() < 0.01 else rng.uniform(0.0, 0.0015)

    sent = drive(limiter, clock, 2.0, late=late)
    interrupt_by_idling(limiter, clock)
    sent += drive(limiter, clock, 3.0, late=late)
    interrupt_by_throttling(limiter, clock)
    sent += drive(limiter, clock, 6.0, late=late)

    assert smsc_worst_count(sent, margin - late_allowance(margin)) <= tps
    spacing = (1 + margin) / tps
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    if spacing > 0.008:  # at high rates a few go per wake-up: the timers are not finer
        assert min(gaps) >= spacing / 4
    assert most_within(sent, 0.05) <= 2 * 0.05 / spacing + 2


def test_late_timers_cost_no_rate() -> None:
    """Timers up to 2 ms late (epoll counts whole milliseconds) do not slow the bind: the
    rate stays at cap / (1 s + margin), 97.1% at 30 ms."""
    clock = Clock()
    limiter = RateLimiter(TPS, margin_s=MARGIN, clock=clock)
    rng = random.Random(3)

    sent = drive(limiter, clock, 20.0, late=lambda: rng.uniform(0.0, 0.002))

    assert len(sent) >= 0.97 * TPS * 20
    assert smsc_worst_count(sent, MARGIN - late_allowance(MARGIN)) <= TPS


@pytest.mark.parametrize("answer_ms", [101.7, 150.0], ids=["window-nearly-enough", "window-short"])
def test_a_bind_held_by_its_window_keeps_the_rate_its_answers_allow(answer_ms: float) -> None:
    """Window 10 at 100 TPS, the SMSC answering (and the answer stored) after ``answer_ms``,
    timers 0.3–0.9 ms late. Answers a little faster than ten sends' spacing: the window only
    waits for slots the rate would wait for anyway, so late timers are made up and the bind
    keeps ~97% of its cap (it lost the lateness of each send, 92%, when every window wait
    stopped the pacing). Slower answers: the window holds it, with no burst after each wait."""
    clock = Clock()
    limiter = RateLimiter(TPS, margin_s=MARGIN, clock=clock)
    rng = random.Random(11)
    window, answer_s = 10, answer_ms / 1000
    sent: list[float] = []
    end = clock.now + 20.0
    while clock.now < end:
        free_at = sent[-window] + answer_s if len(sent) >= window else clock.now
        if free_at > clock.now:  # the window is full: wait for the oldest answer
            clock.now = free_at
            limiter.waited()
            continue
        wait = limiter.delay()
        if wait > 0:
            clock.now += wait + rng.uniform(0.0003, 0.0009)
            continue
        limiter.sent()
        sent.append(clock.now)
    rate = len(sent) / 20.0
    allowed = min(TPS / (1 + MARGIN), window / answer_s)
    assert rate >= 0.99 * allowed
    assert smsc_worst_count(sent, MARGIN - late_allowance(MARGIN)) <= TPS
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= SPACING * 0.5 - RateLimiter.GAP_TOLERANCE_S
