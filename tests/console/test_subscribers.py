"""Subscribers: a health officer sees their ministry's services only (read-only), looks a number
up (masked; another ministry's service absent; each look-up audited), signs the citizen up and
removes them, on a desktop and on a phone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from playwright.async_api import Browser, Dialog, expect

from smsgw.access.audit import AuditAction
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from subscriptions.models import Source
from tests.console.browser import Console, person

ANA = "+5016012345"
MASKED = "+50160****45"
SCROLLS = "document.documentElement.scrollWidth > document.documentElement.clientWidth"


async def test_an_officer_looks_a_number_up_signs_it_up_and_removes_it(
    console: Console, gateway: Gateway, browser: Browser, catalogue: None
) -> None:
    # Ana joined the Met Service's forecast by SMS: none of a health officer's business
    await gateway.store.subscriptions.join(ANA, "WEATHER", at=datetime.now(UTC), source=Source.SMS,
                                           consent="mo:1")  # fmt: skip
    page = console.page
    officer = await person(gateway, Role.OFFICER, ministry="health")
    await console.log_in(officer)
    await page.get_by_role("link", name="Services", exact=True).click()
    rows = page.locator("#services-rows tr")
    await expect(rows).to_have_count(1)  # HEALTH: no other ministry's service
    await expect(rows.locator("td").first).to_have_text("HEALTH")
    await expect(page.get_by_role("link", name="New service")).to_be_hidden()
    await rows.get_by_role("link", name="HEALTH").click()
    ministry = page.locator("#service-form").get_by_label("Ministry")
    await expect(ministry).to_have_value("health")
    await expect(ministry).to_be_disabled()  # read-only
    await expect(page.get_by_role("button", name="Save service")).to_be_hidden()

    await page.get_by_role("link", name="Subscribers").click()
    await expect(page.get_by_role("heading", name="Subscribers")).to_be_focused()
    number = page.get_by_label("Phone number")
    await number.fill("12ab")
    await page.get_by_role("button", name="Look up").click()
    await expect(page.locator("#lookup-error")).to_have_text(
        "msisdn: '12ab' is not a valid phone number: it is not a phone number"
    )
    await expect(number).to_have_attribute("aria-invalid", "true")

    await number.fill("+501 601 2345")
    await page.get_by_role("button", name="Look up").click()  # WEATHER only: absent to them
    await expect(page.locator("#lookup-none")).to_contain_text("No subscriber with this number")
    await expect(page.locator("#lookup-error")).to_be_hidden()
    signup = page.locator("#signup-form")
    await signup.get_by_label("Service").select_option("HEALTH")
    await signup.get_by_label("Their language").select_option("es")
    await signup.get_by_label("District").select_option("Toledo")
    await signup.get_by_label("Consent source").fill("community-centre:orange-walk")
    await signup.get_by_role("button", name="Sign up").click()
    await expect(page.locator("#subscriber-done")).to_have_text("Signed up to HEALTH.")
    await expect(page.get_by_role("heading", name=f"Subscriber {MASKED}")).to_be_visible()
    await expect(page.locator("#subscriber-language")).to_have_text("Spanish (es)")
    await expect(page.locator("#subscriber-district")).to_have_text("Toledo")
    subscriptions = page.locator("#subscriptions-rows tr")
    await expect(subscriptions).to_have_count(1)  # WEATHER is not shown
    await expect(subscriptions.locator("th, td").nth(2)).to_have_text("subscribed")
    await expect(subscriptions.locator("td").last).to_have_text("community-centre:orange-walk")
    history = page.locator("#history-rows")
    await expect(history).to_contain_text("joined")
    await expect(history).not_to_contain_text("WEATHER")
    await console.accessible(include="#subscribers")
    await console.shot("subscriber")

    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        asyncio.get_running_loop().create_task(dialog.accept())

    page.once("dialog", accept)
    remove = page.locator("#remove-form")
    await remove.get_by_label("Consent source").fill("phone call")
    await remove.get_by_role("button", name="Remove").click()
    await expect(page.locator("#subscriber-done")).to_have_text("Removed from HEALTH.")
    assert asked == ["Remove this number from HEALTH? They get no more of its messages."]
    await expect(subscriptions.locator("th, td").nth(2)).to_have_text("left")
    await expect(remove).to_be_hidden()  # nothing left to remove them from
    active = await gateway.store.subscriptions.subscriptions(ANA)
    assert [s.service for s in active] == ["WEATHER"]

    # each look-up of a valid number is in the audit log, the number whole (the officer's
    # first one found nothing of theirs)
    looked = await gateway.store.audit.audit_entries(
        before=None, limit=10, action=AuditAction.SUBSCRIBER_LOOKED_UP
    )
    assert [(e.target, e.detail["found"]) for e in reversed(looked)] == [
        (ANA, False), (ANA, True), (ANA, True)]  # fmt: skip

    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = Console.watching(await context.new_page(), console.url, console.artefacts)
    await phone.log_in(officer)
    await phone.open("#/subscribers")
    await phone.page.get_by_label("Phone number").fill(ANA)
    await phone.page.get_by_role("button", name="Look up").click()
    await expect(phone.page.locator("#subscriptions-rows tr")).to_have_count(1)
    assert not await phone.page.evaluate(SCROLLS)
    await phone.shot("subscriber-phone")
    await context.close()
    assert phone.problems == []

    origin = console.url.removesuffix("/console/")
    refused = [f"400: GET {origin}/api/v1/subscribers/12ab",
               f"404: GET {origin}/api/v1/subscribers/%2B501%20601%202345"]  # fmt: skip
    assert [p for p in console.problems if p.startswith(("400:", "404:"))] == refused
    assert [p for p in console.problems if p not in refused and "Failed to load" not in p] == []
