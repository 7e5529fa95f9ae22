"""Subscriptions in SQL: the service catalogue, subscribers, subscriptions and consent history.

Each change runs in one transaction together with the ConsentEvent that records it; a no-op
writes nothing. History is never rewritten: leaving sets ``left_at`` on the subscription row,
rejoining inserts a new row, and ``consent_events`` is append-only (triggers, migration 2).
A global STOP leaves every active row with ``left_by_stop = 1`` and ``left_at`` equal to the
subscriber's ``opted_out_at``; that pair is what UNSTOP rejoins. A number under a STOP has no
active subscription (joining lifts the STOP; an import skips the number).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

import aiosqlite

from smsgw.storage.sqlite.delivery import timestamp
from subscriptions.models import (
    Action,
    ConsentEvent,
    ImportCounts,
    Service,
    Source,
    Subscriber,
    Subscription,
)
from subscriptions.store import ServiceConflict

_SERVICES = """SELECT keyword, ministry, names, descriptions, welcome, default_language,
    requires_approval, active FROM services
    WHERE (active OR NOT ?) AND (? IS NULL OR keyword = ?) ORDER BY keyword"""
_ALIASES = """SELECT keyword, word FROM service_words
    WHERE position > 0 AND (? IS NULL OR keyword = ?) ORDER BY keyword, position"""
_INSERT_SERVICE = """INSERT INTO services (keyword, ministry, names, descriptions, welcome,
    default_language, requires_approval, active, created_at, updated_at)
    VALUES (:keyword, :ministry, :names, :descriptions, :welcome, :default_language,
            :requires_approval, :active, :now, :now)"""
_UPDATE_SERVICE = """UPDATE services SET ministry = :ministry, names = :names,
    descriptions = :descriptions, welcome = :welcome, default_language = :default_language,
    requires_approval = :requires_approval, active = :active, updated_at = :now
    WHERE keyword = :keyword"""
_NEW_SUBSCRIBER = """INSERT INTO subscribers (msisdn, language, opted_out_at, created_at)
    VALUES (?, NULL, NULL, ?) ON CONFLICT DO NOTHING"""
# no row when already subscribed, or when there is no such service
_SUBSCRIBE = """INSERT INTO subscriptions (msisdn, service, subscribed_at, source, consent)
    SELECT ?, keyword, ?, ?, ? FROM services WHERE keyword = ? ON CONFLICT DO NOTHING"""
_EVENT = """INSERT INTO consent_events (msisdn, action, service, at, source, consent, detail)
    VALUES (?, ?, ?, ?, ?, ?, ?)"""
_REJOIN = """INSERT INTO subscriptions (msisdn, service, subscribed_at, source, consent)
    SELECT msisdn, service, ?, ?, ? FROM subscriptions
    WHERE msisdn = ? AND left_by_stop = 1 AND left_at = ?
    ON CONFLICT DO NOTHING RETURNING service"""
# keyset pagination over the partial index subscriptions_audience: each batch is one short
# query, so no cursor stays open (nor a lock held) while the caller works on a batch
_AUDIENCE = """SELECT s.msisdn, p.language, p.created_at
    FROM subscriptions s JOIN subscribers p ON p.msisdn = s.msisdn
    WHERE s.service = ? AND s.left_at IS NULL AND s.msisdn > ? AND p.opted_out_at IS NULL
    ORDER BY s.msisdn LIMIT ?"""
_AUDIENCE_SIZE = """SELECT count(*) FROM subscriptions s JOIN subscribers p ON p.msisdn = s.msisdn
    WHERE s.service = ? AND s.left_at IS NULL AND p.opted_out_at IS NULL"""

# bulk import, set-based: the rows go into a temporary table, are sifted there, then copied
_IMPORT_TABLE = """CREATE TEMP TABLE IF NOT EXISTS import_rows (
    msisdn TEXT PRIMARY KEY, language TEXT) WITHOUT ROWID"""
_IMPORT_OPTED_OUT = """DELETE FROM import_rows WHERE EXISTS (SELECT 1 FROM subscribers s
    WHERE s.msisdn = import_rows.msisdn AND s.opted_out_at IS NOT NULL)"""
_IMPORT_ALREADY = """DELETE FROM import_rows WHERE EXISTS (SELECT 1 FROM subscriptions s
    WHERE s.msisdn = import_rows.msisdn AND s.service = ? AND s.left_at IS NULL)"""
_IMPORT_SUBSCRIBERS = """INSERT INTO subscribers (msisdn, language, opted_out_at, created_at)
    SELECT msisdn, NULL, NULL, ? FROM import_rows WHERE true ON CONFLICT DO NOTHING"""
_IMPORT_SUBSCRIPTIONS = """INSERT INTO subscriptions (msisdn, service, subscribed_at, source,
    consent) SELECT msisdn, ?, ?, ?, ? FROM import_rows ORDER BY msisdn"""
_IMPORT_JOINS = """INSERT INTO consent_events (msisdn, action, service, at, source, consent)
    SELECT msisdn, ?, ?, ?, ?, ? FROM import_rows ORDER BY msisdn"""
_IMPORT_LANGUAGE_EVENTS = """INSERT INTO consent_events (msisdn, action, at, source, consent,
    detail) SELECT i.msisdn, ?, ?, ?, ?, i.language FROM import_rows i JOIN subscribers s
    ON s.msisdn = i.msisdn WHERE i.language IS NOT NULL AND s.language IS NULL
    ORDER BY i.msisdn"""
_IMPORT_LANGUAGES = """UPDATE subscribers SET language = i.language FROM import_rows i
    WHERE subscribers.msisdn = i.msisdn AND i.language IS NOT NULL
      AND subscribers.language IS NULL"""


class Transactions(Protocol):
    """The store's serialised access to the shared connection (store._Transactions)."""

    def held(self) -> AbstractAsyncContextManager[None]: ...

    def transaction(self) -> AbstractAsyncContextManager[None]: ...


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
        "now": timestamp(datetime.now(UTC)),
    }


