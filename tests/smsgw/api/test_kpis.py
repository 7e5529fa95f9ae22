"""``GET /api/v1/kpis`` on the real gateway and simulator: a scripted scenario, and every figure
checked against what it did (and a few against the SQLite file itself)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from smsgw.access.tokens import STAFF, Role
from smsgw.app import Gateway
from smsgw.broadcasts.model import Broadcast, BroadcastState
from smsgw.config import RetentionConfig
from smsgw.delivery.outbox import Priority
from smsgw.delivery.retention import Purged, Retention
from smsgw.kpis.figures import Period
from smsgw.storage.sqlite import kpis as kpi_sql
from subscriptions.models import Source
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import BROADCASTS, create, numbers, seed, stop, view, wait_state
from tests.smsgw.testbed import Client, bearer, eventually

KPIS = "/api/v1/kpis"
ZONE = ZoneInfo("America/Belize")  # testbed.CONFIG's
# ~400 days ago: now is in programme year 2 (whatever the local date)
START = (datetime.now(UTC) - timedelta(days=400)).date()
TARGETS = f"""
[broadcasts]
cost_per_segment = 0.05
currency = "BZD"

[kpis]
programme_start = {START.isoformat()}
services = [3, 7]
subscribers = [10, 20, 30]
broadcasts = [1, 5]
"""
LONG_EN = "Storm warning for the coast: " + "stay indoors and away from windows. " * 4  # 2 SMS


async def get_kpis(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(KPIS, headers=headers)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def read(path: Path, sql: str) -> list[Any]:
    """Straight from the SQLite file, beside the running gateway (WAL lets it read)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


async def year_one_broadcast(gateway: Gateway) -> None:
    """A broadcast done in programme year 1, stored as it would be (no outbox of its own)."""
    at = datetime.combine(START + timedelta(days=10), time(12), tzinfo=UTC)
    await gateway.store.broadcasts.add_broadcast(
        Broadcast(id=0, service="HEALTH", ministry="health", texts={"en": "Old news."},
                  segments={"en": 1}, encodings={"en": "gsm7"}, default_language="en",
                  priority=Priority.NORMAL, state=BroadcastState.DONE, send_at=None,
                  expires_at=at + timedelta(days=1), audience=0, cost_estimate=0.0,
                  created_by="test", created_at=at, updated_at=at)
    )  # fmt: skip


async def scenario(client: Client, gateway: Gateway, admin: dict[str, str]) -> dict[str, Any]:
    """Services of two ministries (one inactive), joins, leaves, STOPs, three broadcasts this
    year (two delivered, one cancelled with messages still queued) and one in year 1. Returns
    the KPIs read while the cancelled one still had its messages queued."""
    await add_service(gateway)  # HEALTH, ministry health
    await add_service(gateway, keyword="CLINICS", aliases=["CLINICAS"], active=False)
    await add_service(gateway, keyword="HURRICANE", aliases=["HURACAN"], ministry="nemo")
    await gateway.catalogue_changed()
    health, storm = numbers("+50160", 6), numbers("+50165", 4)  # btl, smart
    [clinic], stranger = numbers("+50161", 1), "+5016199999"
    now = datetime.now(UTC)
    await seed(gateway, "HEALTH", health)  # 6 joins
    await seed(gateway, "HURRICANE", storm, language="es")  # 4 joins
    await seed(gateway, "HURRICANE", health[:2])  # 2 joins
    subscriptions = gateway.store.subscriptions
    await subscriptions.join(clinic, "CLINICS", at=now - timedelta(days=40), source=Source.SMS,
                             consent="mo-1")  # fmt: skip  # last month or so: not in the 30 days
    await subscriptions.leave(health[5], "HEALTH", at=now, source=Source.SMS, consent="mo-2")
    await stop(gateway, health[0])  # leaves HEALTH and HURRICANE
    await stop(gateway, stranger)  # never subscribed: a STOP all the same
    await stop(gateway, health[1])  # leaves both, then START gives both back
    await subscriptions.unstop(health[1], at=now, source=Source.SMS, consent="mo-3")
    await year_one_broadcast(gateway)

    first = await create(client, admin, service="HEALTH", texts={"en": "Clinics open."})
    await wait_state(client, admin, first["id"], state="done", delivered=4)
    second = await create(
        client, admin, service="HURRICANE", texts={"en": LONG_EN, "es": "Tormenta: quédese."}
    )
    assert second["segments"] == {"en": 2, "es": 1}
    await wait_state(client, admin, second["id"], state="done", delivered=5)
    [_, smart] = gateway.channels
    await smart.stop()  # the storm numbers' messages wait in the outbox
    third = await create(client, admin, service="HURRICANE", texts={"en": "Storm passed."})
    await wait_state(client, admin, third["id"], state="sending", delivered=1, queued=4)
    while_queued = await get_kpis(client, admin)
    response = await client.post(f"{BROADCASTS}/{third['id']}/cancel", headers=admin)
    assert response.status == 200, await response.text()
    return while_queued


