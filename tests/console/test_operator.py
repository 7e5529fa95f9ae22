"""The operator's view: binds from /healthz, throughput, queue depth and recent errors from
/metrics."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from channels.simulator import Simulator
from channels.smpp.codec import Status
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, secret
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed
from tests.smsgw.test_storage_faults import cap_size
from tests.smsgw.testbed import Client


async def operator_view(console: Console, gateway: Gateway) -> Page:
    """Logged in as an operator, on the operator view."""
    await console.log_in(await secret(gateway, Role.OPERATOR), lands_on="Operator")
    await console.page.get_by_role("link", name="Operator").click()
    return console.page


async def test_the_operator_sees_the_binds_and_the_throughput(
    console: Console, client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 30))
    page = await operator_view(console, gateway)

    rows = page.get_by_role("row").filter(has_text="bound")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("btl-1")
    me = gateway.settings.cluster.instance
    await expect(rows.first).to_contain_text(me)  # the gateway holding the bind: this one
    await expect(page.locator("#instance")).to_have_text(me)
    await expect(page.locator("#gateways")).to_have_text(f"alive: {me}")
    await expect(page.locator("#health-status")).to_have_text("ok")
    await expect(page.locator("#health-status")).to_have_class("badge health-ok")
    await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    # a rate needs two scrapes, 2 s apart; 30 submits fall between some two of them
    await expect(page.locator("#rate")).to_have_text(re.compile(r"peak [1-9]"), timeout=10_000)
    await expect(page.locator("#queued")).to_have_text("0")
    await console.shot("operator")
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
