"""Destination number → channel: longest prefix picks the carrier, then a bind of it that is up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from channels.base import NotSent, PermanentSendError


class Routable(Protocol):
    """What routing reads of a channel."""

    @property
    def name(self) -> str: ...
    @property
    def carrier(self) -> str: ...
    @property
    def prefixes(self) -> tuple[str, ...]: ...
    @property
    def can_send(self) -> bool: ...
    @property
    def backlog(self) -> int: ...


C = TypeVar("C", bound=Routable)


class Router(Generic[C]):
    """Routes E.164 numbers. A channel with no prefixes is the default route for its carrier,
    used only when no prefix matches."""

    def __init__(self, channels: Sequence[C]) -> None:
        self.channels = tuple(channels)
        by_prefix: dict[str, str] = {}
        for channel in self.channels:
            for prefix in channel.prefixes:
                owner = by_prefix.setdefault(prefix, channel.carrier)
                if owner != channel.carrier:
                    raise ValueError(f"prefix {prefix} is claimed by {owner} and {channel.carrier}")
        self._carrier_of_prefix = by_prefix
        self._lengths = sorted({len(p) for p in by_prefix}, reverse=True)
        defaults = [c.carrier for c in self.channels if not c.prefixes]
        self._default_carrier = defaults[0] if defaults else None
        self._binds: dict[str, tuple[C, ...]] = {}
        for channel in self.channels:
            self._binds[channel.carrier] = (*self._binds.get(channel.carrier, ()), channel)
        self._turn: dict[str, int] = dict.fromkeys(self._binds, 0)

    def carrier_for(self, number: str) -> str:
        for length in self._lengths:
            carrier = self._carrier_of_prefix.get(number[:length])
            if carrier is not None:
                return carrier
        if self._default_carrier is None:
            raise PermanentSendError("no_route", "no channel serves this number")
        return self._default_carrier

    @property
    def carriers(self) -> tuple[str, ...]:
        return tuple(self._binds)

    def binds(self, carrier: str) -> tuple[C, ...]:
        """The carrier's channels, in configuration order."""
        return self._binds[carrier]

    def try_carrier(self, number: str) -> str | None:
        """The number's carrier, None when no channel serves it."""
        try:
            return self.carrier_for(number)
        except PermanentSendError:
            return None

    def route(self, number: str) -> C:
        """The least-loaded bind of the number's carrier that can send now; ties take turns."""
        carrier = self.carrier_for(number)
        binds = self._binds[carrier]
        turn = self._turn[carrier]
        self._turn[carrier] = turn + 1
        best: C | None = None
        for i in range(len(binds)):
            channel = binds[(turn + i) % len(binds)]
            if channel.can_send and (best is None or channel.backlog < best.backlog):
                best = channel
        if best is None:
            raise NotSent("no_channel_up", f"every bind of {carrier} is down")
        return best
