"""What the gateway writes to its log when it is sent garbage: JSON lines only, and never a
token or a number in clear (the process as a sysadmin runs it, its stderr as it is written)."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from channels.simulator import Simulator
from tests.smsgw.test_crash import ENV, launch
from tests.smsgw.testbed import WAIT, WriteConfig

SECRET = "smsgw_" + "S3cr3tT0k3n" * 3  # test data
NUMBER = "5016012345"
AUTH = f"Authorization: Bearer {SECRET}"

MALFORMED = {
    "bare LF": f"GET /api/v1/messages/m?to=%2B{NUMBER} HTTP/1.1\nHost: gw\n{AUTH}\n\n",
    "header over 8 KB": f"GET /healthz HTTP/1.1\r\nHost: gw\r\n{AUTH}\r\n"
    f"X-Note: {NUMBER * 900}\r\n\r\n",
    "URL over 8 KB": f"GET /api/v1/messages/m?to={NUMBER}&pad={'a' * 9000} HTTP/1.1\r\n"
    f"Host: gw\r\n{AUTH}\r\n\r\n",
    "no method": f"\x00\x01 /?to={NUMBER} HTTP/1.1\r\n{AUTH}\r\n\r\n",
}


async def send_raw(port: int, raw: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw.encode("latin-1"))
        await writer.drain()
        async with asyncio.timeout(WAIT):
            return await reader.read(200)
    finally:
        writer.close()


async def run_gateway(
    folder: Path,
    port: int,
    stderr: Any = asyncio.subprocess.DEVNULL,
    preexec_fn: Callable[[], None] | None = None,
) -> asyncio.subprocess.Process:
    """``smsgw run`` in ``folder``, once /healthz answers 200."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "smsgw",
        "run",
        "--config",
        "config.toml",
        cwd=folder,
        env=ENV,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr,
        preexec_fn=preexec_fn,
    )
    async with aiohttp.ClientSession() as session, asyncio.timeout(WAIT):
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)


async def stop(process: asyncio.subprocess.Process) -> None:
    process.terminate()
    async with asyncio.timeout(WAIT):
        await process.wait()


async def test_malformed_requests_are_logged_as_json_without_their_head(
    simulator: Simulator, write_config: WriteConfig, tmp_path: Path
) -> None:
    gateway, _ = await launch(simulator, write_config, tmp_path, [])
    port = int(gateway.url.rsplit(":", 1)[1])
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        process = await run_gateway(tmp_path, port, stderr)
    try:
        answers = {name: await send_raw(port, raw) for name, raw in MALFORMED.items()}
    finally:
        await stop(process)

    assert all(answer.split(b" ")[1].startswith(b"4") for answer in answers.values()), answers
    text = log.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    malformed = [line for line in lines if line["event"] == "http_request_malformed"]
    assert len(malformed) >= len(MALFORMED) - 1  # aiohttp may answer one without logging
    assert SECRET not in text
    assert "S3cr3tT0k3n" not in text
    assert NUMBER not in text


async def test_health_answers_while_300_clients_hold_connections_open_at_a_low_limit(
    simulator: Simulator, write_config: WriteConfig, tmp_path: Path
) -> None:
    """As on a server whose open-files limit is 256: the gateway raises its own soft limit."""
    gateway, _ = await launch(simulator, write_config, tmp_path, [])
    port = int(gateway.url.rsplit(":", 1)[1])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1024:
        pytest.skip(f"this machine's hard limit ({hard}) leaves nothing to raise")

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    process = await run_gateway(tmp_path, port, preexec_fn=low_limit)
    idle: list[asyncio.StreamWriter] = []
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(WAIT):
            for _ in range(300):  # connected, never a byte: idle or slowloris clients
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                idle.append(writer)
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["status"] == "ok"
    finally:
        for writer in idle:
            writer.close()
        await stop(process)
