"""The alerts page (CAP alerts as received, an exercise marked as one, how soon the first SMS
left, progress per carrier) and the composer's districts, in headless Chromium."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from smsgw.access.tokens import Role
from smsgw.app import Gateway
from subscriptions.models import Source
from tests.console.browser import Console, person
from tests.smsgw.alerts.cap_testbed import alert, info
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import numbers, seed
from tests.smsgw.testbed import Client, bearer

ALERTS = """
[alerts]
exercise_numbers = ["+5016001001"]

[[alerts.routes]]
event = "Hurricane Warning"
service = "HURRICANE"
"""


@pytest.mark.parametrize("settings", [ALERTS], indirect=True, ids=["alerts"])
async def test_the_alerts_page_shows_each_alert_an_exercise_as_one_and_its_progress(
    console: Console, client: Client, gateway: Gateway
) -> None:
    await add_service(gateway, keyword="HURRICANE", ministry="nemo")
    await seed(gateway, "HURRICANE", numbers("+50160", 3) + numbers("+50165", 2))
    authority = await bearer(gateway, Role.ALERTING) | {"Content-Type": "application/cap+xml"}
    expires = "2099-01-01T00:00:00-06:00"
    for document in (
        alert(info(expires=expires, areas=("Belize",))),
        alert(info(expires=expires, headline="Drill: hurricane warning"), identifier="X-1",
              status="Exercise"),
    ):  # fmt: skip
        response = await client.post("/api/v1/alerts", data=document, headers=authority)
        assert response.status == 201, await response.text()
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))  # of health: alerts are national
    await page.get_by_role("link", name="Alerts").click()
    await expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    rows = page.locator("#alert-rows tr")
    await expect(rows).to_have_count(2)
    exercise, actual = rows.nth(0), rows.nth(1)  # the newest first
    await expect(exercise.locator(".badge")).to_have_text("Exercise")
    await expect(exercise).to_contain_text("Drill: hurricane warning")
    await expect(exercise).to_contain_text("an exercise: sent to 1 of the exercise list")
    await expect(actual.locator(".badge")).to_have_text("Actual")
    await expect(actual).to_contain_text("sent")
    await expect(actual.get_by_role("link", name="1")).to_have_attribute("href", "#/broadcasts/1")
    await expect(actual.locator("td").nth(8)).to_have_text(
        "btl: 3 delivered; smart: 2 delivered", timeout=20_000
    )
    await expect(actual.locator("td").nth(7)).to_have_text(re.compile(r"^\d+\.\d\d s$"))
    await console.shot("alerts")
    assert console.problems == []


async def test_an_officer_limits_a_broadcast_to_districts_and_sees_who_it_reaches(
    console: Console, gateway: Gateway
) -> None:
    await add_service(gateway)
    toledo, cayo, unsaid = numbers("+50160", 2), numbers("+50165", 1), numbers("+50160", 1, 9)
    await seed(gateway, "HEALTH", toledo + cayo + unsaid)
    for district, members in (("Toledo", toledo), ("Cayo", cayo)):
        await gateway.store.subscriptions.join_many(
            [(n, None) for n in members], "HEALTH", at=datetime.now(UTC), source=Source.IMPORT,
            consent="districts", districts=dict.fromkeys(members, district),
        )  # fmt: skip
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    await page.get_by_label("English (en) text (required)").fill("Flooding in the south.")
    await page.get_by_role("checkbox", name="Toledo").check()
    await page.get_by_role("button", name="Check audience and cost").click()
    facts = page.locator("#estimate")
    await expect(facts).to_contain_text("3 subscribers")
    await expect(facts).to_contain_text("Cayo 1 (not sent), Toledo 2, not said 1")
    await page.get_by_role("button", name="Send broadcast").click()
    await expect(page.get_by_role("heading", name=re.compile("Broadcast 1"))).to_be_visible()
    await expect(page.locator('#broadcast [data-field="districts"]')).to_have_text("Toledo")
    await console.shot("compose-districts")
    assert console.problems == []
