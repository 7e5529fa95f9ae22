"""The connections of the PostgreSQL backend, and the one place that says which errors mean
"the database cannot be written now" (StorageUnavailable: kept and retried, as SQLite's full
disk) and which are bugs.

An operation is a plain async function over one connection, as the SQLite backend's are over
its one: :meth:`Database.write` runs it in a transaction, :meth:`Database.read` without one.
Reports (the KPIs, lists) have a small pool of their own, so that many at once never take the
connections the sends and the recorder need.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from smsgw.errors import StorageUnavailable

T = TypeVar("T")
# a connection of a pool (what the repositories get), or one of its own (leases, LISTEN)
Conn: TypeAlias = "PoolConnectionProxy[asyncpg.Record] | asyncpg.Connection[asyncpg.Record]"
Operation = Callable[[Conn], Awaitable[T]]

# SQLSTATE classes of a database that cannot serve now but may later: 08 connection
# exception, 53 insufficient resources (disk full, out of memory, too many connections),
# 57 operator intervention (shutdown, restart), 58 system error (I/O), 40 a serialization
# failure or a deadlock (the transaction may simply be run again), 28 a login refused (on a
# reconnection: pg_hba or the role changed, as a partition may look). Not: a wrong statement.
_PASSING = ("08", "53", "57", "58", "40", "28")


def is_passing(exc: BaseException) -> bool:
    """True for an error of the database's state (down, restarting, full), not of our SQL."""
    if isinstance(exc, asyncpg.PostgresError):
        return str(getattr(exc, "sqlstate", "") or "")[:2] in _PASSING
    # InternalClientError: a pooled connection whose server end was cut mid-operation (it is
    # dropped from the pool; the next try gets a new one)
    return isinstance(
        exc, (OSError, asyncpg.InterfaceError, asyncpg.InternalClientError, TimeoutError)
    )


async def _setup(conn: Conn) -> None:
    await conn.execute("SET TIME ZONE 'UTC'")


class Database:
    """The pools of one PostgreSQL database."""

    def __init__(
        self,
        pool: asyncpg.Pool[asyncpg.Record],
        reports: asyncpg.Pool[asyncpg.Record],
        dsn: str,
    ) -> None:
        self.pool = pool
        self._reports = reports
        self.dsn = dsn  # for the connections of their own (leases, LISTEN)

    @classmethod
    async def open(cls, dsn: str, *, size: int = 10, reports: int = 2) -> Database:
        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=size, init=_setup)
        except Exception as exc:
            if is_passing(exc):
                raise StorageUnavailable(f"PostgreSQL at {_where(dsn)}: {exc}") from exc
            raise
        try:
            report_pool = await asyncpg.create_pool(dsn, min_size=0, max_size=reports, init=_setup)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, report_pool, dsn)

    async def write(self, fn: Operation[T]) -> T:
        """``fn`` in a transaction: committed when it returns, rolled back if it raises."""
        with storage_errors():
            async with self.pool.acquire() as conn, conn.transaction():
                return await fn(conn)

    async def read(self, fn: Operation[T]) -> T:
        """``fn`` on a connection of the main pool, outside any transaction of ours."""
        with storage_errors():
            async with self.pool.acquire() as conn:
                return await fn(conn)

    scan = read  # a heavy read on the way of a send: MVCC, so it blocks no writer

    async def report(self, fn: Operation[T]) -> T:
        """A read for people to look at, on the reports' own connections."""
        with storage_errors():
            async with self._reports.acquire() as conn:
                return await fn(conn)

    async def close(self) -> None:
        await self._reports.close()
        await self.pool.close()


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    try:
        yield
    except StorageUnavailable:
        raise
    except Exception as exc:
        if is_passing(exc):
            raise StorageUnavailable(str(exc) or type(exc).__name__) from exc
        raise


def _where(dsn: str) -> str:
    """host:port/db of a DSN, without user or password (for errors and logs)."""
    rest = dsn.split("://", 1)[-1]
    return rest.rsplit("@", 1)[-1]
