"""A poll to 50,000 subscribers and their 50,000 answers over SMPP (issue 16): answers handled
per second, and the time from the last answer to the tally being exact.

The SMSC simulator runs in a child process (two carriers, two binds each, window 10, uncapped);
this process is the gateway (HTTP API, fan-out, dispatcher, binds, inbound handler, SQLite or
with --database a PostgreSQL database made for the run). --subscribers HEALTH subscribers are
seeded (a third Spanish, each in one of the six districts or none); an admin posts the poll
broadcast (1 YES / SI, 2 NO) through POST /api/v1/broadcasts; once every copy is submitted the
simulator injects --answers texts at --rate: first answers from distinct audience numbers ("1",
"YES", "SI", "2 NO", "2"), 8% of them changing their answer at the end, and 8% from numbers
outside the audience (subscribed to WEATHER only, or to nothing), which must not count. The
tally at GET /api/v1/broadcasts/{id}/poll is read every 50 ms from the last injection until it
equals the expected counts exactly: per option, per language, per district.

    .venv/bin/python bench/poll.py [--subscribers 50000] [--answers 50000] [--rate 500]
        [--no-thanks] [--database postgresql://user@host:port/anydb]
    (--rate 0: inject as fast as the link takes them; --no-thanks: [inbox]
    thank_poll_answers = false)

Times across the two processes are on the shared monotonic clock.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from databases import add_option, backend, database
from questions import settle

from channels.simulator import Simulator, SimulatorConfig
from channels.text import decode
from smsgw.access.tokens import Role, issue
from smsgw.app import GATEWAY, Gateway, build_app
from smsgw.config import DatabaseConfig, load
from smsgw.demo_catalogue import DEMO_SERVICES
from smsgw.storage import open_store
from subscriptions.models import Source

DISTRICTS = ("Corozal", "Orange Walk", "Belize", "Cayo", "Stann Creek", "Toledo", None)
# answer → (option, the language its words tell: None, the subscriber's)
ANSWERS = {"1": (1, None), "YES": (1, "en"), "SI": (1, "es"), "2 NO": (2, None), "2": (2, None)}
FIRST = ("1", "YES", "SI", "2 NO", "2", "YES", "1", "2 NO")  # in turn
TEXTS = {
    "en": "Ministry of Health: did you get the dengue leaflet? Reply 1 YES or 2 NO",
    "es": "Ministerio de Salud: recibio el folleto del dengue? Responda 1 SI o 2 NO",
}
POLL = {"question": {"en": "Got the dengue leaflet?"},
        "options": [{"number": 1, "words": {"en": ["YES"], "es": ["SI"]}},
                    {"number": 2, "words": {"en": ["NO"], "es": ["NO"]}}]}  # fmt: skip

BIND = """
[[channels]]
name = "{name}"
carrier = "{carrier}"
host = "127.0.0.1"
port = {port}
system_id = "{name}"
tps = 0
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
[inbox]
thank_poll_answers = {thanks}
"""
BINDS = [("btl-1", "btl", '["+50160", "+50161"]'), ("btl-2", "btl", '["+50160", "+50161"]'),
         ("smart-1", "smart", '["+50165"]'), ("smart-2", "smart", '["+50165"]')]  # fmt: skip


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def subscriber(i: int) -> tuple[str, str, str | None]:
    """The i-th of the audience: number (half on each carrier), language, district."""
    msisdn = f"+5016{5 if i % 2 else 0}{i // 2:05d}"
    return msisdn, "es" if i % 3 == 0 else "en", DISTRICTS[i % len(DISTRICTS)]


def weather_only(i: int) -> str:
    return f"+50161{i:05d}"


def stranger(i: int) -> str:
    return f"+501609{i:04d}"


def bind_of(msisdn: str) -> str:
    """A number's texts come in on its carrier's binds, each number always on the same one."""
    carrier = "smart" if msisdn.startswith("+50165") else "btl"
    return f"{carrier}-{1 + int(msisdn[-1]) % 2}"


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class Plan:
    mos: list[tuple[str, str]]  # (sender, text) in order
    counts: dict[str, int]  # option → numbers
    by_language: dict[str, dict[str, int]]
    by_district: dict[str, dict[str, int]]
    answered: int  # audience numbers counted
    changes: int
    outsiders: int
    want: Counter[str]  # number → the replies it should get


def plan(subscribers: int, answers: int, outsiders: int, thanks: bool) -> Plan:
    """First answers from distinct audience numbers with the outsiders' among them (shuffled),
    then 8% of the early answerers changing their answer (last); and the tally expected."""
    changes = answers * 8 // 100
    firsts = answers - changes - outsiders
    if firsts > subscribers or changes > firsts * 8 // 10:
        raise SystemExit("--answers too many for --subscribers")
    rng = random.Random(16)
    who = rng.sample(range(subscribers), firsts)
    texts: list[tuple[str, str, int]] = [
        (subscriber(i)[0], FIRST[k % len(FIRST)], i) for k, i in enumerate(who)
    ]
    texts += [
        (weather_only(k // 2) if k % 2 else stranger(k // 2), "1" if k % 4 < 2 else "YES", -1)
        for k in range(outsiders)
    ]
    rng.shuffle(texts)
    early = [t for t in texts[: len(texts) * 8 // 10] if t[2] >= 0]
    changed = [
        (msisdn, "2 NO" if ANSWERS[text][0] == 1 else ("SI" if i % 3 == 0 else "YES"), i)
        for msisdn, text, i in rng.sample(early, changes)
    ]
    rng.shuffle(changed)
    last: dict[int, str] = {}
    for _, text, i in texts + changed:
        if i >= 0:
            last[i] = text
    counts: dict[str, int] = defaultdict(int)
    by_language: dict[str, dict[str, int]] = defaultdict(lambda: {"1": 0, "2": 0})
    by_district: dict[str, dict[str, int]] = defaultdict(lambda: {"1": 0, "2": 0})
    for i, text in last.items():
        _, language, district = subscriber(i)
        option, told = ANSWERS[text]
        counts[str(option)] += 1
        by_language[told or language][str(option)] += 1
        by_district[district or "none"][str(option)] += 1
    mos = [(msisdn, text) for msisdn, text, _ in texts + changed]
    want = Counter(msisdn for msisdn, _, i in texts + changed if thanks or i < 0)
    return Plan(mos, dict(counts), dict(by_language), dict(by_district), len(last), changes,
                outsiders, want)  # fmt: skip


# ---------------------------------------------------------------- the SMSC (child process)


def run_smsc(pipe: Connection) -> None:
    quiet()

    async def serve() -> None:
        config = SimulatorConfig(port=0, control_port=None, receipt_delay_s=0.0, seed=1,
                                 receipt_mix={"delivered": 1.0}, keep_submits=400_000)  # fmt: skip
        async with Simulator(config) as smsc:
            pipe.send(smsc.port)
            mos, rate, want = await asyncio.to_thread(pipe.recv)
            start = smsc.submit_total  # the broadcast's are before
            sent_at = await inject(smsc, mos, rate)
            pipe.send(sent_at[-1])
            await settle(smsc, want, start)
            await asyncio.sleep(1.0)  # a reply too many shows up
            got = [(s.at, "+" + s.destination_addr, decode(s.short_message, s.data_coding))
                   for s in smsc.submits[start:]]  # fmt: skip
            pipe.send((sent_at, got))
            await asyncio.to_thread(pipe.recv)  # the gateway has stopped: no link lost

    asyncio.run(serve())


async def inject(smsc: Simulator, mos: list[tuple[str, str]], rate: int) -> list[float]:
    sent_at = []
    started = time.monotonic()
    for i, (sender, text) in enumerate(mos):
        if rate:
            if (wait := started + i / rate - time.monotonic()) > 0:
                await asyncio.sleep(wait)
        elif i % 200 == 0:
            await asyncio.sleep(0)  # let the links write
        sent_at.append(time.monotonic())
        await smsc.inject_mo(sender, text, system_id=bind_of(sender))
    return sent_at


# ---------------------------------------------------------------- the gateway (this process)


async def seed(url: str, n: int, outsiders: int) -> float:
    """The audience and the WEATHER-only numbers; returns the seconds it took."""
    started = time.perf_counter()
    store = await open_store(DatabaseConfig(url=url))
    now = datetime.now(UTC) - timedelta(minutes=1)
    for service in DEMO_SERVICES:
        await store.catalogue.add_service(service)
    for start in range(0, n, 50_000):
        people = [subscriber(i) for i in range(start, min(n, start + 50_000))]
        await store.subscriptions.join_many(
            [(msisdn, language) for msisdn, language, _ in people], "HEALTH", at=now,
            source=Source.IMPORT, consent="bench",
            districts={msisdn: district for msisdn, _, district in people if district},
        )  # fmt: skip
    weather: list[tuple[str, str | None]] = [(weather_only(k), "en") for k in range(outsiders)]
    await store.subscriptions.join_many(
        weather, "WEATHER", at=now, source=Source.IMPORT, consent="bench"
    )
    await store.close()
    return time.perf_counter() - started


async def run(pipe: Connection, port: int, folder: Path, url: str, args: argparse.Namespace,
              the_plan: Plan) -> dict[str, Any]:  # fmt: skip
    text = CONFIG.format(folder=folder, url=url, thanks=str(args.thanks).lower()) + "".join(
        BIND.format(name=name, carrier=carrier, port=port, window=args.window, prefixes=p)
        for name, carrier, p in BINDS
    )
    (folder / "config.toml").write_text(text)
    seeded = await seed(url, args.subscribers, the_plan.outsiders // 2 + 1)
    app = build_app(load(folder / "config.toml"))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, http_port = runner.addresses[0][:2]
        gateway: Gateway = app[GATEWAY]
        async with asyncio.timeout(30):
            for channel in gateway.channels:
                await channel.wait_bound()  # type: ignore[attr-defined]
        secret, token = issue(Role.ADMIN, now=datetime.now(UTC), expires_days=1, person="bench")
        await gateway.store.tokens.add_token(token)
        headers = {"Authorization": f"Bearer {secret}"}
        async with aiohttp.ClientSession(
            f"http://{host}:{http_port}", headers=headers, timeout=aiohttp.ClientTimeout(60)
        ) as http:
            figures = await scenario(http, pipe, args, the_plan)
    finally:
        await runner.cleanup()
    figures["seeded_s"] = seeded
    return figures


async def scenario(http: aiohttp.ClientSession, pipe: Connection, args: argparse.Namespace,
                   the_plan: Plan) -> dict[str, Any]:  # fmt: skip
    closes = datetime.now(UTC) + timedelta(hours=1)
    body = {"service": "HEALTH", "texts": TEXTS, "poll": {**POLL, "closes_at": closes.isoformat()}}
    posted = time.monotonic()
    async with http.post("/api/v1/broadcasts", json=body) as response:
        if response.status != 201:
            raise SystemExit(f"the poll was refused: {await response.text()}")
        broadcast = (await response.json())["id"]
    deadline = time.monotonic() + 600
    while True:
        async with http.get(f"/api/v1/broadcasts/{broadcast}") as response:
            view = await response.json()
        if view["audience"] == args.subscribers and view["queued"] == 0:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"the poll broadcast did not go out: {view}")
        await asyncio.sleep(0.2)
    sent = time.monotonic() - posted
    pipe.send((the_plan.mos, args.rate, the_plan.want))
    cpu = time.process_time()
    last_in: float = await asyncio.to_thread(pipe.recv)
    polls, reads = 0, []
    while True:
        asked = time.monotonic()
        async with http.get(f"/api/v1/broadcasts/{broadcast}/poll") as response:
            tally = await response.json()
        reads.append(time.monotonic() - asked)
        polls += 1
        if exact(tally, the_plan):
            exact_at = time.monotonic()
            break
        if asked - last_in > 300:
            raise SystemExit(f"the tally never came right: {tally}")
        await asyncio.sleep(0.05)
    cpu = time.process_time() - cpu
    sent_at, got = await asyncio.to_thread(pipe.recv)
    return {"sent_s": sent, "sent_at": sent_at, "got": got, "last_in": last_in,
            "exact_at": exact_at, "cpu": cpu, "reads": reads, "tally": tally}  # fmt: skip


def exact(tally: dict[str, Any], the_plan: Plan) -> bool:
    options = {str(o["number"]): o["count"] for o in tally["options"]}
    return (
        tally["answers"] == the_plan.answered
        and options == the_plan.counts
        and tally["by_language"] == the_plan.by_language
        and tally["by_district"] == the_plan.by_district
    )


# ---------------------------------------------------------------- the report


def thanks_latency(mos: list[tuple[str, str]], sent_at: list[float],
                   got: list[tuple[float, str, str]]) -> list[float]:  # fmt: skip
    """Each answer's injection → the next reply to its number, in order."""
    replies: dict[str, list[float]] = defaultdict(list)
    for at, to, _ in sorted(got):
        replies[to].append(at)
    taken: dict[str, int] = defaultdict(int)
    latencies = []
    for (sender, _), at in zip(mos, sent_at, strict=True):
        k = taken[sender]
        if k < len(replies[sender]):
            latencies.append(replies[sender][k] - at)
            taken[sender] += 1
    return latencies


