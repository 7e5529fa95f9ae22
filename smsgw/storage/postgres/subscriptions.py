"""Subscriptions in PostgreSQL: subscribers, their subscriptions and consent history, audiences.

The rules are SQLite's (sqlite/subscriptions.py). Every change of consent, one or a batch, goes
through consent.py, which locks the subscribers it changes; a bulk import locks them too, in
the same (number) order, and is set-based: a chunk of rows is sifted and copied by one
statement. Audiences are read in keyset pages, each a short query of its own: no cursor stays
open (nor a snapshot held) while the caller works on a page, and a STOP that arrives
mid-broadcast takes effect in the later pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import datetime
from functools import partial

import asyncpg

from smsgw.storage.postgres.consent import LOCK, Op, apply_changes
from smsgw.storage.postgres.db import Conn, Database
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
    WHERE msisdn = $1"""
_SUBSCRIPTIONS = """SELECT msisdn, service, subscribed_at, source, consent FROM subscriptions
    WHERE msisdn = $1 AND left_at IS NULL ORDER BY subscribed_at, id"""
_HISTORY = """SELECT msisdn, action, at, source, consent, service, detail, actor
    FROM consent_events WHERE msisdn = $1 ORDER BY id"""
_EVERY_SUBSCRIPTION = """SELECT msisdn, service, subscribed_at, source, consent, left_at
    FROM subscriptions WHERE msisdn = $1 ORDER BY subscribed_at, id"""
# newest first down the index consent_events_msisdn; $2: the services, or NULL for all
_LATEST = """SELECT msisdn, action, at, source, consent, service, detail, actor
    FROM consent_events
    WHERE msisdn = $1 AND ($2::text[] IS NULL OR service IS NULL OR service = ANY($2::text[]))
    ORDER BY id DESC LIMIT $3"""
# keyset pages over the partial index subscriptions_audience (service, msisdn)
_AUDIENCE = """SELECT s.msisdn, p.language, p.created_at
    FROM subscriptions s JOIN subscribers p ON p.msisdn = s.msisdn
    WHERE s.service = $1 AND s.left_at IS NULL AND s.msisdn > $2 AND p.opted_out_at IS NULL
    ORDER BY s.msisdn LIMIT $3"""
_AUDIENCE_SIZE = """SELECT count(*) FROM subscriptions s JOIN subscribers p ON p.msisdn = s.msisdn
    WHERE s.service = $1 AND s.left_at IS NULL AND p.opted_out_at IS NULL"""
_AUDIENCE_BY_DISTRICT = """SELECT p.district, count(*) FROM subscriptions s
    JOIN subscribers p ON p.msisdn = s.msisdn
    WHERE s.service = $1 AND s.left_at IS NULL AND p.opted_out_at IS NULL GROUP BY p.district"""
# an import's districts: to those it names who have none and are not under a STOP (locked)
_IMPORT_DISTRICTS = """WITH given AS (
        SELECT msisdn, district FROM unnest($1::text[], $2::text[]) AS g (msisdn, district)),
    events AS (
        INSERT INTO consent_events (msisdn, action, at, source, consent, detail, actor)
        SELECT p.msisdn, 'district', $3, $4, $5, g.district, $6
        FROM given g JOIN subscribers p ON p.msisdn = g.msisdn
        WHERE p.district IS NULL AND p.opted_out_at IS NULL ORDER BY p.msisdn)
    UPDATE subscribers p SET district = g.district FROM given g
    WHERE p.msisdn = g.msisdn AND p.district IS NULL AND p.opted_out_at IS NULL"""

# bulk import: the numbers made subscribers (in number order, see LOCK), locked, then
# sifted and copied by one statement. Of a number given twice, the first row counts.
_IMPORT_SUBSCRIBERS = """INSERT INTO subscribers (msisdn, language, opted_out_at, created_at)
    SELECT DISTINCT msisdn, NULL::text, NULL::timestamptz, $2::timestamptz
    FROM unnest($1::text[]) AS r (msisdn) ORDER BY msisdn ON CONFLICT DO NOTHING"""
