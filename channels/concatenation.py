"""Concatenated SMS (TS 23.040 §9.2.3.24): references for outbound parts, UDH parsing and
reassembly of inbound parts."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_SEGMENTS = 255  # the total count is one octet


@dataclass(frozen=True, slots=True)
class Concat:
    """Concatenation info of one part (from the UDH or the sar_* TLVs)."""

    reference: int
    total: int
    seq: int

    def __post_init__(self) -> None:
        if not (0 <= self.reference <= 0xFFFF and 1 <= self.seq <= self.total <= MAX_SEGMENTS):
            raise ValueError(f"invalid concatenation {self}")


def parse_udh(short_message: bytes) -> tuple[Concat | None, bytes]:
    """Splits a short_message sent with UDHI (esm_class 0x40) into concatenation info and text.

    Raises ValueError when the header overruns the message or an element overruns the header.
    """
    if not short_message or short_message[0] + 1 > len(short_message):
        raise ValueError("user data header longer than the message")
    end = short_message[0] + 1
    concat: Concat | None = None
    i = 1
    while i < end:
        if i + 2 > end or i + 2 + short_message[i + 1] > end:
            raise ValueError(f"information element at octet {i} overruns the header")
        iei, body = short_message[i], short_message[i + 2 : i + 2 + short_message[i + 1]]
        if (iei, len(body)) in ((0x00, 3), (0x08, 4)):
            # TS 23.040 §9.2.3.24: a repeated element counts once, the last one wins.
            concat = _concat(body)
        i += 2 + len(body)
    return concat, short_message[end:]


def _concat(body: bytes) -> Concat | None:
    reference = int.from_bytes(body[:-2], "big")  # 8-bit (IEI 0x00) or 16-bit (IEI 0x08)
    total, seq = body[-2], body[-1]
    # TS 23.040 §9.2.3.24.1: a zero total, or a seq of zero or beyond the total, voids the IE.
    if total == 0 or not 1 <= seq <= total:
        return None
    return Concat(reference, total, seq)


@dataclass(slots=True)
class _Pending:
    since: float
    total: int
    parts: dict[int, str] = field(default_factory=dict)

    def joined(self) -> str:
        return "".join(self.parts[seq] for seq in sorted(self.parts))


class Reassembler:
    """Collects parts of multi-part MOs; bounded memory; gives up on a message after max_age_s.

    Nothing is silently lost: expired messages, and the oldest ones pushed out when more than
    max_pending are open, come back from expire() as partial texts. Call it every few seconds.
    """

    def __init__(
        self,
        max_age_s: float = 300.0,
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age_s = max_age_s
        self._max_pending = max_pending
        self._clock = clock
        self._pending: OrderedDict[tuple[str, int, int], _Pending] = OrderedDict()
        self._evicted: list[tuple[str, str]] = []

    def add(self, sender: str, concat: Concat, text: str) -> str | None:
        """Returns the whole text when its last missing part arrives, else None."""
        if concat.total == 1:
            return text
        key = (sender, concat.reference, concat.total)
        pending = self._pending.get(key)
        if pending is None:
            if len(self._pending) >= self._max_pending:
                (old_sender, _, _), old = self._pending.popitem(last=False)
                self._evicted.append((old_sender, old.joined()))
            pending = self._pending[key] = _Pending(self._clock(), concat.total)
        pending.parts.setdefault(concat.seq, text)  # a duplicate part keeps the first copy
        if len(pending.parts) < pending.total:
            return None
        del self._pending[key]
        return pending.joined()

    def expire(self) -> list[tuple[str, str]]:
        """Drops messages older than max_age_s; returns (sender, partial text), oldest first."""
        partial, self._evicted = self._evicted, []
        cutoff = self._clock() - self._max_age_s
        while self._pending:
            key, pending = next(iter(self._pending.items()))
            if pending.since > cutoff:
                break  # insertion order is age order
            del self._pending[key]
            partial.append((key[0], pending.joined()))
        return partial


class ReferenceCounter:
    """Gives each destination its own incrementing 8-bit concatenation reference.

    Two long messages to one handset then share a reference only 256 messages apart. Each
    destination starts at a random value so a restart does not replay references; memory is an
    LRU of max_destinations.
    """

    def __init__(
        self,
        max_destinations: int = 100_000,
        randbelow: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        self._max_destinations = max_destinations
        self._randbelow = randbelow
        self._last: OrderedDict[str, int] = OrderedDict()

    def next(self, destination: str) -> int:
        last = self._last.pop(destination, None)
        reference = self._randbelow(256) if last is None else (last + 1) & 0xFF
        self._last[destination] = reference
        if len(self._last) > self._max_destinations:
            self._last.popitem(last=False)
        return reference
