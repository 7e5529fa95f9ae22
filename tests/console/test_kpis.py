"""The KPIs page: the headline figures beside their targets, and the charts' text alternatives."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed, wait_state
from tests.smsgw.testbed import Client


@pytest.mark.parametrize(
    "settings",
    ["\n[kpis]\nservices = [3]\nsubscribers = [50]\nbroadcasts = [4]\n"],
    indirect=True,
    ids=["targets"],
)
async def test_the_kpis_page_shows_the_figures_beside_their_targets_and_charts_them(
    console: Console, client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await add_service(gateway, keyword="SCHOOLS", aliases=["ESCUELAS"], ministry="education")
    await seed(gateway, "HEALTH", numbers("+50160", 5))
    await seed(gateway, "SCHOOLS", numbers("+50161", 2))
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    await wait_state(client, admin, created["id"], state="done", delivered=5)
    kpis = await (await client.get("/api/v1/kpis", headers=admin)).json()
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    await page.get_by_role("link", name="KPIs").click()
    await expect(page.get_by_role("heading", name="KPIs")).to_be_visible()

    await expect(page.locator("#kpi-services")).to_have_text("2 of a target of 3")
    await expect(page.locator("#kpi-subscribers")).to_have_text("7 of a target of 50")
    await expect(page.locator("#kpi-broadcasts")).to_have_text("1 of a target of 4")
    broadcasts = kpis["broadcasts"]
    assert (broadcasts["delivered"], broadcasts["segments"]) == (5, 5)
    await expect(page.locator("#kpi-delivery")).to_have_text("100.0% (5 delivered)")
    median = f"{broadcasts['median_delivery_s']:.1f} s"
    await expect(page.locator("#kpi-median")).to_have_text(median)
    await expect(page.locator("#kpi-cost")).to_have_text("5 SMS, 0.00 BZD")
    await expect(page.locator("#kpi-optout")).to_have_text("0.0%")
    await expect(page.locator("#kpi-ministries")).to_have_text("health 1")
    rows = page.locator("#by-service-table tbody tr")
    await expect(rows).to_have_count(2)
    cells = sorted([await row.locator("td").all_text_contents() for row in await rows.all()])
    assert cells == [["HEALTH", "health", "5"], ["SCHOOLS", "education", "2"]]
    days = page.locator("#daily-table tbody tr")
    await expect(days).to_have_count(30)
    first = kpis["subscribers"]["daily"][0]["period"]
    last = kpis["subscribers"]["daily"][-1]["period"]
    await expect(page.locator("#daily-scale")).to_have_text(
        f"{first} to {last}; the top of the chart is 7 a day."
    )
    today = kpis["subscribers"]["daily"][-1]["period"]
    assert await days.last.locator("td").all_text_contents() == [today, "7", "0"]  # the seeds
    # the tables for screen readers take no room: the page ends with what it shows
    below = await page.evaluate(
        "document.documentElement.scrollHeight - scrollY"
        " - document.querySelector('main').getBoundingClientRect().bottom"
    )
    assert below <= 1
    await console.shot("kpis")
    assert console.problems == []
