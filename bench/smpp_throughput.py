"""End to end through one SMPP bind: queued → submit_sm → submit_sm_resp → receipt → stored.

The SMSC simulator runs in a child process (as a carrier's SMSC would be another machine); this
process is the gateway: one uncapped bind, the Recorder writing every state to a SQLite file.
Prints messages/s, CPU µs per message of the gateway process, its peak memory, and with
--profile where the time goes.

    .venv/bin/python bench/smpp_throughput.py [--messages 50000] [--window 10] [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import multiprocessing
import os
import pstats
import resource
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import structlog

from channels.base import DeliveryReceipt, InboundSms, OutboundSms, SegmentSubmitted
from channels.simulator import Simulator, SimulatorConfig
from channels.smpp.channel import SmppChannel
from channels.smpp.config import SmppChannelConfig
from smsgw.delivery.message import Message, MessageState
from smsgw.delivery.recorder import Recorder
from smsgw.storage.sqlite import SqliteStore

TEXT = "Vaccination day Saturday 9am at all clinics. Bring your card."


def thread_cpu() -> dict[int, float]:
    """CPU seconds of each thread of this process (Linux /proc), by native thread id."""
    ticks = os.sysconf("SC_CLK_TCK")
    result = {}
    for task in Path("/proc/self/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        result[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return result


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def run_simulator(pipe: Connection) -> None:
    """The child process: an SMSC answering at once, a receipt for every message."""
    quiet()

    async def serve() -> None:
        config = SimulatorConfig(
            port=0,
            control_port=None,
            receipt_delay_s=0.0,
            seed=1,
            receipt_mix={"delivered": 1.0},
            keep_submits=1,
        )
        async with Simulator(config) as simulator:
            pipe.send(simulator.port)
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
            usage = resource.getrusage(resource.RUSAGE_SELF)
            pipe.send(usage.ru_utime + usage.ru_stime)

    asyncio.run(serve())


class Sink:
    """Hands everything to the recorder; sets ``done`` once ``expected`` receipts came in."""

    def __init__(self, recorder: Recorder, expected: int) -> None:
        self.recorder = recorder
        self.expected = expected
        self.receipts = 0
        self.done = asyncio.Event()

    def segment_submitted(self, event: SegmentSubmitted) -> asyncio.Future[None]:
        # handed back as the gateway does: the bind holds the segment's window slot until
        # it is stored (the crash-safety bound), so storage latency counts here too
        return self.recorder.segment_submitted(event)

    def received(self, item: InboundSms | DeliveryReceipt) -> asyncio.Future[None]:
        self.receipts += 1
        if self.receipts == self.expected:
            self.done.set()
        return self.recorder.received(item)


def messages(n: int) -> Iterator[Message]:
    now = datetime.now(UTC)
    for i in range(n):
        yield Message(
            uuid.uuid4().hex,
            f"+50160{i % 100000:05d}",
            "1515",
            TEXT,
            MessageState.QUEUED,
            1,
            "gsm7",
            None,
            None,
            now,
            now,
            now + timedelta(hours=1),
        )


async def gateway(port: int, n: int, window: int, db: Path) -> dict[str, float]:
    store = await SqliteStore.open(db)
    await store.migrate()

    recorder = Recorder(store.delivery, {"bench-1": "bench"})
    await recorder.start()
    channel = SmppChannel(
        SmppChannelConfig(
            name="bench-1",
            carrier="bench",
            host="127.0.0.1",
            port=port,
            system_id="bench",
            password="bench",
            tps=0,
            window=window,
        )
    )
    sink = Sink(recorder, n)
    await channel.start(sink)
    async with asyncio.timeout(10):
        await channel.wait_bound()

    # Queue them all first (as an outbox would hold them), then time submit → stored.
    queue0 = time.perf_counter()
    queued = list(messages(n))
    for start in range(0, n, 5000):
        await asyncio.gather(*(recorder.message_queued(m) for m in queued[start : start + 5000]))
    queue_wall = time.perf_counter() - queue0
    todo = iter(queued)
    threads0 = thread_cpu()
    cpu0, wall0 = time.process_time(), time.perf_counter()

    async def worker() -> None:
        # Bounded concurrency, as a dispatcher runs it: enough senders to keep the window full.
        for message in todo:
            await channel.send(OutboundSms(message.id, message.to, message.text, message.sender))

    await asyncio.gather(*(worker() for _ in range(window * 2)))
    await sink.done.wait()
    await recorder.flush()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    threads = thread_cpu()
    loop_cpu = threads[threading.get_native_id()] - threads0.get(threading.get_native_id(), 0)
    await channel.stop()
    await recorder.close()
    await store.close()
    return {"wall": wall, "cpu": cpu, "queue": queue_wall, "loop": loop_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument(
        "--window", type=int, default=10, help="a carrier's usual; 100: the old table"
    )
    parser.add_argument("--uvloop", action="store_true", help="run the gateway on uvloop")
    parser.add_argument("--profile", action="store_true", help="print where the time goes")
    args = parser.parse_args()
    quiet()

    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=run_simulator, args=(theirs,), daemon=True)
    child.start()
    port = ours.recv()
    loop_factory = None
    if args.uvloop:
        import uvloop

        loop_factory = uvloop.new_event_loop
    profiler = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.db"
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            if profiler:
                profiler.enable()
            figures = runner.run(gateway(port, args.messages, args.window, db))
            if profiler:
                profiler.disable()
        with sqlite3.connect(db) as conn:
            states = dict(conn.execute("SELECT state, count(*) FROM messages GROUP BY state"))
    ours.send("report")
    simulator_cpu = ours.recv()
    child.join(5)

    n = args.messages
    if states != {"delivered": n}:
        raise SystemExit(f"not every message was stored as delivered: {states}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    loop = "uvloop" if args.uvloop else "asyncio"
    print(f"{n} messages, one bind, window {args.window}, {loop}, receipts on, SQLite")
    print(f"  queue (group commit) {figures['queue'] / n * 1e6:5.1f} µs/message, before timing")
    print(f"  end to end        {n / figures['wall']:8.0f} messages/s")
    print(f"  gateway CPU       {figures['cpu'] / n * 1e6:8.1f} µs/message")
    print(f"  simulator CPU     {simulator_cpu / n * 1e6:8.1f} µs/message (other process)")
    print(f"  gateway peak RSS  {peak_mb:8.1f} MB")
    wall = figures["wall"]
    on_loop, rest = figures["loop"], figures["cpu"] - figures["loop"]
    print(f"    event loop thread {on_loop / n * 1e6:6.1f} µs/message, busy {on_loop / wall:.0%}")
    print(f"    SQLite thread     {rest / n * 1e6:6.1f} µs/message, busy {rest / wall:.0%}")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
        print(out.getvalue())


if __name__ == "__main__":
    main()
