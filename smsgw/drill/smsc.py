"""The drill's SMSCs: one simulator per bind, capped at that bind's contracted TPS as an SMSC
counts it (any one second of its own receive times) and answering after a realistic delay,
with receipts. They run in a process of their own, as a carrier's SMSC is another machine:
there a submit is stamped when it arrives, not when the gateway's busy event loop gets to it,
so a rate the drill reports is the one a carrier would count."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from channels.simulator import Simulator, SimulatorConfig
from smsgw import logging as gateway_logging

START_S = 60.0  # for the child to import and listen (a loaded 2-core machine)


@dataclass(frozen=True, slots=True)
class SmscSettings:
    caps: Mapping[str, int]  # bind name -> its contracted TPS (0: no cap)
    response_delay_s: float
    receipt_delay_s: float
    keep: int  # submits each SMSC keeps for the report


@dataclass(frozen=True, slots=True)
class Arrival:
    """A submit as its SMSC saw it."""

    at: float  # time.monotonic() when it arrived (one clock for every process of the host)
    bind: str
    accepted: bool  # False: refused (over the cap: throttled)


class SimulatedSmscs:
    """``with SimulatedSmscs(settings) as smscs``: ``smscs.ports`` by bind; ``await
    smscs.arrivals()`` once the drill is over."""

    def __init__(self, settings: SmscSettings) -> None:
        self.settings = settings
        self._pipe: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self.ports: dict[str, int] = {}

    async def __aenter__(self) -> SimulatedSmscs:
        # spawn: a fresh interpreter, not a fork of this one with its loop and threads
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self._pipe = ours
        self._process = context.Process(
            target=serve, args=(theirs, self.settings), name="drill-smscs", daemon=True
        )
        self._process.start()
        theirs.close()
        self.ports = await asyncio.to_thread(self._receive)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.send("stop")
            self._pipe.close()
        if self._process is not None:
            await asyncio.to_thread(self._process.join, 5)
            if self._process.is_alive():
                self._process.terminate()

    async def arrivals(self) -> list[Arrival]:
        """Every submit each SMSC received, in order of arrival per bind."""
        assert self._pipe is not None  # noqa: S101 - inside the context
        self._pipe.send("arrivals")
        rows: list[tuple[float, str, bool]] = await asyncio.to_thread(self._receive)
        return [Arrival(*row) for row in rows]

    def _receive(self) -> Any:  # what the child sent: ports, or arrivals
        assert self._pipe is not None  # noqa: S101 - inside the context
        if not self._pipe.poll(START_S):
            raise RuntimeError("the drill's simulated SMSCs did not answer")
        return self._pipe.recv()


def serve(pipe: Connection, settings: SmscSettings) -> None:
    """The child process: the SMSCs, until the parent says stop (or goes)."""
    gateway_logging.configure("warning")
    with contextlib.suppress(EOFError, KeyboardInterrupt):
        asyncio.run(_serve(pipe, settings))


async def young_garbage_only() -> None:
    """Collects only the young generations, every second: a full collection of this process
    paused it for tens of milliseconds, and the submits read after the pause were stamped
    bunched, so an SMSC counted a bind over its cap that the gateway had kept under (seen in
    bench/alert_hurricane.py). What would reach the old generation lives until the drill ends."""
    gc.disable()
    while True:
        await asyncio.sleep(1.0)
        gc.collect(1)


async def _serve(pipe: Connection, settings: SmscSettings) -> None:
    collector = asyncio.create_task(young_garbage_only())
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(collector.cancel)
        smscs: dict[str, Simulator] = {}
        for seed, (bind, cap) in enumerate(settings.caps.items(), start=1):
            config = SimulatorConfig(
                port=0, control_port=None, tps=cap, seed=seed, keep_submits=settings.keep,
                response_delay_s=settings.response_delay_s,
                receipt_delay_s=settings.receipt_delay_s,
            )  # fmt: skip
            smscs[bind] = await stack.enter_async_context(Simulator(config))
        pipe.send({bind: smsc.port for bind, smsc in smscs.items()})
        while await asyncio.to_thread(pipe.recv) != "stop":
            pipe.send(
                [(s.at, bind, s.status == 0) for bind, smsc in smscs.items() for s in smsc.submits]
            )
