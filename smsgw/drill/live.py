"""A live drill: an Exercise CAP alert posted to the running gateway (its API, with an alerting
or admin token), which sends it on the configured carriers to the exercise list only
(``[alerts] exercise_numbers``, each text prefixed EXERCISE / SIMULACRO), never to subscribers;
then its messages read back (an admin's token) until each is final.

With a handful of numbers this measures the path (time to the first and the last submit) and
the carriers' delivery, not their rate. Nothing is posted when the exercise list is empty."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from smsgw.alerts.cap import Status
from smsgw.config import Settings
from smsgw.drill import DrillError
from smsgw.drill.document import SENDER, cap_alert
from smsgw.drill.figures import Run, Submit
from smsgw.drill.plan import binds_of, router
from smsgw.errors import ConfigError

HEADLINE = "Drill of the emergency alert system."
INSTRUCTION = "This is an exercise. No action is needed."
_FINAL = {"delivered": "delivered", "undeliverable": "failed", "rejected": "failed",
          "failed": "failed", "expired": "expired", "unknown": "unknown",
          "cancelled": "cancelled"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class LiveOptions:
    url: str  # the running gateway
    token: str  # an alerting or admin token: posts the alert
    read_token: str  # an admin token: reads its messages back
    wait_s: float  # for every message to be final


def check(settings: Settings) -> None:
    """A ConfigError (exit 2) before anything is posted when a live drill cannot be one."""
    if not settings.alerts.exercise_numbers:
        raise ConfigError(
            "drill --live sends only to the exercise list, and [alerts] exercise_numbers is"
            " empty: add the numbers of the people taking part (the running gateway's config"
            " too)"
        )
    if not settings.alerts.routes:
        raise ConfigError(
            "drill --live: [[alerts.routes]] is empty, and an exercise goes to the service a"
            " route names (its texts and languages)"
        )


async def run_live(settings: Settings, options: LiveOptions) -> Run:
    check(settings)
    route = settings.alerts.routes[0]  # the exercise is routed like a real warning would be
    document = cap_alert(
        status=Status.EXERCISE, event=route.event or "Drill", sender=route.sender or SENDER,
        category=route.category or "Met", headline=HEADLINE, instruction=INSTRUCTION,
    )  # fmt: skip
    base = options.url.rstrip("/")
    headers = {"Authorization": f"Bearer {options.token}", "Content-Type": "application/cap+xml"}
    numbers = settings.alerts.exercise_numbers
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        started_at, posted = datetime.now(UTC), time.monotonic()
        try:
            async with session.post(f"{base}/api/v1/alerts", data=document,
                                    headers=headers) as answer:  # fmt: skip
                alert: dict[str, Any] = await answer.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise DrillError(f"cannot post the exercise to {base}: {exc}") from None
        answered_s = time.monotonic() - posted
        if answer.status != 201 or alert.get("action") != "exercise":
            raise DrillError(f"the gateway answered the exercise {answer.status}: {alert}")
        # a few seconds' slack: the gateway's clock stamps the messages, this one the POST
        since = started_at - timedelta(seconds=5)
        try:
            messages, finished, notes = await _read_back(session, base, options, numbers, since)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DrillError(
                f"the exercise was posted, but reading it back failed: {exc}"
            ) from None
    submits = tuple(
        Submit((at - started_at).total_seconds(), channel, accepted=True)
        for message in messages
        for at, channel in [_submitted(message)]
        if at is not None
    )
    states = Counter(_FINAL.get(m["state"], "pending") for m in messages)
    states["pending"] += max(0, _sent(alert, len(numbers)) - len(messages))
    routes = router(settings)
    audience = Counter(routes.try_carrier(n) or "unrouted" for n in numbers)
    notes += (
        f"live mode: an Exercise CAP alert posted to {base}, sent by the running gateway on "
        "the configured carriers to the exercise list only; with a handful of numbers the "
        "rates are not a measure of the carriers' TPS",
        "times are from the POST (this machine's clock) to each message's submit as the "
        "gateway recorded it (its clock): they are only as good as the two clocks agree",
    )
    return Run(
        mode="live", started_at=started_at, binds=binds_of(settings), audience=dict(audience),
        segments=max((m.get("parts", 1) for m in messages), default=1),
        expected=_sent(alert, len(numbers)), answered_s=answered_s,
        submits=submits, outcomes={k: v for k, v in states.items() if v},
        alert=alert, finished=finished, notes=notes,
    )  # fmt: skip


def _sent(alert: dict[str, Any], listed: int) -> int:
    """How many the gateway sent the exercise to: its answer's reason says ("sent to 3 of the
    exercise list (1 under a STOP left out)"); else the whole list."""
    found = re.search(r"sent to (\d+)", str(alert.get("reason") or ""))
    return int(found.group(1)) if found else listed


async def _read_back(
    session: aiohttp.ClientSession, base: str, options: LiveOptions, numbers: Sequence[str],
    since: datetime,
) -> tuple[list[dict[str, Any]], bool, tuple[str, ...]]:  # fmt: skip
    """Each exercise number's message since the POST, with its history, once all are final
    or when the wait ends."""
    headers = {"Authorization": f"Bearer {options.read_token}"}
    deadline = time.monotonic() + options.wait_s
    while True:
        found: list[dict[str, Any]] = []
        for number in numbers:
            params = {"to": number, "since": since.isoformat(), "limit": "1"}
            async with session.get(f"{base}/api/v1/messages", params=params,
                                   headers=headers) as response:  # fmt: skip
                if response.status in (401, 403):
                    return (
                        [],
                        False,
                        (
                            "the messages were not read back: the token may not read them (give an "
                            "admin token with --read-token)",
                        ),
                    )
                page = await response.json()
            found += page["messages"][:1]
        if all(m["state"] not in ("queued", "submitted") for m in found) and found:
            break
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    detailed = []
    for message in found:
        async with session.get(f"{base}/api/v1/messages/{message['id']}",
                               headers=headers) as response:  # fmt: skip
            detailed.append(await response.json())
    finished = all(m["state"] not in ("queued", "submitted") for m in detailed)
    return detailed, finished and len(detailed) > 0, ()


def _submitted(message: dict[str, Any]) -> tuple[datetime | None, str]:
    """When the carrier accepted it (its history's first "submitted"), and on which bind."""
    for entry in message.get("history", []):
        if entry["state"] == "submitted":
            return datetime.fromisoformat(entry["at"]), message.get("channel") or "?"
    return None, message.get("channel") or "?"
