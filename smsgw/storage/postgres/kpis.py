"""The KPIs in SQL (the KpiStore), on the reports' own connections: each figure one read (a
list of periods in one statement), through the indexes of the schema.

Counting relies on an invariant of the subscriptions repository (as SQLite's kpis.py does): a
number under a global STOP has no active subscription (STOP leaves them all, joining lifts the
STOP). Active subscribers are therefore read from the active subscriptions alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import partial

from smsgw.delivery.message import WITHOUT_OUTCOME
from smsgw.kpis import latency
from smsgw.kpis.figures import ConsentFlow, DeliveryTotals, Period, ServiceCount, SubscriberCounts
from smsgw.storage.postgres.db import Conn, Database
from smsgw.storage.postgres.summaries import LATENCY, bucket_of, latencies

# Ministries and keywords in byte order, as SQLite's (whatever the database's collation)
_SERVICES = """SELECT v.keyword, v.ministry, v.active, coalesce(c.n, 0)
    FROM services v LEFT JOIN (SELECT service, count(*) AS n FROM subscriptions
                               WHERE left_at IS NULL GROUP BY service) c
      ON c.service = v.keyword
    ORDER BY v.ministry COLLATE "C", v.keyword COLLATE "C"
"""
# Grouped rather than count(DISTINCT): the planner may then hash, or walk the partial unique
# index subscriptions_active (msisdn, service) in order, instead of sorting every number
_SUBSCRIBERS = """SELECT
    (SELECT count(*) FROM (SELECT msisdn FROM subscriptions WHERE left_at IS NULL
                           GROUP BY msisdn) AS active),
    (SELECT count(*) FROM subscribers),
    (SELECT count(*) FROM subscribers WHERE opted_out_at IS NOT NULL)"""
# The periods as rows (p.n keeps their order); each count through the index
# consent_events_action_at (action, at). A STOP's detail lists the services it left, an
# UNSTOP's those it gave back (keywords, one space apart).
_PERIODS = "unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS p(start, stop, n)"
_EVENTS = "FROM consent_events WHERE action = '{action}' AND at >= p.start AND at < p.stop"
_SERVICES_IN = "coalesce(sum(length(detail) - length(replace(detail, ' ', '')) + 1), 0)"
_FLOW = f"""SELECT
    (SELECT count(*) {_EVENTS.format(action="join")})
      + (SELECT {_SERVICES_IN} {_EVENTS.format(action="unstop")}),
    (SELECT count(*) {_EVENTS.format(action="leave")})
      + (SELECT {_SERVICES_IN} {_EVENTS.format(action="stop_all")}),
    (SELECT count(*) {_EVENTS.format(action="stop_all")})
    FROM {_PERIODS} ORDER BY p.n"""
# A broadcast counts as sent once it is sending or done (a cancelled one does not, even if
# part of it went out); an import's sign-up confirmations (joined_at) are no broadcast of the
# programme's, though their SMS and cost count. The table is small: hundreds a year.
_BROADCASTS_SENT = f"""SELECT p.n, b.ministry, count(*) FROM {_PERIODS}
    JOIN broadcasts b ON b.created_at >= p.start AND b.created_at < p.stop
    WHERE b.state IN ('sending', 'done') AND b.joined_at IS NULL
    GROUP BY p.n, b.ministry ORDER BY p.n, b.ministry COLLATE "C"
"""
# The period's broadcasts: their SMS per language, and the summary of those whose outbox rows
# are (being) deleted, read instead of their rows
_BROADCASTS = """SELECT id, segments, outbox_summary FROM broadcasts
    WHERE created_at >= $1 AND created_at < $2"""
_IN_PERIOD = """SELECT id FROM broadcasts WHERE created_at >= $1 AND created_at < $2
    AND outbox_summary IS NULL"""
# Index outbox_broadcast (broadcast, state, language): an index-only scan
_BY_STATE = f"""SELECT broadcast, state, language, count(*) FROM outbox
    WHERE broadcast IN ({_IN_PERIOD}) GROUP BY broadcast, state, language"""
# A message went out when a carrier accepted it (submitted_at set; its language is the text it
# got): always so in these states, and in these others only for some (a receipt's verdict, or
# the dispatcher's before any submit), read from the rows, which are few.
_SENT_STATES = ("submitted", "delivered", "undeliverable")
_SENT_OR_NOT = f"""SELECT broadcast, language, count(*) FROM outbox
    WHERE broadcast IN ({_IN_PERIOD}) AND state IN ('expired', 'rejected', 'failed')
      AND submitted_at IS NOT NULL
    GROUP BY broadcast, language"""
_DELIVERED = f"""FROM outbox WHERE broadcast IN ({_IN_PERIOD}) AND state = 'delivered'
    AND submitted_at IS NOT NULL"""
# percentile_disc(0.5) is the lower median of an even count, as broadcasts' stats take it
_MEDIAN = f"SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY {LATENCY}) {_DELIVERED}"
# Over every $3-th message by id (ids follow the numbers' order within a broadcast, which says
# nothing of how fast receipts come): the same sample as SQLite's, not a random one
_SAMPLED_MEDIAN = f"{_MEDIAN} AND id % $3 = 0"
_HISTOGRAM = f"""SELECT {bucket_of(LATENCY)} AS bucket, count(*) {_DELIVERED}
    AND done_at IS NOT NULL GROUP BY bucket"""
SORTED_AT_MOST = 200_000  # delivered messages sorted for the exact median
SAMPLE = 10_000  # past that, about this many: the median's rank within ±1% (95%)


class PgKpis:
    """Implements KpiStore on the reports' connections."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def service_counts(self) -> list[ServiceCount]:
        return await self._db.report(service_counts)

    async def subscriber_counts(self) -> SubscriberCounts:
        return await self._db.report(subscriber_counts)

    async def consent_flow(self, periods: Sequence[Period]) -> list[ConsentFlow]:
        return await self._db.report(partial(consent_flow, periods=periods))

    async def broadcasts_sent(self, periods: Sequence[Period]) -> list[dict[str, int]]:
        return await self._db.report(partial(broadcasts_sent, periods=periods))

    async def delivery_totals(self, period: Period) -> DeliveryTotals:
        return await self._db.report(partial(delivery_totals, period=period))


