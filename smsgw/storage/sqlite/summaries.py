"""A finished broadcast's outbox summed up, so that retention can delete its per-recipient
rows (and their segments and receipt events) and its figures and the KPIs still add up.

broadcasts.outbox_summary (JSON):
  stats:     what its detail shows (BroadcastStats: by state, p50/p95, first and last submit)
  rows:      [state, language, messages, accepted by a carrier] (the KPIs' counts and SMS)
  latencies: {bucket: delivered messages} (kpis.latency: the KPIs' median, within 2.5%)
"""

from __future__ import annotations

import json
import sqlite3

from smsgw.kpis import latency
from smsgw.storage.sqlite.broadcasts import live_stats
from smsgw.storage.sqlite.times import maybe_timestamp

_FINISHED = """SELECT id FROM broadcasts WHERE state IN ('done', 'cancelled')
    AND outbox_summary IS NULL AND coalesce(finished_at, cancelled_at, updated_at) < ?
    ORDER BY id LIMIT 1"""
_ROWS = """SELECT state, language, count(*), count(submitted_at) FROM outbox
    WHERE broadcast = ? GROUP BY state, language ORDER BY state, language"""
_LATENCY = """SELECT latency_bucket((julianday(done_at) - julianday(submitted_at)) * 86400.0)
    AS bucket, count(*) FROM outbox
    WHERE broadcast = ? AND state = 'delivered' AND submitted_at IS NOT NULL GROUP BY bucket"""


def summarise_one(db: sqlite3.Connection, *, before: str) -> int | None:
    """Sum up the outbox of one broadcast finished before ``before`` (one transaction);
    returns its id, or None when none is left to sum up."""
    row = db.execute(_FINISHED, (before,)).fetchone()
    if row is None:
        return None
    broadcast_id = int(row[0])
    db.create_function("latency_bucket", 1, latency.bucket, deterministic=True)
    stats = live_stats(db, broadcast_id)
    summary = {
        "stats": {
            "by_state": stats.by_state,
            "latency_p50_s": stats.latency_p50_s,
            "latency_p95_s": stats.latency_p95_s,
            "first_submit_at": maybe_timestamp(stats.first_submit_at),
            "last_submit_at": maybe_timestamp(stats.last_submit_at),
        },
        "rows": [list(r) for r in db.execute(_ROWS, (broadcast_id,))],
        "latencies": {str(b): n for b, n in db.execute(_LATENCY, (broadcast_id,))},
    }
    db.execute(
        "UPDATE broadcasts SET outbox_summary = ? WHERE id = ?",
        (json.dumps(summary, separators=(",", ":")), broadcast_id),
    )
    return broadcast_id


def latencies(summary: dict[str, object]) -> dict[int, int]:
    kept = summary["latencies"]
    assert isinstance(kept, dict)  # noqa: S101 - written by summarise_one
    return {int(key): int(count) for key, count in kept.items()}
