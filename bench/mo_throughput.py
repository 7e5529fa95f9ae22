"""Citizens texting the short code: MOs handled per second and the latency of each answer.

The SMSC simulator runs in a child process and injects mobile-originated texts (a mix of
commands, each from its own number); this process is the whole gateway on SQLite, or with
--database on a PostgreSQL database made for the run. Latency is from the MO's injection to its
first reply's submit_sm reaching the simulator (MO in → stored → acknowledged → keyword engine →
consent stored → reply queued and submitted), on the shared monotonic clock.

    .venv/bin/python bench/mo_throughput.py [--messages 50000] [--rate 800]
        [--database postgresql://user@host:port/anydb]
    (--rate 0: inject as fast as possible and report the handling rate)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import structlog
from databases import add_option, backend, database

from channels.simulator import Simulator, SimulatorConfig
from smsgw.app import Gateway
from smsgw.config import load
from smsgw.demo_catalogue import DEMO_SERVICES

MIX = ["JOIN HEALTH", "salud", "HURRICANE", "STOP", "HELP", "ALTO", "MY", "HEALHT",
       "LANG ES", "unir clima", "STOP HEALTH", "what is this", "AYUDA", "JOBS"]  # fmt: skip

CONFIG = """
[gateway]
short_code = "1515"
default_region = "BZ"
data_dir = "{folder}"
[database]
url = "{url}"
[[channels]]
name = "btl-1"
carrier = "btl"
host = "127.0.0.1"
port = {port}
system_id = "bench"
tps = 0
window = 100
[citizens]
programme = "Gov of Belize Info"
contact = "0-800-466-4636"
"""


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def number(i: int) -> str:
    return f"+5016{i:06d}"


def run_smsc(pipe: Connection, n: int, rate: int) -> None:
    """The child: injects the MOs, then finds when each one's first reply arrived."""
    quiet()

    async def serve() -> None:
        config = SimulatorConfig(port=0, control_port=None, receipt_delay_s=0.0, seed=1)
        async with Simulator(config) as smsc:
            pipe.send(smsc.port)
            await smsc.wait_bound()
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # gateway ready
            sent_at = await inject(smsc, n, rate)
            answered = await replies(smsc, n)
            latencies = [answered[i] - sent_at[i] for i in answered]
            pipe.send((sent_at[0], max(answered.values()), latencies))

    asyncio.run(serve())


async def inject(smsc: Simulator, n: int, rate: int) -> list[float]:
    sent_at = []
    started = time.monotonic()
    for i in range(n):
        if rate:
            due = started + i / rate
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
        elif i % 500 == 0:
            await asyncio.sleep(0)  # let the link write
        sent_at.append(time.monotonic())
        await smsc.inject_mo(number(i), MIX[i % len(MIX)])
    return sent_at


async def replies(smsc: Simulator, n: int) -> dict[int, float]:
    """Time of the first submit to each number, once every number got one (or 60 s pass)."""
    first: dict[int, float] = {}
    seen = 0
    deadline = time.monotonic() + 60
    while len(first) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        submits = smsc.submits
        for submit in submits[seen:]:
            i = int(submit.destination_addr[4:])
            first.setdefault(i, submit.at)
        seen = len(submits)
    return first


async def gateway(pipe: Connection, port: int, folder: Path, url: str) -> None:
    path = folder / "config.toml"
    path.write_text(CONFIG.format(folder=folder, url=url, port=port))
    gw = Gateway(load(path))
    await gw.start()
    for service in DEMO_SERVICES:
        await gw.store.catalogue.add_service(service)
    await gw.catalogue_changed()
    for channel in gw.channels:
        await channel.wait_bound()  # type: ignore[attr-defined]
    pipe.send("ready")
    await asyncio.get_running_loop().run_in_executor(None, pipe.poll, 300)  # the results
    await gw.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rate", type=int, default=800, help="MOs per second; 0: flat out")
    add_option(parser)
    args = parser.parse_args()
    quiet()
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(
        target=run_smsc, args=(theirs, args.messages, args.rate), daemon=True
    )
    child.start()
    port = ours.recv()
    with (
        tempfile.TemporaryDirectory() as folder,
        database(args.database, Path(folder), "mo.db") as url,
    ):
        asyncio.run(gateway(ours, port, Path(folder), url))
    first, last, latencies = ours.recv()
    child.join(5)
    n = args.messages
    answered = len(latencies)
    quantiles = statistics.quantiles(latencies, n=100)
    mode = f"{args.rate} MO/s offered" if args.rate else "injected flat out"
    print(f"{n} MOs ({mode}), mixed commands, one bind, {backend(url)}")
    print(f"  answered          {answered} ({answered / n:.1%})")
    print(f"  handled           {answered / (last - first):8.0f} MO/s end to end")
    print(f"  latency p50       {quantiles[49] * 1000:8.1f} ms (MO in → first reply submitted)")
    print(f"  latency p95       {quantiles[94] * 1000:8.1f} ms")
    print(f"  latency max       {max(latencies) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
