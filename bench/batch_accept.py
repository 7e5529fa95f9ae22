"""POST /api/v1/messages/batch: messages accepted per second (issue 13, target >= 20,000/s).

The gateway runs in this process on a fresh SQLite file with the built-in simulator as its
SMSC (in a child process, answering at once, receipts on); a client posts batches of 1,000
messages, C at a time, and times the answers: each answer means its messages are stored (one
transaction per batch) and on their way. Sending goes on meanwhile, on the same cores.

    .venv/bin/python bench/batch_accept.py [--batches 40] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import statistics
import tempfile
import time
import tomllib
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
import structlog
from aiohttp import web

from channels.simulator import Simulator, SimulatorConfig
from smsgw import server
from smsgw.access.tokens import Role, issue
from smsgw.app import GATEWAY, build_app
from smsgw.config import parse

CONFIG = """
[gateway]
short_code = "1515"
data_dir = "{folder}"

[http]
daily_messages_per_token = 100000000

[database]
url = "sqlite:///{folder}/bench.db"

[[channels]]
name = "btl-1"
carrier = "btl"
host = "127.0.0.1"
port = {port}
system_id = "smsgw-btl"
password = "secret"
window = 10
prefixes = ["+5016"]
"""
BATCH = 1000


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def run_simulator(pipe: Connection) -> None:
    quiet()

    async def serve() -> None:
        config = SimulatorConfig(port=0, control_port=None, receipt_delay_s=0.001, keep_submits=1)
        async with Simulator(config) as simulator:
            pipe.send(simulator.port)
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(serve())


async def post_batches(folder: Path, port: int, batches: int, concurrency: int) -> list[float]:
    settings = parse(tomllib.loads(CONFIG.format(folder=folder, port=port)), base_dir=folder)
    app = build_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/v1/messages/batch"
        secret, token = issue(Role.ADMIN, now=datetime.now(UTC), person="bench")
        await app[GATEWAY].store.tokens.add_token(token)
        headers = {"Authorization": f"Bearer {secret}"}
        todo = iter(range(batches))
        seconds: list[float] = []

        async def client(session: aiohttp.ClientSession) -> None:
            for b in todo:
                items = [
                    {"to": f"+50160{(b * BATCH + i) % 100_000:05d}", "text": "Tax is due Monday."}
                    for i in range(BATCH)
                ]
                started = time.perf_counter()
                async with session.post(url, json={"messages": items}, headers=headers) as answer:
                    body = await answer.json()
                    if answer.status != 200 or body["accepted"] != BATCH:
                        raise SystemExit(f"{answer.status}: {str(body)[:300]}")
                seconds.append(time.perf_counter() - started)

        async with aiohttp.ClientSession() as session:
            warm = [{"to": "+5016099999", "text": "warm-up"}]
            async with session.post(url, json={"messages": warm}, headers=headers) as answer:
                await answer.read()
            started = time.perf_counter()
            await asyncio.gather(*(client(session) for _ in range(concurrency)))
            seconds.insert(0, time.perf_counter() - started)  # the whole run first
    finally:
        await runner.cleanup()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    quiet()
    ours, theirs = multiprocessing.Pipe()
    smsc = multiprocessing.Process(target=run_simulator, args=(theirs,), daemon=True)
    smsc.start()
    try:
        port = ours.recv()
        with tempfile.TemporaryDirectory() as folder:
            seconds = server.run(  # on uvloop, as `smsgw run` serves
                post_batches(Path(folder), port, args.batches, args.concurrency)
            )
    finally:
        ours.send("stop")
        smsc.join(5)
    wall, each = seconds[0], sorted(seconds[1:])
    total = args.batches * BATCH
    print(f"{total:,} messages in {args.batches} batches of {BATCH}, {args.concurrency} at a time")
    print(f"  accepted         {total / wall:10,.0f} messages/s  (target >= 20,000)"
          f"  {'ok' if total / wall >= 20_000 else 'MISSED'}")  # fmt: skip
    print(f"  batch answer     p50 {statistics.median(each) * 1000:6.0f} ms,"
          f" max {each[-1] * 1000:6.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
