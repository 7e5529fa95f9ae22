"""The operator's history: rates between samples, a gap where the database did not answer, and
a ring that never grows past its size (on a clock the test moves)."""

from __future__ import annotations

from smsgw.errors import StorageUnavailable
from smsgw.kpis.history import History
from smsgw.kpis.rates import Counts


class Gateway:
    def __init__(self) -> None:
        self.now = 100.0
        self.submits: dict[str, float] = {}
        self.queued: dict[str, int] | None = {"emergency": 0, "normal": 0}

    def read(self) -> Counts:
        return Counts(dict(self.submits), 0.0)

    async def queue_depth(self) -> dict[str, int]:
        if self.queued is None:
            raise StorageUnavailable("database is locked")
        return dict(self.queued)

    def clock(self) -> float:
        return self.now


async def test_each_sample_is_the_rate_since_the_last_and_the_ring_keeps_its_size() -> None:
    gateway = Gateway()
    history = History(gateway.read, gateway.queue_depth, every_s=10, points=3,
                      clock=gateway.clock)  # fmt: skip
    await history.sample()  # the baseline: no sample yet
    assert history.samples == []
    for n in range(1, 6):
        gateway.now += 10
        gateway.submits["btl-1"] = 100.0 * n  # 10/s
        gateway.queued = {"emergency": 0, "normal": n}
        await history.sample()
    samples = history.samples
    assert [s.queued for s in samples] == [{"emergency": 0, "normal": n} for n in (3, 4, 5)]
    assert {s.submits_per_s["btl-1"] for s in samples} == {10.0}
    assert {s.span_s for s in samples} == {10.0}
    assert samples[0].at <= samples[-1].at


async def test_a_database_that_does_not_answer_leaves_a_gap_in_the_queue_only() -> None:
    gateway = Gateway()
    history = History(gateway.read, gateway.queue_depth, clock=gateway.clock)
    await history.sample()
    gateway.now += 10
    gateway.submits["smart-1"] = 25.0
    gateway.queued = None
    await history.sample()
    [sample] = history.samples
    assert (sample.queued, sample.submits_per_s) == (None, {"smart-1": 2.5})
