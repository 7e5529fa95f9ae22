"""Citizens ask, ministries answer (issue 16): questions at a steady 1,000 texts a second, each
ticketed exactly once, and how soon its acknowledgement goes out.

The SMSC simulator runs in a child process and injects the texts over two binds (window 10, as
carriers give), at --rate for --seconds, in the mix below: each question from a number of its
own, a follow-up from a number that asked about a second earlier (it joins the open ticket: no
acknowledgement), the usual commands. This process is the whole gateway on SQLite, or with
--database on a PostgreSQL database made for the run. Latency is from a question's injection to
its acknowledgement's submit_sm reaching the simulator, on the shared monotonic clock. After
the run the database is read: one ticket per question, one entry per question and follow-up,
none twice, none missing; and each acknowledgement names the ticket of its own number.

    .venv/bin/python bench/questions.py [--seconds 30] [--rate 1000] [--delay 0]
        [--database postgresql://user@host:port/anydb]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import re
import statistics
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

import structlog
from databases import add_option, backend, database, query

from channels.simulator import Simulator, SimulatorConfig
from channels.text import decode
from smsgw.app import Gateway
from smsgw.config import load
from smsgw.demo_catalogue import DEMO_SERVICES

FOLLOW_UP = "And is it free of charge?"  # from a number that asked ~1 s ago (see plan())
QUESTIONS = {
    "ASK HEALTH Where can my son get the measles vaccine?": "HEALTH",
    "PREGUNTA SALUD ¿Hay vacunas en Dangriga?": "HEALTH",
    "ASK WEATHER Will the road to San Ignacio flood?": "WEATHER",
    "PREGUNTA CLIMA ¿Va a llover el sabado en Cayo?": "WEATHER",
    "QUESTION EDUCATION When do the exams start this year?": "EDUCATION",
    "ASK HURRICANE Which shelter is open in Dangriga?": "HURRICANE",
}
_Q = list(QUESTIONS)
# 20 slots: 12 questions (60%), 1 follow-up (5%), 2 joins, 2 STOP, 1 HELP, 1 LIST, 1 unknown
MIX = [_Q[0], _Q[1], "JOIN HEALTH", _Q[2], _Q[3], "STOP", _Q[4], FOLLOW_UP, _Q[5], "HELP",
       _Q[0], _Q[1], "LIST", _Q[2], "unir clima", _Q[3], "ALTO", _Q[4], "what is this",
       _Q[5]]  # fmt: skip
ACK = re.compile(r"^(?:Thank you\. Your question|Gracias\. Recibimos su pregunta) #(\d+) ")

BIND = """
[[channels]]
name = "btl-{n}"
carrier = "btl"
host = "127.0.0.1"
port = {port}
system_id = "btl-{n}"
tps = 0
window = {window}
"""
CONFIG = """
[gateway]
short_code = "1515"
default_region = "BZ"
data_dir = "{folder}"
[database]
url = "{url}"
[citizens]
programme = "Gov of Belize Info"
contact = "0-800-466-4636"
"""


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def number(i: int) -> str:
    return f"+5016{i:06d}"


def plan(n: int, rate: int) -> list[tuple[str, str]]:
    """(sender, text) of each MO in order. A follow-up comes from the number that asked four
    slots and about a second before it; in the first second, from the one that asked just
    before it (the same batch, most likely): two disjoint sets of numbers."""
    back = 20 * max(1, rate // 20) + 4
    texts = []
    for i in range(n):
        text = MIX[i % len(MIX)]
        sender = i
        if text == FOLLOW_UP:
            sender = i - back if i >= back else i - 1
        texts.append((number(sender), text))
    return texts


# ---------------------------------------------------------------- the SMSC (child process)


def run_smsc(pipe: Connection, mos: list[tuple[str, str]], rate: int, delay: float) -> None:
    """Injects the MOs, waits for the replies, and sends back both."""
    quiet()

    async def serve() -> None:
        config = SimulatorConfig(
            port=0, control_port=None, receipt_delay_s=0.0, seed=1, response_delay_s=delay,
            receipt_mix={"delivered": 1.0},
        )  # fmt: skip
        async with Simulator(config) as smsc:
            pipe.send(smsc.port)
            await asyncio.to_thread(pipe.recv)  # the gateway is bound and ready
            sent_at = await inject(smsc, mos, rate)
            await settle(smsc, Counter(sender for sender, text in mos if text != FOLLOW_UP))
            await asyncio.sleep(1.0)  # any reply too many (a follow-up acknowledged) shows up
            got = [(s.at, "+" + s.destination_addr, decode(s.short_message, s.data_coding))
                   for s in smsc.submits]  # fmt: skip
            pipe.send((sent_at, got))

    asyncio.run(serve())


async def settle(smsc: Simulator, want: Counter[str], start: int = 0, idle_s: float = 30.0) -> None:
    """Until each number got its ``want`` replies (submits from index ``start``), or none came
    for ``idle_s`` (the report then says what is missing): a gateway behind still gets there.
    Counted per number, not in all: one reply may take two submits (LIST)."""
    short, seen, got = sum(want.values()), start, Counter[str]()
    last = time.monotonic()
    while short > 0 and time.monotonic() - last < idle_s:
        await asyncio.sleep(0.1)
        submits = smsc.submits[seen:]
        for submit in submits:
            to = "+" + submit.destination_addr
            short -= got[to] < want[to]
            got[to] += 1
        if submits:
            seen += len(submits)
            last = time.monotonic()


async def inject(smsc: Simulator, mos: list[tuple[str, str]], rate: int) -> list[float]:
    sent_at = []
    started = time.monotonic()
    for i, (sender, text) in enumerate(mos):
        if (wait := started + i / rate - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        sent_at.append(time.monotonic())
        # one number's texts on one bind: across two, a follow-up 1 ms after its question may
        # be read first (seen: 3 in 150), and then it is no follow-up
        await smsc.inject_mo(sender, text, system_id=f"btl-{1 + int(sender[-1]) % 2}")
    return sent_at


# ---------------------------------------------------------------- the gateway (this process)


async def gateway(pipe: Connection, port: int, folder: Path, url: str, window: int) -> float:
    """Runs until the SMSC sends its results; returns the gateway's CPU seconds meanwhile."""
    path = folder / "config.toml"
    binds = "".join(BIND.format(n=n, port=port, window=window) for n in (1, 2))
    path.write_text(CONFIG.format(folder=folder, url=url) + binds)
    gw = Gateway(load(path))
    await gw.start()
    for service in DEMO_SERVICES:
        await gw.store.catalogue.add_service(service)
    await gw.catalogue_changed()
    async with asyncio.timeout(30):
        for channel in gw.channels:
            await channel.wait_bound()  # type: ignore[attr-defined]
    cpu = time.process_time()
    pipe.send("ready")
    await asyncio.get_running_loop().run_in_executor(None, pipe.poll, 600)  # the results
    cpu = time.process_time() - cpu
    await gw.stop()
    return cpu


