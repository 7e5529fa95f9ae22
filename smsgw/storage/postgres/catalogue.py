"""The service catalogue in PostgreSQL: services and the words (keyword, aliases) that name them.

Each operation is one async function over a connection (db.py); a change runs in one
transaction, so a refused one leaves the catalogue as it was.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg

from smsgw.storage.postgres.db import Conn, Database
from subscriptions.models import Service
from subscriptions.store import ServiceConflict

# one statement, so one snapshot: a service never reads back with another version's aliases.
# COLLATE "C": SQLite's order (byte order), whatever the database's locale.
_SERVICES = """SELECT s.keyword, s.ministry, s.names, s.descriptions, s.welcome,
        s.default_language, s.requires_approval, s.active, s.confirm_sign_ups,
        array(SELECT w.word FROM service_words w WHERE w.keyword = s.keyword AND w.position > 0
              ORDER BY w.position) AS aliases,
        array(SELECT w.language FROM service_words w WHERE w.keyword = s.keyword
              AND w.position > 0 ORDER BY w.position) AS languages
    FROM services s
    WHERE (s.active OR NOT $1) AND ($2::text IS NULL OR s.keyword = $2)
    ORDER BY s.keyword COLLATE "C" """
_INSERT_SERVICE = """INSERT INTO services (keyword, ministry, names, descriptions, welcome,
    default_language, requires_approval, active, confirm_sign_ups, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
    ON CONFLICT (keyword) DO NOTHING RETURNING keyword"""
_UPDATE_SERVICE = """UPDATE services SET ministry = $2, names = $3, descriptions = $4,
    welcome = $5, default_language = $6, requires_approval = $7, active = $8,
    confirm_sign_ups = $9, updated_at = $10
    WHERE keyword = $1 RETURNING keyword"""
# a word already naming a service (this one's included: an alias given twice) is not inserted
_CLAIM_WORDS = """INSERT INTO service_words (word, keyword, position, language)
    SELECT word, $1, position - 1, language
    FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS w (word, language, position)
    ON CONFLICT (word) DO NOTHING"""
_TAKEN = """SELECT word, keyword FROM service_words WHERE keyword <> $1 AND word = ANY($2::text[])
    ORDER BY word COLLATE "C" """


class PgCatalogue:
    """Implements CatalogueStore on the database's pools."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def services(self, *, active_only: bool = False) -> list[Service]:
        return await self._db.read(partial(_services, active_only=active_only, keyword=None))

    async def service(self, keyword: str) -> Service | None:
        found = await self._db.read(partial(_services, active_only=False, keyword=keyword))
        return found[0] if found else None

    async def add_service(self, service: Service) -> None:
        await self._db.write(partial(_add_service, service=service))

    async def replace_service(self, service: Service) -> None:
        await self._db.write(partial(_replace_service, service=service))


async def _services(conn: Conn, *, active_only: bool, keyword: str | None) -> list[Service]:
    return [_service(row) for row in await conn.fetch(_SERVICES, active_only, keyword)]


def _service(row: asyncpg.Record) -> Service:
    return Service(
        keyword=row["keyword"],
        ministry=row["ministry"],
        names=json.loads(row["names"]),
        default_language=row["default_language"],
        aliases=tuple(row["aliases"]),
        alias_languages={
            word: language
            for word, language in zip(row["aliases"], row["languages"], strict=True)
            if language is not None
        },
        descriptions=json.loads(row["descriptions"]),
        welcome=json.loads(row["welcome"]),
        requires_approval=row["requires_approval"],
        active=row["active"],
        confirm_sign_ups=row["confirm_sign_ups"],
    )


async def _add_service(conn: Conn, *, service: Service) -> None:
    if await conn.fetchval(_INSERT_SERVICE, *_service_params(service)) is None:
        raise ServiceConflict(f"service {service.keyword} exists")
    await _claim_words(conn, service)


async def _replace_service(conn: Conn, *, service: Service) -> None:
    if await conn.fetchval(_UPDATE_SERVICE, *_service_params(service)) is None:
        raise LookupError(f"no service {service.keyword}")
    await conn.execute("DELETE FROM service_words WHERE keyword = $1", service.keyword)
    await _claim_words(conn, service)


async def _claim_words(conn: Conn, service: Service) -> None:
    """Insert the words naming the service; a word that already names a service (another, or
    this one: given twice) is refused, and the caller's transaction undoes the whole change."""
    words = list(service.words)
    languages = [None, *(service.alias_languages.get(alias) for alias in service.aliases)]
    status = await conn.execute(_CLAIM_WORDS, service.keyword, words, languages)
    if int(status.rsplit(" ", 1)[-1]) == len(words):
        return
    taken = await conn.fetch(_TAKEN, service.keyword, words)
    if not taken:
        raise ServiceConflict(f"{service.keyword} names a word twice")
    names = ", ".join(f"{word} (service {owner})" for word, owner in taken)
    raise ServiceConflict(f"already taken: {names}")


def _json(texts: Any) -> str:
    return json.dumps(dict(texts), ensure_ascii=False)


def _service_params(service: Service) -> tuple[object, ...]:
    """The parameters of _INSERT_SERVICE and _UPDATE_SERVICE."""
    return (
        service.keyword,
        service.ministry,
        _json(service.names),
        _json(service.descriptions),
        _json(service.welcome),
        service.default_language,
        service.requires_approval,
        service.active,
        service.confirm_sign_ups,
        datetime.now(UTC),
    )
