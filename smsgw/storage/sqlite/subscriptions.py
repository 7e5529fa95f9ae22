"""Subscriptions in SQL: subscribers, their subscriptions and consent history, audiences.

Each operation is one synchronous function over the sqlite3 connection, run in one trip to
aiosqlite's thread (thread.py); a change runs in one transaction together with the
ConsentEvent that records it, and a no-op writes nothing. History is never rewritten: leaving
sets ``left_at`` on the subscription row, rejoining inserts a new row, and ``consent_events``
is append-only (triggers, migration 2). A global STOP leaves every active row with
``left_by_stop = 1`` and ``left_at`` equal to the subscriber's ``opted_out_at``; that pair is
what UNSTOP rejoins. A number under a STOP has no active subscription (joining lifts the STOP;
an import skips the number).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import maybe_time, timestamp
from subscriptions.models import (
    Action,
    Change,
    ChangeKind,
    ChangeResult,
    ConsentEvent,
    ImportCounts,
    Source,
    Subscriber,
    Subscription,
)

_SUBSCRIBER = """SELECT msisdn, language, opted_out_at, created_at, district FROM subscribers
    WHERE msisdn = ?"""
_SUBSCRIPTIONS = """SELECT msisdn, service, subscribed_at, source, consent FROM subscriptions
    WHERE msisdn = ? AND left_at IS NULL ORDER BY subscribed_at, id"""
_HISTORY = """SELECT msisdn, action, at, source, consent, service, detail, actor FROM consent_events
    WHERE msisdn = ? ORDER BY id"""
_EVERY_SUBSCRIPTION = """SELECT msisdn, service, subscribed_at, source, consent, left_at
    FROM subscriptions WHERE msisdn = ? ORDER BY subscribed_at, id"""
# newest first down the index consent_events_msisdn; ?2: a JSON list of services, or NULL
_LATEST = """SELECT msisdn, action, at, source, consent, service, detail, actor FROM consent_events
    WHERE msisdn = ?1 AND (?2 IS NULL OR service IS NULL
                           OR service IN (SELECT value FROM json_each(?2)))
    ORDER BY id DESC LIMIT ?3"""
_NEW_SUBSCRIBER = """INSERT INTO subscribers (msisdn, language, opted_out_at, created_at)
    VALUES (?, NULL, NULL, ?) ON CONFLICT DO NOTHING"""
# no row when already subscribed, or when there is no such service
_SUBSCRIBE = """INSERT INTO subscriptions (msisdn, service, subscribed_at, source, consent)
    SELECT ?, keyword, ?, ?, ? FROM services WHERE keyword = ? ON CONFLICT DO NOTHING"""
_LEAVE = """UPDATE subscriptions SET left_at = ?
    WHERE msisdn = ? AND service = ? AND left_at IS NULL"""
_LEAVE_ALL = """UPDATE subscriptions SET left_at = ?, left_by_stop = 1
    WHERE msisdn = ? AND left_at IS NULL RETURNING service"""
_EVENT = """INSERT INTO consent_events (msisdn, action, service, at, source, consent, detail,
    actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
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
_AUDIENCE_BY_DISTRICT = """SELECT p.district, count(*) FROM subscriptions s
    JOIN subscribers p ON p.msisdn = s.msisdn
    WHERE s.service = ? AND s.left_at IS NULL AND p.opted_out_at IS NULL GROUP BY p.district"""
# an import's districts: to those it names who have none and are not under a STOP
_IMPORT_DISTRICT_EVENTS = """INSERT INTO consent_events (msisdn, action, at, source, consent,
    detail, actor) SELECT msisdn, ?, ?, ?, ?, ?, ? FROM subscribers
    WHERE msisdn = ? AND district IS NULL AND opted_out_at IS NULL"""
_IMPORT_DISTRICTS = """UPDATE subscribers SET district = ?
    WHERE msisdn = ? AND district IS NULL AND opted_out_at IS NULL"""

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
_IMPORT_JOINS = """INSERT INTO consent_events (msisdn, action, service, at, source, consent,
    actor) SELECT msisdn, ?, ?, ?, ?, ?, ? FROM import_rows ORDER BY msisdn"""
_IMPORT_LANGUAGE_EVENTS = """INSERT INTO consent_events (msisdn, action, at, source, consent,
    detail, actor) SELECT i.msisdn, ?, ?, ?, ?, i.language, ? FROM import_rows i JOIN subscribers s
    ON s.msisdn = i.msisdn WHERE i.language IS NOT NULL AND s.language IS NULL
    ORDER BY i.msisdn"""
_IMPORT_LANGUAGES = """UPDATE subscribers SET language = i.language FROM import_rows i
    WHERE subscribers.msisdn = i.msisdn AND i.language IS NOT NULL
      AND subscribers.language IS NULL"""


@dataclass(frozen=True, slots=True)
class _Stamp:
    """What every consent event of one operation records: when, how, and the proof."""

    when: str  # stored form (delivery.timestamp)
    source: Source
    consent: str
    actor: str | None = None  # who recorded it for the citizen (None: the citizen, by SMS)

    @classmethod
    def of(cls, at: datetime, source: Source, consent: str, actor: str | None = None) -> _Stamp:
        return cls(timestamp(at), source, consent, actor)


class SqliteSubscriptions:
    """The subscriber half of SubscriptionStore, on the store's connection and lock."""

    def __init__(self, db: SqliteThread) -> None:
        self._db = db

    async def subscriber(self, msisdn: str) -> Subscriber | None:
        return await self._db.read(partial(_subscriber, msisdn=msisdn))

    async def subscriptions(self, msisdn: str) -> list[Subscription]:
        return await self._db.read(partial(_subscriptions, msisdn=msisdn))

    async def join(
        self,
        msisdn: str,
        service: str,
        *,
        at: datetime,
        source: Source,
        consent: str,
        language: str | None = None,
        actor: str | None = None,
        district: str | None = None,
    ) -> bool:
        stamp = _Stamp.of(at, source, consent, actor)
        return await self._db.write(
            partial(_join, msisdn=msisdn, service=service, stamp=stamp, language=language,
                    district=district)
        )  # fmt: skip

    async def leave(
        self,
        msisdn: str,
        service: str,
        *,
        at: datetime,
        source: Source,
        consent: str,
        actor: str | None = None,
    ) -> bool:
        stamp = _Stamp.of(at, source, consent, actor)
        return await self._db.write(partial(_leave, msisdn=msisdn, service=service, stamp=stamp))

    async def stop_all(
        self, msisdn: str, *, at: datetime, source: Source, consent: str
    ) -> list[str]:
        stamp = _Stamp.of(at, source, consent)
        return await self._db.write(partial(_stop_all, msisdn=msisdn, stamp=stamp))

    async def unstop(self, msisdn: str, *, at: datetime, source: Source, consent: str) -> list[str]:
        stamp = _Stamp.of(at, source, consent)
        return await self._db.write(partial(_unstop, msisdn=msisdn, stamp=stamp))

    async def set_language(
        self, msisdn: str, language: str, *, at: datetime, source: Source, consent: str
    ) -> None:
        stamp = _Stamp.of(at, source, consent)
        await self._db.write(partial(_new_language, msisdn=msisdn, language=language, stamp=stamp))

    async def apply(self, changes: Sequence[Change]) -> list[ChangeResult]:
        return await self._db.write(partial(_apply, changes=changes))

    async def join_many(
        self,
        rows: Sequence[tuple[str, str | None]],
        service: str,
        *,
        at: datetime,
        source: Source,
        consent: str,
        actor: str | None = None,
        districts: Mapping[str, str] | None = None,
    ) -> ImportCounts:
        stamp = _Stamp.of(at, source, consent, actor)
        return await self._db.write(
            partial(_join_many, rows=rows, service=service, stamp=stamp, districts=districts)
        )

    async def history(self, msisdn: str) -> list[ConsentEvent]:
        return await self._db.read(partial(_history, msisdn=msisdn))

    async def every_subscription(self, msisdn: str) -> list[Subscription]:
        return await self._db.read(partial(_every_subscription, msisdn=msisdn))

    async def latest_events(
        self, msisdn: str, *, limit: int, services: Collection[str] | None = None
    ) -> list[ConsentEvent]:
        wanted = None if services is None else json.dumps(sorted(services))
        return await self._db.read(partial(_latest, msisdn=msisdn, services=wanted, limit=limit))

    async def audience(
        self, service: str, *, batch: int = 5000
    ) -> AsyncIterator[Sequence[Subscriber]]:
        after = ""  # every E.164 number sorts after it
        while True:
            rows = await self._db.read(partial(_all, sql=_AUDIENCE, params=(service, after, batch)))
            if rows:
                yield [
                    Subscriber(msisdn, language, None, datetime.fromisoformat(created_at))
                    for msisdn, language, created_at in rows
                ]
            if len(rows) < batch:
                return
            after = rows[-1][0]

    async def audience_size(self, service: str) -> int:
        rows = await self._db.scan(partial(_all, sql=_AUDIENCE_SIZE, params=(service,)))
        return int(rows[0][0])

    async def audience_by_district(self, service: str) -> dict[str | None, int]:
        rows = await self._db.scan(partial(_all, sql=_AUDIENCE_BY_DISTRICT, params=(service,)))
        return {district: int(count) for district, count in rows}


# ---------------------------------------------------------------- in aiosqlite's thread


def _subscriber(db: sqlite3.Connection, *, msisdn: str) -> Subscriber | None:
    row = db.execute(_SUBSCRIBER, (msisdn,)).fetchone()
    if row is None:
        return None
    msisdn, language, opted_out_at, created_at, district = row
    created = datetime.fromisoformat(created_at)
    return Subscriber(msisdn, language, maybe_time(opted_out_at), created, district)


def _subscriptions(db: sqlite3.Connection, *, msisdn: str) -> list[Subscription]:
    return [
        Subscription(msisdn, service, datetime.fromisoformat(at), Source(source), consent)
        for msisdn, service, at, source, consent in db.execute(_SUBSCRIPTIONS, (msisdn,))
    ]


def _join(
    db: sqlite3.Connection, *, msisdn: str, service: str, stamp: _Stamp, language: str | None,
    district: str | None = None,
) -> bool:  # fmt: skip
    """``district``: theirs from now on (unless a STOP stays in force)."""
    opted_out_at, current = _ensure_subscriber(db, msisdn, stamp.when)
    if opted_out_at is not None and stamp.source is not Source.SMS:
        _require_service(db, service)
        return False  # only the citizen, by SMS, lifts their STOP
    cursor = db.execute(_SUBSCRIBE, (msisdn, stamp.when, stamp.source, stamp.consent, service))
    if cursor.rowcount == 0:
        _require_service(db, service)  # rolls back the new subscriber
        if district is not None:
            _set_district(db, msisdn, district, stamp)
        return False  # already subscribed (so not opted out either)
    if opted_out_at is not None:
        _set_opt_out(db, msisdn, None)
        _event(db, msisdn, Action.UNSTOP, stamp)
    _event(db, msisdn, Action.JOIN, stamp, service=service)
    if language is not None and current is None:
        _set_language(db, msisdn, language, stamp)
    if district is not None:
        _set_district(db, msisdn, district, stamp)
    return True


def _leave(db: sqlite3.Connection, *, msisdn: str, service: str, stamp: _Stamp) -> bool:
    if db.execute(_LEAVE, (stamp.when, msisdn, service)).rowcount == 0:
        return False
    _event(db, msisdn, Action.LEAVE, stamp, service=service)
    return True


def _stop_all(db: sqlite3.Connection, *, msisdn: str, stamp: _Stamp) -> list[str]:
    opted_out_at, _ = _ensure_subscriber(db, msisdn, stamp.when)
    left = sorted(service for (service,) in db.execute(_LEAVE_ALL, (stamp.when, msisdn)))
    if opted_out_at is not None and not left:
        return []  # already opted out
    _set_opt_out(db, msisdn, stamp.when)
    _event(db, msisdn, Action.STOP_ALL, stamp, detail=left)
    return left


def _unstop(db: sqlite3.Connection, *, msisdn: str, stamp: _Stamp) -> list[str]:
    row = db.execute("SELECT opted_out_at FROM subscribers WHERE msisdn = ?", (msisdn,)).fetchone()
    if row is None or row[0] is None:
        return []
    params = (stamp.when, stamp.source, stamp.consent, msisdn, row[0])
    services = sorted(service for (service,) in db.execute(_REJOIN, params))
    _set_opt_out(db, msisdn, None)
    _event(db, msisdn, Action.UNSTOP, stamp, detail=services)
    return services


def _new_language(db: sqlite3.Connection, *, msisdn: str, language: str, stamp: _Stamp) -> None:
    db.execute(_NEW_SUBSCRIBER, (msisdn, stamp.when))
    _set_language(db, msisdn, language, stamp)


def _apply(db: sqlite3.Connection, *, changes: Sequence[Change]) -> list[ChangeResult]:
    """Each change inside a savepoint of the caller's transaction: one that fails is undone
    alone (as its own transaction would have been), and the others stand."""
    results = []
    for change in changes:
        db.execute("SAVEPOINT change")
        try:
            results.append(_apply_one(db, change))
        except (LookupError, sqlite3.IntegrityError) as exc:
            db.execute("ROLLBACK TO change")
            results.append(ChangeResult(error=str(exc)))
        db.execute("RELEASE change")
    return results


def _apply_one(db: sqlite3.Connection, change: Change) -> ChangeResult:
    msisdn, kind = change.msisdn, change.kind
    language = None
    if change.lookup:
        row = db.execute("SELECT language FROM subscribers WHERE msisdn = ?", (msisdn,)).fetchone()
        language = row[0] if row else None
    stamp = _Stamp.of(change.at, change.source, change.consent)
    if kind is ChangeKind.JOIN and change.service is not None:
        joined = _join(db, msisdn=msisdn, service=change.service, stamp=stamp,
                       language=change.language, district=change.district)  # fmt: skip
        return ChangeResult(language, changed=joined)
    if kind is ChangeKind.LEAVE and change.service is not None:
        left = _leave(db, msisdn=msisdn, service=change.service, stamp=stamp)
        return ChangeResult(language, changed=left)
    if kind is ChangeKind.STOP_ALL:
        return ChangeResult(language, services=tuple(_stop_all(db, msisdn=msisdn, stamp=stamp)))
    if kind is ChangeKind.UNSTOP:
        return ChangeResult(language, services=tuple(_unstop(db, msisdn=msisdn, stamp=stamp)))
    if kind is ChangeKind.LANGUAGE and change.language is not None:
        _new_language(db, msisdn=msisdn, language=change.language, stamp=stamp)
    elif kind is ChangeKind.MY:
        keywords = tuple(s.service for s in _subscriptions(db, msisdn=msisdn))
        row = db.execute("SELECT district FROM subscribers WHERE msisdn = ?", (msisdn,)).fetchone()
        return ChangeResult(language, services=keywords, district=row[0] if row else None)
    return ChangeResult(language)


def _join_many(
    db: sqlite3.Connection,
    *,
    rows: Sequence[tuple[str, str | None]],
    service: str,
    stamp: _Stamp,
    districts: Mapping[str, str] | None = None,
) -> ImportCounts:
    _require_service(db, service)
    db.execute(_IMPORT_TABLE)
    insert = "INSERT OR IGNORE INTO import_rows (msisdn, language) VALUES (?, ?)"
    twice = len(rows) - db.executemany(insert, rows).rowcount  # the same number again
    opted_out = db.execute(_IMPORT_OPTED_OUT).rowcount
    already = db.execute(_IMPORT_ALREADY, (service,)).rowcount
    when, source, consent = stamp.when, stamp.source, stamp.consent
    db.execute(_IMPORT_SUBSCRIBERS, (when,))
    joined = db.execute(_IMPORT_SUBSCRIPTIONS, (service, when, source, consent)).rowcount
    db.execute(_IMPORT_JOINS, (Action.JOIN, service, when, source, consent, stamp.actor))
    db.execute(_IMPORT_LANGUAGE_EVENTS, (Action.LANGUAGE, when, source, consent, stamp.actor))
    db.execute(_IMPORT_LANGUAGES)
    db.execute("DELETE FROM import_rows")
    if districts:
        given = list(districts.items())
        db.executemany(_IMPORT_DISTRICT_EVENTS, [
            (Action.DISTRICT, when, source, consent, district, stamp.actor, number)
            for number, district in given])  # fmt: skip
        db.executemany(_IMPORT_DISTRICTS, [(district, number) for number, district in given])
    return ImportCounts(joined=joined, already=already + twice, opted_out=opted_out)


def _history(db: sqlite3.Connection, *, msisdn: str) -> list[ConsentEvent]:
    return _events(db.execute(_HISTORY, (msisdn,)))


def _latest(
    db: sqlite3.Connection, *, msisdn: str, services: str | None, limit: int
) -> list[ConsentEvent]:
    return _events(db.execute(_LATEST, (msisdn, services, limit)))


def _events(rows: sqlite3.Cursor) -> list[ConsentEvent]:
    return [
        ConsentEvent(
            msisdn, Action(action), datetime.fromisoformat(at), Source(source), consent,
            service, detail, actor,
        )
        for msisdn, action, at, source, consent, service, detail, actor in rows
    ]  # fmt: skip


def _every_subscription(db: sqlite3.Connection, *, msisdn: str) -> list[Subscription]:
    return [
        Subscription(msisdn, service, datetime.fromisoformat(at), Source(source), consent,
                     maybe_time(left_at))
        for msisdn, service, at, source, consent, left_at in db.execute(
            _EVERY_SUBSCRIPTION, (msisdn,)
        )
    ]  # fmt: skip


def _all(db: sqlite3.Connection, *, sql: str, params: tuple[object, ...]) -> list[Any]:
    return db.execute(sql, params).fetchall()


def _require_service(db: sqlite3.Connection, keyword: str) -> None:
    if db.execute("SELECT 1 FROM services WHERE keyword = ?", (keyword,)).fetchone() is None:
        raise LookupError(f"no service {keyword}")


def _ensure_subscriber(
    db: sqlite3.Connection, msisdn: str, when: str
) -> tuple[str | None, str | None]:
    """Create the subscriber if new; returns their (opted_out_at, language)."""
    row = db.execute(
        "SELECT opted_out_at, language FROM subscribers WHERE msisdn = ?", (msisdn,)
    ).fetchone()
    if row is not None:
        return row[0], row[1]
    db.execute(_NEW_SUBSCRIBER, (msisdn, when))
    return None, None


def _set_opt_out(db: sqlite3.Connection, msisdn: str, when: str | None) -> None:
    db.execute("UPDATE subscribers SET opted_out_at = ? WHERE msisdn = ?", (when, msisdn))


def _set_district(db: sqlite3.Connection, msisdn: str, district: str, stamp: _Stamp) -> None:
    cursor = db.execute(
        "UPDATE subscribers SET district = ? WHERE msisdn = ? AND district IS NOT ?",
        (district, msisdn, district),
    )
    if cursor.rowcount:
        _event(db, msisdn, Action.DISTRICT, stamp, detail=[district])


def _set_language(db: sqlite3.Connection, msisdn: str, language: str, stamp: _Stamp) -> None:
    cursor = db.execute(
        "UPDATE subscribers SET language = ? WHERE msisdn = ? AND language IS NOT ?",
        (language, msisdn, language),
    )
    if cursor.rowcount:
        _event(db, msisdn, Action.LANGUAGE, stamp, detail=[language])


def _event(
    db: sqlite3.Connection,
    msisdn: str,
    action: Action,
    stamp: _Stamp,
    *,
    service: str | None = None,
    detail: list[str] | None = None,
) -> None:
    """A consent event; ``detail`` lists the services a STOP left or an UNSTOP rejoined."""
    text = " ".join(detail) if detail else None
    db.execute(
        _EVENT,
        (msisdn, action, service, stamp.when, stamp.source, stamp.consent, text, stamp.actor),
    )
