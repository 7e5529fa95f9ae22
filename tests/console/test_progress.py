"""What a broadcast's page says of its progress: the bar split by outcome with its words, the
delivery rate over the messages that finished, a hold by quiet hours, and times on the
gateway's clock, named."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Locator, Page, expect

from channels.simulator import Simulator
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed, wait_state
from tests.smsgw.testbed import Client

WAIT_MS = 15_000  # the page polls every 2 s
BELIZE = ZoneInfo("America/Belize")  # the test config's gateway.timezone


def field(page: Page, name: str) -> Locator:
    return page.locator(f'#broadcast [data-field="{name}"]')


def shown(at: str) -> re.Pattern[str]:
    """An API time as the console shows it (en-US): on the gateway's clock, its zone named."""
    local = datetime.fromisoformat(at).astimezone(BELIZE)
    hour = f"{local:%I}".lstrip("0")
    return re.compile(
        rf"^{local.month}/{local.day}/{local.year}, {hour}:{local:%M}\s{local:%p} America/Belize$"
    )


@pytest.mark.parametrize("simulator", [{"receipts": False}], indirect=True, ids=["no-receipts"])
async def test_a_broadcast_with_failures_shows_each_outcome_and_the_rate_over_the_finished(
    console: Console,
    client: Client,
    gateway: Gateway,
    simulator: Simulator,
    admin: dict[str, str],
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 10))
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    seen = await wait_state(client, admin, created["id"], state="done", submitted=10)
    page = console.page
    # the reader far from the gateway: times still on the gateway's clock, named
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Tokyo"})
    await console.log_in(await person(gateway, Role.OFFICER))
    await console.open(f"#/broadcasts/{created['id']}")
    legend = page.get_by_role("list", name="Messages by outcome").get_by_role("listitem")
    rate = field(page, "delivery_rate")

    await expect(legend).to_have_text(["10 in flight"])  # every message submitted, none ended
    await expect(rate).to_have_text("none finished yet")  # not 0 %: nothing failed
    await expect(page.locator("#progress-text")).to_have_text("0 of 10 ended")
    await expect(field(page, "created_at")).to_have_text(shown(seen["created_at"]))

    accepted = [s for s in simulator.submits if s.status == 0]
    outcomes = ["delivered"] * 6 + ["undeliverable"] * 2 + ["expired"]  # the last: no receipt
    for submit, outcome in zip(accepted, outcomes, strict=False):
        await simulator.send_receipt(submit.message_id, outcome, system_id=submit.system_id)
    # mid-send: over the 9 finished (6 of 10, the audience, would make one in flight a failure)
    await expect(rate).to_have_text("66.7 % of 9 finished", timeout=WAIT_MS)
    await expect(legend).to_have_text(["6 delivered", "2 failed", "1 expired", "1 in flight"])

    last = accepted[-1]
    await simulator.send_receipt(last.message_id, "delivered", system_id=last.system_id)
    await expect(rate).to_have_text("70.0 % of 10 finished", timeout=WAIT_MS)
    await expect(legend).to_have_text(["7 delivered", "2 failed", "1 expired"])
    await expect(page.locator("#progress-text")).to_have_text("10 of 10 ended")
    bar = page.get_by_role("img", name="Progress of 10 messages: 7 delivered, 2 failed, 1 expired")
    await expect(bar).to_be_visible()
    parts = await bar.locator(".part").evaluate_all(
        """parts => parts.map(p => [p.className, p.style.width, getComputedStyle(p).backgroundImage
            + getComputedStyle(p).backgroundColor])"""
    )
    assert [(name, width) for name, width, _ in parts] == [
        ("part delivered", "70%"),
        ("part failed", "20%"),
        ("part expired", "10%"),
    ]  # not one green bar: each outcome its own part
    assert len({paint for _, _, paint in parts}) == 3  # and its own colour
    await console.shot("progress-split")
    assert console.problems == []


def _quiet_now() -> tuple[str, str]:
    """A [broadcasts] table whose quiet hours are now on the gateway's clock, and their end."""
    now = datetime.now(BELIZE)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    return f'\n[broadcasts]\nquiet_hours = ["{start:%H:%M}", "{end:%H:%M}"]\n', f"{end:%H:%M}"


QUIET, QUIET_END = _quiet_now()


@pytest.mark.parametrize("settings", [QUIET], indirect=True, ids=["quiet-now"])
async def test_a_broadcast_held_by_quiet_hours_says_so_and_until_when(
    console: Console, client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    created = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    await console.open(f"#/broadcasts/{created['id']}")

    await expect(page.locator("#held")).to_have_text(
        f"Held until {QUIET_END} America/Belize by quiet hours: routine broadcasts wait them"
        " out; emergencies do not."
    )
    await expect(page.locator("#progress-text")).to_have_text(
        f"not started: held until {QUIET_END} by quiet hours"
    )  # not "0 of 0 ended"
    await expect(field(page, "audience")).to_have_text("counted when sending starts")
    await expect(field(page, "state").locator(".badge")).to_have_class("badge state-queued")
    await expect(page.locator("#progress")).to_be_hidden()
    await console.shot("held-by-quiet-hours")

    await page.get_by_role("link", name="Broadcasts").click()
    row = page.get_by_role("row").filter(has_text="HEALTH")
    await expect(row.locator('[data-field="state"]')).to_have_text(
        f"queued held until {QUIET_END} by quiet hours"
    )
    assert console.problems == []
