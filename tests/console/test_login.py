"""People log in (name, password, a code once two-step log-in is set up) and out (this tab, or
everywhere); the console sends the session's CSRF token with every unsafe request; an admin
sets up TOTP before anything else; an ended session leads back to the log-in, saying why."""

from __future__ import annotations

import re
import time

import pyotp
from playwright.async_api import Browser, Page, Request, expect

from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, Login, person
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.api.people_testbed import use_clock
from tests.smsgw.broadcast_testbed import numbers, seed
from tests.smsgw.testbed import Client

WRONG = "wrong name, password or code"
ENDED = "the session has ended: log in again"


async def try_log_in(page: Page, name: str, password: str, code: str = "") -> None:
    """Fills the log-in form and sends it, waiting for the API's answer."""
    form = page.locator("#login-form")
    await form.get_by_label("Name").fill(name)
    await form.get_by_label("Password").fill(password)
    await form.get_by_label("Code").fill(code)
    async with page.expect_response(re.compile(r"/api/v1/session$")):
        await form.get_by_role("button", name="Log in").click()


async def test_a_person_s_unsafe_requests_carry_the_csrf_token_and_no_bearer(
    console: Console, gateway: Gateway
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    page = console.page
    unsafe: list[tuple[str, dict[str, str]]] = []

    def record(request: Request) -> None:
        if request.method != "GET":
            unsafe.append((f"{request.method} {request.url.split('/api/v1')[-1]}", request.headers))

    page.on("request", record)
    await console.log_in(await person(gateway, Role.OFFICER))
    await expect(page.get_by_role("link", name="Security")).to_be_visible()
    await expect(page.get_by_role("link", name="People")).to_be_hidden()  # an admin's
    csrf = await page.evaluate("sessionStorage.getItem('smsgw.csrf')")
    await page.get_by_label("English (en) text").fill("Clinics open Saturday.")
    await page.get_by_role("button", name="Send broadcast").click()
    await expect(page.locator("#created")).to_have_text(re.compile(r"^Created for 3 subscribers"))

    assert [request for request, _ in unsafe] == ["POST /session", "POST /broadcasts"]
    login, send = (headers for _, headers in unsafe)
    assert "x-csrf-token" not in login  # no session yet
    assert send["x-csrf-token"] == csrf
    assert "authorization" not in send
    assert console.problems == []


async def test_a_wrong_password_is_refused_and_the_back_off_says_how_long_to_wait(
    console: Console, gateway: Gateway, client: Client
) -> None:
    clock = use_clock(client)  # the back-off's time, moved on by the test
    officer = await person(gateway, Role.OFFICER)
    page = console.page
    await console.open()
    alert = page.get_by_role("alert")
    for _ in range(3):  # the first three are free
        await try_log_in(page, officer.name, "not the password")
        await expect(alert).to_have_text(WRONG)
    await try_log_in(page, officer.name, officer.password)  # even the right one: not yet
    await expect(alert).to_have_text("too many failed log-ins with this name: try again in 1 s")
    await console.shot("login-back-off")
    assert await page.evaluate("sessionStorage.length") == 0
    clock.advance(seconds=1)
    await try_log_in(page, officer.name, officer.password)
    await expect(page.get_by_role("heading", name="New broadcast")).to_be_visible()
    assert console.problems
    assert all(re.search(r"\b(401|429)\b", problem) for problem in console.problems)


async def test_an_admin_sets_up_totp_first_then_logs_in_with_a_code(
    console: Console, gateway: Gateway
) -> None:
    admin = await person(gateway, Role.ADMIN, enrol=False)
    page = console.page
    await console.log_in(admin, lands_on="Security")
    await expect(page.get_by_text("Your role needs two-step log-in")).to_be_visible()
    for link in ("New broadcast", "Broadcasts", "People", "Security"):  # nothing else first
        await expect(page.get_by_role("link", name=link)).to_be_hidden()
    await console.open("#/broadcasts")
    await expect(page.get_by_role("heading", name="Security")).to_be_visible()

    await page.get_by_role("button", name="Set up two-step log-in").click()
    uri = page.locator("#totp-uri")
    await expect(uri).to_have_text(re.compile(r"^otpauth://totp/smsgw:Ada%20Admin\?secret="))
    secret = await page.locator("#totp-secret").text_content()
    assert secret
    assert f"secret={secret}&" in (await uri.text_content() or "")
    totp = pyotp.TOTP(secret)
    code = page.get_by_label("The code the app shows now")
    await code.fill(totp.at(time.time() + 3600))  # an hour out: not the current code
    await page.get_by_role("button", name="Confirm the code").click()
    await expect(page.get_by_role("alert")).to_contain_text("not the current code")
    await code.fill(totp.now())
    await page.get_by_role("button", name="Confirm the code").click()
    recovery = page.locator("#recovery-codes li")
    await expect(recovery).to_have_count(10)
    codes = await recovery.all_text_contents()
    await expect(page.get_by_text("They are shown this once")).to_be_visible()
    await expect(page.get_by_text("Your role needs two-step log-in")).to_be_hidden()
    await expect(page.locator("#totp-state")).to_have_text(re.compile(r"^On: "))
    await console.shot("recovery-codes")
    await page.get_by_role("button", name="I have kept them").click()
    await expect(page.get_by_role("heading", name="New broadcast")).to_be_visible()
    await expect(page.get_by_role("link", name="People")).to_be_visible()
    await expect(recovery).to_have_count(0)  # gone from the page
    await console.log_out()

    await try_log_in(page, admin.name, admin.password)  # the password alone no longer does
    await expect(page.get_by_role("alert")).to_have_text(WRONG)
    await try_log_in(page, admin.name, admin.password, totp.at(time.time() + 30))  # the next
    await expect(page.get_by_role("heading", name="New broadcast")).to_be_visible()
    await console.log_out()
    await console.log_in(Login(admin.name, codes=[codes[3]]))  # or a recovery code
    bad_code = f"400: POST {console.url.removesuffix('/console/')}/api/v1/me/totp/confirm"
    assert bad_code in console.problems
    assert all(re.search(r"\b(400|401)\b", problem) for problem in console.problems)


async def test_log_out_everywhere_ends_the_session_on_every_device(
    console: Console, gateway: Gateway, browser: Browser
) -> None:
    await add_service(gateway)
    officer = await person(gateway, Role.OFFICER)
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = Console.watching(await context.new_page(), console.url, console.artefacts)
    await phone.log_in(officer)
    await console.log_in(officer)
    page = console.page
    await page.get_by_role("link", name="Security").click()
    await page.get_by_role("button", name="Log out everywhere").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await expect(page.locator("#login-notice")).to_have_text(
        "Logged out everywhere: every session of yours has ended."
    )
    assert await page.context.cookies() == []

    await phone.page.get_by_role("link", name="Broadcasts").click()  # the phone's next request
    await expect(phone.page.get_by_role("heading", name="Log in")).to_be_visible()
    await expect(phone.page.get_by_role("alert")).to_have_text(ENDED)
    await expect(phone.page.get_by_role("navigation")).to_be_hidden()
    await context.close()
    assert phone.problems
    assert all("401" in problem for problem in phone.problems), phone.problems
    assert console.problems == []


async def test_an_idle_session_leads_back_to_the_log_in_saying_so(
    console: Console, gateway: Gateway, client: Client
) -> None:
    await add_service(gateway)
    clock = use_clock(client)
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    clock.advance(minutes=31)  # [http] session_idle_minutes: 30
    await page.get_by_role("link", name="Broadcasts").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_text(ENDED)
    assert await page.evaluate("sessionStorage.length") == 0
    assert all("401" in problem for problem in console.problems), console.problems


async def test_a_tab_follows_a_new_log_in_of_its_person_in_the_browser_but_never_another_s(
    console: Console, gateway: Gateway
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 2))
    officer = await person(gateway, Role.OFFICER)
    await console.log_in(officer)
    page = console.page
    other = Console.watching(await page.context.new_page(), console.url, console.artefacts)
    await other.log_in(officer)  # the browser's cookie: this new session's
    await page.get_by_label("English (en) text").fill("Clinics open Saturday.")
    await page.get_by_role("button", name="Send broadcast").click()  # the old CSRF token: 403
    await expect(page.locator("#created")).to_have_text(re.compile(r"^Created for 2 subscribers"))

    await page.get_by_role("link", name="Security").click()
    await expect(page.locator("#totp-state")).to_have_text(re.compile(r"^Off: "))
    third = Console.watching(await page.context.new_page(), console.url, console.artefacts)
    await third.log_in(await person(gateway, Role.ADMIN))  # someone else, in the same browser
    await page.get_by_label("Current password").fill(officer.password)
    await page.get_by_label("New password").fill("another long password")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_text(
        "Ada Admin has logged in in this browser since: log in again"
    )
    assert (await third.page.evaluate("sessionStorage.getItem('smsgw.person')")) == "Ada Admin"
    api = console.url.removesuffix("/console/") + "/api/v1"
    assert [p for p in console.problems if "403 (Forbidden)" not in p] == [
        f"403: POST {api}/broadcasts",
        f"403: POST {api}/me/password",
    ]
    assert other.problems == third.problems == []
