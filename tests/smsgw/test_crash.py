"""kill -9 in the middle of a broadcast, then start again: the gateway resumes by itself, no one
is left out, and a subscriber gets the message twice only if it was in flight at the crash (at
most one window per bind). The gateway runs as its own process (``python -m smsgw run``); the
SMSC simulator runs here, so it sees both lives of the gateway."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from channels.simulator import Simulator
from channels.smpp.codec import Command, Status
from smsgw.access.tokens import Role, issue
from smsgw.storage.sqlite import SqliteStore
from subscriptions.models import Source
from tests.smsgw.api.catalogue_testbed import health_body, service_of
from tests.smsgw.broadcast_testbed import BROADCASTS, numbers, sent_to
from tests.smsgw.test_dispatch import BINDS, CONFIG, WINDOW
from tests.smsgw.testbed import WAIT, WriteConfig, eventually

REPO = Path(__file__).resolve().parents[2]
ENV = os.environ | {"PYTHONPATH": str(REPO)}
AUDIENCE = numbers("+50160", 900) + numbers("+50165", 300)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def prepare(database: Path, audience: list[str] = AUDIENCE) -> str:
    """The service, its audience and an admin token, stored before the gateway starts."""
    store = await SqliteStore.open(database)
    try:
        await store.catalogue.add_service(service_of(health_body()))
        await store.subscriptions.join_many(
            [(n, None) for n in audience], "HEALTH", at=datetime.now(UTC),
            source=Source.IMPORT, consent="test list",
        )  # fmt: skip
        secret, token = issue(Role.ADMIN, now=datetime.now(UTC))
        await store.tokens.add_token(token)
    finally:
        await store.close()
    return secret


class GatewayProcess:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.url = f"http://127.0.0.1:{port}"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, session: aiohttp.ClientSession, ready: str = "ok") -> None:
        """Starts it and waits until /healthz says ``ready`` ("down": no bind is up)."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "smsgw", "run", "--config", "config.toml",
            cwd=self.folder, env=ENV, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        async with asyncio.timeout(WAIT):
            while True:
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if (await response.json())["status"] == ready:
                            return
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)

    async def terminate(self) -> int:
        """SIGTERM, as systemd or docker stop sends it; the exit code."""
        assert self.process is not None
        self.process.terminate()
        async with asyncio.timeout(WAIT):
            return await self.process.wait()

    async def kill(self) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.kill()  # SIGKILL: no clean-up of any kind
        await self.process.wait()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def launch(
    simulator: Simulator, write_config: WriteConfig, folder: Path, audience: list[str],
    config: str = CONFIG,
) -> tuple[GatewayProcess, dict[str, str]]:  # fmt: skip
    """The gateway's config and database (service, audience, admin token); not started."""
    port = free_port()
    config = config.replace("PORT", str(simulator.port))
    write_config(config + f'\n[http]\nhost = "127.0.0.1"\nport = {port}\n')
    secret = await prepare(folder / "data" / "test.db", audience)
    return GatewayProcess(folder, port), {"Authorization": f"Bearer {secret}"}


async def broadcast(
    gateway: GatewayProcess, session: aiohttp.ClientSession, headers: dict[str, str]
) -> int:
    body = {"service": "HEALTH", "texts": {"en": "Clinic hours change."}}
    async with session.post(f"{gateway.url}{BROADCASTS}", json=body, headers=headers) as r:
        assert r.status == 201, await r.text()
        broadcast_id: int = (await r.json())["id"]
        return broadcast_id


async def until_delivered(
    gateway: GatewayProcess, session: aiohttp.ClientSession, headers: dict[str, str],
    broadcast_id: int, count: int,
) -> dict[str, Any]:  # fmt: skip
    """The broadcast's view once it is done with ``count`` delivered."""
    url = f"{gateway.url}{BROADCASTS}/{broadcast_id}"
    async with asyncio.timeout(3 * WAIT):
        while True:
            async with session.get(url, headers=headers) as r:
                seen: dict[str, Any] = await r.json()
            if seen["state"] == "done" and seen["delivered"] == count:
                return seen
            await asyncio.sleep(0.1)


