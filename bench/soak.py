"""Soak: the gateway as its own process (``python -m smsgw run``) under mixed traffic and SMSC
faults for half an hour, then what was lost, duplicated or leaked.

The SMSC simulator runs in this process; the gateway has two carriers, two binds each, capped at
--tps. Citizens text the short code at --mo-rate (English and Spanish commands, unknown words,
long multi-part texts), each text from a pool of numbers far apart in time; every one must get a
reply. A broadcast goes out every --broadcast-every seconds through the HTTP API (every
--emergency-every-th an emergency), to services with thousands of subscribers; every one must end
"done" with every subscriber reached. Every --fault-every seconds the SMSC misbehaves, in turn:
drops every link, hangs longer than the response timeout, answers a burst of submits with
ESME_RTHROTTLED, then one with ESME_RSYSERR, sends a malformed PDU, unbinds every bind.

As an SMSC does, a text the gateway never acknowledged (it is not in the gateway's store) is
delivered again after 30 s, up to 5 times. At the end injection stops, everything is given
--settle seconds to finish, and the figures are printed (and written to --json): lost must be 0.

    .venv/bin/python bench/soak.py [--minutes 30] [--mo-rate 20] [--audience 3000]
        [--broadcast-every 60] [--fault-every 120] [--json soak.json] [--keep DIR]

Exit status 1 when something was lost, the gateway died or did not stop cleanly on SIGTERM, or
duplicates went over their bound (one window per bind per link cut).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from soak_gateway import (
    BINDS,
    EMERGENCY,
    ROUTINE,
    Database,
    GatewayProcess,
    Links,
    ProcSample,
    free_port,
    log_events,
    prepare,
    proc_sample,
    write_config,
)
from soak_report import PENDING, failures, figures, print_report, why_unanswered
from soak_smsc import Faults, SmscLedger
from soak_traffic import Broadcasts, Citizens, Mo, carrier_mix

from channels.simulator import Simulator, SimulatorConfig

REDELIVER_AFTER_S = 30.0
STALL_S, MAX_STALLS = 0.02, 500  # 20 ms late at 50/s: one more submit in a second
RECEIPT_GRACE_S = 3.0  # the last receipts sent: read, matched and committed by the gateway


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


class Soak:
    """One run: the traffic, the watchers, and what they saw."""

    def __init__(
        self, args: argparse.Namespace, smsc: Simulator, gateway: GatewayProcess,
        broadcasts: Broadcasts,
    ) -> None:  # fmt: skip
        self.args = args
        self.gateway = gateway
        self.database = Database(gateway.folder)
        self.citizens = Citizens(smsc, max(1, round(args.mo_rate * 900)))  # 15 min apart
        self.broadcasts = broadcasts
        self.faults = Faults(
            smsc, args.faults, hang_s=args.response_timeout + 3, burst_s=args.burst
        )
        self.loop_lag_s = 0.0  # this process's: the SMSC's receive times are only this exact
        self.stalls: list[tuple[float, float]] = []  # (seconds since start, lag) over STALL_S
        self.ledger = SmscLedger(smsc, self.citizens, broadcasts)
        self.samples: list[ProcSample] = []
        self.disk: list[tuple[int, float, float]] = []  # (seconds, database MB, WAL MB)
        self.started = time.monotonic()
        self.traffic_s = 0.0
        self.settle_s = 0.0
        self.died: int | None = None  # the exit code, if the gateway died during the run

    async def run(self) -> None:
        args = self.args
        async with asyncio.TaskGroup() as group:
            watchers = [group.create_task(c) for c in (
                self.ledger.run(), self.broadcasts.watch(), self._redeliver(), self._sample(),
                self._watch_loop(),
            )]  # fmt: skip
            injectors = [group.create_task(c) for c in (
                self.citizens.run(args.mo_rate), self.broadcasts.run(args.broadcast_every),
                self.faults.run(args.fault_every),
            )]  # fmt: skip
            await self._until(args.minutes * 60)
            self.traffic_s = time.monotonic() - self.started
            for task in injectors:
                task.cancel()
            self.faults.stop()
            if self.died is None:
                await self._settle(args.settle)
            self.settle_s = time.monotonic() - self.started - self.traffic_s
            for task in watchers:
                task.cancel()
        self.ledger.read()
        if self.gateway.alive():  # the last sample, just before the SIGTERM
            self.samples.append(proc_sample(self.gateway.pid, time.monotonic() - self.started))

    async def _until(self, seconds: float) -> None:
        """The traffic's duration, or less if the gateway dies."""
        try:
            async with asyncio.timeout(seconds):
                self.died = await self.gateway.wait()
        except TimeoutError:
            pass

    async def _settle(self, limit_s: float) -> None:
        """Until every broadcast is done and every text answered or past hope, at most
        ``limit_s``."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and self.gateway.alive():
            self.ledger.read()
            if await self._settled():
                await asyncio.sleep(RECEIPT_GRACE_S)
                return
            await asyncio.sleep(2)

    async def _settled(self) -> bool:
        if self.broadcasts.unfinished() or self.ledger.simulator.status()["receipts_queued"]:
            return False
        return not any(kind in PENDING for kind in await self.unanswered())

    async def _redeliver(self) -> None:
        while True:
            await asyncio.sleep(5)
            try:
                await self.citizens.redeliver(self.database.inbound, REDELIVER_AFTER_S)
            except sqlite3.Error as exc:  # busy at a checkpoint: next pass
                print(f"  (redelivery pass skipped: {exc})")

    async def _watch_loop(self) -> None:
        """Stalls of this event loop: the simulator stamps what it reads here, so a stall
        bunches the submits it reads after it (the busiest second looks busier)."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.05)
            lag = time.monotonic() - before - 0.05
            self.loop_lag_s = max(self.loop_lag_s, lag)
            if lag > STALL_S and len(self.stalls) < MAX_STALLS:
                self.stalls.append((round(before - self.started, 1), round(lag, 3)))

    async def _sample(self) -> None:
        while self.gateway.alive():
            at = time.monotonic() - self.started
            self.samples.append(proc_sample(self.gateway.pid, at))
            self.disk.append((round(at), *self.database.size_mb()))
            await asyncio.sleep(self.args.sample_every)

    async def unanswered(self) -> dict[str, list[Mo]]:
        """The unanswered texts by why, read from the gateway's store."""
        mos = self.citizens.unanswered()
        stored = await self.database.inbound(mo.sender for mo in mos)
        replies = await self.database.replies(mo.sender for mo in mos)
        kinds: dict[str, list[Mo]] = {}
        for mo in mos:
            kind = why_unanswered(mo, stored.get((mo.sender, mo.text), []),
                                  replies.get(mo.sender, []))  # fmt: skip
            kinds.setdefault(kind, []).append(mo)
        return kinds


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    audiences = {
        ROUTINE: carrier_mix("+50160", "+50165", args.audience),
        EMERGENCY: carrier_mix("+50161", "+50166", max(1, args.audience // 3)),
    }
    config = SimulatorConfig(
        port=0, control_port=None, response_delay_s=args.smsc_delay, receipt_delay_s=1.0,
        receipt_mix={"delivered": 1.0}, keep_submits=100_000,  # the ledger reads as it grows
    )  # fmt: skip
    timeout = aiohttp.ClientTimeout(total=30)
    async with Simulator(config) as smsc, aiohttp.ClientSession(timeout=timeout) as session:
        http_port = free_port()
        links = Links(smsc.port, args.tps, args.window, args.response_timeout)
        write_config(folder, links, http_port)
        secret = await prepare(folder, audiences)
        gateway = GatewayProcess(folder, http_port, args.log_level)
        await gateway.start(session)
        try:
            async with asyncio.timeout(30):
                await smsc.wait_bound(len(BINDS))
            broadcasts = Broadcasts(session, gateway.url, {"Authorization": f"Bearer {secret}"},
                                    (ROUTINE, EMERGENCY), args.emergency_every)  # fmt: skip
            soak = Soak(args, smsc, gateway, broadcasts)
            await soak.run()
            result = await figures(soak, audiences, await soak.database.delivered())
        finally:
            exit_code = await gateway.terminate() if gateway.alive() else None
    result["gateway"] |= {"sigterm_exit": exit_code, "log": dict(log_events(gateway.log_path))}
    return result


def fault_kinds(value: str) -> list[str]:
    kinds = value.split(",")
    unknown = set(kinds) - set(Faults.KINDS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {sorted(unknown)}; use {Faults.KINDS}")
    return kinds


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    add = parser.add_argument
    add("--minutes", type=float, default=30, help="of traffic (default %(default)s)")
    add("--mo-rate", type=float, default=20, help="citizens' texts per second")
    add("--audience", type=int, default=3000, help="routine service's subscribers (the "
        "emergency service has a third as many)")  # fmt: skip
    add("--broadcast-every", type=float, default=60, metavar="S")
    add("--emergency-every", type=int, default=4, help="every Nth broadcast is an emergency")
    add("--fault-every", type=float, default=120, metavar="S", help="one fault, in turn")
    add("--faults", type=fault_kinds, default=list(Faults.KINDS),
        help="kinds to take in turn, comma-separated (default: all: %(default)s)")  # fmt: skip
    add("--burst", type=float, default=3, metavar="S", help="how long a burst of THROTTLED "
        "(or SYSERR) answers lasts")  # fmt: skip
    add("--tps", type=int, default=50, help="cap of each bind")
    add("--window", type=int, default=10, help="submits in flight per bind")
    add("--response-timeout", type=float, default=5, metavar="S", help="the gateway's; a "
        "hang lasts 3 s longer")  # fmt: skip
    add("--smsc-delay", type=float, default=0.05, metavar="S", help="SMSC response time")
    add("--settle", type=float, default=180, metavar="S", help="longest wait at the end")
    add("--sample-every", type=float, default=10, metavar="S", help="RSS and fds")
    add("--log-level", default="warning", choices=["info", "warning", "error"])
    add("--json", type=Path, metavar="FILE", help="write the figures there")
    add("--keep", type=Path, metavar="DIR", help="run in DIR and keep it (config, database, log)")
    args = parser.parse_args()
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: not empty (a soak starts from a new database)")
    return args


def main() -> int:
    args = options()
    quiet()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="smsgw-soak-"))
    folder.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args, folder))
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    why = failures(result)
    if why:
        print(f"FAILED: {'; '.join(why)}. The gateway's folder is kept: {folder}")
        return 1
    if args.keep is None:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
