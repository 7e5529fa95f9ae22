"""The service catalogue in SQL: services and the words (keyword, aliases) that name them.

Each operation is one synchronous function over the sqlite3 connection, run in one trip to
aiosqlite's thread (thread.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime
from functools import partial
from typing import Any

from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import timestamp
from subscriptions.models import Service
from subscriptions.store import ServiceConflict

_SERVICES = """SELECT keyword, ministry, names, descriptions, welcome, default_language,
    requires_approval, active, confirm_sign_ups FROM services
    WHERE (active OR NOT ?) AND (? IS NULL OR keyword = ?) ORDER BY keyword"""
_ALIASES = """SELECT keyword, word, language FROM service_words
    WHERE position > 0 AND (? IS NULL OR keyword = ?) ORDER BY keyword, position"""
_INSERT_SERVICE = """INSERT INTO services (keyword, ministry, names, descriptions, welcome,
    default_language, requires_approval, active, confirm_sign_ups, created_at, updated_at)
    VALUES (:keyword, :ministry, :names, :descriptions, :welcome, :default_language,
            :requires_approval, :active, :confirm_sign_ups, :now, :now)"""
_UPDATE_SERVICE = """UPDATE services SET ministry = :ministry, names = :names,
    descriptions = :descriptions, welcome = :welcome, default_language = :default_language,
    requires_approval = :requires_approval, active = :active,
    confirm_sign_ups = :confirm_sign_ups, updated_at = :now
    WHERE keyword = :keyword"""


class SqliteCatalogue:
    """Implements CatalogueStore on the store's connection."""

    def __init__(self, db: SqliteThread) -> None:
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


def _services(db: sqlite3.Connection, *, active_only: bool, keyword: str | None) -> list[Service]:
    """All services, or the one of that keyword (both tables read in the same trip, with no
    other statement between)."""
    rows = db.execute(_SERVICES, (active_only, keyword, keyword)).fetchall()
    words = db.execute(_ALIASES, (keyword, keyword)).fetchall()
    aliases: defaultdict[str, list[str]] = defaultdict(list)
    languages: defaultdict[str, dict[str, str]] = defaultdict(dict)
    for owner, word, language in words:
        aliases[owner].append(word)
        if language is not None:
            languages[owner][word] = language
    return [
        Service(
            keyword=keyword, ministry=ministry, names=json.loads(names),
            default_language=default_language, aliases=tuple(aliases[keyword]),
            alias_languages=languages[keyword],
            descriptions=json.loads(descriptions), welcome=json.loads(welcome),
            requires_approval=bool(requires_approval), active=bool(active),
            confirm_sign_ups=bool(confirm),
        )
        for keyword, ministry, names, descriptions, welcome, default_language,
            requires_approval, active, confirm in rows
    ]  # fmt: skip


def _add_service(db: sqlite3.Connection, *, service: Service) -> None:
    try:
        db.execute(_INSERT_SERVICE, _service_params(service))
    except sqlite3.IntegrityError:
        raise ServiceConflict(f"service {service.keyword} exists") from None
    _claim_words(db, service)


def _replace_service(db: sqlite3.Connection, *, service: Service) -> None:
    if db.execute(_UPDATE_SERVICE, _service_params(service)).rowcount == 0:
        raise LookupError(f"no service {service.keyword}")
    db.execute("DELETE FROM service_words WHERE keyword = ?", (service.keyword,))
    _claim_words(db, service)


def _claim_words(db: sqlite3.Connection, service: Service) -> None:
    """Insert the words naming the service; the primary key of service_words refuses a word
    that names another service (as its keyword or an alias)."""
    try:
        db.executemany(
            "INSERT INTO service_words (word, keyword, position, language) VALUES (?, ?, ?, ?)",
            [
                (word, service.keyword, i, service.alias_languages.get(word) if i else None)
                for i, word in enumerate(service.words)
            ],
        )
    except sqlite3.IntegrityError:
        taken = db.execute(
            "SELECT word, keyword FROM service_words WHERE keyword != ?"
            " AND word IN (SELECT value FROM json_each(?)) ORDER BY word",
            (service.keyword, json.dumps(service.words)),
        ).fetchall()
        if not taken:
            raise ServiceConflict(f"{service.keyword} names a word twice") from None
        names = ", ".join(f"{word} (service {owner})" for word, owner in taken)
        raise ServiceConflict(f"already taken: {names}") from None


def _json(texts: Any) -> str:
    return json.dumps(dict(texts), ensure_ascii=False)


def _service_params(service: Service) -> dict[str, Any]:
    """The parameters of _INSERT_SERVICE and _UPDATE_SERVICE."""
    return {
        "keyword": service.keyword,
        "ministry": service.ministry,
        "names": _json(service.names),
        "descriptions": _json(service.descriptions),
        "welcome": _json(service.welcome),
        "default_language": service.default_language,
        "requires_approval": service.requires_approval,
        "active": service.active,
        "confirm_sign_ups": service.confirm_sign_ups,
        "now": timestamp(datetime.now(UTC)),
    }
