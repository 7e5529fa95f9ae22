"""The PostgreSQL backend (asyncpg): several gateways on one database."""

from smsgw.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
