"""The CSV report's streaming (smsgw/api/report.py) on a real aiohttp server: pages written in
order, and a failure once the status is sent cuts the download instead of ending it short.
What the rows hold, per role and backend: tests/smsgw/test_broadcast_report.py."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from smsgw.api.errors import error_middleware
from smsgw.api.report import HEADER, stream
from smsgw.broadcasts.store import OutboxPurged, Recipient
from smsgw.errors import StorageUnavailable

AT = datetime(2026, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)


def page(start: int, count: int) -> list[Recipient]:
    return [
        Recipient(i, f"+50160{i:05d}", "en", "btl", "undeliverable", "=HYPERLINK(1)", AT, None)
        for i in range(start, start + count)
    ]


async def _pages(
    count: int, *, then: Exception | None = None
) -> AsyncIterator[Sequence[Recipient]]:
    for n in range(count):
        yield page(n * 1200, 1200)
    if then is not None:
        raise then


def _client(pages: AsyncIterator[Sequence[Recipient]]) -> TestClient[web.Request, web.Application]:
    async def report(request: web.Request) -> web.StreamResponse:
        return await stream(request, 7, pages, masked=False)

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/report.csv", report)
    return TestClient(TestServer(app))


async def test_every_page_is_written_in_order_with_free_text_defused() -> None:
    async with _client(_pages(3)) as client:
        response = await client.get("/report.csv")
        rows = list(csv.reader(io.StringIO(await response.text(), newline="")))
    assert rows[0] == list(HEADER)
    assert [row[0] for row in rows[1:]] == [f"+50160{i:05d}" for i in range(3600)]
    assert rows[1][4:] == ["'=HYPERLINK(1)", "2026-05-01T12:00:00.250Z", ""]


@pytest.mark.parametrize(
    "error", [StorageUnavailable("disk I/O error"), OutboxPurged("summed up")],
    ids=["storage", "purged"],
)  # fmt: skip
async def test_a_failure_after_the_first_page_cuts_the_download(error: Exception) -> None:
    async with _client(_pages(2, then=error)) as client:
        response = await client.get("/report.csv")
        assert response.status == 200  # sent before the failure
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


async def test_rows_deleted_before_the_first_page_are_410() -> None:
    async with _client(_pages(0, then=OutboxPurged("summed up"))) as client:
        response = await client.get("/report.csv")
        assert response.status == 410
        assert (await response.json())["error"]["code"] == "gone"
