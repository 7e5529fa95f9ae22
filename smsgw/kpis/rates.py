"""Live rates from counters that only grow: submits per second per bind and receipts per
second over the last ~10 s, from a small ring of timed snapshots.

A task takes a snapshot every second, and each reading takes one more, so the rate always
ends now; the oldest snapshot kept is the newest one at least a window old.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from smsgw.tasks import Tasks

MIN_SPAN_S = 1.0  # shorter spans give no rate: one receipt in 5 ms is no 200/s


@dataclass(frozen=True, slots=True)
class Counts:
    """Counted since the start."""

    submits: Mapping[str, float]  # bind → segments the carrier accepted
    receipts: float


@dataclass(frozen=True, slots=True)
class Rates:
    span_s: float  # what the rates are measured over
    submits_per_s: Mapping[str, float]  # binds with none counted yet are absent
    receipts_per_s: float


class LiveRates:
    def __init__(
        self,
        read: Callable[[], Counts],
        *,
        window_s: float = 10.0,
        every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._window = window_s
        self._every = every_s
        self._clock = clock
        self._samples: deque[tuple[float, Counts]] = deque()
        self._tasks = Tasks()

    def sample(self) -> None:
        now = self._clock()
        self._samples.append((now, self._read()))
        while len(self._samples) > 1 and self._samples[1][0] <= now - self._window:
            self._samples.popleft()

    def rates(self) -> Rates | None:
        """Over the last window (takes a snapshot now); None until a second is covered."""
        self.sample()
        (then, old), (now, new) = self._samples[0], self._samples[-1]
        span = now - then
        if span < MIN_SPAN_S:
            return None
        submits = {
            bind: (count - old.submits.get(bind, 0.0)) / span for bind, count in new.submits.items()
        }
        return Rates(span, submits, (new.receipts - old.receipts) / span)

    async def start(self) -> None:
        self.sample()
        self._tasks.spawn(self._run(), name="kpi-live-rates")

    async def stop(self) -> None:
        await self._tasks.cancel()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            self.sample()
