"""Broadcasts through the whole gateway: the SMSC simulator in a child process, this process the
gateway (scheduler, fan-out, dispatcher, four SMPP binds on two carriers, receipts, SQLite or
with --database postgresql://user@host:port/anydb a PostgreSQL database made for the run).

    .venv/bin/python bench/broadcast.py throughput [--messages 100000] [--window 10]
        broadcast created → every receipt recorded, binds uncapped (issue 4 bench b); a
        carrier's window is often 10 (until issue 13 this ran at 100, which hid storage latency)
    .venv/bin/python bench/broadcast.py rate [--messages 12000] [--tps 100] [--delay 0.15]
        binds capped at --tps, the SMSC answering after --delay s: the rate achieved against
        the cap, and the most submits any bind sent in one second (bench c)
    .venv/bin/python bench/broadcast.py emergency [--messages 75000]
        an emergency alert created while --messages routine ones are queued: time to its first
        submit at the SMSC, three alerts in turn (bench d)

Times across the two processes are on the shared monotonic clock.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import resource
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import structlog
from databases import add_option, backend, database, query

from channels.simulator import Simulator, SimulatorConfig
from smsgw.app import Gateway
from smsgw.broadcasts.model import Broadcast, BroadcastState
from smsgw.config import DatabaseConfig, load
from smsgw.delivery.outbox import Priority
from smsgw.storage import open_store
from subscriptions.models import Service, Source

TEXT = "Vaccination day Saturday 9am at all clinics. Bring your card."
ALERT = "Hurricane warning: move to a shelter now. Listen to the radio."

BIND = """
[[channels]]
name = "{name}"
carrier = "{carrier}"
host = "127.0.0.1"
port = {port}
system_id = "{name}"
password = "bench"
tps = {tps}
window = {window}
prefixes = {prefixes}
"""
CONFIG = """
[gateway]
short_code = "1515"
default_region = "BZ"
data_dir = "{folder}"
[database]
url = "{url}"
"""
BINDS = [("btl-1", "btl", '["+50160", "+50161"]'), ("btl-2", "btl", '["+50160", "+50161"]'),
         ("smart-1", "smart", '["+50165"]'), ("smart-2", "smart", '["+50165"]')]  # fmt: skip


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def number(i: int, emergency: bool = False) -> str:
    """Routine audience: +50160… (btl) and +50165… (smart), one in three on smart; the
    emergency audience: +50161… (btl)."""
    if emergency:
        return f"+50161{i:05d}"
    return f"+5016{5 if i % 3 == 0 else 0}{i:05d}" if i < 100_000 else f"+5016{i:06d}"


# ---------------------------------------------------------------- the SMSC (child process)


def run_smsc(pipe: Connection, delay: float) -> None:
    quiet()

    async def serve() -> None:
        config = SimulatorConfig(
            port=0, control_port=None, receipt_delay_s=0.0, seed=1,
            receipt_mix={"delivered": 1.0}, response_delay_s=delay, keep_submits=2_000_000,
        )  # fmt: skip
        async with Simulator(config) as smsc:
            pipe.send(smsc.port)
            loop = asyncio.get_running_loop()
            while (ask := await loop.run_in_executor(None, pipe.recv)) != "stop":
                pipe.send(report(smsc, ask))

    asyncio.run(serve())


def report(smsc: Simulator, ask: str) -> dict[str, Any]:
    """What the parent asks for: the submits' figures, or when an alert's first one came."""
    accepted = [s for s in smsc.submits if s.status == 0]
    if ask.startswith("first:"):  # first:<number prefix>:<after, monotonic>
        _, prefix, after = ask.split(":")
        times = [s.at for s in accepted if s.destination_addr.startswith(prefix)]
        later = [at for at in times if at > float(after)]
        return {"first": min(later) if later else None}
    per_bind: dict[str, list[float]] = defaultdict(list)
    for s in accepted:
        per_bind[s.system_id].append(s.at)
    binds = {}
    for name, times in per_bind.items():
        times.sort()
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            most = max(most, end - start + 1)
        binds[name] = {"count": len(times), "first": times[0], "last": times[-1], "most": most}
    return {"accepted": len(accepted), "total": smsc.submit_total, "binds": binds}


# ---------------------------------------------------------------- the gateway (this process)


async def seed(url: str, routine: int, emergency: int) -> None:
    store = await open_store(DatabaseConfig(url=url))
    now = datetime.now(UTC)
    for keyword, size, is_alert in (("HEALTH", routine, False), ("HURRICANE", emergency, True)):
        await store.catalogue.add_service(
            Service(keyword=keyword, aliases=(), ministry="bench", names={"en": keyword},
                    descriptions={}, welcome={}, default_language="en",
                    requires_approval=False, active=True)
        )  # fmt: skip
        for start in range(0, size, 50_000):
            rows = [(number(i, is_alert), None) for i in range(start, min(size, start + 50_000))]
            await store.subscriptions.join_many(
                rows, keyword, at=now, source=Source.IMPORT, consent="bench"
            )
    await store.close()


def broadcast(service: str, text: str, priority: Priority) -> Broadcast:
    now = datetime.now(UTC)
    return Broadcast(
        id=0, service=service, ministry="bench", texts={"en": text}, segments={"en": 1},
        encodings={"en": "gsm7"}, default_language="en", priority=priority,
        state=BroadcastState.QUEUED, send_at=None, expires_at=now + timedelta(hours=2),
        audience=None, cost_estimate=0.0, created_by="bench", created_at=now, updated_at=now,
    )  # fmt: skip


async def start_gateway(folder: Path, url: str, port: int, tps: int, window: int) -> Gateway:
    text = CONFIG.format(folder=folder, url=url) + "".join(
        BIND.format(name=n, carrier=c, port=port, tps=tps, window=window, prefixes=p)
        for n, c, p in BINDS
    )
    (folder / "config.toml").write_text(text)
    gateway = Gateway(load(folder / "config.toml"))
    await gateway.start()
    async with asyncio.timeout(10):
        for channel in gateway.channels:
            await channel.wait_bound()  # type: ignore[attr-defined]
    return gateway


async def count(url: str, broadcast_id: int, state: str) -> int:
    [(n,)] = await query(
        url, "SELECT count(*) FROM outbox WHERE broadcast = ? AND state = ?", broadcast_id, state
    )
    return int(n)


async def until(url: str, broadcast_id: int, state: str, n: int, limit_s: float) -> None:
    """Polls the database (another connection, as an operator's query would)."""
    async with asyncio.timeout(limit_s):
        while True:
            if await count(url, broadcast_id, state) >= n:
                return
            await asyncio.sleep(0.1)


def ask(pipe: Connection, question: str) -> dict[str, Any]:
    pipe.send(question)
    answer: dict[str, Any] = pipe.recv()
    return answer


async def throughput(
    pipe: Connection, folder: Path, url: str, port: int, n: int, window: int
) -> None:
    await seed(url, n, 0)
    gateway = await start_gateway(folder, url, port, tps=0, window=window)
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        bid = await gateway.store.broadcasts.add_broadcast(
            broadcast("HEALTH", TEXT, Priority.NORMAL)
        )
        gateway.broadcasts_changed()
        await until(url, bid, "delivered", n, limit_s=600)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        await gateway.stop()
    figures = ask(pipe, "figures")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n} subscribers, one broadcast, 4 uncapped binds (2 carriers), window {window},"
          f" receipts, {backend(url)}")  # fmt: skip
    print(f"  created → every receipt stored  {wall:7.1f} s")
    print(f"  end to end                 {n / wall:10.0f} messages/s   (target ≥ 5,000)")
    print(f"  gateway CPU                {cpu / n * 1e6:10.1f} µs/message")
    print(f"  submits accepted / sent    {figures['accepted']:>10} / {figures['total']}")
    print(f"  gateway peak RSS           {peak:10.1f} MB")


