"""Fan-out of a broadcast into the outbox: seconds and peak RSS (issue 4, benchmark a).

Seeds a store (a SQLite file in a temporary folder, or with --database a PostgreSQL database
made for the run) with N subscribers of one service (join_many, 50,000 rows a call): 70% on
carrier A's prefixes (+50160…+50164), 30% on carrier B's (+50165…+50167), a fifth with
language "es", and 1% under a global STOP (store.stop_all), which the fan-out must leave out.
Then a fresh child process opens the seeded store, as the gateway would, and calls
fan_out_chunk until the audience is exhausted, with the router's try_carrier as carrier_of
(what the scheduler passes). Only that loop is timed; the seeding time is printed apart.
Target: under 10 s and under 300 MB for 1,000,000 subscribers.

    .venv/bin/python bench/broadcast_fanout.py [--subscribers 1000000] [--chunk 10000]
        [--database postgresql://user@host:port/anydb]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import random
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import structlog
from databases import add_option, backend, database, query, size_mb

from channels.routing import Router
from smsgw.broadcasts.model import Broadcast, BroadcastState
from smsgw.config import DatabaseConfig
from smsgw.delivery.outbox import Priority
from smsgw.storage import open_store
from subscriptions.models import Service, Source

SERVICE = Service(
    keyword="HEALTH",
    ministry="health",
    names={"en": "Health alerts", "es": "Alertas de salud"},
    aliases=("SALUD",),
)
BATCH = 50_000  # rows per join_many call
TARGET_S, TARGET_MB = 10.0, 300
CARRIER_A = ("+50160", "+50161", "+50162", "+50163", "+50164")
CARRIER_B = ("+50165", "+50166", "+50167")
# Six digits after each prefix (one more than Belize's seven-digit plan): a million numbers
# then fit the prefixes in the 70/30 mix. The fan-out does not care about the length.
PER_PREFIX = 1_000_000


@dataclass(frozen=True, slots=True)
class FakeChannel:
    """What channels.routing.Router reads of a channel."""

    name: str
    carrier: str
    prefixes: tuple[str, ...]
    can_send: bool = True
    backlog: int = 0


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def mb(kb: int) -> float:
    return kb / 1024


def status_kb(field: str) -> int:
    """A line of /proc/self/status, in kB (VmRSS: now; VmHWM: this process's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def numbers(n: int, rng: random.Random) -> list[tuple[str, str | None]]:
    """N distinct numbers, 70% carrier A and 30% carrier B, a fifth "es", in random order."""
    on_a = round(n * 0.7)
    rows: list[tuple[str, str | None]] = []
    for prefixes, count in ((CARRIER_A, on_a), (CARRIER_B, n - on_a)):
        for k in rng.sample(range(len(prefixes) * PER_PREFIX), count):
            prefix, rest = divmod(k, PER_PREFIX)
            rows.append((f"{prefixes[prefix]}{rest:06d}", "es" if rng.random() < 0.2 else None))
    rng.shuffle(rows)
    return rows


async def seed(url: str, n: int) -> tuple[int, int, float, float]:
    """The store with its subscribers and a broadcast due now: (broadcast id, opted out,
    seconds joining, seconds stopping)."""
    rng = random.Random(1)
    rows = numbers(n, rng)
    at = datetime.now(UTC)
    store = await open_store(DatabaseConfig(url=url))
    try:
        await store.catalogue.add_service(SERVICE)
        started = time.perf_counter()
        for i in range(0, n, BATCH):
            await store.subscriptions.join_many(
                rows[i : i + BATCH], SERVICE.keyword, at=at, source=Source.IMPORT, consent="bench"
            )
        joined_s = time.perf_counter() - started
        # 1% STOP: one store call each, as citizens' texts do (it also leaves their
        # subscriptions, so the fan-out skips them at the audience index)
        stopped = rng.sample(rows, n // 100)
        started = time.perf_counter()
        for msisdn, _ in stopped:
            await store.subscriptions.stop_all(
                msisdn, at=at, source=Source.SMS, consent="bench-stop"
            )
        stopped_s = time.perf_counter() - started
        texts = {"en": "Clinics open Saturday 8-12.", "es": "Clínicas abiertas sábado 8-12."}
        broadcast_id = await store.broadcasts.add_broadcast(
            Broadcast(
                id=0,
                service=SERVICE.keyword,
                ministry=SERVICE.ministry,
                texts=texts,
                segments=dict.fromkeys(texts, 1),
                encodings={"en": "gsm7", "es": "ucs2"},
                default_language="en",
                priority=Priority.NORMAL,
                state=BroadcastState.SENDING,  # as the scheduler sets it before the fan-out
                send_at=None,
                expires_at=at + timedelta(days=1),
                audience=None,
                cost_estimate=0.0,
                created_by="bench",
                created_at=at,
                updated_at=at,
            )
        )
    finally:
        await store.close()
    return broadcast_id, len(stopped), joined_s, stopped_s


def fan_out_child(pipe: Connection) -> None:
    """The child: waits for the seeded store, fans the broadcast out, reports."""
    quiet()
    url, broadcast_id, chunk = pipe.recv()
    pipe.send(asyncio.run(fan_out(url, broadcast_id, chunk)))


async def fan_out(url: str, broadcast_id: int, chunk: int) -> dict[str, Any]:
    router = Router(
        [FakeChannel("a-1", "carrier-a", CARRIER_A), FakeChannel("b-1", "carrier-b", CARRIER_B)]
    )
    # serving: as the gateway opens it (on PostgreSQL that also brings the statistics up to
    # date, as the gateway and autovacuum do: a plan made for an empty table scans it whole)
    store = await open_store(DatabaseConfig(url=url), serving=True)
    try:
        broadcast = await store.broadcasts.broadcast(broadcast_id)
        if broadcast is None:
            raise LookupError(broadcast_id)
        baseline_kb = status_kb("VmRSS")
        at = datetime.now(UTC)
        chunk_s: list[float] = []
        added = 0
        started = time.perf_counter()
        finished = False
        while not finished:
            before = time.perf_counter()
            rows, finished = await store.outbox.fan_out_chunk(
                broadcast, chunk=chunk, carrier_of=router.try_carrier, at=at
            )
            chunk_s.append(time.perf_counter() - before)
            added += rows
        elapsed = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: kB
        fanned_out = await store.outbox.fanned_out(broadcast_id)
    finally:
        await store.close()
    return {
        "elapsed": elapsed,
        "added": added,
        "chunk_s": chunk_s,
        "baseline_kb": baseline_kb,
        "peak_kb": peak_kb,
        "hwm_kb": status_kb("VmHWM"),
        "fanned_out": fanned_out,
    }


async def check(url: str, broadcast_id: int) -> tuple[int, int, int, dict[str, int], float]:
    """(active audience, outbox rows, distinct recipients, rows by carrier, database MB), read
    directly."""
    [(audience,)] = await query(
        url,
        """SELECT count(*) FROM subscriptions s JOIN subscribers u ON u.msisdn = s.msisdn
            WHERE s.service = ? AND s.left_at IS NULL AND u.opted_out_at IS NULL""",
        SERVICE.keyword,
    )
    [(rows, distinct)] = await query(
        url,
        "SELECT count(*), count(DISTINCT recipient) FROM outbox WHERE broadcast = ?",
        broadcast_id,
    )
    by_carrier = await query(
        url,
        "SELECT coalesce(carrier, 'none'), count(*) FROM outbox WHERE broadcast = ?"
        " GROUP BY carrier ORDER BY 1",
        broadcast_id,
    )
    return audience, rows, distinct, dict(by_carrier), await size_mb(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    add_option(parser)
    args = parser.parse_args()
    quiet()
    # The child is started now, while this process is small: a spawned child's ru_maxrss
    # starts from its parent's peak at the fork (Linux keeps the high-water mark across
    # exec), so spawned after the seeding it would report the seeding's memory.
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=fan_out_child, args=(theirs,), daemon=True
    )
    child.start()
    n = args.subscribers
    with (
        tempfile.TemporaryDirectory() as folder,
        database(args.database, Path(folder), "fanout.db") as url,
    ):
        started = time.perf_counter()
        broadcast_id, opted_out, joined_s, stopped_s = asyncio.run(seed(url, n))
        seeded_s = time.perf_counter() - started
        ours.send((url, broadcast_id, args.chunk))
        result = ours.recv()
        child.join(10)
        audience, rows, distinct, by_carrier, size = asyncio.run(check(url, broadcast_id))
    elapsed, peak = result["elapsed"], mb(result["peak_kb"])
    chunk_s = sorted(result["chunk_s"])
    ok = rows == audience == distinct == result["added"] and result["fanned_out"]
    print(f"{n:,} subscribers, {opted_out:,} under a global STOP, chunk {args.chunk:,},"
          f" {backend(url)}")  # fmt: skip
    print(f"  seeding           {seeded_s:8.1f} s  (join_many {joined_s:.1f} s,"
          f" stop_all {stopped_s:.1f} s; not in the figure)")  # fmt: skip
    print(f"  fan-out           {elapsed:8.2f} s  (target < {TARGET_S:.0f} s)"
          f"  {'ok' if elapsed < TARGET_S else 'MISSED'}")  # fmt: skip
    print(f"  rows/s            {rows / elapsed:8,.0f}")
    print(f"  peak RSS          {peak:8.0f} MB (target < {TARGET_MB} MB)"
          f"  {'ok' if peak < TARGET_MB else 'MISSED'}")  # fmt: skip
    print(f"  baseline RSS      {mb(result['baseline_kb']):8.0f} MB (interpreter, imports,"
          f" store open; VmHWM at the end {mb(result['hwm_kb']):.0f} MB)")  # fmt: skip
    print(f"  chunks            {len(chunk_s):8d}  (p50 {statistics.median(chunk_s) * 1000:.0f} ms,"
          f" max {chunk_s[-1] * 1000:.0f} ms)")  # fmt: skip
    print(f"  outbox rows       {rows:8,}  (active audience {audience:,}, distinct {distinct:,};"
          f" {'ok' if ok else 'MISMATCH'})")  # fmt: skip
    print(f"  by carrier        {by_carrier}")
    print(f"  database          {size:8.0f} MB")
    if not ok:
        raise SystemExit("the outbox does not match the audience")


if __name__ == "__main__":
    main()
