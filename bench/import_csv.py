"""CSV import through the HTTP API: POST /api/v1/subscriptions/import, streamed.

Builds the whole gateway in this process (the SMSC simulator on 127.0.0.1:0 for its binds, a
SQLite file in a temporary folder), serves it on a real aiohttp test server, and posts a CSV
of generated Belize mobile numbers (a language on every other row, 1% repeated), sent in
pieces as a client uploading a file would. Prints rows/s for the request as a whole (body
upload, validation, inserts, report) and the process's peak RSS before and after the import:
the client, the server and SQLite share this process and its event loop.

    .venv/bin/python bench/import_csv.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import structlog
from aiohttp.test_utils import TestClient, TestServer

from channels.simulator import Simulator, SimulatorConfig
from smsgw.access.tokens import Role, issue
from smsgw.app import GATEWAY, build_app
from smsgw.config import load
from subscriptions.models import Service

CONFIG = """
[gateway]
short_code = "1515"
default_region = "BZ"
timezone = "America/Belize"
data_dir = "data"

[http]
host = "127.0.0.1"
port = 0

[database]
url = "sqlite:///data/bench.db"

[[channels]]
name = "btl-1"
carrier = "btl"
host = "127.0.0.1"
port = {port}
system_id = "smsgw"
password = "secret"
prefixes = ["+5016"]
"""
PIECE = 2000  # rows per piece of the upload
MOBILE = ("60", "61", "62", "63", "65", "66", "67")  # Belize mobile ranges: 700,000 numbers


async def watch_loop(lags: list[float]) -> None:
    """How late a 10 ms timer fires: what an MO arriving during the import would wait."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - started - 0.01)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


async def csv_body(rows: int) -> AsyncIterator[bytes]:
    yield b"msisdn,language\n"
    for start in range(0, rows, PIECE):
        lines = []
        for i in range(start, min(start + PIECE, rows)):
            number = i - 1 if i % 100 == 1 else i  # 1% repeated
            language = ("en", "es")[i % 2] if i % 4 else ""
            block, rest = divmod(number % 700_000, 100_000)
            lines.append(f"+501{MOBILE[block]}{rest:05d},{language}\n")
        yield "".join(lines).encode()


async def run(rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        simulator_config = SimulatorConfig(port=0, control_port=None, seed=1)
        async with Simulator(simulator_config) as simulator:
            config = Path(folder) / "config.toml"
            config.write_text(CONFIG.format(port=simulator.port), encoding="utf-8")
            async with TestClient(TestServer(build_app(load(config)))) as client:
                gateway = client.app[GATEWAY]
                secret, token = issue(Role.ADMIN, now=datetime.now(UTC))
                await gateway.store.tokens.add_token(token)
                await gateway.store.catalogue.add_service(
                    Service(keyword="HEALTH", ministry="health", names={"en": "Health alerts"})
                )
                before = peak_rss_mb()
                lags: list[float] = []
                watcher = asyncio.create_task(watch_loop(lags))
                started = time.perf_counter()
                response = await client.post(
                    "/api/v1/subscriptions/import?service=HEALTH&consent_source=bench",
                    data=csv_body(rows),
                    headers={"Authorization": f"Bearer {secret}", "Content-Type": "text/csv"},
                )
                report = await response.json()
                elapsed = time.perf_counter() - started
                watcher.cancel()
    if response.status != 200:
        raise SystemExit(f"import failed: {response.status} {report}")
    counts = {k: report[k] for k in ("rows", "joined", "already", "rejected_total")}
    print(f"{rows:,} rows in {elapsed:.2f} s: {rows / elapsed:,.0f} rows/s  {counts}")
    print(f"peak RSS {before:.0f} MB before the import, {peak_rss_mb():.0f} MB after")
    lags.sort()
    p99 = lags[int(len(lags) * 0.99)] * 1000
    print(f"event loop lag during the import: p99 {p99:.1f} ms, max {lags[-1] * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(run(args.rows))


if __name__ == "__main__":
    main()
