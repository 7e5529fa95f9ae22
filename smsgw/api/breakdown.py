"""``GET /api/v1/broadcasts/{id}/report``: a broadcast's delivery report as figures, its
recipients counted by state, carrier, language, district and error (the CSV has the rows).

The store counts them in groups (one per combination, whatever the audience); each breakdown
here is a sum of those groups, so memory stays flat at a million recipients.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from aiohttp import web
from pydantic import BaseModel, Field

from smsgw.access.tokens import Role
from smsgw.api.broadcasts import find_broadcast
from smsgw.api.context import SERVICES
from smsgw.api.errors import ApiError, ErrorBody
from smsgw.api.routes import Route, json_response
from smsgw.broadcasts.store import OutboxPurged, RecipientGroup

NONE = "none"  # a carrier no channel serves, a district never said


class Breakdown(BaseModel):
    name: str = Field(description=f'the carrier, language, district or error ("{NONE}": none)')
    recipients: int
    by_state: dict[str, int] = Field(description="the most first")


class BroadcastReport(BaseModel):
    broadcast: int
    recipients: int = Field(description="in the outbox (0 before the fan-out)")
    by_state: dict[str, int] = Field(description="the most first")
    by_carrier: list[Breakdown] = Field(description=f'"{NONE}": no channel serves the number')
    by_language: list[Breakdown] = Field(description="the language each was sent in")
    by_district: list[Breakdown] = Field(
        description=f'the subscriber\'s district now ("{NONE}": never said, or unsubscribed)'
    )
    by_error: list[Breakdown] = Field(
        description="the carrier's or the gateway's error, of the recipients that have one"
    )


def _most_first(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _by(
    groups: Iterable[RecipientGroup], key: Callable[[RecipientGroup], str | None]
) -> list[Breakdown]:
    """The groups summed per ``key`` (None: left out), the most recipients first."""
    states: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for group in groups:
        name = key(group)
        if name is not None:
            states[name][group.state] += group.count
    rows = [
        Breakdown(name=name, recipients=sum(counts.values()), by_state=_most_first(counts))
        for name, counts in states.items()
    ]
    return sorted(rows, key=lambda row: (-row.recipients, row.name))


async def broadcast_report(request: web.Request) -> web.Response:
    broadcast = await find_broadcast(request)
    try:
        groups = await request.app[SERVICES].broadcasts.recipient_groups(broadcast)
    except OutboxPurged:
        raise ApiError(
            410, "gone",
            f"broadcast {broadcast.id} finished longer ago than [retention] outbox_days: its"
            " per-recipient rows were deleted (its figures are kept: GET"
            f" /api/v1/broadcasts/{broadcast.id})",
        ) from None  # fmt: skip
    states: Counter[str] = Counter()
    for group in groups:
        states[group.state] += group.count
    return json_response(
        BroadcastReport(
            broadcast=broadcast.id,
            recipients=sum(states.values()),
            by_state=_most_first(states),
            by_carrier=_by(groups, lambda g: g.carrier or NONE),
            by_language=_by(groups, lambda g: g.language),
            by_district=_by(groups, lambda g: g.district or NONE),
            by_error=_by(groups, lambda g: g.error),
        )
    )


ROUTES = [
    Route("GET", "/api/v1/broadcasts/{id}/report", broadcast_report,
          "A broadcast's recipients counted by state, carrier, language, district and error"
          " (its rows: report.csv); 410 once retention deleted the rows",
          roles=(Role.OFFICER, Role.SUPERVISOR, Role.ADMIN),
          responses={200: BroadcastReport, 404: ErrorBody, 410: ErrorBody}),
]  # fmt: skip