async def rate(
    pipe: Connection, folder: Path, url: str, port: int, n: int, tps: int, delay: float
) -> None:
    await seed(url, n, 0)
    window = int(tps * (delay + 0.05)) + 5  # what the rate needs in flight, and some
    gateway = await start_gateway(folder, url, port, tps=tps, window=window)
    try:
        bid = await gateway.store.broadcasts.add_broadcast(
            broadcast("HEALTH", TEXT, Priority.NORMAL)
        )
        gateway.broadcasts_changed()
        await until(url, bid, "delivered", n, limit_s=n / tps + 120)
    finally:
        await gateway.stop()
    figures = ask(pipe, "figures")
    print(f"{n} messages, 4 binds capped at {tps} TPS each, SMSC answering after "
          f"{delay * 1000:.0f} ms, window {window}, {backend(url)}")  # fmt: skip
    print(f"  {'bind':8} {'submits':>8} {'rate':>8} {'of cap':>7} {'most in 1 s':>12}")
    # the rate while the bind had work: its submits over the span from its first to its last
    for name in sorted(figures["binds"]):
        b = figures["binds"][name]
        span = b["last"] - b["first"]
        achieved = (b["count"] - 1) / span if span > 0 else 0.0
        print(f"  {name:8} {b['count']:>8} {achieved:8.1f} {achieved / tps:7.1%} {b['most']:>12}")