async def stored(url: str) -> dict[str, object]:
    """What the database holds after the run."""
    [(tickets, distinct)] = await query(
        url, "SELECT count(*), count(DISTINCT msisdn || ' ' || service) FROM tickets"
    )
    [(entries, inbound)] = await query(
        url, "SELECT count(*), count(DISTINCT inbound_id) FROM ticket_entries"
    )
    rows = await query(
        url, "SELECT t.id, t.msisdn, t.service, count(e.id) FROM tickets t"
        " LEFT JOIN ticket_entries e ON e.ticket = t.id GROUP BY t.id, t.msisdn, t.service",
    )  # fmt: skip
    return {"tickets": tickets, "distinct": distinct, "entries": entries, "inbound": inbound,
            "rows": rows}  # fmt: skip


def check(
    mos: list[tuple[str, str]], got: list[tuple[float, str, str]], db: dict[str, object]
) -> dict[str, object]:
    """The expected tickets (number → service, entries) against the stored ones and the acks."""
    expected: dict[str, tuple[str, int]] = {}
    for sender, text in mos:
        if text in QUESTIONS:
            expected[sender] = (QUESTIONS[text], 1)
        elif text == FOLLOW_UP:
            service, entries = expected[sender]
            expected[sender] = (service, entries + 1)
    rows: list[tuple[int, str, str, int]] = db["rows"]  # type: ignore[assignment]
    found = {msisdn: (service, entries) for _, msisdn, service, entries in rows}
    ids = {msisdn: ticket for ticket, msisdn, _, _ in rows}
    acks: dict[str, list[int]] = {}
    for _, to, text in got:
        if match := ACK.match(text):
            acks.setdefault(to, []).append(int(match.group(1)))
    followed = {sender for sender, text in mos if text == FOLLOW_UP}
    replies = Counter(to for _, to, _ in got)
    return {
        "missing": sum(1 for m in expected if m not in found),
        "extra": sum(1 for m in found if m not in expected),
        "wrong": sum(1 for m, v in expected.items() if m in found and found[m] != v),
        "acks": sum(len(a) for a in acks.values()),
        "acked_twice": sum(1 for a in acks.values() if len(a) > 1),
        "ack_wrong_ticket": sum(1 for m, a in acks.items() if a != [ids.get(m)]),
        "unacked": sum(1 for m in expected if m not in acks),
        "follow_up_replies": sum(max(0, replies[m] - 1) for m in followed),
        "expected_tickets": len(expected),
        "expected_entries": sum(entries for _, entries in expected.values()),
    }


