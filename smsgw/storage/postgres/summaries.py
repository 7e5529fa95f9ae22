"""A finished broadcast's outbox summed up, so that retention can delete its per-recipient
rows (and their segments and receipt events) and its figures and the KPIs still add up.

broadcasts.outbox_summary (JSON text, the very form sqlite/summaries.py writes, so that a
database copied from one backend to the other reads the same):
  stats:     what its detail shows (BroadcastStats: by state, p50/p95, first and last submit)
  rows:      [state, language, messages, accepted by a carrier] (the KPIs' counts and SMS)
  latencies: {bucket: delivered messages} (kpis.latency: the KPIs' median, within 2.5%)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from smsgw.storage.postgres.broadcasts import live_stats
from smsgw.storage.postgres.db import Conn

# A delivered message's latency in seconds (submit → final receipt), as double precision
LATENCY = "extract(epoch FROM done_at - submitted_at)::double precision"


def bucket_of(latency: str) -> str:
    """kpis.latency.bucket in SQL: floor(log base 1.05 of max(latency, 1 ms)). In double
    precision, as Python computes it (ln is C's log on both), so both put a latency in the
    same bucket, and a broadcast's million latencies are bucketed in the database, not
    fetched."""
    return (
        f"floor(ln(greatest({latency}, 0.001::double precision))"
        " / ln(1.05::double precision))::integer"
    )


# SKIP LOCKED: with several gateways purging at once, each sums up a broadcast of its own
_FINISHED = """SELECT id FROM broadcasts WHERE state IN ('done', 'cancelled')
    AND outbox_summary IS NULL AND coalesce(finished_at, cancelled_at, updated_at) < $1
    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"""
# Through index outbox_broadcast (broadcast, state, language). In byte order, as SQLite's
# (and so the same JSON on both, whatever the database's collation).
_ROWS = """SELECT state, language, count(*), count(submitted_at) FROM outbox
    WHERE broadcast = $1 GROUP BY state, language
    ORDER BY state COLLATE "C", language COLLATE "C"
"""
_LATENCIES = f"""SELECT {bucket_of(LATENCY)} AS bucket, count(*) FROM outbox
    WHERE broadcast = $1 AND state = 'delivered' AND submitted_at IS NOT NULL
      AND done_at IS NOT NULL
    GROUP BY bucket ORDER BY bucket"""


async def summarise_one(conn: Conn, *, before: datetime) -> int | None:
    """Sum up the outbox of one broadcast finished before ``before`` (in the caller's
    transaction); returns its id, or None when none is left to sum up."""
    broadcast_id = await conn.fetchval(_FINISHED, before)
    if broadcast_id is None:
        return None
    stats = await live_stats(conn, broadcast_id)
    rows = await conn.fetch(_ROWS, broadcast_id)
    buckets = await conn.fetch(_LATENCIES, broadcast_id)
    summary = {
        "stats": {
            "by_state": stats.by_state,
            "latency_p50_s": stats.latency_p50_s,
            "latency_p95_s": stats.latency_p95_s,
            "first_submit_at": _stamp(stats.first_submit_at),
            "last_submit_at": _stamp(stats.last_submit_at),
        },
        "rows": [list(row) for row in rows],
        "latencies": {str(bucket): count for bucket, count in buckets},
    }
    await conn.execute(
        "UPDATE broadcasts SET outbox_summary = $1 WHERE id = $2",
        json.dumps(summary, separators=(",", ":")),
        broadcast_id,
    )
    return int(broadcast_id)


def latencies(summary: dict[str, object]) -> dict[int, int]:
    kept = summary["latencies"]
    assert isinstance(kept, dict)  # noqa: S101 - written by summarise_one
    return {int(key): int(count) for key, count in kept.items()}


def _stamp(at: datetime | None) -> str | None:
    """A time as SQLite's times.timestamp writes it (the summary is the same on both)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds") if at is not None else None
