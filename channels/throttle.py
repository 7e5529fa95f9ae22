"""Per-bind submit rate: never over the cap in any one-second window; pause and ramp on throttling.

A sliding log of send times (not a token bucket) is what makes "never over in ANY one-second
window" hold: a bucket refilled continuously lets cap + burst through a window that straddles
a refill. Steady state is exactly the cap, so the 97%-of-cap target is met while there is work.

Within the second, sends are paced by a small token bucket (BURST_S of the rate): the log alone
would let a whole second's quota out at once and then hold everything, urgent or not, for the
rest of the second; an SMSC that counts over a shorter window would also see the burst.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """Decides when the next PDU may go. ``tps`` 0 means no cap (pauses still apply)."""

    # Send times are ours; the SMSC sees them after a varying network and scheduling delay.
    # Counting over 1 s + margin keeps the SMSC's own one-second count under the cap too.
    MARGIN_S = 0.012
    MAX_PAUSE_S = 10.0  # an SMSC refusing every probe is asked again at least this often
    RAMP_STEP = 0.1  # after a throttle, win back 10% of the cap each calm second
    BURST_S = 0.05  # at most this much of the rate leaves back to back

    def __init__(
        self, tps: int, *, pause_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.tps = tps
        self._clock = clock
        self._first_pause_s = pause_s
        self._next_pause_s = pause_s
        self._sent: deque[float] = deque()
        self._limit = float(tps)
        self._paused_until = 0.0
        self._calm_since = 0.0
        self._tokens = self._burst()
        self._refilled_at = clock()
        self.throttled_count = 0

    @property
    def limit(self) -> int:
        """The rate in force now (below the cap while ramping up after a throttle)."""
        return max(1, int(self._limit)) if self.tps else 0

    def delay(self) -> float:
        """Seconds to wait before the next send; 0.0 means send now (then call ``sent``)."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        if not self.tps:
            return 0.0
        self._ramp(now)
        window = 1.0 + self.MARGIN_S
        sent = self._sent
        while sent and now - sent[0] >= window:
            sent.popleft()
        limit = self.limit
        if len(sent) >= limit:
            return sent[len(sent) - limit] + window - now
        self._tokens = min(self._burst(), self._tokens + (now - self._refilled_at) * limit)
        self._refilled_at = now
        if self._tokens >= 1.0 - 1e-9:  # (rounding must not leave it a hair short forever)
            return 0.0
        return (1.0 - self._tokens) / limit

    def sent(self) -> None:
        if self.tps:
            self._sent.append(self._clock())
            self._tokens -= 1.0

    def _burst(self) -> float:
        return max(1.0, self.limit * self.BURST_S)

    def throttled(self) -> float:
        """The SMSC said ESME_RTHROTTLED / ESME_RMSGQFUL: pause the bind, halve the rate.

        Returns the pause in seconds. Several answers to one burst arrive together: they extend
        an active pause only once.
        """
        now = self._clock()
        self.throttled_count += 1
        if now < self._paused_until:
            return self._paused_until - now
        pause = self._next_pause_s
        self._paused_until = now + pause
        self._next_pause_s = min(pause * 2, self.MAX_PAUSE_S)
        self._calm_since = self._paused_until
        if self.tps:
            self._limit = max(1.0, self._limit / 2)
        return pause

    def _ramp(self, now: float) -> None:
        if self._limit >= self.tps or now - self._calm_since < 1.0:
            return
        self._limit = min(float(self.tps), self._limit + self.tps * self.RAMP_STEP)
        self._calm_since = now
        if self._limit >= self.tps:
            self._next_pause_s = self._first_pause_s

    def accepted(self) -> None:
        """A submit was accepted after the pause: the next pause starts short again. Only
        refusals with nothing accepted between them lengthen it; the halved rate is what keeps
        the bind under an SMSC whose real limit is below the configured one (waiting to be
        back at full rate would make every pause of that sawtooth longer, up to the cap)."""
        if self._clock() >= self._paused_until:
            self._next_pause_s = self._first_pause_s