async def emergency(pipe: Connection, folder: Path, url: str, port: int, n: int) -> None:
    alerts = 3
    await seed(url, n, 1000)
    gateway = await start_gateway(folder, url, port, tps=100, window=20)
    delays = []
    try:
        routine = await gateway.store.broadcasts.add_broadcast(
            broadcast("HEALTH", TEXT, Priority.NORMAL)
        )
        gateway.broadcasts_changed()
        await until(url, routine, "delivered", 2000, limit_s=120)  # fanned out and well under way
        for _ in range(alerts):
            queued = await count(url, routine, "queued")
            created = time.monotonic()
            await gateway.store.broadcasts.add_broadcast(
                broadcast("HURRICANE", ALERT, Priority.EMERGENCY)
            )
            gateway.broadcasts_changed()
            async with asyncio.timeout(30):
                while True:
                    first = ask(pipe, f"first:50161:{created}")["first"]
                    if first is not None:
                        break
                    await asyncio.sleep(0.01)
            delays.append((queued, first - created))
            await asyncio.sleep(5)  # the alert goes out; routine traffic resumes
    finally:
        await gateway.stop()
    print(f"{n} routine messages queued behind 4 binds capped at 100 TPS; 1,000-recipient alerts,"
          f" {backend(url)}")  # fmt: skip
    for queued, delay in delays:
        print(f"  routine still queued {queued:>7}   alert created → first submit {delay:6.3f} s")
    print(f"  worst {max(d for _, d in delays):.3f} s   (target < 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["throughput", "rate", "emergency"])
    parser.add_argument("--messages", type=int)
    parser.add_argument("--tps", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.15, help="SMSC response time (rate)")
    parser.add_argument("--window", type=int, default=10, help="per bind (throughput)")
    add_option(parser)
    args = parser.parse_args()
    quiet()
    defaults = {"throughput": 100_000, "rate": 12_000, "emergency": 75_000}
    n = args.messages or defaults[args.scenario]
    ours, theirs = multiprocessing.Pipe()
    delay = args.delay if args.scenario == "rate" else 0.001
    child = multiprocessing.Process(target=run_smsc, args=(theirs, delay), daemon=True)
    child.start()
    port = ours.recv()
    with (
        tempfile.TemporaryDirectory() as name,
        database(args.database, Path(name), "broadcast.db") as url,
    ):
        folder = Path(name)
        if args.scenario == "throughput":
            asyncio.run(throughput(ours, folder, url, port, n, args.window))
        elif args.scenario == "rate":
            asyncio.run(rate(ours, folder, url, port, n, args.tps, args.delay))
        else:
            asyncio.run(emergency(ours, folder, url, port, n))
    ours.send("stop")
    child.join(5)


if __name__ == "__main__":
    main()