async def test_kill_9_mid_broadcast_then_restart_resumes_and_leaves_no_one_out(
    simulator: Simulator, write_config: WriteConfig, tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:  # fmt: skip
    gateway, headers = await launch(simulator, write_config, tmp_path, AUDIENCE)
    await gateway.start(session)
    try:
        broadcast_id = await broadcast(gateway, session, headers)
        await simulator.wait_submits(400)
        await gateway.kill()
        at_crash = sent_to(simulator)
        assert len(at_crash) < len(AUDIENCE)  # killed mid-broadcast

        await gateway.start(session)  # nothing is asked of it: it resumes by itself
        seen = await until_delivered(gateway, session, headers, broadcast_id, len(AUDIENCE))
    finally:
        await gateway.kill()

    received = sent_to(simulator)
    assert set(received) == set(AUDIENCE)  # no one left out
    twice = [number for number, count in received.items() if count > 1]
    assert max(received.values()) <= 2
    assert len(twice) <= (BINDS + 1) * WINDOW  # in flight at the crash: a window per bind
    assert all(number in at_crash for number in twice)  # and only those sent before it
    assert seen["audience"] == len(AUDIENCE)


@pytest.mark.parametrize("simulator", [{"response_delay_s": 0.2}], indirect=True, ids=["slow"])
async def test_sigterm_mid_broadcast_stops_cleanly_and_the_restart_sends_no_duplicate(
    simulator: Simulator, write_config: WriteConfig, tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:  # fmt: skip
    audience = numbers("+50160", 200) + numbers("+50165", 100)
    gateway, headers = await launch(simulator, write_config, tmp_path, audience)
    await gateway.start(session)
    try:
        broadcast_id = await broadcast(gateway, session, headers)
        await simulator.wait_submits(100)  # the SMSC answers in 0.2 s: every window is full

        assert await gateway.terminate() == 0
        assert simulator.bound() == []  # every bind said goodbye
        assert len(sent_to(simulator)) < len(audience)

        await gateway.start(session)
        await until_delivered(gateway, session, headers, broadcast_id, len(audience))
    finally:
        await gateway.kill()

    received = sent_to(simulator)
    assert set(received) == set(audience)
    assert set(received.values()) == {1}  # a clean stop: what was in flight was answered first


async def test_sigterm_with_the_smsc_silent_exits_within_the_shutdown_timeout(
    simulator: Simulator, write_config: WriteConfig, tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:  # fmt: skip
    """The binds would wait a minute for answers (response_timeout_s = 60) and the SMSC gives
    none: SIGTERM still ends the process after shutdown_timeout_s (1 s here; the terminate
    helper gives up after WAIT = 10 s). The restart sends what was never answered."""
    config = CONFIG.replace("[database]", "shutdown_timeout_s = 1\n\n[database]")
    config = config.replace("reconnect_min_s", "response_timeout_s = 60\nreconnect_min_s")
    audience = numbers("+50160", 100)
    gateway, headers = await launch(simulator, write_config, tmp_path, audience, config)
    await gateway.start(session)
    try:
        simulator.hang()
        broadcast_id = await broadcast(gateway, session, headers)
        async with asyncio.timeout(WAIT):
            await simulator.await_pdu(Command.SUBMIT_SM)  # in flight, never to be answered

        assert await gateway.terminate() == 0
        simulator.hang(False)
        assert not sent_to(simulator)

        await gateway.start(session)
        await until_delivered(gateway, session, headers, broadcast_id, len(audience))
    finally:
        await gateway.kill()
    assert set(sent_to(simulator).values()) == {1}


def outbox(database: Path) -> tuple[int, int]:
    """Rows in the outbox and distinct recipients among them (read while the gateway runs)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=WAIT) as db:
        rows, recipients = db.execute(
            "SELECT count(*), count(DISTINCT recipient) FROM outbox"
        ).fetchone()
    return int(rows), int(recipients)


async def test_kill_9_mid_fan_out_then_restart_puts_everyone_in_the_outbox_once(
    simulator: Simulator, write_config: WriteConfig, tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:  # fmt: skip
    """The fan-out writes the audience into the outbox 10,000 at a time, each chunk with its
    cursor in one transaction. Killed between chunks, the restart goes on from the cursor:
    nobody is missing and nobody is in twice. No bind is up (the SMSC refuses them), so
    nothing leaves and the outbox is all there is to look at."""
    audience = numbers("+50160", 150_000) + numbers("+50165", 50_000)
    database = tmp_path / "data" / "test.db"
    gateway, headers = await launch(simulator, write_config, tmp_path, audience)
    simulator.refuse_binds(Status.ESME_RINVPASWD)
    await gateway.start(session, ready="down")
    try:
        await broadcast(gateway, session, headers)

        async def fan_out_begun() -> bool:  # and at most half done: the kill comes before its end
            rows = (await asyncio.to_thread(outbox, database))[0]
            return 0 < rows < len(audience) // 2

        await eventually(fan_out_begun)
        await gateway.kill()
        at_crash = outbox(database)
        assert 0 < at_crash[0] < len(audience)  # killed mid-fan-out
        assert at_crash[0] == at_crash[1]

        await gateway.start(session, ready="down")

        async def fanned_out() -> bool:
            return (await asyncio.to_thread(outbox, database))[0] == len(audience)

        await eventually(fanned_out)
    finally:
        await gateway.kill()
    assert outbox(database) == (len(audience), len(audience))
    assert not simulator.submits


@pytest.mark.parametrize("simulator", [{"receipt_delay_s": 0.5}], indirect=True, ids=["late"])
async def test_kill_9_in_a_receipt_storm_loses_no_receipt(
    simulator: Simulator, write_config: WriteConfig, tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:  # fmt: skip
    """Every message is accepted, then the receipts pour in and the gateway is killed among
    them. A receipt is acknowledged only once stored, and the SMSC sends again what was not
    acknowledged: after the restart every message is delivered."""
    audience = numbers("+50160", 3_000) + numbers("+50165", 1_000)
    uncapped = CONFIG.replace("tps = 50", "tps = 0")
    gateway, headers = await launch(simulator, write_config, tmp_path, audience, uncapped)
    await gateway.start(session)
    try:
        broadcast_id = await broadcast(gateway, session, headers)
        await simulator.wait_submits(len(audience))

        def acknowledged() -> int:
            return sum(simulator.deliver_sm_resps.values())

        async with asyncio.timeout(WAIT):
            await simulator.wait_for(lambda: acknowledged() > len(audience) // 4)
        await gateway.kill()
        assert acknowledged() < len(audience)  # killed mid-storm
        await gateway.start(session)
        seen = await until_delivered(gateway, session, headers, broadcast_id, len(audience))
    finally:
        await gateway.kill()
    assert seen["delivery_rate"] == 1.0
    # Sent twice: only acceptances still unread behind the receipts (in flight) at the kill.
    twice = [number for number, count in sent_to(simulator).items() if count > 1]
    assert max(sent_to(simulator).values()) <= 2
    assert len(twice) <= (BINDS + 1) * WINDOW


async def test_a_second_gateway_on_the_same_database_is_refused_while_commands_may_share_it(
    simulator: Simulator, write_config: WriteConfig, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    gateway, _ = await launch(simulator, write_config, tmp_path, [])
    await gateway.start(session)
    binds = simulator.status()["binds"]
    try:
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "smsgw", "run", "--config", "config.toml",
            cwd=tmp_path, env=ENV, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(WAIT):
            _, stderr = await second.communicate()
        assert second.returncode == 2
        assert "another smsgw (pid " in stderr.decode()
        assert "is running on this database" in stderr.decode()
        assert simulator.status()["binds"] == binds  # the second one bound nothing
        listing = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "smsgw", "token", "list", "--config", "config.toml",
            cwd=tmp_path, env=ENV, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        async with asyncio.timeout(WAIT):
            out, _ = await listing.communicate()
        assert listing.returncode == 0
        assert b"admin" in out
    finally:
        assert await gateway.terminate() == 0


async def test_a_backup_taken_while_the_gateway_runs_is_whole_and_private(
    simulator: Simulator, write_config: WriteConfig, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    audience = numbers("+50160", 5_000)
    gateway, headers = await launch(simulator, write_config, tmp_path, audience)
    await gateway.start(session)
    try:
        await broadcast(gateway, session, headers)  # writes go on during the copy
        copy = tmp_path / "backups" / "smsgw-copy.db"

        async def smsgw(*args: str) -> tuple[int, str]:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "smsgw", *args, "--config", "config.toml",
                cwd=tmp_path, env=ENV, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            async with asyncio.timeout(WAIT):
                out, err = await process.communicate()
            return process.returncode or 0, (out + err).decode()

        code, output = await smsgw("backup", str(copy))
        assert code == 0, output
        assert f"-> {copy}:" in output
        assert copy.stat().st_mode & 0o777 == 0o600
        with sqlite3.connect(copy) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("SELECT count(*) FROM subscriptions").fetchone() == (5_000,)
            assert db.execute("SELECT count(*) FROM api_tokens").fetchone() == (1,)
        code, output = await smsgw("backup", str(copy))  # never over an existing file
        assert code == 2
        assert "exists already" in output
    finally:
        assert await gateway.terminate() == 0
