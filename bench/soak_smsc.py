"""The soak's SMSC side: faults injected into the simulator, and the reading of its submit log
as it grows (who got what, refusals, the busiest second of each bind)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, defaultdict, deque
from collections.abc import Sequence

from soak_traffic import Broadcasts, Citizens

from channels.simulator import MALFORMED_KINDS, Simulator, Submit
from channels.smpp.codec import Status

ESME_RSYSERR = 0x08


# ---------------------------------------------------------------- faults


class Faults:
    """One fault every so often, in turn; counted by kind."""

    KINDS = ("drop_links", "hang", "throttled", "system_error", "malformed", "unbind")

    def __init__(
        self, simulator: Simulator, kinds: Sequence[str], *, hang_s: float, burst_s: float
    ) -> None:
        self.simulator = simulator
        self.kinds = kinds
        self.hang_s = hang_s
        self.burst_s = burst_s
        self._burst_end: asyncio.TimerHandle | None = None
        self.started = time.monotonic()
        self.timeline: list[tuple[float, str]] = []  # (seconds since start, kind)
        self.counts: Counter[str] = Counter()
        self.link_cuts = 0  # faults that end links with submits maybe in flight
        # the one that cuts the link (bad_length) second, so a 30-minute run sees it
        first = ("bad_tlv", "bad_length")
        self._malformed = itertools.cycle(
            first + tuple(k for k in MALFORMED_KINDS if k not in first)
        )

    async def run(self, every_s: float) -> None:
        for kind in itertools.cycle(self.kinds):
            await asyncio.sleep(every_s)
            self.inject(kind)

    def inject(self, kind: str) -> None:
        smsc = self.simulator
        if kind == "drop_links":
            smsc.drop_links()
        elif kind == "hang":
            smsc.hang(True, seconds=self.hang_s)  # longer than the gateway's response timeout
        elif kind == "throttled":
            self._burst(Status.ESME_RTHROTTLED)
        elif kind == "system_error":
            self._burst(ESME_RSYSERR)
        elif kind == "malformed":
            malformed = next(self._malformed)
            smsc.send_malformed(malformed)
            kind = f"malformed {malformed}"
        else:
            smsc.unbind_all()
        self.counts[kind] += 1
        self.timeline.append((round(time.monotonic() - self.started, 1), kind))
        if kind in ("drop_links", "hang", "unbind", "malformed bad_length"):
            self.link_cuts += 1

    def _burst(self, status: int) -> None:
        """Every submit gets ``status`` for burst_s seconds: an SMSC refusing for a while (a
        count of refusals instead would be spent by the binds' probes, one per pause, and
        stretch over their doubling pauses)."""
        if self._burst_end is not None:
            self._burst_end.cancel()
        self.simulator.reply_next(status, 1_000_000)
        self._burst_end = asyncio.get_running_loop().call_later(self.burst_s, self._calm)

    def _calm(self) -> None:
        self.simulator.reply_next(0, 1)  # a status of 0 is an ordinary acceptance

    def stop(self) -> None:
        if self._burst_end is not None:
            self._burst_end.cancel()
        self.simulator.hang(False)
        self._calm()


# ---------------------------------------------------------------- what the SMSC received


class SmscLedger:
    """Reads the simulator's submit log as it grows: replies to citizens, broadcast messages,
    refusals by status, and the most submits each bind sent in any one second."""

    def __init__(self, simulator: Simulator, citizens: Citizens, broadcasts: Broadcasts) -> None:
        self.simulator = simulator
        self.citizens = citizens
        self.broadcasts = broadcasts
        self.accepted = 0
        self.refused: Counter[str] = Counter()
        self.other = 0  # accepted, to no one we know
        self.most: dict[str, int] = defaultdict(int)
        self.most_at: dict[str, float] = {}  # seconds since start of the busiest second's end
        self.started = time.monotonic()
        self._last_second: dict[str, deque[float]] = defaultdict(deque)
        self._seen = 0

    async def run(self) -> None:
        while True:
            self.read()
            await asyncio.sleep(0.5)

    def read(self) -> None:
        for submit in self._new():
            if submit.status != 0:
                self.refused[_status_name(submit.status)] += 1
                continue
            self.accepted += 1
            self._count_rate(submit)
            number = "+" + submit.destination_addr
            if number in self.citizens.known:
                self.citizens.replied(number, submit.at)
            elif not self.broadcasts.on_submit(submit, number):
                self.other += 1

    def _new(self) -> Sequence[Submit]:
        log = self.simulator.submits
        fresh = min(self.simulator.submit_total - self._seen, len(log))
        self._seen = self.simulator.submit_total
        return log[len(log) - fresh :] if fresh else ()

    def _count_rate(self, submit: Submit) -> None:
        window = self._last_second[submit.system_id]
        window.append(submit.at)
        while submit.at - window[0] >= 1.0:
            window.popleft()
        if len(window) > self.most[submit.system_id]:
            self.most[submit.system_id] = len(window)
            self.most_at[submit.system_id] = round(submit.at - self.started, 1)


def _status_name(status: int) -> str:
    try:
        return Status(status).name
    except ValueError:
        return f"0x{status:08X}"
