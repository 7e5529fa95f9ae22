"""The SQLite backend (aiosqlite): the store for one process, WAL, batched writes."""

from smsgw.storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
