"""The operator's view: binds from /healthz; the last hour of throughput per bind and queue
depth charted from /api/v1/operator/history, their tables matching it; recent errors from
/metrics."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Locator, Page, expect

from channels.simulator import Simulator
from channels.smpp.codec import Status
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, secret
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed
from tests.smsgw.test_storage_faults import cap_size
from tests.smsgw.testbed import Client

ZONE = ZoneInfo("America/Belize")  # testbed.CONFIG's
FAST = "\n[operator]\nhistory_every_s = 0.5\n"  # the last hour sampled twice a second


async def operator_view(console: Console, gateway: Gateway) -> Page:
    """Logged in as an operator, on the operator view."""
    await console.log_in(await secret(gateway, Role.OPERATOR), lands_on="Operator")
    await console.page.get_by_role("link", name="Operator").click()
    return console.page


def rate(value: float) -> str:
    """A rate as the console writes it in English: one decimal at most, halves away from 0 (of
    the float's shortest decimal form, as Chromium's Intl.NumberFormat rounds: 17.95 is 18,
    though the double nearest 17.95 is just below it), thousands separated."""
    rounded = Decimal(repr(value)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    text = f"{rounded:,.1f}"
    return f"{text.removesuffix('.0')} SMS/s"


def clock(at: str) -> str:
    return datetime.fromisoformat(at).astimezone(ZONE).strftime("%H:%M:%S")


async def rows(table: Locator) -> list[list[str]]:
    """The body's cells, read at once (the page redraws the table as samples come)."""
    cells: list[list[str]] = await table.evaluate(
        "t => [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.textContent))"
    )
    return cells


@pytest.mark.parametrize("settings", [FAST], indirect=True, ids=["sampled-fast"])
async def test_the_operator_sees_the_binds_and_the_last_hour_charted(
    console: Console, client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 30))
    page = await operator_view(console, gateway)

    rows_bound = page.get_by_role("row").filter(has_text="bound")
    await expect(rows_bound).to_have_count(2)
    await expect(rows_bound.first).to_contain_text("btl-1")
    me = gateway.settings.cluster.instance
    await expect(rows_bound.first).to_contain_text(me)  # the gateway holding the bind: this one
    await expect(page.locator("#instance")).to_have_text(me)
    await expect(page.locator("#gateways")).to_have_text(me)
    await expect(page.locator("#health-status")).to_have_text("ok")
    await expect(page.locator("#health-status")).to_have_class("badge health-ok")
    await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    # the gateway samples every 0.5 s here; the page reads the samples every 2 s
    await expect(page.locator("#rate")).to_have_text(re.compile(r"peak [1-9]"), timeout=10_000)
    await expect(page.locator("#queued")).to_have_text("0")
    await expect(page.locator("#sampled")).to_contain_text(f"Sampled by {me} every 0.5 s")

    # throughput: a line a bind and its cap dashed, on uPlot's canvas with both axes
    chart = page.locator("#throughput-chart")
    await expect(chart.locator(".plot[aria-hidden='true'] .uplot canvas")).to_have_count(1)
    await expect(chart.locator(".u-axis")).to_have_count(2)
    await expect(chart.locator(".u-legend")).to_contain_text("btl-1 cap")
    name = "SMS accepted per second on each bind, the newest first. btl-1's cap: 50 SMS/s."
    throughput = chart.get_by_role("table", name=f"{name} smart-1's cap: 50 SMS/s.", exact=True)
    queue = page.locator("#queue-chart").get_by_role(
        "table", name="Broadcast messages queued per priority, the newest first"
    )
    shown, queued = await rows(throughput), await rows(queue)
    history = await (await client.get("/api/v1/operator/history", headers=admin)).json()
    # what the page read is the start of what the gateway has now (none has gone: 360 kept)
    samples = history["samples"][: len(shown)]
    assert [await throughput.locator("thead th").all_text_contents()] == [
        ["Time", "btl-1", "smart-1"]
    ]
    assert shown == [
        [clock(s["at"]), *(rate(s["submits_per_s"][bind]) for bind in ("btl-1", "smart-1"))]
        for s in reversed(samples)
    ]
    assert any(row[1] != "0 SMS/s" for row in shown)  # the 30 went on btl-1
    assert queued == [
        [clock(s["at"]), str(s["queued"]["emergency"]), str(s["queued"]["normal"])]
        for s in reversed(history["samples"][: len(queued)])
    ]
    await console.accessible()
    await console.shot("operator")

    # a phone: the charts fit the screen
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.wait_for_function(
        "() => document.querySelector('#queue-chart canvas').getBoundingClientRect().width < 390"
    )
    assert not await page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    await console.shot("operator-phone")
    assert console.problems == []


