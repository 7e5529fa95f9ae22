"""The message log (an admin's, and an operator's with numbers masked): single messages the
newest first, filtered by number and state, and one message's history (each state with its
time, the carrier's error) as the API holds it."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from channels.simulator import Simulator
from channels.smpp.codec import Status
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person
from tests.smsgw.testbed import Client, eventually

MESSAGES = "/api/v1/messages"
WORDS = {"queued": "queued", "submitted": "in flight", "delivered": "delivered",
         "rejected": "rejected"}  # fmt: skip
SECONDS = re.compile(r"^\d+/\d+/\d{4}, \d\d:\d\d:\d\d CST$")  # to the second, the gateway's


async def _send(client: Client, admin: dict[str, str], to: str, state: str) -> dict[str, Any]:
    """A message sent through the API, once it reached ``state``: its view."""
    response = await client.post(MESSAGES, json={"to": to, "text": "Your tax is due."},
                                 headers=admin)  # fmt: skip
    assert response.status == 201, await response.text()
    message_id = (await response.json())["id"]
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        nonlocal seen
        seen = await (await client.get(f"{MESSAGES}/{message_id}", headers=admin)).json()
        return bool(seen["state"] == state)

    await eventually(reached)
    return seen


async def test_an_admin_finds_a_message_and_reads_its_history(
    console: Console, client: Client, gateway: Gateway, simulator: Simulator,
    admin: dict[str, str],
) -> None:  # fmt: skip
    simulator.reply_next(Status.ESME_RINVDSTADR)
    refused = await _send(client, admin, "+5016012345", "rejected")
    delivered = await _send(client, admin, "+5016054321", "delivered")
    page = console.page
    await console.log_in(await person(gateway, Role.ADMIN))
    await page.get_by_role("link", name="Messages").click()
    await expect(page.get_by_role("heading", name="Messages")).to_be_visible()
    rows = page.locator("#message-rows tr")
    await expect(rows.locator("td:first-child")).to_have_text([delivered["id"], refused["id"]])
    await expect(rows.first.locator("td")).to_have_text(
        [delivered["id"], "+5016054321", "delivered", "—", "1", delivered["channel"],
         re.compile("CST$"), delivered["created_by"]]
    )  # fmt: skip

    filters = page.locator("#messages-filters")
    await filters.get_by_label("State").select_option("rejected")
    await filters.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(r"#/messages\?state=rejected$"))
    await expect(rows).to_have_count(1)
    await expect(rows.first.locator("td").nth(3)).to_have_text("ESME_RINVDSTADR")
    await filters.get_by_label("State").select_option("")
    await filters.get_by_label("Number").fill("+5016054321")
    await filters.get_by_role("button", name="Show").click()
    await expect(rows.locator("td:first-child")).to_have_text([delivered["id"]])
    await console.accessible()
    await console.shot("messages")

    await rows.first.get_by_role("link", name=delivered["id"]).click()
    await expect(page.get_by_role("heading", name=f"Message {delivered['id']}")).to_be_visible()
    facts = page.locator("#message")
    await expect(facts.locator('[data-message="state"]')).to_have_text("delivered")
    history = page.locator("#message-history tbody tr")
    await expect(history).to_have_count(len(delivered["history"]))
    for row, entry in zip(await history.all(), delivered["history"], strict=True):
        cells = [SECONDS, WORDS.get(entry["state"], entry["state"]), entry["detail"] or "—"]
        await expect(row.locator("td")).to_have_text(cells)
    assert [e["state"] for e in delivered["history"]][-1] == "delivered"
    await console.accessible()

    await page.get_by_role("link", name="Back to the messages").click()
    await expect(page).to_have_url(re.compile(r"#/messages\?to=%2B5016054321$"))
    await console.open(f"#/messages/{refused['id']}")
    await expect(facts.locator('[data-message="error"]')).to_have_text("ESME_RINVDSTADR")
    details = [entry["detail"] or "—" for entry in refused["history"]]
    assert any("ESME_RINVDSTADR" in detail for detail in details)  # the carrier's, with its time
    await expect(page.locator("#message-history tbody td:nth-child(3)")).to_have_text(details)
    await console.shot("message-history")
    assert console.problems == []


async def test_an_operator_reads_the_log_with_numbers_masked(
    console: Console, client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    delivered = await _send(client, admin, "+5016054321", "delivered")
    page = console.page
    await console.log_in(await person(gateway, Role.OPERATOR), lands_on="Operator")
    await page.get_by_role("link", name="Messages").click()
    rows = page.locator("#message-rows tr")
    await expect(rows.first.locator("td").nth(1)).to_have_text("+50160****21")
    await page.locator("#messages-filters").get_by_label("Number").fill("+5016054321")
    await page.locator("#messages-filters").get_by_role("button", name="Show").click()
    await expect(rows.locator("td:first-child")).to_have_text([delivered["id"]])
    await rows.first.get_by_role("link", name=delivered["id"]).click()
    await expect(page.locator('#message [data-message="to"]')).to_have_text("+50160****21")
    await expect(page.locator('#message [data-message="state"]')).to_have_text("delivered")
    assert console.problems == []
