"""Several gateways on one PostgreSQL (issue 14, item 5): each ``smsgw run`` its own process, the
SMSC simulator in this one (it sees every bind and submit of all of them, on one clock).

    .venv/bin/python bench/cluster.py spread --database postgresql://postgres@127.0.0.1/postgres
        [--messages 20000] [--window 10] [--rounds 3]
        a broadcast over 4 uncapped binds (two carriers) held by one gateway, then by two
        ([cluster] balance gives each two): msg/s from its creation to the last submit
    .venv/bin/python bench/cluster.py failover --database postgresql://… [--lease 15] [--rounds 3]
        three gateways, active/standby ([cluster] balance = false: the first holds every bind),
        a 20,000-subscriber broadcast over btl and smart; kill -9 the active one a quarter of
        the way: time from the kill to btl-a bound again by another and to the first submit
        accepted from the new holder, and the duplicates

Each round runs on a new database (dropped after it). Figures are printed as ranges over the
rounds; the README's tables come from here.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

import aiohttp
import structlog
from databases import add_option, database

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' process harness

from channels.simulator import Simulator, SimulatorConfig
from tests.smsgw.cluster.processes import CHANNELS, Cluster, first_bind_after, now, numbers

SPREAD = (  # four binds, two carriers
    ("btl-1", "btl", '["+50160"]'),
    ("btl-2", "btl", '["+50160"]'),
    ("smart-1", "smart", '["+50165"]'),
    ("smart-2", "smart", '["+50165"]'),
)


def _quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def _simulator() -> Simulator:
    return Simulator(SimulatorConfig(port=0, control_port=None, receipt_delay_s=0.05,
                                     receipt_mix={"delivered": 1.0}, seed=1))  # fmt: skip


async def spread_round(url: str, folder: Path, gateways: int, messages: int, window: int) -> float:
    """msg/s of one broadcast of ``messages`` over SPREAD held by ``gateways`` gateways."""
    audience = numbers("+50160", messages // 2) + numbers("+50165", messages - messages // 2)
    names = ("a", "b")[:gateways]
    async with _simulator() as smsc, aiohttp.ClientSession() as session:
        cluster = Cluster(folder, url, smsc.port, names=names, window=window, channels=SPREAD,
                          lease_s=15.0)  # fmt: skip
        headers = await cluster.prepare(audience)
        try:
            await cluster.start(session)
            held = await cluster.balanced(session)
            if len(set(held.values())) != gateways:
                raise SystemExit(f"the binds are not spread as asked: {held}")
            started = now()
            broadcast_id = await cluster.broadcast(session, headers)
            await cluster.until_done(session, headers, broadcast_id, messages, timeout_s=600)
        finally:
            await cluster.stop()
        accepted = [s.at for s in smsc.submits if s.status == 0]
        if len(accepted) != messages:
            raise SystemExit(f"{len(accepted)} submits accepted for {messages} messages")
        return messages / (max(accepted) - started)


async def failover_round(url: str, folder: Path, lease_s: float) -> dict[str, float]:
    audience = numbers("+50160", 14_000) + numbers("+50165", 6_000)
    async with _simulator() as smsc, aiohttp.ClientSession() as session:
        cluster = Cluster(folder, url, smsc.port, lease_s=lease_s, balance=False)
        headers = await cluster.prepare(audience)
        try:
            await cluster.start(session)
            victim = (await cluster.holders(session))["btl-a"]
            broadcast_id = await cluster.broadcast(session, headers)
            await smsc.wait_submits(len(audience) // 4)
            killed_at = now()
            await cluster.gateways[victim].kill()
            await cluster.until_done(session, headers, broadcast_id, len(audience), 600)
        finally:
            await cluster.stop()
        rebound = first_bind_after(smsc.binds_of("btl-a"), killed_at)
        # from the new holder: after its first bind (the dead one's last bytes may be read
        # just after the kill)
        binds = [first_bind_after(smsc.binds_of(name), killed_at) for name, _, _ in CHANNELS]
        new_holder = min(t for t in binds if t is not None)
        first = min(s.at for s in smsc.submits if s.status == 0 and s.at >= new_holder)
        sent = Counter(s.destination_addr for s in smsc.submits if s.status == 0)
        if rebound is None or len(sent) != len(audience):
            raise SystemExit(f"btl-a not bound again ({rebound}) or someone left out ({len(sent)})")
        return {
            "bound": rebound - killed_at,
            "first_submit": first - killed_at,
            "duplicates": sum(sent.values()) - len(sent),
            "two_holders": max(smsc.most_bound().values()) > 1,
        }


def _range(values: list[float], digits: int = 0) -> str:
    low, high = min(values), max(values)
    fmt = f"{{:,.{digits}f}}"
    return fmt.format(low) if low == high else f"{fmt.format(low)}–{fmt.format(high)}"


def spread(args: argparse.Namespace) -> None:
    results: dict[int, list[float]] = {1: [], 2: []}
    for round_ in range(args.rounds):
        for gateways in (1, 2):
            with (
                tempfile.TemporaryDirectory() as tmp,
                database(args.database, Path(tmp), "") as url,
            ):
                rate = asyncio.run(
                    spread_round(url, Path(tmp), gateways, args.messages, args.window)
                )
            results[gateways].append(rate)
            print(f"round {round_ + 1}: {gateways} gateway(s): {rate:,.0f} msg/s", flush=True)
    print(f"\n{args.messages:,} messages, 4 uncapped binds, window {args.window}:")
    for gateways, rates in results.items():
        median = statistics.median(rates)
        print(f"  {gateways} gateway(s): {_range(rates)} msg/s (median {median:,.0f})")


def failover(args: argparse.Namespace) -> None:
    rows = []
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp, database(args.database, Path(tmp), "") as url:
            row = asyncio.run(failover_round(url, Path(tmp), args.lease))
        rows.append(row)
        print(f"round {round_ + 1}: {row}", flush=True)
    print(f"\nlease_s = {args.lease:g}, 3 gateways (active/standby), 20,000 subscribers, kill -9"
          " of the active one:")  # fmt: skip
    print(f"  kill -> btl-a bound again: {_range([r['bound'] for r in rows], 1)} s")
    print(f"  kill -> its first submit accepted: {_range([r['first_submit'] for r in rows], 1)} s")
    print(f"  duplicates: {_range([r['duplicates'] for r in rows])}")
    print(f"  two gateways bound on one entry at once: {any(r['two_holders'] for r in rows)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["spread", "failover"])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--lease", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    add_option(parser)
    args = parser.parse_args()
    if args.database is None:
        parser.error("--database postgresql://… is needed: several gateways share PostgreSQL")
    _quiet()
    {"spread": spread, "failover": failover}[args.scenario](args)


if __name__ == "__main__":
    main()
