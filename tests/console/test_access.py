"""Logging in with a token (a system's) and out, the keyboard, and a phone's screen."""

from __future__ import annotations

from playwright.async_api import Browser, Locator, Page, expect

from smsgw.access.tokens import Role, hash_secret
from smsgw.app import Gateway
from tests.console.browser import Console, person, secret
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.testbed import Client


async def test_a_wrong_token_shows_the_api_s_message(console: Console, gateway: Gateway) -> None:
    page = console.page
    await console.open()
    await page.get_by_text("Log in with an API token").click()
    await page.get_by_label("API token").fill("not-a-token")
    await page.get_by_role("button", name="Log in with the token").click()
    await expect(page.get_by_role("alert")).to_have_text("invalid, expired or revoked token")
    await expect(page.get_by_role("navigation")).to_be_hidden()
    assert await page.evaluate("sessionStorage.length") == 0
    await console.shot("login-refused")
    assert console.problems  # the 401, as the browser reports it
    assert all("401" in problem for problem in console.problems), console.problems


async def test_the_log_in_lives_in_the_tab_until_logout(
    console: Console, gateway: Gateway, browser: Browser
) -> None:
    await add_service(gateway)
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    toledo = page.get_by_role("checkbox", name="Toledo")
    await expect(toledo).to_be_visible()  # read: a reload would otherwise abort it
    await page.reload()  # the same tab keeps it
    await expect(page.get_by_role("heading", name="New broadcast")).to_be_visible()
    # loaded: a log-out would otherwise abort its reads (a problem to the test, not a user)
    await expect(toledo).to_be_visible()
    # nothing outlives the tab but the language picked (i18n.js: remembered by the browser)
    assert await page.evaluate("Object.keys(localStorage)") == ["smsgw.language"]
    assert await page.evaluate("document.cookie") == ""  # the session: HttpOnly, out of reach
    [cookie] = await page.context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == (
        "smsgw_session",
        True,
        "Strict",
    )
    stored = await page.evaluate("Object.values(sessionStorage)")
    assert cookie["value"] not in stored  # the tab keeps the CSRF token, never the secret

    other = await browser.new_page()  # another tab (another session) has to log in
    await other.goto(console.url)
    await expect(other.get_by_role("heading", name="Log in")).to_be_visible()
    await other.close()

    await console.log_out()
    assert await page.evaluate("sessionStorage.length") == 0
    assert await page.context.cookies() == []  # ended at the gateway, and cleared
    assert console.problems == []


async def test_a_token_revoked_meanwhile_leads_back_to_the_login(
    console: Console, gateway: Gateway, client: Client, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    page = console.page
    token = await secret(gateway, Role.OFFICER)
    await console.log_in(token)
    found = await gateway.store.tokens.token_by_hash(hash_secret(token))
    assert found is not None
    response = await client.delete(f"/api/v1/tokens/{found.id}", headers=admin)
    assert response.status == 200, await response.text()

    await page.get_by_role("link", name="Broadcasts").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_text("invalid, expired or revoked token")
    await expect(page.get_by_role("navigation")).to_be_hidden()
    assert all("401" in problem for problem in console.problems), console.problems


async def tab_to(page: Page, target: Locator, most: int = 15) -> None:
    """Presses Tab until ``target`` has the focus, which must then be visible."""
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await target.evaluate("node => node === document.activeElement"):
            outline = await target.evaluate("node => getComputedStyle(node).outlineStyle")
            assert outline != "none", "the focus is not visible"
            return
    raise AssertionError(f"{target} is not reachable with Tab")


async def test_the_login_and_the_composer_work_with_the_keyboard(
    console: Console, gateway: Gateway
) -> None:
    await add_service(gateway)
    page = console.page
    officer = await person(gateway, Role.OFFICER)
    await console.open()
    await tab_to(page, page.locator("#login-form").get_by_label("Name"))
    await page.keyboard.type(officer.name)
    await page.keyboard.press("Tab")
    await page.keyboard.type(officer.password)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="New broadcast")).to_be_focused()

    await tab_to(page, page.locator("#service"))
    english = page.get_by_role("tab", name="English (en)")
    await tab_to(page, english)
    await page.keyboard.press("ArrowRight")  # the tabs are one stop; arrows move among them
    await expect(page.get_by_role("tab", name="Spanish (es)")).to_be_focused()
    await expect(page.get_by_label("Spanish (es) text")).to_be_visible()
    await page.keyboard.press("ArrowLeft")
    await expect(english).to_have_attribute("aria-selected", "true")
    await tab_to(page, page.get_by_label("English (en) text"))
    await page.keyboard.type("Clinics open late on Friday.")
    await expect(page.locator("#count-en")).to_contain_text("1 SMS · GSM 7-bit")
    for label in ("Normal", "Send at"):
        await tab_to(page, page.get_by_label(label, exact=True))
    await tab_to(page, page.get_by_role("button", name="Send broadcast"))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Broadcast 1")).to_be_focused()
    assert console.problems == []


async def test_a_phone_sized_screen_needs_no_sideways_scrolling(
    browser: Browser, console: Console, gateway: Gateway
) -> None:
    await add_service(gateway)
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = Console.watching(await context.new_page(), console.url, console.artefacts)
    await phone.log_in(await person(gateway, Role.OFFICER))
    page = phone.page
    await page.get_by_label("English (en) text").fill("Vaccination day Saturday 9am. " * 8)
    scrolls = "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    assert not await page.evaluate(scrolls)
    await phone.shot("composer-phone")
    for route, heading in (
        ("#/broadcasts", "Broadcasts"),
        ("#/operator", "Operator"),
        ("#/security", "Security"),
    ):
        await phone.open(route)
        await expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        assert not await page.evaluate(scrolls), route
    await context.close()
    assert phone.problems == []


async def test_an_operator_lands_on_the_operator_view_without_a_composer(
    console: Console, gateway: Gateway
) -> None:
    page = console.page
    await console.log_in(await secret(gateway, Role.OPERATOR), lands_on="Operator")  # a wall's
    await expect(page.get_by_role("link", name="New broadcast")).to_be_hidden()
    await expect(page.get_by_role("link", name="KPIs")).to_be_visible()
    await expect(page.get_by_role("link", name="Security")).to_be_hidden()  # a token has none
    await expect(page.get_by_role("link", name="People")).to_be_hidden()
    assert console.problems == []
