"""A drill on the built-in simulator: the real gateway (the config's binds, each on an SMSC
simulator capped at its contracted TPS), a throwaway SQLite database with the synthetic
audience, and an emergency CAP alert posted to its HTTP API as an authority's system posts
it, so what is timed is the real path: POST → intake → fan-out → dispatch → submits.

Nothing reaches outside: every bind is on 127.0.0.1 at its simulator, no feed is polled, and
the database and its numbers are thrown away at the end. The alert is therefore Actual (the
path a warning takes: an emergency broadcast), not an Exercise (single messages to a list)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from smsgw.access.tokens import Role, issue
from smsgw.alerts.cap import Status
from smsgw.app import GATEWAY, Gateway, build_app
from smsgw.config import Settings
from smsgw.drill import DrillError
from smsgw.drill.document import cap_alert
from smsgw.drill.figures import Run, Submit
from smsgw.drill.plan import EVENT, LOOPBACK, SERVICE, Plan, contracted, drill_settings, numbers
from smsgw.drill.smsc import SimulatedSmscs, SmscSettings
from smsgw.storage import open_store
from subscriptions.models import Service, Source

HEADLINE = "DRILL - hurricane warning for the coast."
INSTRUCTION = "This is a drill of the emergency alert system. No action is needed."
BIND_S = 30.0  # for every bind to come up
_SEED_CHUNK = 50_000


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    response_delay_s: float  # each simulated SMSC's answer to a submit
    receipt_delay_s: float  # from an accepted submit to its receipt


async def run_simulated(settings: Settings, plan: Plan, options: SimulatorOptions) -> Run:
    with tempfile.TemporaryDirectory(prefix="smsgw-drill-") as name:
        folder = Path(name)
        caps = {bind.name: bind.tps for bind in plan.binds}
        keep = plan.size * settings.alerts.max_segments * 2 + 1_000  # every submit, resends too
        smsc = SmscSettings(caps, options.response_delay_s, options.receipt_delay_s, keep)
        async with SimulatedSmscs(smsc) as smscs:
            drill = drill_settings(settings, plan, folder, smscs.ports)
            await _seed(drill, plan)
            app = build_app(drill)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()  # starts the gateway
            try:
                site = web.TCPSite(runner, LOOPBACK, 0)
                await site.start()
                host, port = runner.addresses[0][:2]
                gateway = app[GATEWAY]
                await _bound(gateway)
                return await _drill(f"http://{host}:{port}", gateway, smscs, plan)
            finally:
                await runner.cleanup()


async def _seed(settings: Settings, plan: Plan) -> None:
    store = await open_store(settings.database)
    try:
        await store.catalogue.add_service(
            Service(keyword=SERVICE, ministry="drill", names={"en": "Alert drill"})
        )
        now = datetime.now(UTC)
        for carrier, count in plan.audience.items():
            chunk: list[tuple[str, str | None]] = []
            for number in numbers(settings, carrier, count):
                chunk.append((number, None))
                if len(chunk) == _SEED_CHUNK:
                    await store.subscriptions.join_many(
                        chunk, SERVICE, at=now, source=Source.IMPORT, consent="drill"
                    )
                    chunk = []
            if chunk:
                await store.subscriptions.join_many(
                    chunk, SERVICE, at=now, source=Source.IMPORT, consent="drill"
                )
    finally:
        await store.close()


async def _bound(gateway: Gateway) -> None:
    try:
        async with asyncio.timeout(BIND_S):
            for channel in gateway.channels:
                await channel.wait_bound()  # type: ignore[attr-defined]
    except TimeoutError:
        raise DrillError(f"a bind to a simulated SMSC was not up within {BIND_S:g} s") from None


async def _drill(url: str, gateway: Gateway, smscs: SimulatedSmscs, plan: Plan) -> Run:
    now = datetime.now(UTC)
    alerting, token = issue(Role.ALERTING, now=now, expires_days=1, person="smsgw drill")
    await gateway.store.tokens.add_token(token)
    reader, token = issue(Role.ADMIN, now=now, expires_days=1, person="smsgw drill")
    await gateway.store.tokens.add_token(token)
    document = cap_alert(status=Status.ACTUAL, event=EVENT, headline=HEADLINE,
                         instruction=INSTRUCTION)  # fmt: skip
    headers = {"Authorization": f"Bearer {alerting}", "Content-Type": "application/cap+xml"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        started_at, posted = datetime.now(UTC), time.monotonic()
        async with session.post(f"{url}/api/v1/alerts", data=document, headers=headers) as answer:
            alert: dict[str, Any] = await answer.json()
        answered_s = time.monotonic() - posted
        if answer.status != 201 or alert.get("action") != "sent":
            raise DrillError(f"the gateway answered the alert {answer.status}: {alert}")
        view, finished = await _follow(session, f"{url}/api/v1/broadcasts/{alert['broadcast']}",
                                       reader, _limit_s(plan))  # fmt: skip
    arrivals = await smscs.arrivals()
    submits = tuple(Submit(a.at - posted, a.bind, a.accepted) for a in arrivals if a.at >= posted)
    pending = view["queued"] + view["submitted"]
    segments = max(view["segments"].values())
    outcomes = {"delivered": view["delivered"], "failed": view["failed"],
                "expired": view["expired"], "unknown": view["by_state"].get("unknown", 0),
                "cancelled": view["cancelled"], "pending": pending}  # fmt: skip
    notes = (
        "simulator mode: the config's binds, each on a simulated SMSC of its own (in another "
        "process) that accepts at most its contracted TPS in any one second, answers after "
        f"{smscs.settings.response_delay_s * 1000:.0f} ms and sends receipts after "
        f"{smscs.settings.receipt_delay_s:g} s (95% delivered, 3% undeliverable, 2% expired: "
        "the delivery rate is the simulator's, which shows that receipts are matched)",
        "the alert was an Actual CAP alert (an emergency broadcast, as a real warning goes) "
        "posted to the gateway's API with an alerting token, in a throwaway database of "
        "synthetic numbers; nothing left this machine",
        "times are from the POST to each submit's arrival at its SMSC (one monotonic clock)",
    )
    return Run(
        mode="simulator", started_at=started_at, binds=plan.binds, audience=plan.audience,
        segments=segments, expected=plan.size * segments, answered_s=answered_s, submits=submits,
        outcomes=outcomes, alert=alert, finished=finished, notes=notes,
    )  # fmt: skip


def _limit_s(plan: Plan) -> float:
    """Generous: twice what the contracted rates need, and a minute."""
    needed = max(
        count / (contracted(plan.binds, carrier) or 1_000)
        for carrier, count in plan.audience.items()
    )
    return 2 * needed + 60


async def _follow(
    session: aiohttp.ClientSession, url: str, token: str, limit_s: float
) -> tuple[dict[str, Any], bool]:
    """The broadcast's view once every message is final (True), or when ``limit_s`` ends."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + limit_s
    while True:
        async with session.get(url, headers=headers) as response:
            view: dict[str, Any] = await response.json()
        if response.status != 200:
            raise DrillError(f"reading the broadcast: {response.status}: {view}")
        done = view["audience"] and view["queued"] == 0 and view["submitted"] == 0
        if done or time.monotonic() > deadline:
            return view, bool(done)
        await asyncio.sleep(0.25)
