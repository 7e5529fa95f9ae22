"""Rate accuracy of capped binds as the carrier counts them: the most submits the SMSC saw in
any one-second window of its own receive times (must never exceed the cap), the rate reached
over the busy period (must be at least 97% of the cap) and the most submits within any 50 ms.

The simulator runs in a child process (a carrier's SMSC is another machine) and stamps every
submit_sm when its bytes are read; this process is the gateway: ``--binds`` channels, each
capped at ``--tps``, fed a routine broadcast that keeps them busy, with an emergency
(OutboundSms.urgent) arriving half-way. Localhost has little jitter of its own (a few ms, more
on a busy machine), so network jitter is played afterwards: each receive time gets a random
0..``--jitter-ms`` delay, in order as TCP delivers, and the one-second count is taken again,
the worst of ``--trials`` draws. The channels' jitter margin (``--margin-ms``) has to cover
that, localhost's own and up to 2 ms of our timers' lateness.

    .venv/bin/python bench/smpp_rate.py [--binds 4] [--tps 100] [--delay 0.1] [--window 20]
        [--seconds 10] [--emergency 2] [--margin-ms 30] [--jitter-ms 25] [--trials 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import random
import time
from multiprocessing.connection import Connection
from typing import Any

import structlog

from channels.base import OutboundSms, SendResult
from channels.simulator import Simulator, SimulatorConfig
from channels.simulator.records import most_within
from channels.smpp.channel import SmppChannel
from channels.smpp.config import SmppChannelConfig

TEXT = "Vaccination day Saturday 9am at all clinics. Bring your card."
ALERT = "Flood warning: move to higher ground now."
ALERT_FROM = 900_000  # numbers of the emergency: +5016 b nnnnnn, from this nnnnnn on
MARGIN_MS = SmppChannelConfig.model_fields["jitter_margin_ms"].default


class NullSink:
    def segment_submitted(self, event: object) -> None: ...

    def received(self, item: object) -> None: ...


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def run_simulator(pipe: Connection, tps: int, delay: float) -> None:
    """The child process: an SMSC capped at ``tps`` per bind, answering after ``delay``."""
    quiet()

    async def serve() -> None:
        config = SimulatorConfig(
            port=0, control_port=None, receipts=False, response_delay_s=delay, tps=tps, seed=1
        )
        async with Simulator(config) as simulator:
            pipe.send(simulator.port)
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
            rows = [(s.system_id, s.at, s.status, s.destination_addr) for s in simulator.submits]
            pipe.send(rows)

    asyncio.run(serve())


def jittered(times: list[float], jitter_s: float, rng: random.Random) -> list[float]:
    """Receive times after a random 0..jitter_s delay each, in order as TCP delivers them."""
    out: list[float] = []
    last = float("-inf")
    for t in times:
        last = max(last, t + rng.uniform(0.0, jitter_s))
        out.append(last)
    return out


async def gateway(port: int, args: argparse.Namespace) -> dict[str, Any]:
    channels = [
        SmppChannel(
            SmppChannelConfig(
                name=f"rate-{i}",
                carrier="bench",
                host="127.0.0.1",
                port=port,
                system_id=f"bench-{i}",
                tps=args.tps,
                window=args.window,
                expected_response_ms=args.delay * 1000 or 1,
                registered_delivery=False,
                jitter_margin_ms=args.margin_ms,
            )
        )
        for i in range(1, args.binds + 1)
    ]
    for channel in channels:
        await channel.start(NullSink())
    async with asyncio.timeout(10):
        for channel in channels:
            await channel.wait_bound()

    # The whole routine broadcast queued at once (as the dispatcher keeps each bind's backlog
    # full), the emergency half-way: it goes ahead of what is left on every bind.
    routine = int(args.tps * args.seconds)
    sends: list[asyncio.Future[SendResult]] = []
    for i in range(routine):
        for b, channel in enumerate(channels):
            n = b * 1_000_000 + i
            sms = OutboundSms(f"r{n}", f"+5016{n:07d}", TEXT, "1515", receipt=False)
            sends.append(channel.enqueue(sms))
    await asyncio.sleep(args.seconds / 2)
    alert_at = time.monotonic()
    alerts: list[asyncio.Future[SendResult]] = []
    for i in range(int(args.tps * args.emergency)):
        for b, channel in enumerate(channels):
            n = b * 1_000_000 + ALERT_FROM + i
            sms = OutboundSms(f"e{n}", f"+5016{n:07d}", ALERT, "1515", receipt=False, urgent=True)
            alerts.append(channel.enqueue(sms))
    await asyncio.gather(*alerts)
    alerts_done = time.monotonic() - alert_at
    await asyncio.gather(*sends)
    for channel in channels:
        await channel.stop()
    return {"alert_at": alert_at, "alerts_done": alerts_done}


def report(
    rows: list[tuple[str, float, int, str]], args: argparse.Namespace, alert_at: float
) -> bool:
    cap = args.tps
    ok = True
    print(
        f"{args.binds} binds x {cap} TPS, SMSC answers after {args.delay * 1000:.0f} ms, window "
        f"{args.window}, jitter margin {args.margin_ms:g} ms; {args.seconds:g} s of routine, "
        f"{args.emergency:g} s of emergency at {args.seconds / 2:g} s; jitter played: "
        f"0-{args.jitter_ms:g} ms, worst of {args.trials} draws"
    )
    print(
        "| bind | submits | throttled | busy s | of cap | most in any 1 s "
        f"| same, +0-{args.jitter_ms:g} ms jitter | most in any 50 ms | first alert after |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for i in range(1, args.binds + 1):
        mine = [(at, status, to) for system_id, at, status, to in rows if system_id == f"bench-{i}"]
        times = [at for at, _, _ in mine]
        throttled = sum(1 for _, status, _ in mine if status)
        busy = times[-1] - times[0]
        rate = (len(times) - 1) / busy / cap
        rng = random.Random(i)
        with_jitter = max(
            most_within(jittered(times, args.jitter_ms / 1000, rng), 1.0)
            for _ in range(args.trials)
        )
        first_alert = min(at for at, _, to in mine if int(to[-6:]) >= ALERT_FROM)
        line_ok = most_within(times, 1.0) <= cap and with_jitter <= cap and rate >= 0.97
        ok = ok and line_ok and not throttled
        print(
            f"| rate-{i} | {len(times)} | {throttled} | {busy:.2f} | {rate:.2%} "
            f"| {most_within(times, 1.0)} | {with_jitter} | {most_within(times, 0.05)} "
            f"| {(first_alert - alert_at) * 1000:.0f} ms |"
        )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binds", type=int, default=4)
    parser.add_argument("--tps", type=int, default=100, help="cap of each bind")
    parser.add_argument("--delay", type=float, default=0.1, help="SMSC response delay, s")
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10, help="routine load, s of the cap")
    parser.add_argument("--emergency", type=float, default=2, help="emergency, s of the cap")
    parser.add_argument(
        "--margin-ms", type=float, default=MARGIN_MS, help="the channels' jitter_margin_ms"
    )
    parser.add_argument("--jitter-ms", type=float, default=25, help="network jitter played")
    parser.add_argument("--trials", type=int, default=20, help="jitter draws per bind")
    args = parser.parse_args()
    quiet()

    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(
        target=run_simulator, args=(theirs, args.tps, args.delay), daemon=True
    )
    child.start()
    port = ours.recv()
    figures = asyncio.run(gateway(port, args))
    ours.send("report")
    rows = ours.recv()
    child.join(5)
    ok = report(rows, args, figures["alert_at"])
    print(
        f"emergency: {args.binds * int(args.tps * args.emergency)} alerts all accepted "
        f"{figures['alerts_done']:.2f} s after they were queued"
    )
    if not ok:
        raise SystemExit("over the cap, throttled, or under 97% of it")


if __name__ == "__main__":
    main()
