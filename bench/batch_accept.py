"""POST /api/v1/messages/batch: messages accepted per second (issue 13, target >= 20,000/s).

The gateway runs in this process on a fresh SQLite file with the built-in simulator as its
SMSC (in a child process, answering at once, receipts on); a client posts batches of 1,000
messages, C at a time, from a process of its own, and times the answers: each answer means its
messages are stored (one transaction per batch) and on their way. Sending goes on meanwhile, on
the same cores: flat out by default (the worst case: each SMS sent costs the event loop more
than one accepted), or at a carrier's cap with --tps.

    .venv/bin/python bench/batch_accept.py [--batches 40] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import resource
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
{tps}"""
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


def run_client(pipe: Connection) -> None:
    """The integrator, in a process of its own: its JSON work is not the gateway's."""
    url, secret, batches, concurrency = pipe.recv()
    pipe.send(asyncio.run(post_batches(url, secret, batches, concurrency)))


async def post_batches(url: str, secret: str, batches: int, concurrency: int) -> list[float]:
    headers = {"Authorization": f"Bearer {secret}"}
    todo = iter(range(batches))
    seconds: list[float] = []

    async def client(session: aiohttp.ClientSession) -> None:
        for b in todo:
            items = [
                {"to": f"+50160{(b * BATCH + i) % 100_000:05d}", "text": "Tax is due Monday."}
                for i in range(BATCH)
            ]
            body = json.dumps({"messages": items})
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as answer:
                result = await answer.json()
                if answer.status != 200 or result["accepted"] != BATCH:
                    raise SystemExit(f"{answer.status}: {str(result)[:300]}")
            seconds.append(time.perf_counter() - started)

    headers["Content-Type"] = "application/json"
    async with aiohttp.ClientSession() as session:
        warm = json.dumps({"messages": [{"to": "+5016099999", "text": "warm-up"}]})
        async with session.post(url, data=warm, headers=headers) as answer:
            await answer.read()
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        seconds.insert(0, time.perf_counter() - started)  # the whole run first
    return seconds


async def serve_gateway(
    folder: Path, port: int, tps: int | None, integrator: Connection, job: tuple[int, int]
) -> list[float]:
    settings = parse(
        tomllib.loads(CONFIG.format(folder=folder, port=port, tps=f"tps = {tps}" if tps else "")),
        base_dir=folder,
    )
    app = build_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/v1/messages/batch"
        secret, token = issue(Role.ADMIN, now=datetime.now(UTC), person="bench")
        await app[GATEWAY].store.tokens.add_token(token)
        cpu = time.process_time()
        integrator.send((url, secret, *job))
        seconds: list[float] = await asyncio.get_running_loop().run_in_executor(
            None, integrator.recv
        )
        seconds.append(time.process_time() - cpu)  # both threads, sending included
    finally:
        await runner.cleanup()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--tps", type=int, help="the bind's cap (default: none)")
    args = parser.parse_args()
    quiet()
    ours, theirs = multiprocessing.Pipe()
    smsc = multiprocessing.Process(target=run_simulator, args=(theirs,), daemon=True)
    smsc.start()
    try:
        port = ours.recv()
        ask, answer = multiprocessing.Pipe()
        integrator = multiprocessing.Process(target=run_client, args=(answer,), daemon=True)
        integrator.start()
        with tempfile.TemporaryDirectory() as folder:
            seconds = server.run(  # on uvloop, as `smsgw run` serves
                serve_gateway(Path(folder), port, args.tps, ask, (args.batches, args.concurrency))
            )
        integrator.join(5)
    finally:
        ours.send("stop")
        smsc.join(5)
    wall, each, cpu = seconds[0], sorted(seconds[1:-1]), seconds[-1]
    total = args.batches * BATCH
    sending = f"sending at {args.tps} TPS" if args.tps else "sending flat out"
    print(f"{total:,} messages in {args.batches} batches of {BATCH}, {args.concurrency} at a time,"
          f" {sending}")  # fmt: skip
    print(f"  accepted         {total / wall:10,.0f} messages/s  (target >= 20,000)"
          f"  {'ok' if total / wall >= 20_000 else 'MISSED'}")  # fmt: skip
    print(f"  gateway CPU      {cpu / total * 1e6:10,.1f} µs/message (sending included)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  gateway peak RSS {rss:10,.1f} MB")
    print(f"  batch answer     p50 {statistics.median(each) * 1000:6.0f} ms,"
          f" max {each[-1] * 1000:6.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
