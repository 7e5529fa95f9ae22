"""Services: an admin creates one with texts in two languages (each text's SMS counter live, the
API's refusal shown next to its box), changes it, deactivates it; each as the store then holds
it."""

from __future__ import annotations

import asyncio

from playwright.async_api import Dialog, expect

from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person

TOO_LONG = "Welcome to Water alerts. " * 13  # 325 characters: 3 SMS, the API allows 2


async def test_an_admin_creates_changes_and_deactivates_a_service(
    console: Console, gateway: Gateway
) -> None:
    page = console.page
    await console.log_in(await person(gateway, Role.ADMIN))
    await page.get_by_role("link", name="Services", exact=True).click()
    await expect(page.get_by_role("heading", name="Services")).to_be_focused()
    await expect(page.locator("#services-empty")).to_be_visible()
    await page.get_by_role("link", name="New service").click()
    await expect(page.get_by_role("heading", name="New service")).to_be_focused()

    form = page.locator("#service-form")
    await form.get_by_label("Keyword").fill("water")
    await form.get_by_label("Ministry").fill("water")
    english = form.get_by_role("group", name="English (en)")
    spanish = form.get_by_role("group", name="Spanish (es)")
    await english.get_by_label("Name").fill("Water alerts")
    await english.get_by_label("Welcome SMS").fill(TOO_LONG)
    await spanish.get_by_label("Name").fill("Alertas de agua")
    await spanish.get_by_label("Welcome SMS").fill("Bienvenido. Envíe ALTO AGUA para salir.")
    await spanish.get_by_label("Aliases").fill("agua")
    counters = {"en": page.locator("#service-welcome-en-count"),
                "es": page.locator("#service-welcome-es-count")}  # fmt: skip
    await expect(counters["en"]).to_have_attribute("data-segments", "3")
    await expect(counters["en"]).to_contain_text("3 SMS · GSM 7-bit")
    await expect(counters["es"]).to_have_attribute("data-encoding", "ucs2")  # í is not GSM
    await expect(counters["es"]).to_contain_text("1 SMS · Unicode (UCS-2: í)")
    # the name is counted as its line of the LIST reply: the keyword, a space, the name
    await expect(page.locator("#service-names-en-count")).to_contain_text("18 used")

    await form.get_by_role("button", name="Save service").click()
    refused = page.locator("#service-welcome-en-error")
    await expect(refused).to_have_text("3 SMS, at most 2: every new subscriber gets it")
    welcome = english.get_by_label("Welcome SMS")
    await expect(welcome).to_have_attribute("aria-invalid", "true")
    await expect(welcome).to_be_focused()
    await console.accessible(include="#service-page")
    await console.shot("service-refused")

    await welcome.fill("Welcome to Water alerts. Reply STOP WATER to leave.")
    await expect(counters["en"]).to_have_attribute("data-segments", "1")
    await form.get_by_role("button", name="Save service").click()
    await expect(page.locator("#service-done")).to_have_text("Service WATER created.")
    await expect(page).to_have_url(console.url + "#/services/WATER")
    await expect(refused).to_be_hidden()
    await expect(form.get_by_label("Keyword")).to_have_attribute("readonly", "")
    stored = await gateway.store.catalogue.service("WATER")
    assert stored is not None
    assert (stored.ministry, stored.names) == ("water", {"en": "Water alerts",
                                                        "es": "Alertas de agua"})  # fmt: skip
    assert (stored.aliases, stored.alias_languages) == (("AGUA",), {"AGUA": "es"})

    await spanish.get_by_label("Name").fill("Avisos de agua")
    await spanish.get_by_label("Description").fill("Cortes de agua y calidad")
    await form.get_by_role("button", name="Save service").click()
    await expect(page.locator("#service-done")).to_have_text("Service WATER saved.")
    stored = await gateway.store.catalogue.service("WATER")
    assert stored is not None
    assert (stored.names["es"], stored.descriptions) == (
        "Avisos de agua", {"es": "Cortes de agua y calidad"})  # fmt: skip

    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        asyncio.get_running_loop().create_task(dialog.accept())

    page.once("dialog", accept)
    await page.get_by_role("button", name="Deactivate service").click()
    await expect(page.locator("#service-done")).to_have_text(
        "WATER is inactive: citizens can no longer join it."
    )
    assert asked == ["Deactivate WATER? Citizens can no longer join it, and its broadcasts not"
                     " yet sent are cancelled."]  # fmt: skip
    stored = await gateway.store.catalogue.service("WATER")
    assert stored is not None
    assert not stored.active
    await expect(page.get_by_role("button", name="Reactivate service")).to_be_visible()

    await page.get_by_role("link", name="Back to the services").click()
    rows = page.locator("#services-rows tr")
    await expect(rows).to_have_count(1)
    await expect(rows.locator("td")).to_have_text(
        ["WATER", "Water alerts", "AGUA (es)", "water", "inactive", "0"]
    )
    await console.accessible(include="#services")
    refusal = f"400: POST {console.url.removesuffix('/console/')}/api/v1/services"
    assert refusal in console.problems  # the browser logs it too, as a failed load
    assert [p for p in console.problems if p != refusal and "400 (Bad Request)" not in p] == []
