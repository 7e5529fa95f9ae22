"""Storage: Protocols the use cases depend on, and one backend per folder (sqlite/ for now)."""

from __future__ import annotations

from smsgw.config import DatabaseConfig
from smsgw.storage.protocols import DeliveryLog, MessageStore, Store, TokenStore
from smsgw.storage.sqlite import SqliteStore

__all__ = ["DeliveryLog", "MessageStore", "Store", "TokenStore", "open_store"]


async def open_store(config: DatabaseConfig) -> Store:
    """Open the configured backend (the config only accepts sqlite:/// URLs for now)."""
    return await SqliteStore.open(config.sqlite_path)
