"""What the KPIs need from storage: each figure counted in one read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from smsgw.kpis.figures import ConsentFlow, DeliveryTotals, Period, ServiceCount, SubscriberCounts


class KpiStore(Protocol):
    """The figures of GET /api/v1/kpis, each counted in one read."""

    async def service_counts(self) -> list[ServiceCount]:
        """Every service, by ministry then keyword, with its subscribers now."""

    async def subscriber_counts(self) -> SubscriberCounts: ...

    async def consent_flow(self, periods: Sequence[Period]) -> list[ConsentFlow]:
        """Subscriptions begun and ended, and global STOPs, in each period."""

    async def broadcasts_sent(self, periods: Sequence[Period]) -> list[dict[str, int]]:
        """Broadcasts sending or done, created in each period, per ministry."""

    async def delivery_totals(self, period: Period) -> DeliveryTotals:
        """The outbox of the broadcasts created in ``period``."""
