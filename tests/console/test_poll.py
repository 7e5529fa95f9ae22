"""A poll: composed with its broadcast in the console, answered over SMPP, its results drawn on
the broadcast's page per option, per language and per district while it is open."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Locator, expect

from channels.simulator import Simulator
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, secret
from tests.smsgw.test_citizens import texts
from tests.smsgw.testbed import WAIT, Client

BELIZE = ZoneInfo("America/Belize")  # the test config's gateway.timezone

pytestmark = pytest.mark.usefixtures("catalogue")
WAIT_MS = 15_000  # the page polls every 2 s
VOTERS = {"+5016000001": "HEALTH TOLEDO", "+5016000002": "SALUD", "+5016500003": "HEALTH",
          "+5016000004": "SALUD CAYO"}  # fmt: skip


async def rows(table: Locator) -> list[list[str]]:
    return [await row.locator("th, td").all_text_contents() for row in await table.all()]


async def test_a_poll_composed_in_the_console_shows_the_answers_that_came_over_smpp(
    console: Console, client: Client, gateway: Gateway, simulator: Simulator
) -> None:
    for voter, join in VOTERS.items():
        await texts(simulator, join, sender=voter)
    officer = await secret(gateway, Role.OFFICER, ministry="health")
    page = console.page
    await console.log_in(officer)
    await page.locator("#service").select_option("HEALTH")
    await page.get_by_label("English (en) text").fill(
        "Did you get the dengue leaflet? 1 YES / 2 NO"
    )
    await page.get_by_role("tab", name="Spanish (es)").click()
    await page.get_by_label("Spanish (es) text").fill("Recibio el folleto? 1 SI / 2 NO")
    poll = page.get_by_label("Ask a question citizens answer by SMS")
    await poll.check()
    await page.get_by_label("Question, English (en)").fill("Got the leaflet?")
    words = {1: {"en": "YES, Y", "es": "SI"}, 2: {"en": "NO", "es": "NO"}, 3: {"en": "MAYBE"}}
    await page.get_by_role("button", name="Add an option").click()
    await page.get_by_role("button", name="Add an option").click()
    await expect(page.get_by_role("group", name=re.compile(r"^Option \d$"))).to_have_count(4)
    await page.get_by_role("button", name="Remove the last option").click()  # 3 are enough
    for number, by_language in words.items():
        group = page.get_by_role("group", name=f"Option {number}")
        for language, said in by_language.items():
            name = {"en": "English (en)", "es": "Spanish (es)"}[language]
            await group.get_by_label(f"{name} words").fill(said)
    await page.get_by_role("button", name="Send broadcast").click()  # no closing time yet
    closes = page.get_by_label("Poll closes at")
    assert await closes.evaluate("box => !box.validity.valid")
    # typed on the gateway's clock (the browser's is UTC here, Belize's six hours behind)
    tomorrow = (datetime.now(BELIZE) + timedelta(days=1)).replace(second=0, microsecond=0)
    await closes.fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    await console.shot("poll-composer")
    await page.get_by_role("button", name="Send broadcast").click()
    await expect(page.locator("#created")).to_contain_text("Created for 4 subscribers")
    broadcast = int(page.url.rsplit("/", 1)[1])

    headers = {"Authorization": f"Bearer {officer}"}
    stored: dict[str, Any] = await (
        await client.get(f"/api/v1/broadcasts/{broadcast}", headers=headers)
    ).json()
    assert stored["poll"]["question"] == {"en": "Got the leaflet?"}
    assert datetime.fromisoformat(stored["poll"]["closes_at"]) == tomorrow
    assert [(o["number"], o["words"]) for o in stored["poll"]["options"]] == [
        (1, {"en": ["YES", "Y"], "es": ["SI"]}),
        (2, {"en": ["NO"], "es": ["NO"]}),
        (3, {"en": ["MAYBE"]}),
    ]
    async with asyncio.timeout(WAIT):
        await simulator.wait_submits(8)  # the welcomes, then the broadcast
    state = page.locator("#poll-state")
    await expect(state).to_contain_text("Open: answers are counted until")
    await expect(state).to_contain_text("0 answered so far")
    await expect(page.locator("#poll-question")).to_have_text("Got the leaflet? (en)")

    await texts(simulator, "yes", sender="+5016000001")
    await texts(simulator, "Sí", sender="+5016000002")
    await texts(simulator, "1", sender="+5016500003")
    await texts(simulator, "2 no", sender="+5016500003")  # the last answer counts
    await texts(simulator, "2", sender="+5016000004")
    await expect(state).to_contain_text("4 answered so far", timeout=WAIT_MS)  # redrawn

    options = page.locator("#poll-bars tbody tr")
    assert await rows(options) == [
        ["1 · YES, Y, SI", "2 (50 %)"],
        ["2 · NO", "2 (50 %)"],
        ["3 · MAYBE", "0 (0 %)"],
    ]
    bars = page.locator("#poll-bars .bar > span")
    widths = await bars.evaluate_all("spans => spans.map(s => s.style.width)")
    assert widths == ["50%", "50%", "0%"]
    assert await rows(page.locator("#poll-languages tbody tr")) == [
        ["English (en)", "1 (50 %)", "1 (50 %)", "0 (0 %)", "2"],
        ["Spanish (es)", "1 (50 %)", "1 (50 %)", "0 (0 %)", "2"],
    ]
    assert await rows(page.locator("#poll-districts tbody tr")) == [
        ["Cayo", "0 (0 %)", "1 (100 %)", "0 (0 %)", "1"],
        ["Toledo", "1 (100 %)", "0 (0 %)", "0 (0 %)", "1"],
        ["not said", "1 (50 %)", "1 (50 %)", "0 (0 %)", "2"],
    ]
    await console.shot("poll-results")

    await page.get_by_role("link", name="New broadcast").click()  # the composer starts afresh
    await expect(poll).not_to_be_checked()
    await expect(page.get_by_label("Poll closes at")).to_be_hidden()
    assert console.problems == []
