"""The KPIs in SQL: plain functions over the sqlite3 connection, each run in one trip to the
database thread (thread.SqliteThread). Each reads through an index, so a call stays well under
a second at a million subscribers (bench/kpis.py).

Counting relies on an invariant of sqlite/subscriptions.py: a number under a global STOP has
no active subscription (STOP leaves them all, joining lifts the STOP). Active subscribers are
therefore read from the partial indexes of active subscriptions alone, with no look-up of each
number's opt-out.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from functools import partial

from smsgw.delivery.message import WITHOUT_OUTCOME
from smsgw.kpis import latency
from smsgw.kpis.figures import (
    ConsentFlow,
    DeliveryTotals,
    Period,
    ServiceCount,
    SubscriberCounts,
)
from smsgw.storage.sqlite.summaries import latencies
from smsgw.storage.sqlite.thread import SqliteThread
from smsgw.storage.sqlite.times import timestamp

# partial index subscriptions_audience (service, msisdn) WHERE left_at IS NULL: covering
_SERVICES = """SELECT v.keyword, v.ministry, v.active, coalesce(c.n, 0)
    FROM services v LEFT JOIN (SELECT service, count(*) AS n FROM subscriptions
                               WHERE left_at IS NULL GROUP BY service) c
      ON c.service = v.keyword
    ORDER BY v.ministry, v.keyword"""
# Numbers come in order from the partial index subscriptions_active (msisdn, service), so the
# distinct count needs no temporary b-tree; left to itself the planner picks the other index
# and sorts (twice the time). subscribers_opted_out (migration 6) holds only the STOPs.
_SUBSCRIBERS = """SELECT
    (SELECT count(DISTINCT msisdn) FROM subscriptions INDEXED BY subscriptions_active
     WHERE left_at IS NULL),
    (SELECT count(*) FROM subscribers),
    (SELECT count(*) FROM subscribers WHERE opted_out_at IS NOT NULL)"""
# A STOP's detail lists the services it left, an UNSTOP's those it gave back (keywords, one
# space apart); index consent_events_action_at (action, at), migration 6.
_EVENTS = "FROM consent_events WHERE action = '{action}' AND at >= ?1 AND at < ?2"
_SERVICES_IN = "coalesce(sum(length(detail) - length(replace(detail, ' ', '')) + 1), 0)"
_FLOW = f"""SELECT
    (SELECT count(*) {_EVENTS.format(action="join")})
      + (SELECT {_SERVICES_IN} {_EVENTS.format(action="unstop")}),
    (SELECT count(*) {_EVENTS.format(action="leave")})
      + (SELECT {_SERVICES_IN} {_EVENTS.format(action="stop_all")}),
    (SELECT count(*) {_EVENTS.format(action="stop_all")})"""
# A broadcast counts as sent once it is sending or done (a cancelled one does not, even if
# part of it went out); an import's sign-up confirmations (joined_at) are no broadcast of the
# programme's, though their SMS and cost count. The table is small: hundreds a year.
_BROADCASTS_SENT = """SELECT ministry, count(*) FROM broadcasts
    WHERE state IN ('sending', 'done') AND joined_at IS NULL AND created_at >= ?
    AND created_at < ? GROUP BY ministry ORDER BY ministry"""
# Broadcasts whose outbox rows are (being) deleted are read from their summary instead
_IN_PERIOD = """SELECT id FROM broadcasts WHERE created_at >= ?1 AND created_at < ?2
    AND outbox_summary IS NULL"""
_SUMMARIES = """SELECT segments, outbox_summary FROM broadcasts
    WHERE created_at >= ?1 AND created_at < ?2 AND outbox_summary IS NOT NULL"""
_SEGMENTS = "SELECT id, segments FROM broadcasts WHERE created_at >= ?1 AND created_at < ?2"
# Covering index outbox_broadcast (broadcast, state, language), migration 6, in its own order
# (grouping otherwise sorts a million rows in a temporary b-tree).
_BY_STATE = f"""SELECT broadcast, state, language, count(*) FROM outbox
    WHERE broadcast IN ({_IN_PERIOD}) GROUP BY broadcast, state, language"""
# A message went out when a carrier accepted it (submitted_at set; its language is the text it
# got): always so in these states, and in these others only for some (a receipt's verdict, or
# the dispatcher's before any submit), read from the rows, which are few.
_SENT_STATES = ("submitted", "delivered", "undeliverable")
_SENT_OR_NOT = f"""SELECT broadcast, language, count(*) FROM outbox
    WHERE broadcast IN ({_IN_PERIOD}) AND state IN ('expired', 'rejected', 'failed')
      AND submitted_at IS NOT NULL
    GROUP BY broadcast, state, language"""
_LATENCY = f"""SELECT (julianday(done_at) - julianday(submitted_at)) * 86400.0 AS latency
    FROM outbox WHERE broadcast IN ({_IN_PERIOD}) AND state = 'delivered'
      AND submitted_at IS NOT NULL"""
# The lower median of an even count, as broadcasts.stats.
_MEDIAN = f"{_LATENCY} ORDER BY latency LIMIT 1 OFFSET ?3"
_HISTOGRAM = f"SELECT latency_bucket(latency) AS bucket, count(*) FROM ({_LATENCY}) GROUP BY bucket"
# Over every ?3-th message by id (ids follow the numbers' order within a broadcast, which says
# nothing of how fast receipts come): a million latencies would take a second to sort.
_SAMPLED_MEDIAN = f"""SELECT latency FROM (
        SELECT latency, row_number() OVER (ORDER BY latency) AS n, count(*) OVER () AS total
        FROM ({_LATENCY} AND id % ?3 = 0))
    WHERE n = (total + 1) / 2"""
SORTED_AT_MOST = 200_000  # delivered messages sorted for the exact median
SAMPLE = 10_000  # past that, about this many: the median's rank within ±1% (95%)


class SqliteKpis:
    """Implements KpiStore on the store's connection."""

    def __init__(self, db: SqliteThread) -> None:
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


