"""The console in English or Spanish: picked in the header, remembered by the browser."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person
from tests.smsgw.testbed import Client


async def test_a_person_picks_spanish_and_the_browser_remembers_it(
    console: Console, gateway: Gateway, catalogue: None
) -> None:
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.get_by_label("Language", exact=True).select_option("es")
    await expect(page.get_by_role("link", name="Nueva difusión")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "es")
    await expect(page.get_by_role("navigation")).to_have_attribute("aria-label", "Principal")
    await page.reload()
    await expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    await expect(page.get_by_label("Idioma", exact=True)).to_have_value("es")
    await page.get_by_label("Idioma", exact=True).select_option("en")
    await expect(page.get_by_role("link", name="New broadcast")).to_be_visible()
    assert console.problems == []


async def test_a_browser_in_spanish_opens_the_console_in_spanish(
    browser: Browser, client: Client
) -> None:
    context = await browser.new_context(locale="es-BZ")
    page = await context.new_page()
    await page.goto(str(client.make_url("/console/")))
    await expect(page.get_by_label("Idioma", exact=True)).to_have_value("es")
    await expect(page.locator("html")).to_have_attribute("lang", "es")
    await context.close()


async def test_what_an_officer_typed_stays_when_the_language_changes(
    console: Console, gateway: Gateway, catalogue: None
) -> None:
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    await page.locator("#panels textarea").first.fill("Clinic closed Friday.")
    await page.get_by_label("Language", exact=True).select_option("es")
    await expect(page.get_by_role("link", name="Nueva difusión")).to_be_visible()
    await expect(page.locator("#panels textarea").first).to_have_value("Clinic closed Friday.")
    assert console.problems == []
