"""A drill's figures from the submits it saw (the SMSCs' arrival times, or live the gateway's
message history): time to the first and the last submit, each carrier's rate against its
contracted TPS, the most any bind had in one second as an SMSC counts it, submits per second,
delivery; and how long the whole subscriber base would take at the contracted rates."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.simulator.records import most_within
from smsgw.drill.plan import Bind, contracted


@dataclass(frozen=True, slots=True)
class Submit:
    after_s: float  # seconds after the alert was posted
    bind: str
    accepted: bool  # False: the SMSC refused it (over its cap); the gateway sends it again


@dataclass(frozen=True, slots=True)
class Run:
    """What one drill did and saw."""

    mode: str  # "simulator" or "live"
    started_at: datetime  # when the alert was posted
    binds: tuple[Bind, ...]
    audience: Mapping[str, int]  # carrier -> numbers
    segments: int  # SMS per message
    expected: int  # submits the drill needs (simulator: SMS; live: messages, as recorded)
    answered_s: float  # the POST answered after
    submits: tuple[Submit, ...]
    outcomes: Mapping[str, int]  # delivered, failed, expired, unknown, cancelled, pending
    alert: Mapping[str, Any]  # the API's answer to the POST
    finished: bool  # every message in a final state before the wait ended
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BindFigures:
    name: str
    carrier: str
    cap: int  # 0: none
    submits: int  # accepted
    throttled: int  # refused over the cap
    most_in_1s: int  # reaching the SMSC (refused ones too) in any one second of arrival times


@dataclass(frozen=True, slots=True)
class CarrierFigures:
    carrier: str
    binds: int
    contracted: int | None  # TPS over its binds; None: uncapped
    audience: int
    submits: int
    first_s: float | None
    last_s: float | None
    rate: float | None  # accepted per second from its first to its last submit

    @property
    def of_contracted(self) -> float | None:
        if self.rate is None or not self.contracted:
            return None
        return self.rate / self.contracted


@dataclass(frozen=True, slots=True)
class Figures:
    expected: int  # submits the audience needs
    accepted: int
    throttled: int
    first_submit_s: float | None
    all_submitted_s: float | None  # None: not all were
    carriers: tuple[CarrierFigures, ...]
    binds: tuple[BindFigures, ...]
    per_second: Mapping[str, list[int]]  # carrier -> accepted submits in second k after the POST
    delivered: int
    delivery_rate: float | None  # delivered / the messages that reached a final state

    @property
    def over_cap(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.binds if b.cap and b.most_in_1s > b.cap)


def figures(run: Run) -> Figures:
    carrier_of = {bind.name: bind.carrier for bind in run.binds}
    accepted = sorted((s for s in run.submits if s.accepted), key=lambda s: s.after_s)
    expected = run.expected
    binds = tuple(_bind(run, bind, accepted) for bind in run.binds)
    carriers = tuple(_carrier(run, carrier, accepted, carrier_of) for carrier in run.audience)
    seconds = math.ceil(accepted[-1].after_s) if accepted else 0
    per_second = {carrier: [0] * max(seconds, 1) for carrier in run.audience}
    for s in accepted:
        row = per_second.get(carrier_of.get(s.bind, ""))
        if row is not None:
            row[min(int(s.after_s), len(row) - 1)] += 1
    final = sum(n for state, n in run.outcomes.items() if state != "pending")
    delivered = run.outcomes.get("delivered", 0)
    return Figures(
        expected=expected, accepted=len(accepted),
        throttled=sum(1 for s in run.submits if not s.accepted),
        first_submit_s=accepted[0].after_s if accepted else None,
        all_submitted_s=accepted[-1].after_s if accepted and len(accepted) >= expected else None,
        carriers=carriers, binds=binds, per_second=per_second, delivered=delivered,
        delivery_rate=delivered / final if final else None,
    )  # fmt: skip


def _bind(run: Run, bind: Bind, accepted: Sequence[Submit]) -> BindFigures:
    mine = sum(1 for s in accepted if s.bind == bind.name)
    # as the SMSC counts the bind's rate: whatever reached it, what it refused too
    offered = sorted(s.after_s for s in run.submits if s.bind == bind.name)
    return BindFigures(bind.name, bind.carrier, bind.tps, mine, len(offered) - mine,
                       most_within(offered, 1.0))  # fmt: skip


def _carrier(
    run: Run, carrier: str, accepted: Sequence[Submit], carrier_of: Mapping[str, str]
) -> CarrierFigures:
    times = [s.after_s for s in accepted if carrier_of.get(s.bind) == carrier]
    span = times[-1] - times[0] if times else 0.0
    return CarrierFigures(
        carrier, binds=sum(1 for b in run.binds if b.carrier == carrier),
        contracted=contracted(run.binds, carrier), audience=run.audience.get(carrier, 0),
        submits=len(times), first_s=times[0] if times else None,
        last_s=times[-1] if times else None,
        rate=(len(times) - 1) / span if len(times) > 1 and span > 0 else None,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class BaseEstimate:
    """How long a warning to the whole subscriber base would take, carrier by carrier (they
    send side by side, so the whole takes as long as the slowest)."""

    source: str  # where the count came from
    subscribers: Mapping[str, int]  # carrier -> numbers
    unrouted: int  # numbers no carrier's prefix serves
    segments: int
    contracted: Mapping[str, int | None]  # carrier -> TPS (None: uncapped)
    measured: Mapping[str, float] = field(default_factory=dict)  # carrier -> the drill's rate

    def seconds(self, carrier: str, *, at_measured: bool = False) -> float | None:
        rate = self.measured.get(carrier) if at_measured else self.contracted.get(carrier)
        count = self.subscribers.get(carrier, 0)
        if not count:
            return 0.0
        return count * self.segments / rate if rate else None

    def total(self, *, at_measured: bool = False) -> float | None:
        times = [self.seconds(c, at_measured=at_measured) for c in self.subscribers]
        known = [t for t in times if t is not None]
        return max(known) if known and len(known) == len(times) else None

    @property
    def size(self) -> int:
        return sum(self.subscribers.values()) + self.unrouted
