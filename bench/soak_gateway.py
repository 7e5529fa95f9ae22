"""The soak's gateway: its folder (config, SQLite database with the catalogue, the audiences and an
admin token), the ``python -m smsgw run`` process, what /proc says about it, and read-only looks
into its database (as an operator's query would)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from smsgw.access.tokens import Role, issue
from smsgw.demo_catalogue import DEMO_SERVICES
from smsgw.storage.sqlite import SqliteStore
from subscriptions.models import Source

REPO = Path(__file__).resolve().parents[1]
DATABASE = "data/soak.db"
ROUTINE = "HEALTH"  # the services broadcast to; citizens never name them, so the audiences
EMERGENCY = "HURRICANE"  # stay exactly the lists imported here
BIND = """
[[channels]]
name = "{name}"
carrier = "{carrier}"
host = "127.0.0.1"
port = {port}
system_id = "{name}"
password = "soak"
tps = {tps}
window = {window}
prefixes = {prefixes}
enquire_link_s = 10
response_timeout_s = {timeout}
reconnect_min_s = 0.5
throttle_pause_s = 0.5
"""
CONFIG = """
[gateway]
short_code = "1515"
default_region = "BZ"
timezone = "America/Belize"
data_dir = "data"

[database]
url = "sqlite:///{database}"

[http]
host = "127.0.0.1"
port = {http_port}
"""
# Two carriers, two binds each: btl serves +50160–2, smart +50165–7.
BTL = '["+50160", "+50161", "+50162"]'
SMART = '["+50165", "+50166", "+50167"]'
BINDS = (("btl-1", "btl", BTL), ("btl-2", "btl", BTL),
         ("smart-1", "smart", SMART), ("smart-2", "smart", SMART))  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Links:
    """How the gateway's binds are set up."""

    smsc_port: int
    tps: int
    window: int
    response_timeout_s: float


def write_config(folder: Path, links: Links, http_port: int) -> None:
    binds = "".join(
        BIND.format(name=name, carrier=carrier, port=links.smsc_port, tps=links.tps,
                    window=links.window, prefixes=prefixes, timeout=links.response_timeout_s)
        for name, carrier, prefixes in BINDS
    )  # fmt: skip
    text = CONFIG.format(database=DATABASE, http_port=http_port) + binds
    (folder / "config.toml").write_text(text)
    (folder / "data").mkdir(exist_ok=True)


async def prepare(folder: Path, audiences: Mapping[str, Sequence[str]]) -> str:
    """The catalogue, each service's audience (one in four in Spanish) and an admin token,
    stored before the gateway starts; the token's secret."""
    store = await SqliteStore.open(folder / DATABASE)
    now = datetime.now(UTC)
    try:
        for service in DEMO_SERVICES:
            await store.catalogue.add_service(service)
        for keyword, numbers in audiences.items():
            rows = [(n, "es" if i % 4 == 0 else None) for i, n in enumerate(numbers)]
            await store.subscriptions.join_many(
                rows, keyword, at=now, source=Source.IMPORT, consent="soak"
            )
        secret, token = issue(Role.ADMIN, now=now)
        await store.tokens.add_token(token)
    finally:
        await store.close()
    return secret


class GatewayProcess:
    """``python -m smsgw run`` in ``folder``, its log in ``folder/gateway.log``."""

    def __init__(self, folder: Path, http_port: int, log_level: str) -> None:
        self.folder = folder
        self.url = f"http://127.0.0.1:{http_port}"
        self.log_level = log_level
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None  # noqa: S101  # started before anyone asks
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.folder / "gateway.log"

    async def start(self, session: aiohttp.ClientSession, limit_s: float = 30) -> None:
        env = os.environ | {"PYTHONPATH": str(REPO)}
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "smsgw", "--log-level", self.log_level,
                "run", "--config", "config.toml",
                cwd=self.folder, env=env, stdout=log, stderr=log,
            )  # fmt: skip
        async with asyncio.timeout(limit_s):
            while not await self.healthy(session):
                if self.process.returncode is not None:
                    raise RuntimeError(f"the gateway exited with {self.process.returncode}")
                await asyncio.sleep(0.1)

    async def healthy(self, session: aiohttp.ClientSession) -> bool:
        try:
            async with session.get(f"{self.url}/healthz") as response:
                return bool((await response.json()).get("status") == "ok")
        except (aiohttp.ClientError, json.JSONDecodeError):
            return False

    async def wait(self) -> int:
        assert self.process is not None  # noqa: S101  # started first
        return await self.process.wait()

    async def terminate(self, limit_s: float = 60) -> int | None:
        """SIGTERM, as systemd sends it; the exit code, or None if it had to be killed."""
        assert self.process is not None  # noqa: S101  # started first
        if self.process.returncode is not None:
            return self.process.returncode
        self.process.terminate()
        try:
            async with asyncio.timeout(limit_s):
                return await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            return None

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None


