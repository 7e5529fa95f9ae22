"""Storage: one backend per folder (sqlite/, postgres/), each handing out one repository per
aggregate. The Protocols they implement belong to the features that use them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Protocol

import asyncpg

from smsgw.access.idempotency import IdempotencyStore
from smsgw.access.quota import SharedQuota
from smsgw.access.store import AuditLog, PeopleStore, TokenStore
from smsgw.alerts.store import AlertStore
from smsgw.broadcasts.poll import PollStore
from smsgw.broadcasts.store import BroadcastOutbox, BroadcastStore
from smsgw.cluster.leases import LeaseStore
from smsgw.config import DatabaseConfig
from smsgw.delivery.callbacks import CallbackQueue
from smsgw.delivery.outbox import OutboxStore
from smsgw.delivery.retention import RetentionStore
from smsgw.delivery.store import DeliveryLog, MessageStore
from smsgw.inbound.queue import InboundQueue
from smsgw.inbox.store import InboxStore
from smsgw.kpis.store import KpiStore
from smsgw.storage.postgres import PostgresStore
from smsgw.storage.postgres import migrations as postgres_migrations
from smsgw.storage.postgres.listen import Topic, Watcher
from smsgw.storage.sqlite import SqliteStore
from smsgw.storage.sqlite import migrations as sqlite_migrations
from subscriptions.store import CatalogueStore, SubscriptionStore

__all__ = ["Outbox", "Store", "open_store", "schema_status"]


class Outbox(BroadcastOutbox, OutboxStore, Protocol):
    """The outbox: filled by the broadcasts' fan-out, read by the dispatcher."""


class Store(Protocol):
    """A whole backend: its repositories by name."""

    @property
    def messages(self) -> MessageStore: ...
    @property
    def delivery(self) -> DeliveryLog: ...
    @property
    def inbound(self) -> InboundQueue: ...
    @property
    def tokens(self) -> TokenStore: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def people(self) -> PeopleStore: ...
    @property
    def catalogue(self) -> CatalogueStore: ...
    @property
    def subscriptions(self) -> SubscriptionStore: ...
    @property
    def broadcasts(self) -> BroadcastStore: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def kpis(self) -> KpiStore: ...
    @property
    def retention(self) -> RetentionStore: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def alerts(self) -> AlertStore: ...
    @property
    def inbox(self) -> InboxStore: ...
    @property
    def polls(self) -> PollStore: ...
    @property
    def callbacks(self) -> CallbackQueue: ...
    @property
    def leases(self) -> LeaseStore: ...
    @property
    def shared_quota(self) -> SharedQuota | None:
        """Where gateways sharing the database count the daily quota (None: one gateway)."""

    def watch(self, topic: Topic, watcher: Watcher) -> None:
        """News of ``topic`` from the other gateways on the database (none on SQLite)."""

    async def migrate(self) -> int:
        """Bring the schema up to date; returns the schema version."""

    async def close(self) -> None: ...


async def open_store(
    config: DatabaseConfig,
    *,
    serving: bool = False,
    instance: str | None = None,
    claim: timedelta | None = None,
) -> Store:
    """Open the configured backend, migrated; ``serving``: for a running gateway (one per
    SQLite database; on PostgreSQL, one per ``instance`` name); ``instance``: its name among
    those on the database; ``claim``: how long its claims on work last (PostgreSQL)."""
    if config.is_postgres:
        return await PostgresStore.open(
            config.url, serving=serving, where=config.where, instance=instance, claim=claim
        )
    return await SqliteStore.open(config.sqlite_path, serving=serving)


async def schema_status(config: DatabaseConfig) -> tuple[int, int]:
    """(the database's schema version, the latest this smsgw knows), without migrating:
    0 for a database not made yet."""
    if config.is_postgres:
        conn = await asyncpg.connect(config.url)
        try:
            return await postgres_migrations.version_of(conn), postgres_migrations.LATEST
        finally:
            await conn.close()
    path = config.sqlite_path
    if not path.exists():
        return 0, sqlite_migrations.LATEST
    return await asyncio.to_thread(sqlite_migrations.version_of, path), sqlite_migrations.LATEST
