"""Every screen of every role, checked by axe-core (WCAG 2.1 A and AA: no serious or critical
violation) and kept as a screenshot: the screens are those the role's navigation links to (a
screen added later is walked too), then the pages reached from them (a broadcast, a question),
the composer filled in, the log-in signed out; at a desktop's size, and at a phone's for the
officer and the operator.

SMSGW_ARTEFACTS=folder keeps every screenshot (full page); SMSGW_SCREENSHOTS=folder writes the
README's few (the window's size): `make screenshots`."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ViewportSize, expect

from channels.simulator import Simulator
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, Login, person
from tests.smsgw.broadcast_testbed import create, numbers, seed, view
from tests.smsgw.test_citizens import texts
from tests.smsgw.testbed import Client, eventually

# receipts of every outcome, so that a broadcast's bar and legend show them all
MIX = {"receipt_mix": {"delivered": 0.8, "undeliverable": 0.12, "expired": 0.08}}
# the operator's charts sampled often (the broadcast's second of sending shows on them); a
# canned answer for the inbox's questions
SETTINGS = (
    "\n[operator]\nhistory_every_s = 0.2\n"
    '\n[[inbox.canned]]\nministry = "health"\nlanguage = "en"\ntitle = "Measles vaccine"\n'
    'text = "Any health centre, Monday to Friday 8am-4pm, free. Bring the vaccination card."\n'
)
pytestmark = [
    pytest.mark.parametrize("simulator", [MIX], indirect=True, ids=["mixed-receipts"]),
    pytest.mark.parametrize("settings", [SETTINGS], indirect=True, ids=["sampled-canned"]),
]
PHONE = ViewportSize(width=390, height=844)
# WCAG 1.4.10 reflow: only a wide table may scroll sideways, in its own box
SIDEWAYS = "document.documentElement.scrollWidth > document.documentElement.clientWidth"
README = {  # the README's screenshots: the walk's name -> the file in SMSGW_SCREENSHOTS
    "officer-compose-filled": "officer-compose.png",
    "officer-broadcast": "broadcast-progress.png",
    "officer-ticket": "inbox-question.png",
    "operator-operator": "operator.png",
    "operator-kpis": "kpis.png",
    "officer-phone-compose": "phone-compose.png",
    "officer-es-compose": "compose-es.png",
    "officer-es-calendar": "calendar-es.png",
}


@pytest.fixture
async def seeded(
    gateway: Gateway, client: Client, simulator: Simulator, admin: dict[str, str], catalogue: None
) -> dict[str, int]:
    """The demo's services; a finished broadcast of HEALTH with every outcome, one scheduled
    for tomorrow, and a citizen's question to HEALTH in the inbox; their ids."""
    await seed(gateway, "HEALTH", numbers("+50160", 30), language="en")
    await seed(gateway, "HEALTH", numbers("+50165", 12), language="es")
    texts_ = {"en": "Vaccination day on Saturday at every clinic, 8am to 4pm.",
              "es": "Dia de vacunacion el sabado en todas las clinicas, de 8 a 4."}  # fmt: skip
    done = await create(client, admin, service="HEALTH", texts=texts_)
    seen: dict[str, Any] = {}

    async def finished() -> bool:
        nonlocal seen
        seen = await view(client, admin, done["id"])
        ended = seen["delivered"] + seen["failed"] + seen["expired"]
        return bool(seen["state"] == "done" and ended == seen["audience"])

    await eventually(finished)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    later = await create(client, admin, service="HEALTH", send_at=tomorrow.isoformat(),
                         texts={"en": "Clinics close early on Friday."})  # fmt: skip
    await texts(simulator, "ASK HEALTH Where can my son get the measles vaccine?",
                sender="+5016012345")  # fmt: skip
    return {"done": done["id"], "scheduled": later["id"], "ticket": 1}  # the first question


async def check(console: Console, name: str) -> None:
    """Waits for the view's data, then checks it with axe and keeps its screenshot."""
    await console.settled()
    await console.accessible()
    await console.shot(name)
    if (folder := os.environ.get("SMSGW_SCREENSHOTS")) and name in README:
        await console.page.evaluate("window.scrollTo(0, 0)")  # the view's top, as it opens
        await console.page.screenshot(path=Path(folder) / README[name])


