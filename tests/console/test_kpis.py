"""The KPIs page: the headline figures beside their targets with a bar of the way there, and the
charts (uPlot: axes, a tooltip) with their numbers in tables that match the API."""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from playwright.async_api import Locator, expect

from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed, wait_state
from tests.smsgw.testbed import Client


def day(period: str) -> str:
    """A day as the console writes it in English ("Fri, Dec 4, 2026")."""
    d = date.fromisoformat(period)
    return f"{d:%a}, {d:%b} {d.day}, {d.year}"


async def cells(rows: Locator) -> list[list[str]]:
    return [await row.locator("th, td").all_text_contents() for row in await rows.all()]


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

    await expect(page.locator("#kpi-services")).to_have_text("2 of a target of 3 (67%)")
    await expect(page.locator("#kpi-subscribers")).to_have_text("7 of a target of 50 (14%)")
    await expect(page.locator("#kpi-broadcasts")).to_have_text("1 of a target of 4 (25%)")
    bar = page.get_by_role("progressbar", name="Active services")
    await expect(bar).to_have_js_property("value", 2)
    await expect(bar).to_have_js_property("max", 3)
    broadcasts = kpis["broadcasts"]
    assert (broadcasts["delivered"], broadcasts["segments"]) == (5, 5)
    await expect(page.locator("#kpi-delivery")).to_have_text("100.0% (5 delivered)")
    # to one decimal as Intl.NumberFormat rounds: halves up, from the shortest decimal form
    tenths = Decimal(repr(broadcasts["median_delivery_s"])).quantize(Decimal("0.1"), ROUND_HALF_UP)
    median = f"{tenths} s"
    await expect(page.locator("#kpi-median")).to_have_text(median)
    await expect(page.locator("#kpi-cost")).to_have_text("5 SMS, 0.00 BZD")
    await expect(page.locator("#kpi-optout")).to_have_text("0.0%")
    await expect(page.locator("#kpi-ministries")).to_have_text("health 1")

    # subscribers per service: bars on uPlot's canvas, with both axes; the numbers in a table
    bars = page.locator("#by-service-chart")
    await expect(bars.locator(".plot[aria-hidden='true'] .uplot canvas")).to_have_count(1)
    await expect(bars.locator(".u-axis")).to_have_count(2)
    by_service = bars.get_by_role("table", name="Subscribers per service")
    rows = by_service.locator("tbody tr")
    await expect(rows).to_have_count(2)
    listed = [[s["service"], s["ministry"], str(s["subscribers"])]
              for s in kpis["subscribers"]["by_service"]]  # fmt: skip
    assert (
        sorted(await cells(rows))
        == sorted(listed)
        == [
            ["HEALTH", "health", "5"],
            ["SCHOOLS", "education", "2"],
        ]
    )

    # joins and leaves: a line a series over 30 days with date ticks; the days in a table
    daily = kpis["subscribers"]["daily"]
    lines = page.locator("#daily-chart")
    await expect(lines.locator(".uplot canvas")).to_have_count(1)
    await expect(lines.locator(".u-axis")).to_have_count(2)
    await expect(lines.locator(".u-legend")).to_contain_text("Joined")
    days = lines.get_by_role("table", name="Subscriptions joined and left per day").locator(
        "tbody tr"
    )
    await expect(days).to_have_count(30)
    expected = [[day(d["period"]), str(d["joined"]), str(d["left"])] for d in daily]
    assert await cells(days) == expected
    assert expected[-1][1:] == ["7", "0"]  # the seeds, today
    summary = f"From {day(daily[0]['period'])} to {day(daily[-1]['period'])}: 7 joined, 0 left."
    await expect(page.locator("#daily-scale")).to_have_text(summary)
    # the tooltip: the day and each series' value at the pointer (today's, at the right end)
    over = lines.locator(".u-over")
    box = await over.bounding_box()
    assert box is not None
    await over.hover(position={"x": box["width"] - 2, "y": box["height"] / 2})
    tip = lines.locator(".chart-tip")
    await expect(tip).to_be_visible()
    await expect(tip).to_contain_text(f"{day(daily[-1]['period'])}Joined: 7Left: 0")

    # the tables for screen readers take no room: the page ends with what it shows
    below = await page.evaluate(
        "document.documentElement.scrollHeight - scrollY"
        " - document.querySelector('main').getBoundingClientRect().bottom"
    )
    assert below <= 1
    await console.accessible()
    await console.shot("kpis")

    # a phone: the charts as wide as the screen, nothing wider than it
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.wait_for_function(  # the chart follows its box (a ResizeObserver)
        "() => document.querySelector('#daily-chart canvas').getBoundingClientRect().width < 390"
    )
    assert not await page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    await console.shot("kpis-phone")

    # in Spanish: the same figures in its words and numbers
    await page.locator("#language").select_option("es")
    await expect(page.get_by_role("heading", name="Indicadores")).to_be_visible()
    await expect(page.locator("#kpi-services")).to_have_text(re.compile(r"^2 de una meta de 3"))
    spanish = lines.get_by_role("table", name="Suscripciones dadas de alta y de baja por día")
    await expect(spanish).to_have_count(1)
    await expect(lines.locator(".u-legend")).to_contain_text("Altas")
    assert console.problems == []