@pytest.mark.parametrize("settings", [TARGETS], indirect=True)
async def test_every_kpi_is_what_the_scenario_did_beside_its_target(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    while_queued = await scenario(client, gateway, admin)
    assert while_queued["live"]["queued"] == {"emergency": 0, "normal": 4}

    kpis = await get_kpis(client, admin)

    assert kpis["programme_year"] == 2
    assert kpis["services"] == {
        "active": {"value": 2, "target": 7},  # CLINICS is inactive
        "active_by_ministry": {"health": 1, "nemo": 1},
    }
    subscribers = kpis["subscribers"]
    # HEALTH: 6 joined, one left, one STOPped; HURRICANE: 4 + 2 joined, one STOPped; CLINICS: 1
    assert subscribers["active"] == {"value": 4 + 4 + 1, "target": 20}
    assert subscribers["by_service"] == [
        {"service": "CLINICS", "ministry": "health", "active": False, "subscribers": 1},
        {"service": "HEALTH", "ministry": "health", "active": True, "subscribers": 4},
        {"service": "HURRICANE", "ministry": "nemo", "active": True, "subscribers": 5},
    ]
    assert (subscribers["seen"], subscribers["opted_out"]) == (12, 2)
    assert subscribers["opt_out_rate"] == round(2 / 12, 4)
    today = datetime.fromisoformat(kpis["at"]).astimezone(ZONE).date()
    daily, monthly = subscribers["daily"], subscribers["monthly"]
    assert [d["period"] for d in daily] == [
        (today - timedelta(days=back)).isoformat() for back in range(29, -1, -1)
    ]
    assert len(monthly) == 12
    assert monthly[-1]["period"] == today.isoformat()[:7]
    # joins 12 today + START gave 2 back; left: 1 + STOPs 2 + 2; STOPs 3. CLINICS: 40 days ago
    assert _total(daily) == {"joined": 14, "left": 5, "stops": 3}
    assert _total(monthly) == {"joined": 15, "left": 5, "stops": 3}
    assert {k: v for k, v in daily[-1].items() if k != "period"} == _total(daily)

    broadcasts = kpis["broadcasts"]
    assert broadcasts["sent"] == {"value": 2, "target": 5}  # the cancelled one is not counted
    assert [(y["year"], y["value"], y["target"]) for y in broadcasts["by_year"]] == [
        (1, 1, 1),
        (2, 2, 5),
    ]
    year_one = broadcasts["by_year"][0]
    assert datetime.fromisoformat(year_one["start"]) == datetime.combine(START, time(), ZONE)
    assert broadcasts["by_year"][1]["start"] == year_one["end"]
    assert broadcasts["by_ministry"] == {"health": 1, "nemo": 1}
    # this year's: 4 + 5 + 5 recipients, 4 + 5 + 1 delivered, 4 cancelled while queued
    assert (broadcasts["audience"], broadcasts["delivered"], broadcasts["cancelled"]) == (14, 10, 4)
    assert broadcasts["finished"] == 10  # the rate is over these, as a broadcast's
    assert broadcasts["delivery_rate"] == 1.0
    # 4 × 1 SMS; 4 es × 1 + 1 en × 2; 1 × 1
    assert broadcasts["segments"] == 4 + 6 + 1
    assert (broadcasts["cost"], broadcasts["currency"]) == (0.55, "BZD")
    assert broadcasts["median_sampled"] is False

    assert kpis["live"]["queued"] == {"emergency": 0, "normal": 0}
    assert set(kpis["live"]["submits_per_s"]) == {"btl-1", "smart-1"}
    _cross_check(gateway.settings.database.sqlite_path, kpis)


def _total(flows: list[dict[str, Any]]) -> dict[str, int]:
    return {key: sum(f[key] for f in flows) for key in ("joined", "left", "stops")}


def _cross_check(path: Path, kpis: dict[str, Any]) -> None:
    """A few figures as plain SQL reads them from the file (no index, no invariant assumed)."""
    [(active,)] = read(
        path,
        """SELECT count(DISTINCT s.msisdn) FROM subscriptions s JOIN subscribers u
            USING (msisdn) WHERE s.left_at IS NULL AND u.opted_out_at IS NULL""",
    )
    assert kpis["subscribers"]["active"]["value"] == active
    [(opted_out,)] = read(path, "SELECT count(*) FROM subscribers WHERE opted_out_at IS NOT NULL")
    assert kpis["subscribers"]["opted_out"] == opted_out
    events = dict(read(path, "SELECT action, count(*) FROM consent_events GROUP BY action"))
    assert (events["join"], events["leave"], events["stop_all"], events["unstop"]) == (13, 1, 3, 1)
    broadcasts = kpis["broadcasts"]
    rows = read(
        path,
        """SELECT b.segments, o.language, o.state, o.submitted_at,
                  (julianday(o.done_at) - julianday(o.submitted_at)) * 86400.0
            FROM outbox o JOIN broadcasts b ON b.id = o.broadcast""",
    )
    assert broadcasts["segments"] == sum(
        json.loads(segments)[language] for segments, language, _, sent, _ in rows if sent
    )
    latencies = sorted(latency for *_, state, _, latency in rows if state == "delivered")
    assert len(latencies) == broadcasts["delivered"]
    assert broadcasts["median_delivery_s"] == round(latencies[(len(latencies) - 1) // 2], 3)
    assert broadcasts["median_delivery_s"] > 0


@pytest.mark.parametrize("settings", [TARGETS], indirect=True)
async def test_the_median_over_a_sample_is_the_same_query_over_every_id_step(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 5))
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinics open."})
    await wait_state(client, admin, created["id"], state="done", delivered=5)
    this_year = Period("this", datetime.now(UTC) - timedelta(days=1), datetime.now(UTC))
    path = gateway.settings.database.sqlite_path
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        exact = kpi_sql.delivery_totals(db, this_year)
        sampled = kpi_sql.delivery_totals(db, this_year, sorted_at_most=1)  # 5 > 1: sampled
    finally:
        db.close()
    assert (exact.sampled, sampled.sampled) == (False, True)
    assert exact.delivered == sampled.delivered == 5
    # five messages are fewer than a sample's size: the sample holds them all
    assert sampled.median_delivery_s == exact.median_delivery_s is not None


async def test_the_live_rates_cover_the_submits_and_receipts_since_the_start(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    for to in ["+5016012345", "+5016012346", "+5016512345"]:
        response = await client.post("/api/v1/messages", json={"to": to, "text": "Hi"},
                                     headers=admin)  # fmt: skip
        assert response.status == 201, await response.text()
    await eventually(lambda: gateway.metrics.counts().receipts == 3)
    live: dict[str, Any] = {}

    async def measured() -> bool:
        nonlocal live
        live = (await get_kpis(client, admin))["live"]
        return live["span_s"] is not None

    await eventually(measured)  # a second after the start
    # within ten seconds of the start, the window reaches back to it: rate × span = count
    span = live["span_s"]
    assert 1 <= span < 10
    assert round(live["submits_per_s"]["btl-1"] * span) == 2
    assert round(live["submits_per_s"]["smart-1"] * span) == 1
    assert round(live["receipts_per_s"] * span) == 3


@pytest.mark.parametrize("role", STAFF)
async def test_every_role_may_read_the_kpis(client: Client, gateway: Gateway, role: Role) -> None:
    kpis = await get_kpis(client, await bearer(gateway, role, ministry="health"))
    assert kpis["services"]["active"]["value"] == 0
    # the defaults: programme year 1 from 2026-01-01 (later years take later targets)
    year = kpis["programme_year"]
    assert kpis["broadcasts"]["sent"]["target"] == [100, 300, 500, 700][min(year, 4) - 1]


async def test_an_alerting_system_may_not_read_the_kpis(client: Client, gateway: Gateway) -> None:
    response = await client.get(KPIS, headers=await bearer(gateway, Role.ALERTING))
    assert response.status == 403


async def test_without_a_valid_token_the_kpis_are_401(client: Client) -> None:
    assert (await client.get(KPIS)).status == 401
    bad = {"Authorization": "Bearer smsgw_not-a-token"}
    assert (await client.get(KPIS, headers=bad)).status == 401


@pytest.mark.parametrize("settings", [TARGETS], indirect=True)
async def test_the_kpis_and_broadcast_figures_outlive_their_outbox_rows(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    """Retention deletes the per-recipient rows of broadcasts finished over outbox_days ago
    (with their segments and receipt events); what was reported of them stays the same."""
    await scenario(client, gateway, admin)
    path = gateway.settings.database.sqlite_path
    long_ago = (datetime.now(UTC) - timedelta(days=100)).isoformat(timespec="microseconds")
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "UPDATE broadcasts SET finished_at = CASE WHEN finished_at IS NOT NULL THEN ?1 END,"
            " cancelled_at = CASE WHEN cancelled_at IS NOT NULL THEN ?1 END",
            (long_ago,),
        )
    db.close()
    ids = [row[0] for row in read(path, "SELECT id FROM broadcasts ORDER BY id")]
    views = [await view(client, admin, broadcast_id) for broadcast_id in ids]
    kpis = await get_kpis(client, admin)
    assert read(path, "SELECT count(*) FROM outbox") == [(14,)]
    [(parts,)] = read(path, "SELECT count(*) FROM message_parts WHERE message_id LIKE 'o%'")
    assert parts == 4 + (4 + 2) + 1  # SMS accepted: the English storm warning is 2

    purged = await Retention(gateway.store.retention, RetentionConfig(), batch=5).purge()

    assert (purged.broadcasts, purged.outbox) == (4, 14)
    assert read(path, "SELECT count(*) FROM outbox") == [(0,)]
    for table in ("message_parts", "message_events"):
        assert read(path, f"SELECT count(*) FROM {table} WHERE message_id LIKE 'o%'") == [(0,)]  # noqa: S608
    assert [await view(client, admin, broadcast_id) for broadcast_id in ids] == views
    after = await get_kpis(client, admin)
    before_figures, after_figures = kpis["broadcasts"], after["broadcasts"]
    median, kept = before_figures.pop("median_delivery_s"), after_figures.pop("median_delivery_s")
    assert abs(kept - median) <= 0.025 * median + 0.001  # from the kept histograms
    assert (before_figures.pop("median_sampled"), after_figures.pop("median_sampled")) == (
        False,
        True,
    )
    assert after_figures == before_figures  # every count, SMS and cost as before
    assert await Retention(gateway.store.retention, RetentionConfig()).purge() == Purged(0, 0)
