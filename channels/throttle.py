"""Per-bind submit rate: never over the cap in any one second as the SMSC counts it, sent
evenly; pause and ramp on throttling.

The SMSC counts on its own receive times, which lag our sends by a delay that varies (our
timers, the network). If it varies by up to J (the jitter margin), two sends 1 s + J apart on
our side still land at least 1 s apart; closer ones may land within one second. Three rules:

- the log (the hard one): any cap + 1 consecutive sends span at least 1 s + J, so the SMSC
  counts at most the cap in any second of its own;
- the grid: sends are spaced (1 s + J) / cap apart, so none leaves in a burst: not at the
  start, after idle, a pause or a full window, nor when an urgent message jumps the queue;
- the gap: time a late timer lost is made up, but no two sends come closer than half the
  spacing (at high rates, a few per timer wake-up).

The rate reached is cap / (1 s + J): 97.1% of the cap with J = 30 ms. That is the price of the
margin: a carrier that counts over the cap answers ESME_RTHROTTLED, which costs far more.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """Decides when the next PDU may go. ``tps`` 0 means no cap (pauses still apply).

    ``margin_s`` is the jitter margin J: how much the delay from a send's slot to the SMSC's
    receive may vary (our timers, the network) with the SMSC still counting at most ``tps``
    in any second. The caller calls ``idle()`` when it waits for anything but the rate, and
    ``waited()`` after waiting for a window slot.
    """

    MAX_PAUSE_S = 10.0  # an SMSC refusing every probe is asked again at least this often
    RAMP_STEP = 0.1  # after a throttle, win back 10% of the cap each calm second
    # Timers wake late: epoll counts whole milliseconds, and a busy loop or machine adds more.
    # A send up to LATE_S late is logged at its slot, so late wake-ups cost no rate: that much
    # of the margin is our timers', the rest the network's. Up to DEBT_S of time lost to late
    # timers is made up by the sends that follow, never closer together than GAP of the
    # spacing less GAP_TOLERANCE_S (which lets a few go per wake-up at high rates).
    LATE_S = 0.002
    DEBT_S = 0.05
    GAP = 0.5
    GAP_TOLERANCE_S = 0.002

    def __init__(
        self,
        tps: int,
        *,
        pause_s: float = 1.0,
        margin_s: float = 0.03,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tps = tps
        self._clock = clock
        self._window = 1.0 + margin_s
        self._late_s = min(self.LATE_S, margin_s)
        self._first_pause_s = pause_s
        self._next_pause_s = pause_s
        self._sent: deque[float] = deque()  # slots of the sends in the last window
        self._next_at = clock()  # the grid's next slot
        self._gap_at = self._next_at  # the earliest the next send may follow the last one
        self._pacing = False  # sends follow each other with no idle time or pause between
        self._limit = float(tps)
        self._paused_until = 0.0
        self._calm_since = 0.0
        self.throttled_count = 0

    @property
    def limit(self) -> int:
        """The rate in force now (below the cap while ramping up after a throttle)."""
        return max(1, int(self._limit)) if self.tps else 0

    @property
    def spacing(self) -> float:
        """Seconds between sends at the rate in force (0.0: no cap)."""
        return self._window / self.limit if self.tps else 0.0

    def delay(self) -> float:
        """Seconds to wait before the next send; 0.0 means send now (then call ``sent``)."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        if not self.tps:
            return 0.0
        self._ramp(now)
        return max(0.0, self._due(now) - now)

    def sent(self) -> None:
        if not self.tps:
            return
        now = self._clock()
        slot = min(self._slot(now), now)
        due = max(slot, min(self._gap_at, now))  # when this send could have gone
        self._sent.append(max(due, now - self._late_s))
        spacing = self.spacing
        if self._pacing:
            self._next_at = max(slot, now - self.DEBT_S) + spacing
        else:
            self._next_at = now + spacing
        self._gap_at = max(self._gap_at, now - self.GAP_TOLERANCE_S) + spacing * self.GAP
        self._pacing = True

    def idle(self) -> None:
        """The bind waits for something else than the rate (work, a window slot): the time
        that takes is not made up afterwards."""
        self._pacing = False

    def waited(self) -> None:
        """The bind waited for a window slot. If the grid's next slot passed meanwhile, the
        window held it: that time is not made up (as ``idle``). If not, the rate still holds
        it and pacing goes on, so a timer waking late is made up as usual: a slot coming back
        a little before each send (window 10 at 100 ms answers) cost 0.6 ms of every 10.3 ms
        (92% of the cap instead of 97%)."""
        if self._clock() > self._next_at:
            self._pacing = False

    def _due(self, now: float) -> float:
        return max(self._slot(now), self._gap_at)

    def _slot(self, now: float) -> float:
        """The next send's slot: on the grid, and never before the log allows it."""
        window = self._window
        sent = self._sent
        while sent and now - sent[0] >= window:
            sent.popleft()
        slot = self._next_at
        limit = self.limit
        if len(sent) >= limit:
            slot = max(slot, sent[len(sent) - limit] + window)
        return slot

    def throttled(self) -> float:
        """The SMSC said ESME_RTHROTTLED / ESME_RMSGQFUL: pause the bind, halve the rate.

        Returns the pause in seconds. Several answers to one burst arrive together: they extend
        an active pause only once.
        """
        now = self._clock()
        self.throttled_count += 1
        self._pacing = False  # nothing to make up for the pause afterwards
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
