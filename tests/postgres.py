"""The PostgreSQL the tests use: one database per test run, made and dropped here.

``make test`` finds a PostgreSQL on 127.0.0.1:5432 or starts one (tests/postgres.sh) and passes
its address in SMSGW_TEST_POSTGRES; run alone, pytest tries the same default address.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

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
    """Every table emptied (not the schema version), ids from 1 again: a test's clean start."""
    tables = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename <> 'schema_version'"
    )
    names = ", ".join(f'"{row[0]}"' for row in tables)
    if names:
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
