"""Rate accuracy of one capped bind: achieved submits/s as a fraction of the cap, and the most
submits the SMSC saw in any one-second window (must never exceed the cap).

Times are the simulator's receive times, so this is what the carrier would count.

    .venv/bin/python bench/smpp_rate.py [--tps 100] [--delay 0.15] [--window 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging

import structlog

from channels.base import OutboundSms
from channels.simulator import Simulator, SimulatorConfig
from channels.smpp.channel import SmppChannel
from channels.smpp.config import SmppChannelConfig


class NullSink:
    def segment_submitted(self, event: object) -> None: ...

    def received(self, item: object) -> None: ...


def most_in_one_second(times: list[float]) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def measure(tps: int, delay: float, window: int, seconds: float) -> None:
    config = SimulatorConfig(
        port=0, control_port=None, receipts=False, response_delay_s=delay, seed=1
    )
    async with Simulator(config) as simulator:
        channel = SmppChannel(
            SmppChannelConfig(
                name="rate-1",
                carrier="bench",
                host="127.0.0.1",
                port=simulator.port,
                system_id="bench",
                tps=tps,
                window=window,
                expected_response_ms=delay * 1000 or 1,
            )
        )
        await channel.start(NullSink())
        await channel.wait_bound()
        n = int(tps * seconds)
        todo = iter(range(n))

        async def worker() -> None:
            for i in todo:
                sms = OutboundSms(f"m{i}", f"+50160{i:05d}", "Rate test", "1515", receipt=False)
                await channel.send(sms)

        await asyncio.gather(*(worker() for _ in range(window * 2)))
        await channel.stop()
        times = [s.at for s in simulator.submits]
    # Whole seconds from the first submit; the last, partial second is left out.
    seconds_seen = int(times[-1] - times[0])
    buckets = [0] * seconds_seen
    for t in times:
        second = int(t - times[0])
        if second < seconds_seen:
            buckets[second] += 1
    mean = sum(buckets) / len(buckets)
    print(
        f"| {tps} | {delay * 1000:.0f} ms | {window} | {n} | {mean:.1f} | {mean / tps:.1%} "
        f"| {min(buckets) / tps:.1%} | {most_in_one_second(times)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tps", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.15, help="SMSC response delay, s")
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(
        "| cap (TPS) | SMSC response | window | messages | submits/s | of cap "
        "| slowest second | most in any 1 s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    asyncio.run(measure(args.tps, args.delay, args.window, args.seconds))


if __name__ == "__main__":
    main()
