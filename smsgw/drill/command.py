"""``smsgw drill``: an emergency-alert drill and its readiness report (README: Emergency alerts).

    smsgw drill --audience N [--carriers C ...] [--base N] [--out DIR]
        the config's binds on simulated SMSCs capped at their contracted TPS, N synthetic
        subscribers in a throwaway database, an emergency CAP alert through the API
    smsgw drill --live [--url URL] --token T [--read-token T] [--out DIR]
        an Exercise CAP alert to the running gateway: the exercise list only

Exit codes: 0 the drill ran and every message was submitted and final; 1 it did not (the
report says how far it got) or it could not run; 2 bad options or configuration.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sqlite3
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from smsgw.config import Settings
from smsgw.drill import DrillError, report
from smsgw.drill.figures import BaseEstimate, Figures, Run, figures
from smsgw.drill.live import LiveOptions, run_live
from smsgw.drill.plan import binds_of, choose, contracted, router, spread
from smsgw.drill.simulated import SimulatorOptions, run_simulated
from smsgw.storage.census import subscribers_by_prefix

ENV_VARIABLE = "SMSGW_TOKEN"


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audience", type=_count, metavar="N",
                        help="synthetic subscribers of the simulator drill")  # fmt: skip
    parser.add_argument("--carriers", nargs="+", metavar="CARRIER",
                        help="only these carriers of [[channels]] (default: all)")  # fmt: skip
    parser.add_argument("--base", type=_count, metavar="N",
                        help="the whole subscriber base to estimate (default: counted, read"
                        " only, in the configured database)")  # fmt: skip
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="folder of the report (default: drill-<UTC time>)")  # fmt: skip
    parser.add_argument("--response-ms", type=float, default=100.0, metavar="MS",
                        help="the simulated SMSCs' answer to a submit (%(default)s)")  # fmt: skip
    parser.add_argument("--receipt-delay", type=_seconds, default=1.0, metavar="S",
                        help="the simulated SMSCs' receipts come after (%(default)s)")  # fmt: skip
    parser.add_argument("--live", action="store_true",
                        help="post an Exercise alert to the running gateway: the exercise"
                        " list, on the configured carriers")  # fmt: skip
    parser.add_argument("--url", default="http://127.0.0.1:8080",
                        help="(--live) the running gateway (%(default)s)")  # fmt: skip
    parser.add_argument("--token", help=f"(--live) an alerting or admin token (default:"
                        f" ${ENV_VARIABLE})")  # fmt: skip
    parser.add_argument("--read-token", metavar="TOKEN",
                        help="(--live) an admin token to read the messages back (default:"
                        " --token)")  # fmt: skip
    parser.add_argument("--wait", type=_seconds, default=300.0, metavar="S",
                        help="(--live) for every message to be final (%(default)s)")  # fmt: skip


def usage_error(args: argparse.Namespace) -> str | None:
    """What is wrong with the options, before anything starts (exit 2)."""
    if args.live:
        if args.audience is not None or args.carriers:
            return ("drill --live sends only to the exercise list through the running gateway:"
                    " --audience and --carriers are for the simulator drill")  # fmt: skip
        if not (args.token or os.environ.get(ENV_VARIABLE)):
            return f"drill --live needs --token (or ${ENV_VARIABLE}): an alerting or admin token"
        return None
    if args.audience is None:
        return "drill needs --audience N (synthetic subscribers), or --live"
    if not 0 <= args.response_ms <= 10_000:
        return f"drill --response-ms: between 0 and 10000, not {args.response_ms:g}"
    return None


async def run(settings: Settings, args: argparse.Namespace) -> int:
    out: Path = args.out or Path(f"drill-{datetime.now(UTC):%Y%m%d-%H%M%S}")
    try:
        if args.live:
            token = args.token or os.environ[ENV_VARIABLE]
            options = LiveOptions(args.url, token, args.read_token or token, args.wait)
            drill = await run_live(settings, options)
        else:
            plan = choose(settings, args.carriers, args.audience)  # ConfigError: exit 2
            simulator = SimulatorOptions(args.response_ms / 1000, args.receipt_delay)
            drill = await run_simulated(settings, plan, simulator)
    except DrillError as exc:
        sys.stderr.write(f"smsgw: error: drill: {exc}\n")
        return 1
    found = figures(drill)
    base, note = await _base(settings, args.base, drill, found)
    if note:
        drill = dataclasses.replace(drill, notes=(*drill.notes, note))
    sys.stdout.write("\n".join(report.write(out, drill, found, base)) + "\n")
    return 0 if drill.finished and found.all_submitted_s is not None else 1


async def _base(
    settings: Settings, count: int | None, drill: Run, found: Figures
) -> tuple[BaseEstimate | None, str | None]:
    """The whole base by carrier: ``count`` spread evenly, or the configured database's active
    subscribers routed by their prefixes (read only); a note when it cannot be had."""
    binds = binds_of(settings)
    carriers = list(dict.fromkeys(bind.carrier for bind in binds))
    # live: a handful of numbers measure no rate
    rates = {c.carrier: c.rate for c in found.carriers if c.rate and drill.mode == "simulator"}
    caps = {carrier: contracted(binds, carrier) for carrier in carriers}

    def estimate(source: str, subscribers: dict[str, int], unrouted: int) -> BaseEstimate:
        return BaseEstimate(source, subscribers, unrouted, drill.segments, caps, rates)

    if count is not None:
        return estimate("--base, spread evenly over the carriers", spread(count, carriers), 0), None
    where = settings.database.where
    length = max((len(p) for c in settings.channels for p in c.prefixes), default=0)
    try:
        groups = await subscribers_by_prefix(settings.database, length)
    except (OSError, sqlite3.Error, asyncpg.PostgresError) as exc:
        return None, f"the subscriber base could not be counted in {where} ({exc}): give --base N"
    if groups is None:
        return None, f"no subscriber base in {where} to estimate: give --base N"
    routes = router(settings)
    by_carrier: Counter[str] = Counter(dict.fromkeys(carriers, 0))
    unrouted = 0
    for prefix, n in groups.items():
        carrier = routes.try_carrier(prefix)
        if carrier is None:
            unrouted += n
        else:
            by_carrier[carrier] += n
    source = f"active subscribers in {where}, counted read only"
    return estimate(source, dict(by_carrier), unrouted), None
