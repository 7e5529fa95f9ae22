"""End-to-end delivery throughput: queue → submit → submit response → receipt → state stored.

One process: the SMSC simulator, one SMPP bind, the Recorder on a SQLite file. Prints messages
per second from the first submit until every message is stored as delivered.

    python bench/delivery.py [--messages 20000] [--window 200]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from channels.base import DeliveryReceipt, InboundSms, OutboundSms, SegmentSubmitted
from channels.simulator import Simulator, SimulatorConfig
from channels.smpp.channel import SmppChannel
from channels.smpp.config import SmppChannelConfig
from smsgw.delivery.message import Message, MessageState
from smsgw.delivery.recorder import Recorder
from smsgw.storage.sqlite import SqliteStore


class CountingSink:
    """Hands everything to the recorder; sets ``done`` once ``expected`` receipts came in."""

    def __init__(self, recorder: Recorder, expected: int) -> None:
        self.recorder = recorder
        self.expected = expected
        self.receipts = 0
        self.done = asyncio.Event()

    def segment_submitted(self, event: SegmentSubmitted) -> None:
        self.recorder.segment_submitted(event)

    def received(self, item: InboundSms | DeliveryReceipt) -> asyncio.Future[None]:
        self.receipts += 1
        if self.receipts == self.expected:
            self.done.set()
        return self.recorder.received(item)


async def bench(n: int, window: int, folder: Path) -> None:
    simulator = Simulator(
        SimulatorConfig(port=0, control_port=None, receipt_delay_s=0.0, seed=1,
                        receipt_mix={"delivered": 1.0})
    )  # fmt: skip
    await simulator.start()
    store = await SqliteStore.open(folder / "bench.db")
    recorder = Recorder(store, {"bench-1": "bench"})
    await recorder.start()
    config = {"name": "bench-1", "carrier": "bench", "host": "127.0.0.1", "port": simulator.port,
              "system_id": "bench", "password": "bench", "tps": 0, "window": window}  # fmt: skip
    channel = SmppChannel(SmppChannelConfig.model_validate(config))
    sink = CountingSink(recorder, n)
    await channel.start(sink)
    await simulator.wait_bound(1)
    while not channel.can_send:  # noqa: ASYNC110  # the channel offers no "bound" event to await
        await asyncio.sleep(0.01)

    now = datetime.now(UTC)
    messages = [
        Message(uuid.uuid4().hex, "+5016012345", "1515", "Vaccination day Saturday 9am",
                MessageState.QUEUED, 1, "gsm7", None, None, now, now, now + timedelta(hours=1))
        for _ in range(n)
    ]  # fmt: skip
    started = time.perf_counter()
    await asyncio.gather(*(recorder.message_queued(m) for m in messages))
    queued = time.perf_counter()
    await asyncio.gather(
        *(channel.send(OutboundSms(m.id, m.to, m.text, m.sender)) for m in messages)
    )
    submitted = time.perf_counter()
    await sink.done.wait()
    await recorder.flush()
    stored = time.perf_counter()
    await channel.stop()
    await recorder.close()
    await store.close()
    await simulator.stop()

    with sqlite3.connect(folder / "bench.db") as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM messages GROUP BY state"))
    if states != {"delivered": n}:
        raise SystemExit(f"not all delivered: {states}")
    print(f"{n} messages, window {window}")
    print(f"  queued (group commit)   {(queued - started) / n * 1e6:7.1f} µs/message")
    print(f"  submitted               {n / (submitted - queued):7.0f} messages/s")
    print(f"  submit → delivered, stored {n / (stored - queued):7.0f} messages/s end to end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=200)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(bench(args.messages, args.window, Path(folder)))


if __name__ == "__main__":
    main()