def _bounds(periods: Sequence[Period]) -> tuple[list[datetime], list[datetime]]:
    return [p.start for p in periods], [p.end for p in periods]


async def service_counts(conn: Conn) -> list[ServiceCount]:
    """Every service, by ministry then keyword, with its subscribers now."""
    return [
        ServiceCount(keyword, ministry, active, subscribers)
        for keyword, ministry, active, subscribers in await conn.fetch(_SERVICES)
    ]


async def subscriber_counts(conn: Conn) -> SubscriberCounts:
    row = await conn.fetchrow(_SUBSCRIBERS)
    assert row is not None  # noqa: S101 - a SELECT without FROM gives one row
    active, seen, opted_out = row
    return SubscriberCounts(active, seen, opted_out)


async def consent_flow(conn: Conn, periods: Sequence[Period]) -> list[ConsentFlow]:
    """Joined, left and STOPs in each period (in their order)."""
    return [ConsentFlow(*row) for row in await conn.fetch(_FLOW, *_bounds(periods))]


async def broadcasts_sent(conn: Conn, periods: Sequence[Period]) -> list[dict[str, int]]:
    """Broadcasts sent in each period (by when they were created), per ministry."""
    sent: list[dict[str, int]] = [{} for _ in periods]
    for n, ministry, count in await conn.fetch(_BROADCASTS_SENT, *_bounds(periods)):
        sent[n - 1][ministry] = count
    return sent


async def delivery_totals(
    conn: Conn, period: Period, *, sorted_at_most: int | None = None
) -> DeliveryTotals:
    """The outbox of every broadcast created in ``period`` (whatever its state), all read in
    one snapshot: a broadcast retention sums up meanwhile is counted once, from its rows."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _delivery_totals(
            conn,
            (period.start, period.end),
            SORTED_AT_MOST if sorted_at_most is None else sorted_at_most,
        )


async def _delivery_totals(
    conn: Conn, bounds: tuple[datetime, datetime], sorted_at_most: int
) -> DeliveryTotals:
    segments_of: dict[int, dict[str, int]] = {}
    summaries: list[tuple[dict[str, int], dict[str, object]]] = []
    for id_, segments, kept in await conn.fetch(_BROADCASTS, *bounds):
        segments_of[id_] = json.loads(segments)
        if kept is not None:
            summaries.append((segments_of[id_], json.loads(kept)))
    audience = delivered = cancelled = finished = sent = 0
    for broadcast, state, language, count in await conn.fetch(_BY_STATE, *bounds):
        audience += count
        delivered += count if state == "delivered" else 0
        cancelled += count if state == "cancelled" else 0
        finished += 0 if state in WITHOUT_OUTCOME else count
        if state in _SENT_STATES:
            sent += count * segments_of[broadcast].get(language, 1)
    for broadcast, language, count in await conn.fetch(_SENT_OR_NOT, *bounds):
        sent += count * segments_of[broadcast].get(language, 1)
    summed_up: list[dict[int, int]] = []  # latency histograms of the purged ones
    for segments_by_language, summary in summaries:
        rows = summary["rows"]
        assert isinstance(rows, list)  # noqa: S101 - written by summaries.summarise_one
        for state, language, count, accepted in rows:
            audience += count
            delivered += count if state == "delivered" else 0
            cancelled += count if state == "cancelled" else 0
            finished += 0 if state in WITHOUT_OUTCOME else count
            sent += accepted * segments_by_language.get(language, 1)
        summed_up.append(latencies(summary))
    median, sampled = None, delivered > sorted_at_most
    if any(summed_up):  # some delivered are known only as histograms: bucket the live ones
        live = {int(row[0]): int(row[1]) for row in await conn.fetch(_HISTOGRAM, *bounds)}
        median, sampled = latency.median(latency.merged([live, *summed_up])), True
    elif sampled:
        step = -(-delivered // SAMPLE)  # ceiling: between SAMPLE / 2 and SAMPLE sorted
        median = await conn.fetchval(_SAMPLED_MEDIAN, *bounds, step)
    elif delivered:
        median = await conn.fetchval(_MEDIAN, *bounds)
    return DeliveryTotals(audience, delivered, cancelled, finished, sent, median, sampled)
