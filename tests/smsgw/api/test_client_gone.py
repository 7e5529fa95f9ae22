"""A client that leaves in the middle of its body is not a server error (served as
``smsgw run`` serves: aiohttp's runner, whose handlers are not cancelled when a client goes)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from smsgw.access.audit import AuditAction
from smsgw.access.tokens import Role, issue
from smsgw.app import GATEWAY, build_app
from smsgw.config import Settings
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.testbed import WAIT, eventually


@pytest.fixture
async def app(settings: Settings) -> web.Application:
    return build_app(settings)


@contextlib.asynccontextmanager
async def production(app: web.Application) -> AsyncIterator[tuple[str, int, str]]:
    """(host, port, an admin's secret) of ``app`` served as in production."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        secret, token = issue(Role.ADMIN, now=datetime.now(UTC))
        await app[GATEWAY].store.tokens.add_token(token)
        yield host, port, secret
    finally:
        await runner.cleanup()


@pytest.fixture
async def served(app: web.Application) -> AsyncIterator[tuple[str, int, str]]:
    async with production(app) as address:
        yield address


async def test_a_body_cut_short_is_neither_a_500_nor_an_error_with_a_traceback(
    served: tuple[str, int, str],
) -> None:
    host, port, secret = served
    with capture_logs() as logs:
        _, writer = await asyncio.open_connection(host, port)
        head = (
            "POST /api/v1/messages HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {secret}\r\nContent-Length: 1000\r\n\r\n"
        )
        writer.write(head.encode() + b'{"to": "+5016012345", "te')
        await writer.drain()
        writer.close()
        await eventually(lambda: any(log["event"] == "request_handled" for log in logs))
    assert [log for log in logs if log["log_level"] in ("error", "critical")] == []
    assert not any("exc_info" in log or "exception" in log for log in logs)
    url = f"http://{host}:{port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    assert 'status="500"' not in text
    # counted as the client's doing (nginx's 499, "client closed request")
    counted = 'smsgw_http_requests_total{method="POST",route="/api/v1/messages",status="499"} 1.0'
    assert counted in text


async def test_an_import_whose_client_goes_stops_and_is_audited_with_its_counts(
    served: tuple[str, int, str], app: web.Application
) -> None:
    host, port, secret = served
    gateway = app[GATEWAY]
    await add_service(gateway)
    rows = "".join(f"+50160{n:05d}\n" for n in range(12_000))
    body = ("msisdn\n" + rows).encode()
    _, writer = await asyncio.open_connection(host, port)
    head = (
        "POST /api/v1/subscriptions/import?service=HEALTH&consent_source=list HTTP/1.1\r\n"
        f"Host: gw\r\nContent-Type: text/csv\r\nAuthorization: Bearer {secret}\r\n"
        f"Content-Length: {len(body) * 10}\r\n\r\n"  # announces ten times what comes
    )
    writer.write(head.encode() + body)
    await writer.drain()
    writer.close()

    async def audited() -> bool:
        entries = await gateway.store.audit.audit_entries(
            before=None, limit=5, action=AuditAction.SUBSCRIBERS_IMPORTED
        )
        return bool(entries)

    await eventually(audited)
    [entry] = await gateway.store.audit.audit_entries(
        before=None, limit=5, action=AuditAction.SUBSCRIBERS_IMPORTED
    )
    assert entry.detail["outcome"] == "client_gone"
    assert entry.role == "admin"  # who imported: the token, not "cli"
    joined = await gateway.store.subscriptions.audience_size("HEALTH")
    assert joined == entry.detail["joined"] <= 12_000  # what was committed, said as it is


async def test_a_body_sent_too_slowly_is_408_and_holds_nothing(settings: Settings) -> None:
    http = settings.http.model_copy(update={"body_timeout_s": 0.5})
    app = build_app(settings.model_copy(update={"http": http}))
    async with production(app) as (host, port, secret):
        reader, writer = await asyncio.open_connection(host, port)
        head = (
            "POST /api/v1/messages HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {secret}\r\nContent-Length: 100\r\n\r\n"
        )
        writer.write(head.encode() + b'{"to": ')  # then nothing more: a slowloris body
        await writer.drain()
        async with asyncio.timeout(WAIT):
            status_line = await reader.readline()
        writer.close()
        assert status_line.split()[1] == b"408"
