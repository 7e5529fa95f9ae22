"""The HTTP server as ``smsgw run`` starts it: what a client that cannot or will not speak
HTTP properly gets (real TCP, the serve() the CLI uses)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web

from smsgw import server
from tests.smsgw.test_log_hygiene import MALFORMED, NUMBER, SECRET
from tests.smsgw.testbed import WAIT


async def serving(probe: Callable[[int], Awaitable[None]], idle_timeout_s: float = 15.0) -> None:
    """Serve a one-route app as the gateway is served and run ``probe(port)`` against it."""

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/healthz", health)

    async def ready(url: str) -> None:
        await probe(int(url.rsplit(":", 1)[1]))

    await server.serve(
        app, "127.0.0.1", 0, on_ready=ready, idle_timeout_s=idle_timeout_s, once=True
    )


async def exchange(port: int, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        async with asyncio.timeout(WAIT):
            return await reader.read()  # the server closes after an error
    finally:
        writer.close()


async def test_what_aiohttp_cannot_parse_is_answered_in_the_api_error_format() -> None:
    answers: dict[str, bytes] = {}

    async def probe(port: int) -> None:
        for name, raw in MALFORMED.items():
            answers[name] = await exchange(port, raw.encode("latin-1"))

    await serving(probe)

    for name, answer in answers.items():
        head, _, body = answer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status, headers = lines[0], dict(line.split(": ", 1) for line in lines[1:])
        code = int(status.split(" ")[1])
        assert code in {400, 413, 414, 431}, (name, status)
        assert headers["Content-Type"].startswith("application/json"), name
        assert headers["Server"] == "smsgw", name  # no versions
        assert headers["X-Content-Type-Options"] == "nosniff", name
        error = json.loads(body)["error"]
        assert error["code"] == HTTPStatus(code).phrase.lower().replace(" ", "_"), name
        assert error["message"] == HTTPStatus(code).phrase, name
        assert NUMBER.encode() not in answer, name  # the request head is not echoed
        assert SECRET.encode() not in answer, name


async def test_a_request_head_sent_a_byte_at_a_time_is_cut_at_the_idle_timeout() -> None:
    """Slowloris: a head that never ends holds a connection only for idle_timeout_s."""
    head = b"GET /healthz HTTP/1.1\r\nHost: gw\r\n" + b"X-Slow: 1\r\n" * 200
    outcome: dict[str, Any] = {}

    async def probe(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        sent = 0
        try:
            for byte in head:  # 0.02 s a byte: about 50 s for the whole head
                if reader.at_eof():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                sent += 1
                await asyncio.sleep(0.02)
        except ConnectionError:
            pass
        outcome.update(seconds=time.monotonic() - started, sent=sent, answer=await reader.read())
        writer.close()

    await serving(probe, idle_timeout_s=0.5)

    assert outcome["sent"] < len(head) // 4, outcome  # cut long before the head was whole
    assert outcome["answer"] == b""  # no request was made of it