@dataclass(frozen=True, slots=True)
class ProcSample:
    at: float  # seconds since the traffic started
    rss_kb: int
    peak_kb: int  # VmHWM
    anon_kb: int  # RssAnon: the heap (Python objects, SQLite's page cache)
    file_kb: int  # RssFile: mapped files (code, libraries)
    shmem_kb: int  # RssShmem: SQLite's WAL index (-shm)
    fds: int


def proc_sample(pid: int, at: float) -> ProcSample:
    """RSS from /proc/<pid>/status, open descriptors from /proc/<pid>/fd."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
            fields[key] = int(value.split()[0])  # "12345 kB"
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return ProcSample(
        at, fields["VmRSS"], fields["VmHWM"], fields["RssAnon"], fields["RssFile"],
        fields["RssShmem"], fds,
    )  # fmt: skip


def log_events(path: Path) -> Counter[str]:
    """ "level event" → count, for every warning or worse in the gateway's log."""
    counts: Counter[str] = Counter()
    if not path.exists():
        return counts
    with path.open(encoding="utf-8", errors="replace") as log:
        for line in log:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                counts["unparsed line"] += 1  # a traceback or a print: worth a look
                continue
            if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
                counts[f"{entry['level']} {entry.get('event')}"] += 1
    return counts


# {marks}: "?" placeholders only, never values
_INBOUND = "SELECT sender, text, coalesce(outcome, '') FROM inbound WHERE sender IN ({marks})"
# a reply in flight at a link cut, before issue 13 (now sent again, its history says "resent"):
# "submitted" with a link_lost or response_timeout error, and an "unknown_outcome" row
_REPLIES = """SELECT recipient, state, CASE WHEN EXISTS (SELECT 1 FROM message_events e
    WHERE e.message_id = m.id AND e.state = 'unknown_outcome') THEN 'unknown_outcome'
    ELSE coalesce(error, '') END FROM messages m WHERE recipient IN ({marks})"""


class Database:
    """Read-only queries on the gateway's SQLite file while it runs (WAL: readers never block
    its writer)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / DATABASE

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        # closing(): the connection's own context manager only ends a transaction, and an
        # idle connection left open keeps the gateway from removing its WAL when it stops
        with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)) as db:
            return db.execute(sql, params).fetchall()

    async def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        return await asyncio.to_thread(self._query, sql, params)

    async def inbound(self, senders: Iterable[str]) -> dict[tuple[str, str], list[str]]:
        """(E.164 sender, text) → the outcomes of its stored copies ("" while unhandled)."""
        found: dict[tuple[str, str], list[str]] = {}
        for chunk in _chunks(_both_forms(senders)):
            marks = ",".join("?" * len(chunk))
            rows = await self.query(_INBOUND.format(marks=marks), chunk)
            for sender, text, outcome in rows:
                key = ("+" + str(sender).lstrip("+"), str(text))
                found.setdefault(key, []).append(str(outcome))
        return found

    async def replies(self, numbers: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """E.164 number → (state, error) of every single message to it (the replies); the
        error is "unknown_outcome" for one in flight at a link cut."""
        found: dict[str, list[tuple[str, str]]] = {}
        for chunk in _chunks(_both_forms(numbers)):
            marks = ",".join("?" * len(chunk))
            rows = await self.query(_REPLIES.format(marks=marks), chunk)
            for recipient, state, error in rows:
                number = "+" + str(recipient).lstrip("+")
                found.setdefault(number, []).append((str(state), str(error)))
        return found

    def size_mb(self) -> tuple[float, float]:
        """The database file's size and its WAL's."""
        files = (self.path, self.path.with_name(self.path.name + "-wal"))
        db, wal = (f.stat().st_size if f.exists() else 0 for f in files)
        return round(db / 2**20, 1), round(wal / 2**20, 1)

    async def delivered(self) -> dict[str, int]:
        """Delivered in the store (a receipt matched and recorded): parts, broadcast messages,
        single messages (the replies); and receipts still waiting for their submit."""
        parts = await self.query("SELECT count(*) FROM message_parts WHERE state = 'delivered'")
        outbox = await self.query("SELECT count(*) FROM outbox WHERE state = 'delivered'")
        messages = await self.query("SELECT count(*) FROM messages WHERE state = 'delivered'")
        unmatched = await self.query("SELECT count(*) FROM unmatched_receipts")
        return {
            "parts": int(str(parts[0][0])),  # each part has its own receipt
            "broadcast_messages": int(str(outbox[0][0])),
            "single_messages": int(str(messages[0][0])),
            "unmatched_receipts": int(str(unmatched[0][0])),
        }


def _both_forms(numbers: Iterable[str]) -> list[str]:
    """The store may hold "+5016…" or "5016…": ask for both."""
    return [form for n in numbers for form in (n, n.lstrip("+"))]


def _chunks(items: list[str], size: int = 500) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
