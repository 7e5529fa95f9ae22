"""smsgw's HTTP message API beside Kannel 1.4.5's sendsms: end to end, one run, one SMSC.

Both systems take N messages over HTTP from C concurrent keep-alive connections and send them
through one SMPP transceiver bind each, to the same SMSC simulator (its own process, answering
at once, a "delivered" receipt for every message 1 ms after its response), with the same window
and no rate cap, receipts on. Timed from the first HTTP request to the N-th final receipt:

- smsgw (``python -m smsgw run``): ``POST /api/v1/messages``; a message is done once its final
  state is stored (its SQLite file, read read-only every 20 ms, as an operator's query would);
- Kannel (bearerbox + smsbox): ``GET /cgi-bin/sendsms`` with ``dlr-mask`` and ``dlr-url``; a
  message is done once smsbox calls that URL (a sink in this process) with a final type.

Each round runs both, the order alternating, each after an untimed warm-up on the connections
the timed messages then reuse. Printed per system: messages/s end to end, the seconds to the
last receipt and to the last HTTP answer, the send call's p50/p95/max, CPU per message of the
system's processes and of the simulator; then the ratio smsgw / Kannel. Any answer but a 2xx,
and any final state but delivered, is counted and printed, and makes the exit status 1.
``--concurrency 1`` is the sequential case: one client, one request at a time.

    .venv/bin/python bench/vs_kannel.py [--messages 5000] [--concurrency 32] [--window 10]
                                        [--rounds 1] [--json PATH] [--kannel-store]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

import aiohttp
import structlog
from aiohttp import web

from channels.simulator import Simulator, SimulatorConfig
from smsgw.delivery.message import MessageState

REPO = Path(__file__).resolve().parents[1]
TEXT = "Vaccination day Saturday 9am at all clinics. Bring your card."
SHORT_CODE = "1515"
BEARERBOX, SMSBOX = "/usr/sbin/bearerbox", "/usr/sbin/smsbox"
# Kannel's DLR types (dlr.h): 1 delivered, 2 undelivered, 4 buffered, 8 SMSC accepted, 16
# SMSC rejected; the first, second and last are final.
DLR_FINAL = {1: "delivered", 2: "undeliverable", 16: "rejected"}
DLR_MASK = 1 | 2 | 16  # the final ones only: smsgw calls nobody on acceptance either
SMSGW_FINAL = tuple(state.value for state in MessageState if state.final)
# The simulator writes a receipt due at once (delay 0) before its submit_sm_resp; Kannel drops
# such a receipt ("could not find message"), smsgw keeps it and matches it later. A millisecond
# (plus the simulator's 5 ms batching) puts every receipt after its response, for both.
RECEIPT_DELAY_S = 0.001
STALL_S = 30.0  # no new final receipt for this long: the round has failed
POLL_S = 0.02  # how often smsgw's database is read while waiting (the end time's resolution)


# ---------------------------------------------------------------- processes and ports


def quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of these processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def run_simulator(pipe: Connection, keep: int) -> None:
    """The child process: one SMSC for both systems (any system_id binds; receipts go back to
    a bind of the system_id that submitted), answering at once, a receipt for every message
    right after its response."""
    quiet()

    async def serve() -> None:
        config = SimulatorConfig(
            port=0,
            control_port=None,
            receipt_delay_s=RECEIPT_DELAY_S,
            seed=1,
            receipt_mix={"delivered": 1.0},
            keep_submits=keep,
        )
        async with Simulator(config) as simulator:
            pipe.send(simulator.port)
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(serve())


class Child:
    """A subprocess with its output in a log file; SIGTERM, then SIGKILL, on the way out."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    @classmethod
    async def start(cls, name: str, argv: Sequence[str], cwd: Path, **env: str) -> Child:
        log = cwd / f"{name}.out"
        with log.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                *argv, cwd=cwd, stdout=out, stderr=out, env=os.environ | env
            )
        return cls(name, process, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def check(self) -> None:
        if self.process.returncode is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{tail}")

    async def stop(self, limit_s: float = 10) -> None:
        if self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            async with asyncio.timeout(limit_s):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def until(ready: Callable[[], Awaitable[bool]], children: Sequence[Child], what: str) -> None:
    """Waits up to 30 s for ``ready``, failing at once if a child died."""
    async with asyncio.timeout(30):
        while not await ready():
            for child in children:
                child.check()
            await asyncio.sleep(0.1)
    print(f"  {what}", flush=True)


# ---------------------------------------------------------------- one round's figures


@dataclass(slots=True)
class Sent:
    """What the HTTP side saw: each 2xx answer's latency, every other answer by kind."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    answered: float = 0.0  # seconds from the first request to the last answer

    @property
    def ok(self) -> int:
        return len(self.latencies)


@dataclass(frozen=True, slots=True)
class Figures:
    system: str
    messages: int
    accepted: int  # 2xx answers
    errors: dict[str, int]  # the other answers, by status or exception
    finals: dict[str, int]  # final states of the accepted messages
    wall_s: float  # first request to the last final receipt
    sends_s: float  # first request to the last answer: the HTTP side alone
    msg_per_s: float
    send_p50_ms: float
    send_p95_ms: float
    send_max_ms: float
    cpu_us_per_msg: float  # the system's own processes
    simulator_cpu_us_per_msg: float

    @property
    def failed(self) -> bool:
        undelivered = sum(n for state, n in self.finals.items() if state != "delivered")
        return bool(self.errors) or undelivered > 0 or self.accepted < self.messages


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class System(Protocol):
    name: str

    @property
    def pids(self) -> list[int]: ...

    async def send(self, session: aiohttp.ClientSession, tag: str, number: str) -> str | None:
        """One message over HTTP: None when accepted, else what went wrong."""

    async def begin(self, tag: str) -> None:
        """Before a round's first request: from here on its final receipts count."""

    async def finals(self, expected: int) -> tuple[float, dict[str, int]]:
        """Waits for ``expected`` final receipts of this round: when the last one was seen
        (perf_counter) and the count by final state."""


@contextlib.asynccontextmanager
async def client(concurrency: int) -> AsyncIterator[aiohttp.ClientSession]:
    """At most ``concurrency`` connections, kept alive from one request to the next."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session


async def send_all(
    system: System, session: aiohttp.ClientSession, tag: str, n: int, concurrency: int
) -> tuple[Sent, float]:
    """N messages from ``concurrency`` workers sharing the session's connections; the answers
    and when the first request went."""
    sent = Sent()
    todo = iter(range(n))

    async def worker() -> None:
        for i in todo:
            number = f"+50160{i % 100_000:05d}"
            start = time.perf_counter()
            try:
                error = await system.send(session, f"{tag}-{i}", number)
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = type(exc).__name__
            if error is None:
                sent.latencies.append(time.perf_counter() - start)
            else:
                sent.errors[error] += 1

    first = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    sent.answered = time.perf_counter() - first
    return sent, first


async def measure(
    system: System,
    session: aiohttp.ClientSession,
    tag: str,
    n: int,
    concurrency: int,
    sim_pid: int,
) -> Figures:
    await system.begin(tag)
    cpu0, sim0 = cpu_seconds(system.pids), cpu_seconds([sim_pid])
    sent, first = await send_all(system, session, tag, n, concurrency)
    last, finals = await system.finals(sent.ok)
    cpu, sim = cpu_seconds(system.pids) - cpu0, cpu_seconds([sim_pid]) - sim0
    wall = last - first
    done = max(sent.ok, 1)
    return Figures(
        system=system.name,
        messages=n,
        accepted=sent.ok,
        errors=dict(sent.errors),
        finals=finals,
        wall_s=round(wall, 3),
        sends_s=round(sent.answered, 3),
        msg_per_s=round(sent.ok / wall, 1) if wall > 0 else 0.0,
        send_p50_ms=round(percentile(sent.latencies, 0.50) * 1000, 2),
        send_p95_ms=round(percentile(sent.latencies, 0.95) * 1000, 2),
        send_max_ms=round(max(sent.latencies, default=float("nan")) * 1000, 2),
        cpu_us_per_msg=round(cpu / done * 1e6, 1),
        simulator_cpu_us_per_msg=round(sim / done * 1e6, 1),
    )


async def wait_progress(count: Callable[[], Awaitable[int]], expected: int, what: str) -> float:
    """Polls ``count`` until it reaches ``expected``: when it did; a stall is an error."""
    seen, moved = -1, time.perf_counter()
    while True:
        now_count = await count()
        now = time.perf_counter()
        if now_count >= expected:
            return now
        if now_count != seen:
            seen, moved = now_count, now
        elif now - moved > STALL_S:
            raise RuntimeError(f"{what}: {now_count} of {expected} final receipts, stalled")
        await asyncio.sleep(POLL_S)


# ---------------------------------------------------------------- smsgw


SMSGW_CONFIG = """
[gateway]
short_code = "{short_code}"
default_region = "BZ"
timezone = "America/Belize"
data_dir = "data"

[http]
host = "127.0.0.1"
port = {http_port}
daily_messages_per_token = {quota}

[database]
url = "sqlite:///data/smsgw.db"

[[channels]]
name = "bench-1"
carrier = "bench"
host = "127.0.0.1"
port = {smsc_port}
system_id = "smsgw"
password = "smsgw"
bind = "transceiver"
tps = 0
window = {window}
registered_delivery = true
prefixes = ["+5016"]
"""


class Smsgw:
    """``python -m smsgw run`` in its own folder, one uncapped bind to the simulator."""

    name = "smsgw"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.db = folder / "data" / "smsgw.db"
        self.child: Child | None = None
        self.url = ""
        self.headers: dict[str, str] = {}
        self._baseline: dict[str, int] = {}

    @property
    def pids(self) -> list[int]:
        return [self.child.pid] if self.child else []

    @contextlib.asynccontextmanager
    async def running(self, smsc_port: int, window: int, quota: int) -> AsyncIterator[Smsgw]:
        self.folder.mkdir()
        (self.folder / "data").mkdir()
        http_port = free_port()
        config = self.folder / "config.toml"
        config.write_text(
            SMSGW_CONFIG.format(
                short_code=SHORT_CODE, http_port=http_port, quota=quota,
                smsc_port=smsc_port, window=window,
            )
        )  # fmt: skip
        config.chmod(0o600)  # it holds the SMPP password: no warning in the log
        self.url = f"http://127.0.0.1:{http_port}"
        token = await self._token(config)
        self.headers = {"Authorization": f"Bearer {token}"}
        # warning: per-message info lines are not what is measured (Kannel logs at warning too)
        argv = [sys.executable, "-m", "smsgw", "--log-level", "warning", "run", "--config",
                str(config)]  # fmt: skip
        self.child = await Child.start("smsgw", argv, self.folder, PYTHONPATH=str(REPO))
        try:
            await until(self._healthy, [self.child], f"smsgw up, bound (pid {self.child.pid})")
            yield self
        finally:
            await self.child.stop()

    async def _token(self, config: Path) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "smsgw", "--log-level", "warning", "token", "create",
            "--config", str(config), "--role", "admin", "--person", "bench",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=os.environ | {"PYTHONPATH": str(REPO)},
        )  # fmt: skip
        out, err = await process.communicate()
        lines = out.decode().split()
        if process.returncode != 0 or not lines:
            raise RuntimeError(f"smsgw token create failed ({process.returncode}): {err.decode()}")
        return lines[-1]  # printed once, alone on its line

    async def _healthy(self) -> bool:
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{self.url}/healthz") as response,
            ):
                return bool((await response.json()).get("status") == "ok")
        except (aiohttp.ClientError, json.JSONDecodeError):
            return False

    async def send(self, session: aiohttp.ClientSession, tag: str, number: str) -> str | None:
        body = {"to": number, "text": TEXT}
        url = f"{self.url}/api/v1/messages"
        async with session.post(url, json=body, headers=self.headers) as response:
            answer = await response.read()
            if response.status == 201:
                return None
            return f"{response.status} {_error_code(answer)}"

    def _states(self) -> dict[str, int]:
        # closing(): an idle connection left open keeps the gateway from removing its WAL
        uri = f"file:{self.db}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
            rows = db.execute("SELECT state, count(*) FROM messages GROUP BY state").fetchall()
        return {str(state): int(n) for state, n in rows}

    async def begin(self, tag: str) -> None:
        self._baseline = await asyncio.to_thread(self._states)

    async def finals(self, expected: int) -> tuple[float, dict[str, int]]:
        async def count() -> int:
            states = await asyncio.to_thread(self._states)
            return sum(states.get(s, 0) - self._baseline.get(s, 0) for s in SMSGW_FINAL)

        last = await wait_progress(count, expected, "smsgw")
        states = await asyncio.to_thread(self._states)
        finals = {s: states.get(s, 0) - self._baseline.get(s, 0) for s in SMSGW_FINAL}
        return last, {state: n for state, n in finals.items() if n}


def _error_code(answer: bytes) -> str:
    """The error code of smsgw's JSON error body, or the start of whatever came back."""
    try:
        return str(json.loads(answer)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return answer[:60].decode(errors="replace")


# ---------------------------------------------------------------- Kannel


KANNEL_CONFIG = """
group = core
admin-port = {admin_port}
admin-password = {password}
status-password = {password}
smsbox-port = {smsbox_port}
log-file = "{folder}/bearerbox.log"
log-level = {log_level}
dlr-storage = internal
box-allow-ip = "127.0.0.1"
{store}
group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = {smsc_port}
transceiver-mode = true
smsc-username = "kannel"
smsc-password = "kannel"
system-type = ""
max-pending-submits = {window}
# the simulator writes its ids in hex, in submit_sm_resp and in receipts alike
msg-id-type = 0x03
enquire-link-interval = 30

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
log-file = "{folder}/smsbox.log"
log-level = {log_level}

group = sendsms-user
username = bench
password = {password}
max-messages = 1

group = sms-service
keyword = default
text = "No service specified"
"""

KANNEL_STORE = """store-type = file
store-location = "{folder}/kannel.store"
"""


class Kannel:
    """bearerbox and smsbox in the foreground, one SMPP transceiver to the simulator; a DLR
    sink in this process counts the final delivery reports smsbox calls back."""

    name = "kannel"
    password = "bench"  # noqa: S105  # the throwaway Kannel of one run

    def __init__(self, folder: Path, log_level: int, *, store: bool) -> None:
        self.folder = folder
        self.log_level = log_level  # 0 debug … 4 panic; each PDU is a few lines at 0
        # Without a store, a message sendsms accepted lives in bearerbox's memory only (lost
        # if it dies); smsgw's 201 means stored in SQLite. With it, Kannel writes it first.
        self.store = store
        self.children: list[Child] = []
        self.admin = ""
        self.sendsms = ""
        self.sink = ""
        self.tag = ""
        self.final_types: Counter[int] = Counter()  # this round's final reports, by type
        self.other_types: Counter[int] = Counter()  # any other report (buffered, accepted)
        self.seen: set[str] = set()  # this round's messages with a final report
        self.duplicates = 0
        self.strays = 0  # reports of another round, or without an id
        self.last = 0.0  # perf_counter of the latest new final report

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self.children]

    @contextlib.asynccontextmanager
    async def running(self, smsc_port: int, window: int) -> AsyncIterator[Kannel]:
        self.folder.mkdir()
        admin_port, smsbox_port, sendsms_port = free_port(), free_port(), free_port()
        config = self.folder / "kannel.conf"
        config.write_text(
            KANNEL_CONFIG.format(
                admin_port=admin_port, password=self.password, smsbox_port=smsbox_port,
                folder=self.folder, smsc_port=smsc_port, window=window,
                sendsms_port=sendsms_port, log_level=self.log_level,
                store=KANNEL_STORE.format(folder=self.folder) if self.store else "",
            )
        )  # fmt: skip
        self.admin = f"http://127.0.0.1:{admin_port}"
        self.sendsms = f"http://127.0.0.1:{sendsms_port}/cgi-bin/sendsms"
        async with self._sink():
            try:
                # -v: stderr's level too (its default, debug, writes each PDU out)
                verbosity = ["-v", str(self.log_level)]
                bearerbox = await Child.start("bearerbox", [BEARERBOX, *verbosity, str(config)],
                                              self.folder)  # fmt: skip
                self.children.append(bearerbox)
                await until(self._bearerbox_up, self.children, "bearerbox up")
                smsbox = await Child.start("smsbox", [SMSBOX, *verbosity, str(config)],
                                           self.folder)  # fmt: skip
                self.children.append(smsbox)
                await until(self._online, self.children, "Kannel up, SMSC link online, smsbox in")
                await until(lambda: _listening(sendsms_port), self.children, "sendsms listening")
                yield self
            finally:
                # bearerbox first: smsbox ends by itself once bearerbox has gone
                for child in self.children:
                    await child.stop()

    @contextlib.asynccontextmanager
    async def _sink(self) -> AsyncIterator[None]:
        app = web.Application()
        app.router.add_get("/dlr", self._report)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        self.sink = f"http://127.0.0.1:{port}/dlr"
        try:
            yield
        finally:
            await runner.cleanup()

    async def _report(self, request: web.Request) -> web.Response:
        message, kind = request.query.get("id", ""), int(request.query.get("type", "0") or 0)
        if not message.startswith(f"{self.tag}-"):
            self.strays += 1
        elif kind not in DLR_FINAL:
            self.other_types[kind] += 1
        elif message in self.seen:
            self.duplicates += 1
        else:
            self.seen.add(message)
            self.final_types[kind] += 1
            self.last = time.perf_counter()
        return web.Response(text="ok")

    async def _status(self) -> str:
        url = f"{self.admin}/status.txt?password={self.password}"
        try:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                return await response.text()
        except aiohttp.ClientError:
            return ""

    async def _bearerbox_up(self) -> bool:
        return bool(await self._status())

    async def _online(self) -> bool:
        status = await self._status()
        boxes, _, smscs = status.partition("SMSC connections:")
        return "smsbox" in boxes and "online" in smscs

    async def send(self, session: aiohttp.ClientSession, tag: str, number: str) -> str | None:
        params = {
            "username": "bench", "password": self.password, "from": SHORT_CODE, "to": number,
            "text": TEXT, "dlr-mask": str(DLR_MASK), "dlr-url": f"{self.sink}?id={tag}&type=%d",
        }  # fmt: skip
        async with session.get(self.sendsms, params=params) as response:
            answer = await response.read()
            if 200 <= response.status < 300:
                return None
            return f"{response.status} {answer[:60].decode(errors='replace').strip()}"

    async def begin(self, tag: str) -> None:
        self.tag = tag
        self.final_types.clear()
        self.other_types.clear()
        self.seen.clear()
        self.duplicates = self.strays = 0

    async def finals(self, expected: int) -> tuple[float, dict[str, int]]:
        async def count() -> int:
            return len(self.seen)

        await wait_progress(count, expected, "kannel")
        finals = {DLR_FINAL[kind]: n for kind, n in self.final_types.items()}
        if self.duplicates or self.strays or self.other_types:
            print(f"  kannel: {self.duplicates} duplicate, {self.strays} stray, other reports "
                  f"{dict(self.other_types)}")  # fmt: skip
        return self.last, finals  # the exact moment, not the poll's


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


# ---------------------------------------------------------------- the run


@dataclass(frozen=True, slots=True)
class Plan:
    messages: int
    concurrency: int
    window: int
    rounds: int
    warmup: int
    kannel_log_level: int
    kannel_store: bool


async def compare(plan: Plan, folder: Path, sim_pid: int, smsc_port: int) -> list[Figures]:
    quota = (plan.messages + plan.warmup) * plan.rounds + 1000
    smsgw, kannel = (
        Smsgw(folder / "smsgw"),
        Kannel(folder / "kannel", plan.kannel_log_level, store=plan.kannel_store),
    )
    results: list[Figures] = []
    async with (
        smsgw.running(smsc_port, plan.window, quota),
        kannel.running(smsc_port, plan.window),
    ):
        systems: list[System] = [smsgw, kannel]
        for round_ in range(1, plan.rounds + 1):
            # alternate who goes first: the machine's drift lands on both sides
            order = systems if round_ % 2 else systems[::-1]
            for system in order:
                figures = await one_round(system, plan, f"r{round_}", sim_pid)
                results.append(figures)
                print(f"  round {round_} {system.name}: {figures.msg_per_s:,.0f} msg/s", flush=True)
    return results


async def one_round(system: System, plan: Plan, tag: str, sim_pid: int) -> Figures:
    """An untimed warm-up opens the connections the timed messages then reuse: Kannel's
    sendsms listens with a backlog of 10, so of 32 simultaneous connects some wait a second
    (their SYN sent again), which is not what is measured here. It also warms SQLite's cache
    and Kannel's DLR table."""
    async with client(plan.concurrency) as session:
        if plan.warmup:
            warm = await measure(system, session, f"{tag}w", plan.warmup, plan.concurrency, sim_pid)
            if warm.failed:
                raise RuntimeError(f"{system.name}'s warm-up failed: {warm}")
        return await measure(system, session, tag, plan.messages, plan.concurrency, sim_pid)


ROW = "{:>5}  {:<7}{:>8}{:>8}{:>8}{:>10}{:>8}{:>8}{:>12}{:>12}{:>8}  {}"


def report(plan: Plan, results: Sequence[Figures]) -> list[dict[str, object]]:
    print()
    print(f"{plan.messages} messages, concurrency {plan.concurrency}, window {plan.window}, "
          f"receipts on, one SMSC simulator (own process), {plan.rounds} round(s)")  # fmt: skip
    print(ROW.format("round", "system", "msg/s", "wall s", "sends s", "send p50", "p95", "max ms",
                     "CPU µs/msg", "SMSC µs/msg", "errors", "finals"))  # fmt: skip
    rounds: list[dict[str, object]] = []
    for round_ in range(plan.rounds):
        pair = {f.system: f for f in results[2 * round_ : 2 * round_ + 2]}
        for f in (pair["smsgw"], pair["kannel"]):
            print(_row(round_ + 1, f))
        theirs = pair["kannel"].msg_per_s
        ratio = pair["smsgw"].msg_per_s / theirs if theirs else float("nan")
        print(f"{'':>5}  smsgw / Kannel: {ratio:.2f}")
        rounds.append({"round": round_ + 1, "smsgw": asdict(pair["smsgw"]),
                       "kannel": asdict(pair["kannel"]), "ratio": round(ratio, 3)})  # fmt: skip
    for f in results:
        for error, n in f.errors.items():
            print(f"  {f.system}: {n} × {error}")
    if plan.rounds > 1:
        ratios = [float(str(r["ratio"])) for r in rounds]
        print(f"median smsgw / Kannel over {plan.rounds} rounds: {statistics.median(ratios):.2f}")
    return rounds


def _row(round_: int, f: Figures) -> str:
    return ROW.format(
        round_,
        f.system,
        f"{f.msg_per_s:,.0f}",
        f"{f.wall_s:.2f}",
        f"{f.sends_s:.2f}",
        f"{f.send_p50_ms:.1f}",
        f"{f.send_p95_ms:.1f}",
        f"{f.send_max_ms:.0f}",
        f"{f.cpu_us_per_msg:.0f}",
        f"{f.simulator_cpu_us_per_msg:.0f}",
        sum(f.errors.values()),
        _finals(f),
    )


def _finals(figures: Figures) -> str:
    text = ", ".join(f"{state} {n}" for state, n in sorted(figures.finals.items()))
    return text or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32, help="1: sequential")
    parser.add_argument("--window", type=int, default=10, help="submits awaiting a response")
    parser.add_argument("--rounds", type=int, default=1, help="each: smsgw and Kannel")
    parser.add_argument(
        "--warmup", type=int, default=200, help="untimed messages before each round"
    )
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--kannel-log-level", type=int, default=2, choices=range(5),
                        help="0 debug … 2 warning (default) … 4 panic")  # fmt: skip
    parser.add_argument("--kannel-store", action="store_true",
                        help="Kannel keeps accepted messages in a store file, as smsgw does "
                        "in SQLite (off: in memory only, Kannel's default)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    for binary in (BEARERBOX, SMSBOX):
        if not Path(binary).exists():
            raise SystemExit(f"{binary} is missing: apt-get install kannel")
    quiet()
    plan = Plan(
        args.messages,
        args.concurrency,
        args.window,
        args.rounds,
        args.warmup,
        args.kannel_log_level,
        args.kannel_store,
    )

    folder = Path(tempfile.mkdtemp(prefix="vs_kannel-"))
    ours, theirs = multiprocessing.Pipe()
    keep = 2 * (plan.messages + plan.warmup) * plan.rounds + 1000
    simulator = multiprocessing.Process(target=run_simulator, args=(theirs, keep), daemon=True)
    simulator.start()
    finished = False
    try:
        smsc_port = ours.recv()
        assert simulator.pid is not None  # noqa: S101  # started
        print(f"SMSC simulator on :{smsc_port} (pid {simulator.pid}); files in {folder}")
        results = asyncio.run(_main(plan, folder, simulator.pid, smsc_port))
        finished = True
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: every child process stopped, no figures", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        with contextlib.suppress(OSError):  # the simulator may have gone already
            ours.send("stop")
        simulator.join(5)
        if simulator.is_alive():
            simulator.kill()
        if finished and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"logs and configuration kept in {folder}")
    rounds = report(plan, results)
    if args.json:
        args.json.write_text(json.dumps({"plan": asdict(plan), "rounds": rounds}, indent=2))
    if any(f.failed for f in results):
        raise SystemExit("some messages failed: the figures above do not count them")


async def _main(plan: Plan, folder: Path, sim_pid: int, smsc_port: int) -> list[Figures]:
    # SIGTERM ends the run as Ctrl-C does: the children are stopped on the way out
    task = asyncio.current_task()
    assert task is not None  # noqa: S101  # inside asyncio.run
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await compare(plan, folder, sim_pid, smsc_port)


if __name__ == "__main__":
    main()