def latencies(
    mos: list[tuple[str, str]], sent_at: list[float], got: list[tuple[float, str, str]]
) -> tuple[list[float], list[float]]:
    """(question → its acknowledgement, any other text → its first reply), in seconds."""
    first: dict[str, float] = {}
    for at, to, _ in got:
        first.setdefault(to, at)
    asked: list[float] = []
    other: list[float] = []
    for (sender, text), at in zip(mos, sent_at, strict=True):
        if text != FOLLOW_UP and sender in first:
            (asked if text in QUESTIONS else other).append(first[sender] - at)
    return asked, other


def ms(values: list[float], q: int) -> str:
    return f"{statistics.quantiles(values, n=100)[q - 1] * 1000:.0f}"


def report(args: argparse.Namespace, url: str, mos: list[tuple[str, str]],
           sent_at: list[float], got: list[tuple[float, str, str]], db: dict[str, object],
           cpu: float) -> bool:  # fmt: skip
    c = check(mos, got, db)
    asked, other = latencies(mos, sent_at, got)
    n = len(mos)
    kinds = Counter("question" if t in QUESTIONS else "follow-up" if t == FOLLOW_UP else "other"
                    for _, t in mos)  # fmt: skip
    span = max(at for at, _, _ in got) - sent_at[0]
    exact = (db["tickets"] == db["distinct"] == c["expected_tickets"]
             and db["entries"] == db["inbound"] == c["expected_entries"]
             and not (c["missing"] or c["extra"] or c["wrong"]))  # fmt: skip
    acked = c["acks"] == c["expected_tickets"] and not (
        c["acked_twice"] or c["ack_wrong_ticket"] or c["unacked"] or c["follow_up_replies"]
    )
    p95 = statistics.quantiles(asked, n=100)[94]
    print(f"{n:,} texts at {args.rate:,}/s offered for {args.seconds} s over 2 binds (window "
          f"{args.window}, SMSC answering after {args.delay * 1000:.0f} ms), "
          f"{backend(url)}")  # fmt: skip
    print("| figure | result | target |\n|---|---|---|")
    print(f"| texts | {kinds['question']:,} questions, {kinds['follow-up']:,} follow-ups, "
          f"{kinds['other']:,} commands and unknown | |")  # fmt: skip
    print(f"| handled (first MO in → last reply submitted) | {n / span:,.0f} texts/s | "
          f"{args.rate:,}/s |")  # fmt: skip
    print(f"| tickets / entries stored | {db['tickets']:,} / {db['entries']:,} (expected "
          f"{c['expected_tickets']:,} / {c['expected_entries']:,}; missing {c['missing']}, "
          f"extra {c['extra']}, wrong count {c['wrong']}) | exactly: "
          f"{'met' if exact else '**missed**'} |")  # fmt: skip
    print(f"| acknowledgements | {c['acks']:,} (twice {c['acked_twice']}, none "
          f"{c['unacked']}, naming another ticket {c['ack_wrong_ticket']}; replies to "
          f"follow-ups {c['follow_up_replies']}) | one per question, none to a follow-up: "
          f"{'met' if acked else '**missed**'} |")  # fmt: skip
    print(f"| acknowledgement latency p50 / p95 / p99 / max | {ms(asked, 50)} / {ms(asked, 95)}"
          f" / {ms(asked, 99)} / {max(asked) * 1000:.0f} ms | p95 < 200 ms: "
          f"{'met' if p95 < 0.2 else '**missed**'} |")  # fmt: skip
    print(f"| other texts' reply latency p50 / p95 | {ms(other, 50)} / {ms(other, 95)} ms "
          f"({len(other):,} of {kinds['other']:,} answered) | |")  # fmt: skip
    print(f"| gateway CPU | {cpu / span:.0%} of a core ({cpu / n * 1e6:,.0f} µs/text) | |")
    return exact and acked and p95 < 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rate", type=int, default=1000, help="texts per second")
    parser.add_argument("--window", type=int, default=10, help="per bind")
    parser.add_argument("--delay", type=float, default=0.0, help="SMSC response time, s")
    add_option(parser)
    args = parser.parse_args()
    quiet()
    mos = plan(args.seconds * args.rate, args.rate)
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(
        target=run_smsc, args=(theirs, mos, args.rate, args.delay), daemon=True
    )
    child.start()
    port = ours.recv()
    with (
        tempfile.TemporaryDirectory() as folder,
        database(args.database, Path(folder), "questions.db") as url,
    ):
        cpu = asyncio.run(gateway(ours, port, Path(folder), url, args.window))
        sent_at, got = ours.recv()
        db = asyncio.run(stored(url))
    child.join(5)
    if not report(args, url, mos, sent_at, got, db, cpu):
        raise SystemExit("a target was missed")


if __name__ == "__main__":
    main()
