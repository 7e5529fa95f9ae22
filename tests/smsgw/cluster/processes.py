"""Several gateways as real processes (``python -m smsgw run``) on one PostgreSQL database,
bound to an SMSC simulator in this process, which sees every bind and every submit of all of
them. Used by the failure tests and by bench/failover.py."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from smsgw.access.tokens import Role, issue
from smsgw.storage.postgres import PostgresStore
from subscriptions.models import Service, Source
from tests.smsgw.api.catalogue_testbed import health_body

REPO = Path(__file__).resolve().parents[3]
_RUNNING: set[asyncio.subprocess.Process] = set()  # killed at exit, whatever ended the test


@atexit.register
def _kill_left() -> None:
    for process in _RUNNING:
        with contextlib.suppress(Exception):  # ended already (its transport closed)
            process.kill()


ENV = os.environ | {"PYTHONPATH": str(REPO)}
BROADCASTS = "/api/v1/broadcasts"

# (name, carrier, prefixes): btl has two binds, smart one; each entry its own system_id, so
# the simulator's bind log tells the entries apart
CHANNELS = (
    ("btl-a", "btl", '["+50160"]'),
    ("btl-b", "btl", '["+50160"]'),
    ("smart-1", "smart", '["+50165"]'),
)
_CHANNEL = """
[[channels]]
name = "{name}"
carrier = "{carrier}"
host = "127.0.0.1"
port = {port}
system_id = "{name}"
password = "secret"
window = {window}
tps = {tps}
prefixes = {prefixes}
reconnect_min_s = 0.05
throttle_pause_s = 0.05
"""
_CONFIG = """
[gateway]
short_code = "1515"
default_region = "BZ"
timezone = "America/Belize"
data_dir = "data"

[database]
url = "{dsn}"

[cluster]
instance = "{name}"
lease_s = {lease_s}
balance = {balance}

[http]
host = "127.0.0.1"
port = {http}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def numbers(prefix: str, count: int) -> list[str]:
    width = 11 - len(prefix) + 1
    return [f"{prefix}{i:0{width}d}" for i in range(count)]


