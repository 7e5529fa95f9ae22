"""How many numbers a warning to everyone would reach, read without writing: the active
subscribers counted by the first characters of their number, which is what routes them to a
carrier (``smsgw drill``'s whole-base estimate). Either backend, read only, never migrated."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import asyncpg

from smsgw.config import DatabaseConfig

# Numbers with at least one active subscription (a global STOP leaves them all: see
# sqlite/kpis.py), each once, grouped by their first ?1 characters.
_SQLITE = """SELECT substr(msisdn, 1, ?1), count(*)
    FROM (SELECT DISTINCT msisdn FROM subscriptions WHERE left_at IS NULL)
    GROUP BY 1"""
_POSTGRES = """SELECT substr(msisdn, 1, $1), count(*)
    FROM (SELECT DISTINCT msisdn FROM subscriptions WHERE left_at IS NULL) AS active
    GROUP BY 1"""


async def subscribers_by_prefix(config: DatabaseConfig, length: int) -> dict[str, int] | None:
    """Active subscribers by the first ``length`` characters of their number; None when the
    database or its schema does not exist (yet)."""
    if config.is_postgres:
        return await _postgres(config.url, length)
    path = config.sqlite_path
    if not path.exists():
        return None
    return await asyncio.to_thread(_sqlite, path, length)


def _sqlite(path: Path, length: int) -> dict[str, int] | None:
    # mode=ro: a running gateway's database, never written nor migrated by a report
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        db.execute("PRAGMA busy_timeout = 5000")
        made = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'subscriptions'"
        ).fetchone()
        if made is None:
            return None
        return {str(prefix): int(n) for prefix, n in db.execute(_SQLITE, (length,))}


async def _postgres(url: str, length: int) -> dict[str, int] | None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        async with conn.transaction(readonly=True):
            rows = await conn.fetch(_POSTGRES, length)
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()
    return {str(prefix): int(n) for prefix, n in rows}