_IMPORT = """WITH given AS (
        SELECT DISTINCT ON (msisdn) msisdn, language
        FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r (msisdn, language, n)
        ORDER BY msisdn, n),
    sifted AS (
        SELECT g.msisdn, g.language, p.language AS current,
            p.opted_out_at IS NOT NULL AS opted_out,
            EXISTS (SELECT 1 FROM subscriptions s WHERE s.msisdn = g.msisdn AND s.service = $3
                    AND s.left_at IS NULL) AS already
        FROM given g JOIN subscribers p ON p.msisdn = g.msisdn),
    joining AS (SELECT msisdn, language, current FROM sifted WHERE NOT opted_out AND NOT already),
    joined AS (
        INSERT INTO subscriptions (msisdn, service, subscribed_at, source, consent)
        SELECT msisdn, $3, $4, $5, $6 FROM joining ORDER BY msisdn RETURNING 1),
    events AS (
        INSERT INTO consent_events (msisdn, action, service, at, source, consent, detail, actor)
        SELECT msisdn, action, service, $4, $5, $6, detail, $7 FROM (
            SELECT msisdn, 1 AS k, 'join'::text AS action, $3::text AS service,
                NULL::text AS detail FROM joining
            UNION ALL
            SELECT msisdn, 2, 'language', NULL, language FROM joining
            WHERE language IS NOT NULL AND current IS NULL) AS e
        ORDER BY k, msisdn),
    languages AS (
        UPDATE subscribers p SET language = j.language FROM joining j
        WHERE p.msisdn = j.msisdn AND j.language IS NOT NULL AND j.current IS NULL)
    SELECT (SELECT count(*) FROM joined) AS joined,
        count(*) FILTER (WHERE already AND NOT opted_out) AS already,
        count(*) FILTER (WHERE opted_out) AS opted_out,
        count(*) AS distinct_numbers
    FROM sifted"""