@dataclass
class GatewayProcess:
    name: str
    folder: Path
    port: int
    process: asyncio.subprocess.Process | None = None
    log: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self, session: aiohttp.ClientSession, ready: Sequence[str]) -> None:
        """Starts it and waits until /healthz says one of ``ready`` ("ok": binds held and up,
        "standby": none held)."""
        self.log = (self.folder / "gateway.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "smsgw", "run", "--config", "config.toml",
            cwd=self.folder, env=ENV, stdout=self.log, stderr=self.log,
        )  # fmt: skip
        _RUNNING.add(self.process)
        async with asyncio.timeout(30):
            while (await self.health(session)).get("status") not in ready:
                assert self.alive, (self.folder / "gateway.log").read_text()[-3000:]
                await asyncio.sleep(0.05)

    async def health(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        try:
            async with session.get(f"{self.url}/healthz") as response:
                found: dict[str, Any] = await response.json()
                return found
        except aiohttp.ClientError:
            return {}

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def terminate(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(20):
                    await self.process.wait()
            except TimeoutError:
                await self.kill()
        if self.log is not None:
            self.log.close()


@dataclass
class Cluster:
    """Gateways named ``names`` in ``folder`` (one sub-folder each), on ``dsn`` and the SMSC at
    ``smsc_port``."""

    folder: Path
    dsn: str
    smsc_port: int
    names: tuple[str, ...] = ("a", "b", "c")
    lease_s: float = 3.0
    window: int = 10
    tps: int = 0
    balance: bool = True
    channels: tuple[tuple[str, str, str], ...] = CHANNELS  # (name, carrier, prefixes)
    extra: str = ""  # more TOML, before the [[channels]]
    gateways: dict[str, GatewayProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        channels = "".join(
            _CHANNEL.format(name=name, carrier=carrier, prefixes=prefixes, port=self.smsc_port,
                            window=self.window, tps=self.tps)
            for name, carrier, prefixes in self.channels
        )  # fmt: skip
        for name in self.names:
            folder = self.folder / name
            folder.mkdir(parents=True, exist_ok=True)
            port = free_port()
            config = _CONFIG.format(dsn=self.dsn, name=name, lease_s=self.lease_s, http=port,
                                    balance=str(self.balance).lower())  # fmt: skip
            (folder / "config.toml").write_text(config + self.extra + channels, encoding="utf-8")
            self.gateways[name] = GatewayProcess(name, folder, port)

    def use_role(self, name: str, role: str) -> None:
        """Gateway ``name`` connects as ``role`` (a partition can then shut it out alone)."""
        config = self.gateways[name].folder / "config.toml"
        parts = urlsplit(self.dsn)
        dsn = urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))
        config.write_text(config.read_text().replace(self.dsn, dsn), encoding="utf-8")

    async def prepare(self, audience: list[str]) -> dict[str, str]:
        """The service, its audience and an admin token, stored before any gateway starts;
        the headers that carry the token."""
        store = await PostgresStore.open(self.dsn)
        try:
            body = health_body()
            await store.catalogue.add_service(Service(**{**body, "aliases": ("SALUD",)}))
            await store.subscriptions.join_many(
                [(n, None) for n in audience], "HEALTH", at=datetime.now(UTC),
                source=Source.IMPORT, consent="test list",
            )  # fmt: skip
            secret, token = issue(Role.ADMIN, now=datetime.now(UTC))
            await store.tokens.add_token(token)
        finally:
            await store.close()
        return {"Authorization": f"Bearer {secret}"}

    async def start(self, session: aiohttp.ClientSession) -> None:
        """The first gateway takes every bind; the others start (standby until the first hands
        them their share, with [cluster] balance)."""
        first, *others = self.gateways.values()
        await first.start(session, ready=("ok",))
        await asyncio.gather(*(g.start(session, ready=("standby", "ok")) for g in others))

    async def balanced(self, session: aiohttp.ClientSession) -> dict[str, str]:
        """Once every bind is held and each gateway holds its share: channel → holder."""
        share = -(-len(self.channels) // len(self.alive()))
        async with asyncio.timeout(30):
            while True:
                held = await self.holders(session)
                counts = [list(held.values()).count(g.name) for g in self.alive()]
                if len(held) == len(self.channels) and max(counts) <= share:
                    return held
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        await asyncio.gather(*(g.terminate() for g in self.gateways.values()))

    def alive(self) -> list[GatewayProcess]:
        return [g for g in self.gateways.values() if g.alive]

    async def holders(self, session: aiohttp.ClientSession) -> dict[str, str]:
        """channel → the live gateway that says it holds it."""
        held: dict[str, str] = {}
        for gateway in self.alive():
            for channel in (await gateway.health(session)).get("channels", []):
                if channel["held"]:
                    held[channel["name"]] = gateway.name
        return held

    async def broadcast(self, session: aiohttp.ClientSession, headers: dict[str, str]) -> int:
        gateway = self.alive()[0]
        body = {"service": "HEALTH", "texts": {"en": "Hurricane watch: secure loose items."}}
        async with session.post(f"{gateway.url}{BROADCASTS}", json=body, headers=headers) as r:
            assert r.status == 201, await r.text()
            broadcast_id: int = (await r.json())["id"]
            return broadcast_id

    async def until_done(
        self, session: aiohttp.ClientSession, headers: dict[str, str], broadcast_id: int,
        delivered: int, timeout_s: float = 45.0,
    ) -> dict[str, Any]:  # fmt: skip
        """The broadcast's view (from any live gateway) once done with ``delivered``."""
        seen: dict[str, Any] = {}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for gateway in self.alive():
                url = f"{gateway.url}{BROADCASTS}/{broadcast_id}"
                try:
                    async with session.get(url, headers=headers) as r:
                        seen = await r.json()
                except aiohttp.ClientError:
                    continue
                if seen.get("state") == "done" and seen.get("delivered") == delivered:
                    return seen
                break
            await asyncio.sleep(0.2)
        raise AssertionError(f"not done with {delivered} delivered after {timeout_s} s: {seen}")


def first_bind_after(binds: list[tuple[float, bool]], at: float) -> float | None:
    """The time of the first bind in ``binds`` (Simulator.binds_of) after ``at``."""
    return next((t for t, bound in binds if bound and t > at), None)


def now() -> float:
    return time.monotonic()  # the simulator's bind log's clock
