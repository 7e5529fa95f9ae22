"""``smsgw db copy``: a whole deployment from one database to another (SQLite to PostgreSQL),
table by table, and verified by counts.

Everything goes: the catalogue, subscribers with their consent history, tokens, people and
their sessions, the audit log, broadcasts, outbox, messages, texts. Both ends must be at the
same schema version (the copy migrates the target first) and the target must be empty: a copy
never merges. The gateway on the source should be stopped first (the copy reads a snapshot of
each table in turn).

Rows keep their ids (the identities are set past them after), times become timestamptz and
flags booleans: the column types of the target say how each value is read.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from smsgw.config import DatabaseConfig
from smsgw.errors import ConfigError
from smsgw.storage import open_store
from smsgw.storage.postgres.db import Conn
from smsgw.storage.sqlite import migrations as sqlite_migrations

_CHUNK = 10_000  # rows per COPY: constant memory whatever the size of a table
# parents before children (service_words and subscriptions refer to services, sessions and
# recovery codes to people)
_FIRST = ("services", "people")


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int


def _reader(type_name: str) -> Callable[[Any], Any]:
    if type_name == "timestamp with time zone":
        return lambda value: None if value is None else datetime.fromisoformat(value)
    if type_name == "boolean":
        return lambda value: None if value is None else bool(value)
    return lambda value: value


async def copy_database(source: DatabaseConfig, target: DatabaseConfig) -> list[Copied]:
    """Copy every table of ``source`` (SQLite) into ``target`` (PostgreSQL, empty)."""
    if source.is_postgres or not target.is_postgres:
        raise ConfigError("smsgw db copy goes from a SQLite database to a PostgreSQL one")
    path = source.sqlite_path
    if not path.exists():
        raise ConfigError(f"{path}: no such database")
    version = await asyncio.to_thread(sqlite_migrations.version_of, path)
    if version != sqlite_migrations.LATEST:
        raise ConfigError(
            f"{path} is at schema version {version}: run smsgw db migrate on it first"
            f" (this smsgw copies version {sqlite_migrations.LATEST})"
        )
    store = await open_store(target)  # made and migrated
    await store.close()
    conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(target.url)
    try:
        return await _copy(path, conn, target.where)
    finally:
        await conn.close()


async def _copy(path: Path, conn: Conn, where: str) -> list[Copied]:
    tables = [
        row[0]
        for row in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'schema_version' ORDER BY tablename"
        )
    ]
    tables.sort(key=lambda name: (name not in _FIRST, name))
    # table names below come from the schemas' own catalogues, never from input
    for table in tables:
        if await conn.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{table}")'):
            raise ConfigError(f"{where}: table {table} is not empty; a copy never merges")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    copied: list[Copied] = []
    try:
        theirs = {row[0] for row in source.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name <> 'schema_version'")}  # fmt: skip
        if missing := theirs - set(tables):
            raise ConfigError(f"{where} has no table {', '.join(sorted(missing))} to copy into")
        tables = [table for table in tables if table in theirs]  # not PostgreSQL's own (leases)
        async with conn.transaction():  # all or nothing; the append-only triggers stay on
            for table in tables:
                rows = await _copy_table(source, conn, table)
                there = await conn.fetchval(f'SELECT count(*) FROM "{table}"')
                if there != rows:
                    raise ConfigError(f"{table}: {rows} rows read from the source, {there} stored")
                copied.append(Copied(table, rows))
            await _reset_identities(conn, tables)
    finally:
        source.close()
    return copied


async def _copy_table(source: sqlite3.Connection, conn: Conn, table: str) -> int:
    """The columns both have (PostgreSQL may have more of its own, such as the leases of its
    queues: those take their defaults)."""
    theirs = {row[1] for row in source.execute(f'PRAGMA table_info("{table}")')}
    columns = [
        row
        for row in await conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            table,
        )
        if row[0] in theirs
    ]
    names = [row[0] for row in columns]
    readers = [_reader(row[1]) for row in columns]
    listed = ", ".join(f'"{name}"' for name in names)
    cursor = source.execute(f'SELECT {listed} FROM "{table}"')
    total = 0
    for chunk in _chunks(cursor):
        records = [tuple(read(value) for read, value in zip(readers, row, strict=True))
                   for row in chunk]  # fmt: skip
        await conn.copy_records_to_table(table, records=records, columns=names)
        total += len(records)
    return total


def _chunks(cursor: sqlite3.Cursor) -> Iterator[list[Any]]:
    while chunk := cursor.fetchmany(_CHUNK):
        yield chunk


async def _reset_identities(conn: Conn, tables: list[str]) -> None:
    """Identities past the copied ids, so the next row made gets a new one."""
    identities = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND is_identity = 'YES'"
    )
    for table, column in identities:
        if table in tables:
            sequence = f"pg_get_serial_sequence('\"{table}\"', '{column}')"
            highest = f'(SELECT max("{column}") FROM "{table}")'
            await conn.execute(f"SELECT setval({sequence}, coalesce({highest}, 0) + 1, false)")