class SqliteSubscriptions:
    """SubscriptionStore on the store's connection; each method takes the store's lock."""

    def __init__(self, conn: aiosqlite.Connection, tx: Transactions) -> None:
        self._conn = conn
        self._tx = tx

    # ---------------------------------------------------------------- catalogue

    async def services(self, *, active_only: bool = False) -> list[Service]:
        return await self._services(active_only, None)

    async def service(self, keyword: str) -> Service | None:
        found = await self._services(False, keyword)
        return found[0] if found else None

    async def add_service(self, service: Service) -> None:
        async with self._tx.transaction():
            try:
                await self._conn.execute(_INSERT_SERVICE, _service_params(service))
            except aiosqlite.IntegrityError:
                raise ServiceConflict(f"service {service.keyword} exists") from None
            await self._claim_words(service)

    async def replace_service(self, service: Service) -> None:
        async with self._tx.transaction():
            cursor = await self._conn.execute(_UPDATE_SERVICE, _service_params(service))
            if cursor.rowcount == 0:
                raise LookupError(f"no service {service.keyword}")
            await self._conn.execute(
                "DELETE FROM service_words WHERE keyword = ?", (service.keyword,)
            )
            await self._claim_words(service)

    # ---------------------------------------------------------------- subscribers

    async def subscriber(self, msisdn: str) -> Subscriber | None:
        rows = await self._fetch(
            "SELECT msisdn, language, opted_out_at, created_at FROM subscribers WHERE msisdn = ?",
            (msisdn,),
        )
        if not rows:
            return None
        msisdn, language, opted_out_at, created_at = rows[0]
        return Subscriber(msisdn, language, _time(opted_out_at), datetime.fromisoformat(created_at))

    async def subscriptions(self, msisdn: str) -> list[Subscription]:
        rows = await self._fetch(
            "SELECT msisdn, service, subscribed_at, source, consent FROM subscriptions"
            " WHERE msisdn = ? AND left_at IS NULL ORDER BY subscribed_at, id",
            (msisdn,),
        )
        return [
            Subscription(msisdn, service, datetime.fromisoformat(at), Source(source), consent)
            for msisdn, service, at, source, consent in rows
        ]

    async def join(
        self,
        msisdn: str,
        service: str,
        *,
        at: datetime,
        source: Source,
        consent: str,
        language: str | None = None,
    ) -> bool:
        when = timestamp(at)
        async with self._tx.transaction():
            opted_out_at, current = await self._ensure_subscriber(msisdn, when)
            cursor = await self._conn.execute(_SUBSCRIBE, (msisdn, when, source, consent, service))
            if cursor.rowcount == 0:
                await self._require_service(service)  # rolls back the new subscriber
                return False  # already subscribed (so not opted out either)
            if opted_out_at is not None:
                await self._set_opt_out(msisdn, None)
                await self._event(msisdn, Action.UNSTOP, when, source, consent)
            await self._event(msisdn, Action.JOIN, when, source, consent, service=service)
            if language is not None and current is None:
                await self._set_language(msisdn, language, when, source, consent)
        return True

    async def leave(
        self, msisdn: str, service: str, *, at: datetime, source: Source, consent: str
    ) -> bool:
        when = timestamp(at)
        async with self._tx.transaction():
            cursor = await self._conn.execute(
                "UPDATE subscriptions SET left_at = ?"
                " WHERE msisdn = ? AND service = ? AND left_at IS NULL",
                (when, msisdn, service),
            )
            if cursor.rowcount == 0:
                return False
            await self._event(msisdn, Action.LEAVE, when, source, consent, service=service)
        return True

    async def stop_all(
        self, msisdn: str, *, at: datetime, source: Source, consent: str
    ) -> list[str]:
        when = timestamp(at)
        async with self._tx.transaction():
            opted_out_at, _ = await self._ensure_subscriber(msisdn, when)
            rows = await self._read(
                "UPDATE subscriptions SET left_at = ?, left_by_stop = 1"
                " WHERE msisdn = ? AND left_at IS NULL RETURNING service",
                (when, msisdn),
            )
            left = sorted(service for (service,) in rows)
            if opted_out_at is not None and not left:
                return []  # already opted out
            await self._set_opt_out(msisdn, when)
            await self._event(msisdn, Action.STOP_ALL, when, source, consent, detail=left)
        return left

    async def unstop(self, msisdn: str, *, at: datetime, source: Source, consent: str) -> list[str]:
        when = timestamp(at)
        async with self._tx.transaction():
            rows = await self._read(
                "SELECT opted_out_at FROM subscribers WHERE msisdn = ?", (msisdn,)
            )
            if not rows or rows[0][0] is None:
                return []
            rejoined = await self._read(_REJOIN, (when, source, consent, msisdn, rows[0][0]))
            services = sorted(service for (service,) in rejoined)
            await self._set_opt_out(msisdn, None)
            await self._event(msisdn, Action.UNSTOP, when, source, consent, detail=services)
        return services

    async def set_language(
        self, msisdn: str, language: str, *, at: datetime, source: Source, consent: str
    ) -> None:
        when = timestamp(at)
        async with self._tx.transaction():
            await self._conn.execute(_NEW_SUBSCRIBER, (msisdn, when))
            await self._set_language(msisdn, language, when, source, consent)

    async def join_many(
        self,
        rows: Sequence[tuple[str, str | None]],
        service: str,
        *,
        at: datetime,
        source: Source,
        consent: str,
    ) -> ImportCounts:
        when = timestamp(at)
        conn = self._conn
        async with self._tx.transaction():
            await self._require_service(service)
            await conn.execute(_IMPORT_TABLE)
            cursor = await conn.executemany(
                "INSERT OR IGNORE INTO import_rows (msisdn, language) VALUES (?, ?)", rows
            )
            twice = len(rows) - cursor.rowcount  # the same number again in this import
            opted_out = (await conn.execute(_IMPORT_OPTED_OUT)).rowcount
            already = (await conn.execute(_IMPORT_ALREADY, (service,))).rowcount
            await conn.execute(_IMPORT_SUBSCRIBERS, (when,))
            joined = (
                await conn.execute(_IMPORT_SUBSCRIPTIONS, (service, when, source, consent))
            ).rowcount
            await conn.execute(_IMPORT_JOINS, (Action.JOIN, service, when, source, consent))
            await conn.execute(_IMPORT_LANGUAGE_EVENTS, (Action.LANGUAGE, when, source, consent))
            await conn.execute(_IMPORT_LANGUAGES)
            await conn.execute("DELETE FROM import_rows")
        return ImportCounts(joined=joined, already=already + twice, opted_out=opted_out)

    async def history(self, msisdn: str) -> list[ConsentEvent]:
        rows = await self._fetch(
            "SELECT msisdn, action, at, source, consent, service, detail FROM consent_events"
            " WHERE msisdn = ? ORDER BY id",
            (msisdn,),
        )
        return [
            ConsentEvent(
                msisdn, Action(action), datetime.fromisoformat(at), Source(source), consent,
                service, detail,
            )
            for msisdn, action, at, source, consent, service, detail in rows
        ]  # fmt: skip

    # ---------------------------------------------------------------- audiences

    async def audience(
        self, service: str, *, batch: int = 5000
    ) -> AsyncIterator[Sequence[Subscriber]]:
        after = ""  # every E.164 number sorts after it
        while True:
            rows = await self._fetch(_AUDIENCE, (service, after, batch))
            if rows:
                yield [
                    Subscriber(msisdn, language, None, datetime.fromisoformat(created_at))
                    for msisdn, language, created_at in rows
                ]
            if len(rows) < batch:
                return
            after = rows[-1][0]

    async def audience_size(self, service: str) -> int:
        rows = await self._fetch(_AUDIENCE_SIZE, (service,))
        return int(rows[0][0])

    # ---------------------------------------------------------------- inside a transaction

    async def _services(self, active_only: bool, keyword: str | None) -> list[Service]:
        """All services, or the one of that keyword."""
        async with self._tx.held():  # one consistent read of both tables
            rows = await self._read(_SERVICES, (active_only, keyword, keyword))
            words = await self._read(_ALIASES, (keyword, keyword))
        aliases: defaultdict[str, list[str]] = defaultdict(list)
        for owner, word in words:
            aliases[owner].append(word)
        return [
            Service(
                keyword=keyword, ministry=ministry, names=json.loads(names),
                default_language=default_language, aliases=tuple(aliases[keyword]),
                descriptions=json.loads(descriptions), welcome=json.loads(welcome),
                requires_approval=bool(requires_approval), active=bool(active),
            )
            for keyword, ministry, names, descriptions, welcome, default_language,
                requires_approval, active in rows
        ]  # fmt: skip

    async def _claim_words(self, service: Service) -> None:
        """Insert the words naming the service; the primary key of service_words refuses a
        word that names another service (as its keyword or an alias)."""
        try:
            await self._conn.executemany(
                "INSERT INTO service_words (word, keyword, position) VALUES (?, ?, ?)",
                [(word, service.keyword, i) for i, word in enumerate(service.words)],
            )
        except aiosqlite.IntegrityError:
            taken = await self._read(
                "SELECT word, keyword FROM service_words WHERE keyword != ?"
                " AND word IN (SELECT value FROM json_each(?)) ORDER BY word",
                (service.keyword, json.dumps(service.words)),
            )
            if not taken:
                raise ServiceConflict(f"{service.keyword} names a word twice") from None
            names = ", ".join(f"{word} (service {owner})" for word, owner in taken)
            raise ServiceConflict(f"already taken: {names}") from None

    async def _require_service(self, keyword: str) -> None:
        if not await self._read("SELECT 1 FROM services WHERE keyword = ?", (keyword,)):
            raise LookupError(f"no service {keyword}")

    async def _ensure_subscriber(self, msisdn: str, when: str) -> tuple[str | None, str | None]:
        """Create the subscriber if new; returns their (opted_out_at, language)."""
        rows = await self._read(
            "SELECT opted_out_at, language FROM subscribers WHERE msisdn = ?", (msisdn,)
        )
        if rows:
            return rows[0][0], rows[0][1]
        await self._conn.execute(_NEW_SUBSCRIBER, (msisdn, when))
        return None, None

    async def _set_opt_out(self, msisdn: str, when: str | None) -> None:
        await self._conn.execute(
            "UPDATE subscribers SET opted_out_at = ? WHERE msisdn = ?", (when, msisdn)
        )

    async def _set_language(
        self, msisdn: str, language: str, when: str, source: Source, consent: str
    ) -> None:
        cursor = await self._conn.execute(
            "UPDATE subscribers SET language = ? WHERE msisdn = ? AND language IS NOT ?",
            (language, msisdn, language),
        )
        if cursor.rowcount:
            await self._conn.execute(
                _EVENT, (msisdn, Action.LANGUAGE, None, when, source, consent, language)
            )

    async def _event(
        self,
        msisdn: str,
        action: Action,
        when: str,
        source: Source,
        consent: str,
        *,
        service: str | None = None,
        detail: list[str] | None = None,
    ) -> None:
        """A consent event; ``detail`` lists the services a STOP left or an UNSTOP rejoined."""
        text = " ".join(detail) if detail else None
        await self._conn.execute(_EVENT, (msisdn, action, service, when, source, consent, text))

    async def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """A query on the connection as it is (inside the caller's transaction or lock)."""
        return list(await self._conn.execute_fetchall(sql, params))  # one trip to its thread

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """A statement under the store's lock: never inside another coroutine's transaction,
        where it would read what that one may still roll back."""
        async with self._tx.held():
            return await self._read(sql, params)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None
