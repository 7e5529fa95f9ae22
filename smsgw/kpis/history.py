"""The operator's recent past: this gateway's submits per second per bind and the outbox queue
depth per priority, sampled every ``every_s`` into a ring of ``points`` samples (constant
memory: 360 every 10 s is the last hour), so that a console opened now charts the last hour.

Submits are this process's counters (each gateway sends on the binds it holds: its own
history); the queue depth is the database's (shared by every gateway on it).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from smsgw.errors import StorageUnavailable
from smsgw.kpis.rates import Counts
from smsgw.tasks import Tasks, every

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Sample:
    at: datetime  # the end of the interval it covers (UTC)
    span_s: float  # the interval: about every_s
    submits_per_s: Mapping[str, float]  # segments the carrier accepted, per bind that sent any
    queued: Mapping[str, int] | None  # by priority label; None: the database did not answer


class History:
    def __init__(
        self,
        read: Callable[[], Counts],
        queued: Callable[[], Awaitable[Mapping[str, int]]],
        *,
        every_s: float = 10.0,
        points: int = 360,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._queued = queued
        self.every_s = every_s
        self.points = points
        self._clock = clock
        self._samples: deque[Sample] = deque(maxlen=points)  # the oldest falls out
        self._last: tuple[float, Counts] | None = None
        self._tasks = Tasks()

    @property
    def samples(self) -> list[Sample]:
        """The oldest first."""
        return list(self._samples)

    async def sample(self) -> None:
        """One sample: the rates since the last call (the first call only sets the baseline)."""
        now, counts = self._clock(), self._read()
        queued = await self._queue_depth()
        last, self._last = self._last, (now, counts)
        if last is None or now <= last[0]:
            return
        then, old = last
        span = now - then
        rates = {
            bind: round((count - old.submits.get(bind, 0.0)) / span, 3)
            for bind, count in counts.submits.items()
        }
        self._samples.append(Sample(datetime.now(UTC), round(span, 3), rates, queued))

    async def _queue_depth(self) -> Mapping[str, int] | None:
        try:
            async with asyncio.timeout(self.every_s):  # never a sample late for a slow database
                return await self._queued()
        except (StorageUnavailable, TimeoutError) as exc:  # a gap in the chart, said as such
            _log.warning("queue_depth_not_sampled", error=str(exc) or type(exc).__name__)
            return None

    async def start(self) -> None:
        await self.sample()
        self._tasks.spawn(
            every(self.every_s, self.sample, failed="history_not_sampled"), name="operator-history"
        )

    async def stop(self) -> None:
        await self._tasks.cancel()
