"""A broadcast's per-recipient report as CSV (``GET /api/v1/broadcasts/{id}/report.csv``):
one row per recipient, written to the client a page of the outbox at a time.

Memory stays flat whatever the audience: a page is rendered and written in slices (aiohttp
waits while the client's buffer is full; the event loop serves the sends between slices) and
dropped before the next is read. Once the status is sent an error can no longer be answered:
the connection is cut instead, so that the client sees a broken download, never a short file
that looks whole.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime

import structlog
from aiohttp import web

from smsgw.api.errors import ApiError
from smsgw.broadcasts.store import OutboxPurged, Recipient
from smsgw.logging import mask_number

_log = structlog.get_logger(__name__)

HEADER = ("msisdn", "language", "carrier", "state", "error", "submitted_at", "done_at")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula
# rows rendered at one go: ~3 ms of the event loop (a page of the store is 5,000 rows)
_SLICE = 500


async def stream(
    request: web.Request,
    broadcast_id: int,
    pages: AsyncIterator[Sequence[Recipient]],
    *,
    masked: bool,
) -> web.StreamResponse:
    """The report of ``pages`` (BroadcastStore.recipients); ``masked``: numbers masked, as
    officers see them. 410 when retention deleted the rows before the first page."""
    try:
        page = await anext(pages, None)
    except OutboxPurged:
        raise ApiError(
            410, "gone",
            f"broadcast {broadcast_id} finished longer ago than [retention] outbox_days: its"
            " per-recipient rows were deleted (its figures are kept: GET"
            f" /api/v1/broadcasts/{broadcast_id})",
        ) from None  # fmt: skip
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="broadcast-{broadcast_id}.csv"',
        }
    )
    await response.prepare(request)
    rows = 0
    try:
        await response.write(_csv([HEADER]))
        while page is not None:
            for start in range(0, len(page), _SLICE):
                await response.write(
                    _csv(_row(recipient, masked) for recipient in page[start : start + _SLICE])
                )
                await asyncio.sleep(0)  # the sends and receipts go on between slices
            rows += len(page)
            page = await anext(pages, None)
    except Exception:
        if request.transport is not None:  # the status is sent: cut, never end it short
            request.transport.close()
        _log.warning("broadcast_report_cut", broadcast=broadcast_id, rows=rows)
        raise
    await response.write_eof()
    _log.info("broadcast_report_sent", broadcast=broadcast_id, rows=rows, masked=masked)
    return response


def _row(recipient: Recipient, masked: bool) -> tuple[str, ...]:
    msisdn = mask_number(recipient.msisdn) if masked else recipient.msisdn
    return (
        msisdn, recipient.language, _text(recipient.carrier), recipient.state,
        _text(recipient.error), _time(recipient.submitted_at), _time(recipient.done_at),
    )  # fmt: skip


def _text(value: str | None) -> str:
    """A free text (a carrier's error) as a spreadsheet shows it, never runs it (OWASP's CSV
    injection); empty for none."""
    if value and value.startswith(_FORMULA):
        return "'" + value
    return value or ""


def _time(at: datetime | None) -> str:
    """ISO 8601 in UTC ("2026-05-01T12:00:00.250Z"); empty for none."""
    if at is None:
        return ""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _csv(rows: Iterable[Sequence[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)  # RFC 4180's line ends
    return out.getvalue().encode()
