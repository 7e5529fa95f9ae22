from __future__ import annotations

import asyncio
import inspect
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from smsgw.delivery.message import DeliveryBatch
from smsgw.errors import StorageUnavailable
from smsgw.storage.sqlite import SqliteStore
from smsgw.storage.sqlite.thread import SqliteThread, StoreLock, in_transaction, run_in_db
from subscriptions.models import Service, Source
from tests.smsgw.testbed import new_message

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SMS = Source.SMS
WAIT = 5


@pytest.fixture
async def conn(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    async with aiosqlite.connect(tmp_path / "thread.db", isolation_level=None) as conn:
        await conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        yield conn


def numbers(db: sqlite3.Connection) -> list[int]:
    return [n for (n,) in db.execute("SELECT n FROM t ORDER BY n")]


def test_aiosqlite_still_has_the_private_api_run_in_db_relies_on() -> None:
    # If this fails, an aiosqlite release changed Connection._execute or Connection._conn:
    # fix smsgw/storage/sqlite/thread.py (and its pin in pyproject.toml) before upgrading.
    execute = getattr(aiosqlite.Connection, "_execute", None)
    assert inspect.iscoroutinefunction(execute), "aiosqlite.Connection._execute is gone"
    assert list(inspect.signature(execute).parameters) == ["self", "fn", "args", "kwargs"], (
        "aiosqlite.Connection._execute(fn, *args, **kwargs) changed"
    )
    conn_property = inspect.getattr_static(aiosqlite.Connection, "_conn", None)
    assert isinstance(conn_property, property), "aiosqlite.Connection._conn is gone"


async def test_the_function_runs_in_aiosqlites_thread_on_its_sqlite3_connection(
    conn: aiosqlite.Connection,
) -> None:
    def probe(db: sqlite3.Connection) -> tuple[bool, int]:
        db.execute("INSERT INTO t (n) VALUES (1)")
        return isinstance(db, sqlite3.Connection), threading.get_ident()

    is_sqlite3, thread = await run_in_db(conn, probe)
    assert is_sqlite3
    assert thread != threading.get_ident()
    assert await run_in_db(conn, numbers) == [1]


async def test_an_error_in_the_function_reaches_the_caller(conn: aiosqlite.Connection) -> None:
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await run_in_db(conn, lambda db: db.execute("SELECT * FROM nowhere"))


async def test_a_full_disk_is_storage_unavailable_and_a_wrong_statement_is_not(
    conn: aiosqlite.Connection,
) -> None:
    def full(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE big (x TEXT)")
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count = {pages}")
        db.execute("INSERT INTO big VALUES (?)", ("x" * 100_000,))

    with pytest.raises(StorageUnavailable, match="full"):
        await run_in_db(conn, full)
    with pytest.raises(sqlite3.OperationalError, match="syntax"):
        await run_in_db(conn, lambda db: db.execute("SELEC 1"))


async def test_a_transaction_commits_when_the_function_returns(
    conn: aiosqlite.Connection,
) -> None:
    def insert(db: sqlite3.Connection) -> str:
        db.execute("INSERT INTO t (n) VALUES (1), (2)")
        return "done"

    assert await run_in_db(conn, partial(in_transaction, insert)) == "done"
    assert not conn.in_transaction
    assert await run_in_db(conn, numbers) == [1, 2]


async def test_a_transaction_rolls_back_when_the_function_raises(
    conn: aiosqlite.Connection,
) -> None:
    def insert_twice(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO t (n) VALUES (1)")
        db.execute("INSERT INTO t (n) VALUES (1)")

    with pytest.raises(sqlite3.IntegrityError):
        await run_in_db(conn, partial(in_transaction, insert_twice))
    assert not conn.in_transaction
    assert await run_in_db(conn, numbers) == []


async def test_a_write_cancelled_while_it_runs_still_commits_whole_before_the_next(
    conn: aiosqlite.Connection,
) -> None:
    thread = SqliteThread(conn, StoreLock())
    started = asyncio.Event()
    go_on = threading.Event()
    loop = asyncio.get_running_loop()

    def slow(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO t (n) VALUES (1)")
        loop.call_soon_threadsafe(started.set)
        go_on.wait(WAIT)
        db.execute("INSERT INTO t (n) VALUES (2)")

    task = asyncio.create_task(thread.write(slow))
    async with asyncio.timeout(WAIT):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # the lock is free again; the next write queues behind the one still running
    after = asyncio.create_task(thread.write(lambda db: db.execute("INSERT INTO t VALUES (3)")))
    go_on.set()
    async with asyncio.timeout(WAIT):
        await after
    assert await thread.read(numbers) == [1, 2, 3]
    assert not conn.in_transaction


# ---------------------------------------------------------------- one trip per operation

HEALTH = Service(keyword="HEALTH", ministry="health", names={"en": "Health"}, aliases=("SALUD",))
A, B = "+5016000001", "+5016000002"

OPERATIONS: dict[str, Callable[[SqliteStore], Awaitable[object]]] = {
    "services": lambda s: s.catalogue.services(),
    "service": lambda s: s.catalogue.service("HEALTH"),
    "add_service": lambda s: s.catalogue.add_service(
        Service(keyword="JOBS", ministry="labour", names={})
    ),
    "replace_service": lambda s: s.catalogue.replace_service(HEALTH),
    "subscriber": lambda s: s.subscriptions.subscriber(A),
    "subscriptions": lambda s: s.subscriptions.subscriptions(A),
    "join": lambda s: s.subscriptions.join(
        B, "HEALTH", at=T0, source=SMS, consent="mo-2", language="es"
    ),
    "join-again": lambda s: s.subscriptions.join(A, "HEALTH", at=T0, source=SMS, consent="mo-2"),
    "leave": lambda s: s.subscriptions.leave(A, "HEALTH", at=T0, source=SMS, consent="mo-2"),
    "stop_all": lambda s: s.subscriptions.stop_all(A, at=T0, source=SMS, consent="mo-2"),
    "unstop": lambda s: s.subscriptions.unstop(A, at=T0, source=SMS, consent="mo-2"),
    "set_language": lambda s: s.subscriptions.set_language(
        A, "es", at=T0, source=SMS, consent="mo-2"
    ),
    "join_many": lambda s: s.subscriptions.join_many(
        [(A, None), (B, "es")], "HEALTH", at=T0, source=Source.IMPORT, consent="list.csv"
    ),
    "history": lambda s: s.subscriptions.history(A),
    "audience_size": lambda s: s.subscriptions.audience_size("HEALTH"),
}


def count_trips(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """From now on, every call queued for aiosqlite's thread (a spy: each still runs)."""
    trips: list[object] = []
    execute: Callable[..., Awaitable[Any]] = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: Any, **kwargs: Any) -> Any:
        trips.append(fn)
        return await execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return trips


@pytest.mark.parametrize("operation", list(OPERATIONS.values()), ids=list(OPERATIONS))
async def test_each_subscription_operation_is_one_trip_to_the_sqlite_thread(
    store: SqliteStore,
    operation: Callable[[SqliteStore], Awaitable[object]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await store.catalogue.add_service(HEALTH)
    await store.subscriptions.join(A, "HEALTH", at=T0, source=SMS, consent="mo-1")
    trips = count_trips(monkeypatch)
    await operation(store)
    assert len(trips) == 1, trips


async def test_an_audience_is_one_trip_per_batch(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.catalogue.add_service(HEALTH)
    for n in range(5):
        await store.subscriptions.join(f"+501600000{n}", "HEALTH", at=T0, source=SMS, consent="mo")
    trips = count_trips(monkeypatch)
    batches = [len(batch) async for batch in store.subscriptions.audience("HEALTH", batch=2)]
    assert batches == [2, 2, 1]
    assert len(trips) == 3


async def test_a_heavy_read_holds_up_neither_the_writer_nor_other_reads(tmp_path: Path) -> None:
    """A KPI read of a second or more runs on a read-only connection of its own: a message is
    stored and read back meanwhile, and the heavy read then sees what was committed."""
    store = await SqliteStore.open(tmp_path / "s.db")
    inside, release = threading.Event(), threading.Event()

    def slow_count(db: sqlite3.Connection) -> int:
        inside.set()
        release.wait(WAIT)  # as a 0.8 s KPI read at a million subscribers, made as long as needed
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])

    try:
        heavy = asyncio.create_task(store._thread.scan(slow_count))
        assert await asyncio.to_thread(inside.wait, WAIT)
        async with asyncio.timeout(WAIT):
            message = new_message()
            await store.delivery.record(DeliveryBatch(messages=[message]))  # written meanwhile
            assert await store.messages.get_message(message.id) is not None
        assert not heavy.done()
        release.set()
        assert await heavy == 1  # its snapshot begins with its first statement
        with pytest.raises(StorageUnavailable, match="readonly"):
            await store._thread.scan(lambda db: db.execute("DELETE FROM messages"))
    finally:
        release.set()
        await store.close()