async def walk(
    console: Console, who: str, also: Callable[[str], Awaitable[None]] | None = None
) -> list[str]:
    """Each screen the navigation links to, in turn (``also``: a further check of each, given
    its name); their names."""
    page = console.page
    screens = []
    hrefs = [await a.get_attribute("href") for a in await page.locator("#nav a:visible").all()]
    for href in hrefs:
        assert href is not None
        assert href.startswith("#/"), href
        screens.append(screen := href.removeprefix("#/"))
        link = page.locator(f'#nav a[href="{href}"]')
        if not page.url.endswith(href):
            await link.click()
        await expect(link).to_have_attribute("aria-current", "page")
        await expect(page.locator("main > section:not([hidden]) h1")).to_be_visible()
        await check(console, f"{who}-{screen}")
        assert not await page.evaluate(SIDEWAYS), f"{screen}: the page scrolls sideways"
        if also is not None:
            await also(screen)
    return screens


async def phone_tab(browser: Browser, console: Console) -> Console:
    """A phone's tab on the console (narrow, touch), in a browser of its own."""
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    return Console.watching(await context.new_page(), console.url, console.artefacts)


async def open_link(console: Console, href: str, heading: str, name: str) -> None:
    """Follows a link of the shown view to ``href``; checks the page it leads to."""
    page = console.page
    await page.locator(f'main > section:not([hidden]) a[href="{href}"]').first.click()
    await expect(page.get_by_role("heading", name=heading, exact=True)).to_be_focused()
    await check(console, name)


async def broadcasts_and_inbox(console: Console, who: str, ids: dict[str, int]) -> None:
    """A finished broadcast's page, a scheduled one's and a question's (for those who see the
    inbox), each reached by its link."""
    page = console.page
    await page.get_by_role("link", name="Broadcasts", exact=True).click()
    await open_link(console, f"#/broadcasts/{ids['done']}", f"Broadcast {ids['done']}",
                    f"{who}-broadcast")  # fmt: skip
    await expect(page.get_by_role("list", name="Messages by outcome")).to_be_visible()
    await page.go_back()
    await open_link(console, f"#/broadcasts/{ids['scheduled']}",
                    f"Broadcast {ids['scheduled']}", f"{who}-scheduled")  # fmt: skip
    if await page.get_by_role("link", name="Inbox", exact=True).is_visible():
        await page.get_by_role("link", name="Inbox", exact=True).click()
        await open_link(console, f"#/inbox/{ids['ticket']}", f"Question #{ids['ticket']}",
                        f"{who}-ticket")  # fmt: skip


async def compose(console: Console, who: str) -> None:
    """The composer with everything it can show: texts typed, an emergency confirmed, a poll,
    the audience and cost checked."""
    page = console.page
    await page.get_by_role("link", name="New broadcast").click()
    await page.get_by_role("tab").first.click()
    text = page.get_by_role("tabpanel").get_by_role("textbox")
    await text.fill("Boil tap water before drinking it in Belize City until further notice.")
    await page.get_by_role("radio", name="Emergency").check()
    await page.locator("#confirm-emergency").check()
    await page.get_by_label("Ask a question citizens answer by SMS").check()
    await page.get_by_label("Question, English (en)").fill("Will you come on Saturday?")
    closes = datetime.now(UTC) + timedelta(days=2)
    await page.get_by_label("Poll closes at").fill(f"{closes:%Y-%m-%dT%H:%M}")
    await page.get_by_role("button", name="Check audience and cost").click()
    await expect(page.locator("#estimate dl")).to_be_visible()
    await check(console, f"{who}-compose-filled")


async def signed_out(console: Console) -> None:
    """The log-in, signed out; and the check's own proof: a box without a label fails it."""
    page = console.page
    await console.log_out()
    await check(console, "signed-out-login")
    await page.get_by_text("Log in with an API token").click()
    await check(console, "signed-out-token")
    await page.evaluate(
        "document.querySelector('#login-form').append(document.createElement('input'))"
    )
    with pytest.raises(
        pytest.fail.Exception,
        match=r"label \(critical, 1x\): Form elements must have labels.*\n +at input",
    ):
        await console.accessible()
    await console.accessible(include="header")  # only the part asked about


async def phone(browser: Browser, console: Console, login: Login, who: str, **kw: str) -> None:
    """The same person on a phone: every screen again."""
    small = await phone_tab(browser, console)
    await small.log_in(login, **kw)
    screens = await walk(small, f"{who}-phone")
    assert screens, "no navigation on a phone"
    await small.page.context.close()
    assert small.problems == []


async def test_an_officer_s_screens_on_a_computer_and_a_phone(
    browser: Browser, console: Console, gateway: Gateway, seeded: dict[str, int]
) -> None:
    officer = await person(gateway, Role.OFFICER)
    await console.log_in(officer)
    screens = await walk(console, "officer")
    assert {"compose", "broadcasts", "inbox", "security"} <= set(screens)
    assert "people" not in screens
    await broadcasts_and_inbox(console, "officer", seeded)
    await compose(console, "officer")
    await signed_out(console)
    await phone(browser, console, officer, "officer")
    assert console.problems == []


