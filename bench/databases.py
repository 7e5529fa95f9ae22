"""The database a benchmark runs on: a SQLite file in its temporary folder (the default), or
with ``--database postgresql://…`` a PostgreSQL database of its own on that server, created for
the run and dropped after it (also when the run fails); and the reads a benchmark makes
straight from it (its checks and counts), written once for both backends."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

_SQLITE = "sqlite:///"
_POSTGRES = ("postgresql://", "postgres://")


def add_option(parser: argparse.ArgumentParser) -> None:
    """``--database URL``: the PostgreSQL server to run on, instead of a SQLite file."""
    parser.add_argument(
        "--database",
        type=_server,
        metavar="URL",
        help="postgresql://user@host:port/anydb: run on a new database on that server"
        " (smsgw_bench_<pid>, dropped at the end) instead of a SQLite file",
    )


def _server(value: str) -> str:
    if not value.startswith(_POSTGRES) or not urlsplit(value).hostname:
        raise argparse.ArgumentTypeError("expected postgresql://user@host:port/database")
    return value


@contextlib.contextmanager
def database(server: str | None, folder: Path, file: str) -> Iterator[str]:
    """The [database] url of a run: ``folder/file`` in SQLite, or with ``server`` a new
    database there, dropped on the way out."""
    if server is None:
        yield _SQLITE + str(folder / file)
        return
    name = f"smsgw_bench_{os.getpid()}"
    try:
        asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        url = urlsplit(server)  # said without its user and password
        where = url._replace(netloc=url.netloc.rpartition("@")[2]).geturl()
        raise SystemExit(f"--database {where}: {exc}") from exc
    try:
        yield urlsplit(server)._replace(path=f"/{name}").geturl()
    finally:
        # FORCE: a child process of a failed run may still hold a connection
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(server: str, statement: str) -> None:
    conn = await asyncpg.connect(server, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def backend(url: str) -> str:
    """The backend's name, for a benchmark's header line."""
    return "PostgreSQL" if url.startswith(_POSTGRES) else "SQLite"


async def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """The rows of one read, on a connection of its own (as an operator's query would be);
    ``sql`` with SQLite's ``?`` placeholders (and no other ``?``), numbered for PostgreSQL."""
    if not url.startswith(_POSTGRES):
        return await asyncio.to_thread(_sqlite_query, url.removeprefix(_SQLITE), sql, args)
    numbered = sql.split("?")
    sql = numbered[0] + "".join(f"${i}{part}" for i, part in enumerate(numbered[1:], 1))
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return [tuple(row) for row in await conn.fetch(sql, *args, timeout=60)]
    finally:
        await conn.close()


def _sqlite_query(path: str, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


async def size_mb(url: str) -> float:
    """The database's size on disk: SQLite's file, or what PostgreSQL reports for it."""
    if not url.startswith(_POSTGRES):
        return await asyncio.to_thread(os.path.getsize, url.removeprefix(_SQLITE)) / 2**20
    [(size,)] = await query(url, "SELECT pg_database_size(current_database())")
    return int(size) / 2**20
