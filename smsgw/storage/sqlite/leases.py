"""Bind leases on SQLite: one gateway per database (serving.py), which holds every bind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from smsgw.cluster.leases import Lease


class LocalLeases:
    def __init__(self) -> None:
        self._held: dict[str, str] = {}  # channel -> instance

    async def check_in(self, instance: str, valid_s: float) -> int:
        return 1

    async def check_out(self, instance: str) -> None:
        pass

    async def gateways(self) -> list[str]:
        return sorted(set(self._held.values()))

    async def hold(
        self, instance: str, channels: Sequence[str], valid_s: float, *, most: int | None = None
    ) -> dict[str, int]:
        self._held.update(dict.fromkeys(channels, instance))
        return dict.fromkeys(channels, 1)

    async def let_go(self, instance: str, channels: Sequence[str]) -> None:
        for channel in channels:
            self._held.pop(channel, None)

    async def leases(self) -> list[Lease]:
        never = datetime.max.replace(tzinfo=UTC)
        return [Lease(channel, holder, 1, never) for channel, holder in sorted(self._held.items())]