def _bounds(period: Period) -> tuple[str, str]:
    return timestamp(period.start), timestamp(period.end)


def service_counts(db: sqlite3.Connection) -> list[ServiceCount]:
    """Every service, by ministry then keyword, with its subscribers now."""
    return [
        ServiceCount(keyword, ministry, bool(active), subscribers)
        for keyword, ministry, active, subscribers in db.execute(_SERVICES)
    ]


def subscriber_counts(db: sqlite3.Connection) -> SubscriberCounts:
    active, seen, opted_out = db.execute(_SUBSCRIBERS).fetchone()
    return SubscriberCounts(active, seen, opted_out)


def consent_flow(db: sqlite3.Connection, periods: Sequence[Period]) -> list[ConsentFlow]:
    """Joined, left and STOPs in each period (in their order)."""
    return [ConsentFlow(*db.execute(_FLOW, _bounds(period)).fetchone()) for period in periods]


def broadcasts_sent(db: sqlite3.Connection, periods: Sequence[Period]) -> list[dict[str, int]]:
    """Broadcasts sent in each period (by when they were created), per ministry."""
    return [dict(db.execute(_BROADCASTS_SENT, _bounds(period)).fetchall()) for period in periods]


def delivery_totals(
    db: sqlite3.Connection, period: Period, *, sorted_at_most: int = SORTED_AT_MOST
) -> DeliveryTotals:
    """The outbox of every broadcast created in ``period`` (whatever its state)."""
    bounds = _bounds(period)
    segments_of = {id_: json.loads(segments) for id_, segments in db.execute(_SEGMENTS, bounds)}
    audience = delivered = cancelled = finished = sent = 0
    for broadcast, state, language, count in db.execute(_BY_STATE, bounds):
        audience += count
        delivered += count if state == "delivered" else 0
        cancelled += count if state == "cancelled" else 0
        finished += 0 if state in WITHOUT_OUTCOME else count
        if state in _SENT_STATES:
            sent += count * segments_of[broadcast].get(language, 1)
    for broadcast, language, count in db.execute(_SENT_OR_NOT, bounds):
        sent += count * segments_of[broadcast].get(language, 1)
    summed_up: list[dict[int, int]] = []  # latency histograms of the purged ones
    for segments, kept in db.execute(_SUMMARIES, bounds):
        segments_by_language, summary = json.loads(segments), json.loads(kept)
        for state, language, count, accepted in summary["rows"]:
            audience += count
            delivered += count if state == "delivered" else 0
            cancelled += count if state == "cancelled" else 0
            finished += 0 if state in WITHOUT_OUTCOME else count
            sent += accepted * segments_by_language.get(language, 1)
        summed_up.append(latencies(summary))
    median, sampled = None, delivered > sorted_at_most
    if any(summed_up):  # some delivered are known only as histograms: read the live ones so
        db.create_function("latency_bucket", 1, latency.bucket, deterministic=True)
        live = dict(db.execute(_HISTOGRAM, bounds).fetchall())
        median, sampled = latency.median(latency.merged([live, *summed_up])), True
    elif sampled:
        step = -(-delivered // SAMPLE)  # ceiling: between SAMPLE / 2 and SAMPLE sorted
        median = _first(db.execute(_SAMPLED_MEDIAN, (*bounds, step)))
    elif delivered:
        median = _first(db.execute(_MEDIAN, (*bounds, (delivered - 1) // 2)))
    return DeliveryTotals(audience, delivered, cancelled, finished, sent, median, sampled)


def _first(cursor: sqlite3.Cursor) -> float | None:
    row = cursor.fetchone()
    return float(row[0]) if row else None
