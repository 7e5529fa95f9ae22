"""Live rates over a ring of counter snapshots, on a clock the test moves."""

from __future__ import annotations

import asyncio

from smsgw.kpis.rates import Counts, LiveRates


class Counters:
    def __init__(self) -> None:
        self.now = 100.0
        self.submits: dict[str, float] = {}
        self.receipts = 0.0

    def read(self) -> Counts:
        return Counts(dict(self.submits), self.receipts)

    def clock(self) -> float:
        return self.now


def test_no_rate_until_a_second_is_covered() -> None:
    counters = Counters()
    rates = LiveRates(counters.read, clock=counters.clock)
    rates.sample()
    counters.now += 0.5
    counters.receipts = 10
    assert rates.rates() is None
    counters.now += 0.5
    measured = rates.rates()
    assert measured is not None
    assert (measured.span_s, measured.receipts_per_s) == (1.0, 10.0)


def test_the_rate_is_over_the_last_window_only() -> None:
    counters = Counters()
    rates = LiveRates(counters.read, window_s=10.0, clock=counters.clock)
    for second in range(30):  # a burst first: 100/s on btl-1 for 10 s, then 5/s on both
        counters.now = 100.0 + second
        if second:
            per_s = 100 if second <= 10 else 5
            counters.submits["btl-1"] = counters.submits.get("btl-1", 0) + per_s
            if second > 10:
                counters.submits["smart-1"] = counters.submits.get("smart-1", 0) + 5
            counters.receipts += per_s
        rates.sample()
    measured = rates.rates()  # at 129 s: from the sample at 119 s
    assert measured is not None
    assert measured.span_s == 10.0
    assert measured.submits_per_s == {"btl-1": 5.0, "smart-1": 5.0}
    assert measured.receipts_per_s == 5.0


def test_a_bind_first_counted_within_the_window_counts_from_zero() -> None:
    counters = Counters()
    rates = LiveRates(counters.read, clock=counters.clock)
    rates.sample()
    counters.now += 4
    counters.submits["smart-1"] = 8
    measured = rates.rates()
    assert measured is not None
    assert measured.submits_per_s == {"smart-1": 2.0}


async def test_the_task_samples_every_interval_until_stopped() -> None:
    counters = Counters()
    taken = 0
    four = asyncio.Event()

    def read() -> Counts:
        nonlocal taken
        taken += 1
        if taken == 4:
            four.set()
        return counters.read()

    rates = LiveRates(read, every_s=0.01)
    await rates.start()  # one sample at once, then one per interval
    try:
        async with asyncio.timeout(5):
            await four.wait()
    finally:
        await rates.stop()
    stopped_at = taken
    await asyncio.sleep(0.05)  # five intervals: none sampled
    assert taken == stopped_at