class PgSubscriptions:
    """Implements SubscriptionStore on the database's pools."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def subscriber(self, msisdn: str) -> Subscriber | None:
        row = await self._db.read(partial(_fetchrow, sql=_SUBSCRIBER, args=(msisdn,)))
        if row is None:
            return None
        return Subscriber(row["msisdn"], row["language"], row["opted_out_at"], row["created_at"],
                          row["district"])  # fmt: skip

    async def subscriptions(self, msisdn: str) -> list[Subscription]:
        rows = await self._db.read(partial(_fetch, sql=_SUBSCRIPTIONS, args=(msisdn,)))
        return [
            Subscription(msisdn, service, at, Source(source), proof)
            for msisdn, service, at, source, proof in rows
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
        actor: str | None = None,
        district: str | None = None,
    ) -> bool:
        change = Change(ChangeKind.JOIN, msisdn, at, source, consent, service, language,
                        district=district)  # fmt: skip
        result = await self._one(change, actor)
        if result.error is not None:
            raise LookupError(result.error)
        return result.changed

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
        change = Change(ChangeKind.LEAVE, msisdn, at, source, consent, service)
        return (await self._one(change, actor)).changed

    async def stop_all(
        self, msisdn: str, *, at: datetime, source: Source, consent: str
    ) -> list[str]:
        change = Change(ChangeKind.STOP_ALL, msisdn, at, source, consent)
        return list((await self._one(change)).services)

    async def unstop(self, msisdn: str, *, at: datetime, source: Source, consent: str) -> list[str]:
        change = Change(ChangeKind.UNSTOP, msisdn, at, source, consent)
        return list((await self._one(change)).services)

    async def set_language(
        self, msisdn: str, language: str, *, at: datetime, source: Source, consent: str
    ) -> None:
        await self._one(Change(ChangeKind.LANGUAGE, msisdn, at, source, consent, None, language))

    async def apply(self, changes: Sequence[Change]) -> list[ChangeResult]:
        if not changes:
            return []
        ops = [Op(change) for change in changes]
        return await self._db.write(partial(apply_changes, ops=ops))

    async def _one(self, change: Change, actor: str | None = None) -> ChangeResult:
        ops = [Op(change, actor)]
        (result,) = await self._db.write(partial(apply_changes, ops=ops))
        return result

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
        return await self._db.write(
            partial(_join_many, rows=rows, service=service, at=at, source=source,
                    proof=consent, actor=actor, districts=districts)
        )  # fmt: skip

    async def history(self, msisdn: str) -> list[ConsentEvent]:
        return _events(await self._db.read(partial(_fetch, sql=_HISTORY, args=(msisdn,))))

    async def every_subscription(self, msisdn: str) -> list[Subscription]:
        rows = await self._db.read(partial(_fetch, sql=_EVERY_SUBSCRIPTION, args=(msisdn,)))
        return [
            Subscription(msisdn, service, at, Source(source), proof, left_at)
            for msisdn, service, at, source, proof, left_at in rows
        ]

    async def latest_events(
        self, msisdn: str, *, limit: int, services: Collection[str] | None = None
    ) -> list[ConsentEvent]:
        wanted = None if services is None else sorted(services)
        args = (msisdn, wanted, limit)
        return _events(await self._db.read(partial(_fetch, sql=_LATEST, args=args)))

    async def audience(
        self, service: str, *, batch: int = 5000
    ) -> AsyncIterator[Sequence[Subscriber]]:
        after = ""  # every number sorts after it
        while True:
            args = (service, after, batch)
            rows = await self._db.read(partial(_fetch, sql=_AUDIENCE, args=args))
            if rows:
                yield [Subscriber(msisdn, language, None, created)
                       for msisdn, language, created in rows]  # fmt: skip
            if len(rows) < batch:
                return
            after = rows[-1]["msisdn"]

    async def audience_size(self, service: str) -> int:
        rows = await self._db.scan(partial(_fetch, sql=_AUDIENCE_SIZE, args=(service,)))
        return int(rows[0][0])

    async def audience_by_district(self, service: str) -> dict[str | None, int]:
        rows = await self._db.scan(partial(_fetch, sql=_AUDIENCE_BY_DISTRICT, args=(service,)))
        return {district: int(count) for district, count in rows}


def _events(rows: list[asyncpg.Record]) -> list[ConsentEvent]:
    return [
        ConsentEvent(msisdn, Action(action), at, Source(source), proof, service, detail, actor)
        for msisdn, action, at, source, proof, service, detail, actor in rows
    ]


async def _fetch(conn: Conn, *, sql: str, args: tuple[object, ...]) -> list[asyncpg.Record]:
    return await conn.fetch(sql, *args)


async def _fetchrow(conn: Conn, *, sql: str, args: tuple[object, ...]) -> asyncpg.Record | None:
    return await conn.fetchrow(sql, *args)


async def _join_many(
    conn: Conn,
    *,
    rows: Sequence[tuple[str, str | None]],
    service: str,
    at: datetime,
    source: Source,
    proof: str,
    actor: str | None,
    districts: Mapping[str, str] | None = None,
) -> ImportCounts:
    """Like join for each number, except that numbers already subscribed are counted and
    numbers under a STOP skipped (an import cannot lift it)."""
    if await conn.fetchval("SELECT 1 FROM services WHERE keyword = $1", service) is None:
        raise LookupError(f"no service {service}")
    if not rows:
        return ImportCounts(joined=0, already=0, opted_out=0)
    numbers = [msisdn for msisdn, _ in rows]
    await conn.execute(_IMPORT_SUBSCRIBERS, numbers, at)
    await conn.fetchval(LOCK, numbers)
    languages = [language for _, language in rows]
    (counts,) = await conn.fetch(
        _IMPORT, numbers, languages, service, at, source.value, proof, actor
    )
    if districts:
        given = sorted(districts.items())
        await conn.execute(_IMPORT_DISTRICTS, [n for n, _ in given], [d for _, d in given], at,
                           source.value, proof, actor)  # fmt: skip
    twice = len(rows) - counts["distinct_numbers"]  # the same number again
    return ImportCounts(
        joined=counts["joined"], already=counts["already"] + twice, opted_out=counts["opted_out"]
    )