async def test_a_supervisor_s_screens(
    console: Console, gateway: Gateway, seeded: dict[str, int]
) -> None:
    await console.log_in(await person(gateway, Role.SUPERVISOR))
    screens = await walk(console, "supervisor")
    assert {"compose", "broadcasts", "inbox", "security"} <= set(screens)
    await broadcasts_and_inbox(console, "supervisor", seeded)
    assert console.problems == []


@pytest.mark.usefixtures("seeded")
async def test_an_operator_s_screens_on_a_computer_and_a_phone(
    browser: Browser, console: Console, gateway: Gateway
) -> None:
    operator = await person(gateway, Role.OPERATOR)
    await console.log_in(operator, lands_on="Operator")
    screens = await walk(console, "operator")
    assert {"operator", "alerts", "kpis", "security"} <= set(screens)
    assert not {"compose", "broadcasts", "inbox", "people"} & set(screens)  # not theirs
    await phone(browser, console, operator, "operator", lands_on="Operator")
    assert console.problems == []


async def test_an_admin_s_screens(
    console: Console, gateway: Gateway, seeded: dict[str, int]
) -> None:
    await person(gateway, Role.OFFICER)  # someone to list and change
    await console.log_in(await person(gateway, Role.ADMIN))
    screens = await walk(console, "admin")
    assert {"compose", "broadcasts", "inbox", "people", "security"} <= set(screens)
    page = console.page
    await page.get_by_role("link", name="People").click()
    await page.get_by_role("button", name="Change Olive Officer").click()
    await expect(page.get_by_role("heading", name="Change Olive Officer")).to_be_focused()
    await check(console, "admin-people-change")
    await broadcasts_and_inbox(console, "admin", seeded)
    assert console.problems == []


def _english_only() -> list[str]:
    """The English catalogue's sentences that Spanish says otherwise (whole ones: none with a
    placeholder), each of which would be a word left in English on a Spanish screen."""
    folder = Path(__file__).parents[2] / "smsgw" / "console"
    en, es = (json.loads((folder / f"{code}.json").read_text("utf-8")) for code in ("en", "es"))

    def texts(value: str | dict[str, str]) -> list[str]:
        return [value] if isinstance(value, str) else list(value.values())

    return sorted(
        text
        for key, value in en.items()
        for text in texts(value)
        if "{" not in text and len(text) > 2 and text not in texts(es[key])
    )


# The visible text of the page (each text node, and the labels of attributes) found among words
LEFT_IN = """(words) => {
  const wanted = new Set(words);
  const found = new Set();
  const seen = (node) => node.checkVisibility({ visibilityProperty: true });
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent.trim();
    if (wanted.has(text) && seen(walker.currentNode.parentElement)) found.add(text);
  }
  for (const node of document.querySelectorAll("[aria-label], [title], [placeholder]")) {
    for (const name of ["aria-label", "title", "placeholder"]) {
      const text = (node.getAttribute(name) || "").trim();
      if (wanted.has(text) && (seen(node) || name === "aria-label")) found.add(text);
    }
  }
  return [...found];
}"""


async def test_every_role_s_screens_in_spanish_say_nothing_in_english(
    console: Console, gateway: Gateway, seeded: dict[str, int]
) -> None:
    page = console.page
    english = _english_only()
    left: dict[str, list[str]] = {}

    async def nothing_english(screen: str) -> None:
        if found := await page.evaluate(LEFT_IN, english):
            left[screen] = found

    for role, lands_on in ((Role.OFFICER, "New broadcast"), (Role.SUPERVISOR, "New broadcast"),
                           (Role.OPERATOR, "Operator"), (Role.ADMIN, "New broadcast")):  # fmt: skip
        await console.log_in(await person(gateway, role), lands_on=lands_on)
        await page.get_by_label("Language", exact=True).select_option("es")
        await expect(page.locator("html")).to_have_attribute("lang", "es")
        who = f"{role.value}-es"
        screens = await walk(console, who, also=nothing_english)
        assert screens
        if role is not Role.OPERATOR:
            await page.locator('#nav a[href="#/broadcasts"]').click()
            await page.locator(f'a[href="#/broadcasts/{seeded["done"]}"]').first.click()
            await check(console, f"{who}-broadcast")
            await nothing_english(f"{role.value}: broadcast")
        await page.get_by_label("Idioma", exact=True).select_option("en")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        assert await page.evaluate(LEFT_IN, english)  # the check's own proof: it sees English
        await console.log_out()
    assert left == {}
    assert console.problems == []
