"""One trip to aiosqlite's thread per store operation: a whole operation, written as a plain
function over the sqlite3 connection, runs there in one queued call.

Why: every awaited aiosqlite call is a round trip through its queue to its thread and back
(~100–280 µs each, measured on the gateway's host), so an operation of five statements
(BEGIN, a select, two inserts, COMMIT) cost ~1 ms and held the store's lock for all of it,
capping citizens' texts near 1,000/s. As one function it is one trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

import aiosqlite

from smsgw.errors import StorageUnavailable

T = TypeVar("T")

# SQLite's primary result codes for a database that cannot be written now but may be later:
# BUSY, LOCKED (another writer), READONLY, IOERR, FULL, CANTOPEN. Not: a wrong statement.
_PASSING = frozenset({5, 6, 8, 10, 13, 14})


async def run_in_db(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """``fn(the sqlite3 connection)``, run in the connection's own thread in one call.

    aiosqlite has no public way to do this, so this is the one place that uses its private
    API: ``Connection._execute(fn, *args)`` queues a call for its thread and awaits the
    result; ``Connection._conn`` is the sqlite3 connection (a property that raises once
    closed). Both exist unchanged in aiosqlite 0.20–0.22, the range pyproject.toml pins;
    tests/smsgw/storage/test_thread.py fails if a release drops them.

    The queue is FIFO and served by one thread, so ``fn`` runs whole before anything queued
    after it, even when the awaiting task is cancelled (the call is not withdrawn then: its
    own COMMIT or ROLLBACK still runs, before the next caller's statements).
    """
    try:
        # aiosqlite leaves _execute unannotated
        result: T = await conn._execute(fn, conn._conn)  # type: ignore[no-untyped-call]
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF in _PASSING:
            raise StorageUnavailable(str(exc)) from exc
        raise
    return result


def in_transaction(fn: Callable[[sqlite3.Connection], T], db: sqlite3.Connection) -> T:
    """``fn(db)`` inside BEGIN IMMEDIATE … COMMIT, rolled back if it raises (the connection
    runs with ``isolation_level=None``: transactions are ours to open and close)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        result = fn(db)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # still open after a failed statement or a failed COMMIT
            db.execute("ROLLBACK")
        raise
    return result


class Locked(Protocol):
    """The store's lock on the shared connection (StoreLock)."""

    def held(self) -> AbstractAsyncContextManager[None]: ...


class StoreLock:
    """Serialises the operations on the shared connection: one operation's statements are never
    interleaved with another coroutine's (which would otherwise land inside its transaction)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        async with self._lock:
            yield


class ReadPool:
    """Read-only connections of their own (each with its own thread) for the heavy reads: the
    KPIs, a broadcast's figures, an audience count. With WAL they read a committed snapshot
    while the writer goes on, so 0.8 s of KPIs at a million subscribers neither waits for the
    writer nor holds up an emergency's submits or the API's writes behind it."""

    def __init__(self, conns: list[aiosqlite.Connection]) -> None:
        self._conns = conns
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in conns:
            self._idle.put_nowait(conn)

    @classmethod
    async def open(cls, path: str, size: int, pragmas: tuple[str, ...]) -> ReadPool:
        conns: list[aiosqlite.Connection] = []
        try:
            for _ in range(size):
                conn = await aiosqlite.connect(path, isolation_level=None)
                conns.append(conn)
                for pragma in (*pragmas, "PRAGMA query_only = ON"):
                    await conn.execute(pragma)
        except BaseException:
            for conn in conns:
                await conn.close()
            raise
        return cls(conns)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = await self._idle.get()
        try:
            return await run_in_db(conn, fn)
        finally:
            self._idle.put_nowait(conn)

    async def close(self) -> None:
        for conn in self._conns:
            await conn.close()


class SqliteThread:
    """Store operations on the shared connection: each one trip to its thread, under the
    store's lock (other writers' transactions span several trips on the same connection, and
    an operation queued between their BEGIN and COMMIT would land inside them). Heavy reads go
    to the ReadPool when there is one."""

    def __init__(
        self,
        conn: aiosqlite.Connection,
        lock: Locked,
        readers: ReadPool | None = None,
        reports: ReadPool | None = None,
    ) -> None:
        self._conn = conn
        self._lock = lock
        self._readers = readers
        self._reports = reports or readers

    async def scan(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A heavy read (``fn`` only reads) on the way of a send (an audience, a broadcast's
        figures): on a read-only connection of its own."""
        if self._readers is None:
            return await self.read(fn)
        return await self._readers.read(fn)

    async def report(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A read for people to look at (the KPIs, lists): on read-only connections apart
        from the scans, so that many reports at once delay no emergency's audience."""
        if self._reports is None:
            return await self.read(fn)
        return await self._reports.read(fn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` as it is: reads outside any transaction (never inside another's)."""
        return await self.run(fn)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` as it is, under the lock (it opens its own transaction if it writes)."""
        async with self._lock.held():
            return await run_in_db(self._conn, fn)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` in its own transaction: committed when it returns, rolled back if it
        raises."""
        async with self._lock.held():
            return await run_in_db(self._conn, lambda db: in_transaction(fn, db))