def report(args: argparse.Namespace, url: str, the_plan: Plan, f: dict[str, Any]) -> None:
    sent_at, got = f["sent_at"], f["got"]
    n = len(the_plan.mos)
    span = f["exact_at"] - sent_at[0]
    thanked = sum(1 for _, _, text in got if text.startswith(("Thank you! Your", "¡Gracias!")))
    latencies = thanks_latency(the_plan.mos, sent_at, got) if args.thanks else []
    offered = f"{args.rate:,}/s" if args.rate else "flat out"
    print(f"{args.subscribers:,} subscribers (a third Spanish, 7 districts), poll broadcast over "
          f"4 uncapped binds (2 carriers, window {args.window}); {n:,} answers at {offered}; "
          f"thank-you SMS {'on' if args.thanks else 'off'}; {backend(url)}")  # fmt: skip
    print("| figure | result | target |\n|---|---|---|")
    print(f"| seeded (join_many) / poll POST → every copy submitted | {f['seeded_s']:.1f} s / "
          f"{f['sent_s']:.1f} s | |")  # fmt: skip
    print(f"| answers | {the_plan.answered:,} audience numbers, {the_plan.changes:,} changing "
          f"their answer last, {the_plan.outsiders:,} from outside the audience | |")  # fmt: skip
    injected = sent_at[-1] - sent_at[0]
    print(f"| injected in | {injected:.1f} s ({n / injected:,.0f}/s) | 50,000 within 5 min: "
          f"{'met' if n >= 50_000 and injected <= 300 else 'n/a'} |")  # fmt: skip
    print(f"| handled (first answer in → tally exact) | {span:.1f} s, {n / span:,.0f} answers/s |"
          " |")  # fmt: skip
    print(f"| last answer in → tally exact | {f['exact_at'] - f['last_in']:.2f} s "
          f"({len(f['reads'])} reads of the tally after the last answer, each "
          f"{statistics.median(f['reads']) * 1000:.0f} ms median) | |")  # fmt: skip
    t = f["tally"]
    print(f"| tally | exact: {t['answers']:,} counted; " + ", ".join(
        f"option {o['number']} {o['count']:,}" for o in t["options"]) + "; " + ", ".join(
        f"{k} {sum(v.values()):,}" for k, v in t["by_language"].items()) + f"; "
        f"{len(t['by_district'])} districts | exactly the expected |")  # fmt: skip
    if latencies:
        q = statistics.quantiles(latencies, n=100)
        print(f"| thank-you latency p50 / p95 / max | {q[49] * 1000:.0f} / {q[94] * 1000:.0f} / "
              f"{max(latencies) * 1000:.0f} ms ({thanked:,} thank-yous) | |")  # fmt: skip
    print(f"| replies submitted | {len(got):,} (expected {the_plan.want.total():,}) | |")
    print(f"| gateway CPU while answers came | {f['cpu'] / span:.0%} of a core | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=50_000)
    parser.add_argument("--answers", type=int, default=50_000)
    parser.add_argument("--rate", type=int, default=500, help="answers per second; 0: flat out")
    parser.add_argument("--window", type=int, default=10, help="per bind")
    parser.add_argument("--no-thanks", dest="thanks", action="store_false",
                        help="[inbox] thank_poll_answers = false")  # fmt: skip
    add_option(parser)
    args = parser.parse_args()
    quiet()
    the_plan = plan(args.subscribers, args.answers, args.answers * 8 // 100, args.thanks)
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=run_smsc, args=(theirs,), daemon=True)
    child.start()
    port = ours.recv()
    with (
        tempfile.TemporaryDirectory() as folder,
        database(args.database, Path(folder), "poll.db") as url,
    ):
        figures = asyncio.run(run(ours, port, Path(folder), url, args, the_plan))
    ours.send("stop")
    child.join(5)
    report(args, url, the_plan, figures)
    if Counter(to for _, to, _ in figures["got"]) != the_plan.want:
        raise SystemExit("replies submitted differ from those expected")


if __name__ == "__main__":
    main()