async def test_the_operator_sees_a_refused_send_among_the_recent_errors(
    console: Console,
    client: Client,
    gateway: Gateway,
    simulator: Simulator,
    admin: dict[str, str],
) -> None:
    await add_service(gateway)
    page = await operator_view(console, gateway)
    await expect(page.locator("#health-status")).to_have_text("ok")  # the first scrape: from here
    errors = page.get_by_role("list", name="Recent errors")
    await expect(page.get_by_text("No errors since this page opened")).to_be_visible()
    await expect(errors).to_be_hidden()

    simulator.reply_next(Status.ESME_RINVDSTADR)  # a permanent refusal: not retried
    body = {"to": "+5016012345", "text": "x"}
    response = await client.post("/api/v1/messages", json=body, headers=admin)
    assert response.status == 201, await response.text()

    item = errors.get_by_role("listitem")
    await expect(item).to_have_count(1, timeout=10_000)  # the page scrapes every 2 s
    await expect(item).to_contain_text(re.compile(r"btl-1 ESME_RINVDSTADR ×1$"))
    await expect(item.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    await expect(page.get_by_text("No errors since this page opened")).to_be_hidden()
    await console.shot("operator-errors")
    assert console.problems == []


async def test_the_operator_sees_throttling_and_a_bind_going_down(
    console: Console,
    client: Client,
    gateway: Gateway,
    simulator: Simulator,
    admin: dict[str, str],
) -> None:
    await add_service(gateway)
    page = await operator_view(console, gateway)
    await expect(page.locator("#health-status")).to_have_text("ok")  # the first scrape: from here
    items = page.get_by_role("list", name="Recent errors").get_by_role("listitem")

    simulator.reply_next(Status.ESME_RTHROTTLED)  # slowed down, then sent
    body = {"to": "+5016012345", "text": "x"}
    response = await client.post("/api/v1/messages", json=body, headers=admin)
    assert response.status == 201, await response.text()
    await expect(items.filter(has_text="btl-1 throttled ×1")).to_have_count(1, timeout=10_000)

    await simulator.stop()  # every bind goes down
    down = items.filter(has_text=re.compile(r"btl-1 down"))
    await expect(down).to_have_count(1, timeout=10_000)
    await expect(items.first).to_contain_text("down")  # the newest first
    status = page.locator("#health-status")
    await expect(status).to_have_text("down")  # in words, and in the danger colour: a problem
    await expect(status).to_have_class("badge health-down")
    await expect(status).to_have_css("background-color", "rgb(179, 38, 30)")
    await console.shot("operator-down")
    assert [p for p in console.problems if "503" not in p] == []


async def test_the_operator_sees_a_full_disk_and_its_end(
    console: Console, gateway: Gateway, simulator: Simulator
) -> None:
    page = await operator_view(console, gateway)
    storage = page.locator("#storage")
    await expect(storage).to_have_text("writable")  # the first scrape: from here
    items = page.get_by_role("list", name="Recent errors").get_by_role("listitem")

    await cap_size(gateway.store, None)
    for n in range(20):  # texts to store, more than the free room left in the last pages
        await simulator.inject_mo(f"+50160123{n:02d}", "HELP " + "please " * 100)
    await expect(storage).to_contain_text("database or disk is full", timeout=10_000)
    await expect(items.filter(has_text="database cannot be written")).to_have_count(1)
    await console.shot("operator-storage")

    await cap_size(gateway.store, 1_000_000_000)
    await expect(storage).to_have_text("writable", timeout=10_000)
    assert console.problems == []
