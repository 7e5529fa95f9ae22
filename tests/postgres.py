"""The PostgreSQL the tests use: one database per test run, made and dropped here.

``make test`` finds a PostgreSQL on 127.0.0.1:5432 or starts one (tests/postgres.sh) and passes
its address in SMSGW_TEST_POSTGRES; run alone, pytest tries the same default address.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg

from smsgw.storage.postgres.db import Conn

ADMIN = os.environ.get("SMSGW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def dsn_of(database: str) -> str:
    base, _, _ = ADMIN.rpartition("/")
    return f"{base}/{database}"


async def _admin(statement: str) -> None:
    try:
        conn = await asyncpg.connect(ADMIN, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(
            f"no PostgreSQL for the tests at {ADMIN} ({exc}): run `make test`, which finds or"
            " starts one, or set SMSGW_TEST_POSTGRES"
        ) from exc
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _run(statement: str) -> None:
    # in a thread of its own: callers may be inside an event loop (an async fixture's)
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, _admin(statement)).result()


def create_database() -> str:
    """A new, empty database; its name."""
    name = f"smsgw_test_{os.getpid()}_{secrets.token_hex(3)}"
    _run(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    _run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_database(dsn: str) -> None:
    """``empty`` on the database at ``dsn``, when it has tables (from a fixture: no loop)."""

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await empty(conn)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, run()).result()


async def empty(conn: Conn) -> None:
    """Every table emptied (not the schema version), ids from 1 again: a test's clean start.

    Only the tables holding rows are truncated, and only the sequences once used restarted: a
    TRUNCATE makes new files for every table it names (~0.2 s for all of them, before each of
    some 250 tests), and most tests leave all but a few tables empty."""
    tables = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename <> 'schema_version'"
    )
    if not tables:
        return
    probe = " UNION ALL ".join(  # the tables' names, from pg_tables
        f'SELECT {index} WHERE EXISTS (SELECT FROM "{row[0]}")'  # noqa: S608
        for index, row in enumerate(tables)
    )
    names = ", ".join(f'"{tables[row[0]][0]}"' for row in await conn.fetch(probe))
    if names:
        await conn.execute(f"TRUNCATE {names} CASCADE")
    # an insert rolled back leaves its table empty but its sequence moved on
    await conn.execute(
        "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false)"
        " FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"
    )


async def execute(dsn: str, statement: str, *args: object) -> None:
    """One statement on the database at ``dsn`` (from a test's loop)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement, *args)
    finally:
        await conn.close()


class OwnServer:
    """A PostgreSQL server of a test's own (one it may restart), as tests/postgres.sh starts
    one: Debian's binaries, a cluster in a new folder, trust auth, fsync off."""

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        if not bins:
            raise RuntimeError("no /usr/lib/postgresql/*/bin: install Debian's postgresql")
        self._bin = bins[-1]
        self._data = Path(tempfile.mkdtemp(prefix="smsgw-test-pg-"))
        self._as = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        self.port = _free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def _run(self, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            *self._as, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{args[0]}: {err.decode()}")

    async def start(self) -> None:
        if self._as:
            shutil.chown(self._data, "postgres")
        await self._run(str(self._bin / "initdb"), "-D", str(self._data / "db"), "-U",
                        "postgres", "-A", "trust", "--no-sync")  # fmt: skip
        await self._pg_ctl("start")

    async def _pg_ctl(self, *command: str) -> None:
        options = f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off"
        await self._run(str(self._bin / "pg_ctl"), "-D", str(self._data / "db"), "-l",
                        str(self._data / "log"), "-w", "-o", options, *command)  # fmt: skip

    async def restart(self) -> None:
        """pg_ctl restart (fast: every connection is ended)."""
        await self._pg_ctl("-m", "fast", "restart")

    async def stop(self) -> None:
        try:
            await self._pg_ctl("-m", "immediate", "stop")
        finally:
            shutil.rmtree(self._data, ignore_errors=True)


@contextlib.asynccontextmanager
async def own_server() -> AsyncIterator[OwnServer]:
    server = OwnServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
