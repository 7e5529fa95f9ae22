"""The inbox: a question that came in over SMPP, answered from a canned answer (the citizen gets
the SMS), assigned, noted and closed; another ministry's officer never sees it; overdue
questions, paging, STOP, the questions' KPIs and a phone's screen."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from channels.simulator import Simulator
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, secret
from tests.smsgw.test_citizens import replies, texts
from tests.smsgw.testbed import WAIT

pytestmark = pytest.mark.usefixtures("catalogue")
WAIT_MS = 15_000  # the pages poll every 2 s
ANA = "+5016012345"
ROSA = "+5016511111"
CANNED = (
    '\n[[inbox.canned]]\nministry = "health"\nlanguage = "en"\ntitle = "Clinic hours"\n'
    'text = "Any clinic, Monday to Friday 8am-4pm. Bring the vaccination card."\n'
    '\n[[inbox.canned]]\nministry = "health"\nlanguage = "es"\ntitle = "Horario"\n'
    'text = "Las clinicas abren de 8 a 4."\n'
)
OVERDUE_AT_ONCE = "\n[inbox]\nservice_first_answer_h = { HEALTH = 0.0000001 }\n"


def entries(page: Page) -> Locator:
    return page.locator("#thread > li")


def fact(page: Page, name: str) -> Locator:
    return page.locator(f'#ticket [data-ticket="{name}"]')


async def open_inbox(page: Page) -> None:
    await page.get_by_role("link", name="Inbox").click()
    await expect(page.get_by_role("heading", name="Inbox")).to_be_visible()


@pytest.mark.parametrize("settings", [CANNED], indirect=True, ids=["canned"])
async def test_an_officer_answers_a_question_from_a_canned_answer_then_assigns_notes_and_closes(
    console: Console, gateway: Gateway, simulator: Simulator
) -> None:
    [ack] = await texts(simulator, "ASK HEALTH Where can my son get the measles vaccine?",
                        sender=ANA)  # fmt: skip
    assert ack.startswith("Thank you. Your question #1")
    page = console.page
    await console.log_in(await secret(gateway, Role.OFFICER, ministry="health", person="Maria"))
    await open_inbox(page)
    row = page.locator("#tickets tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("#1")
    await expect(row).to_contain_text("open")
    await expect(row).to_contain_text("+50160****45")  # an officer sees the number masked
    await expect(row).not_to_contain_text("Overdue")
    await console.shot("inbox")
    await row.get_by_role("link", name="#1").click()

    await expect(page.get_by_role("heading", name="Question #1")).to_be_focused()
    await expect(entries(page)).to_have_count(1)
    await expect(entries(page).first).to_have_class(re.compile(r"\bquestion\b"))
    await expect(entries(page).first).to_contain_text("Citizen")
    await expect(entries(page).first).to_contain_text("measles vaccine?")
    canned = page.get_by_label("Canned answer")
    await expect(canned.locator("option")).to_have_text(["Choose one (English)…", "Clinic hours"])
    await canned.select_option(label="Clinic hours")
    answer = page.get_by_label("Answer by SMS to the citizen")
    await expect(answer).to_have_value(
        "Any clinic, Monday to Friday 8am-4pm. Bring the vaccination card."
    )
    await expect(answer).to_be_focused()
    await expect(page.locator("#answer-count")).to_have_text(re.compile(r"· 1 SMS · GSM 7-bit$"))
    await answer.fill(await answer.input_value() + " Maria")  # the officer may change it
    await page.get_by_role("button", name="Send answer").dblclick()  # sent once

    await expect(page.get_by_role("status").filter(has_text="Answer sent")).to_be_visible()
    await expect(entries(page)).to_have_count(2)
    sent = entries(page).nth(1)
    await expect(sent).to_have_class(re.compile(r"\banswer\b"))
    await expect(sent).to_contain_text("Answer by maria (SMS)")
    await expect(answer).to_have_value("")
    async with asyncio.timeout(WAIT):
        await simulator.wait_submits(2)  # the acknowledgement, then the answer
    assert replies(simulator, ANA)[1:] == [
        "Any clinic, Monday to Friday 8am-4pm. Bring the vaccination card. Maria"
    ]
    await expect(sent).to_contain_text("delivery: delivered", timeout=WAIT_MS)
    await expect(fact(page, "state")).to_have_text("answered")

    await page.get_by_role("button", name="Assign to me").click()
    await expect(fact(page, "assigned_to")).to_have_text("maria")
    await expect(entries(page).last).to_contain_text("maria assigned it to maria")
    await page.get_by_label("Internal note").fill("Called the clinic: they have stock.")
    await page.get_by_role("button", name="Add note").click()
    note = entries(page).last
    await expect(note).to_have_class(re.compile(r"\bnote\b"))
    await expect(note).to_contain_text("Internal note by maria (not sent)")
    await expect(note).to_contain_text("Called the clinic: they have stock.")
    await console.shot("ticket")

    await page.get_by_role("button", name="Close question").click()
    await expect(fact(page, "state")).to_have_text("closed")
    await expect(page.get_by_role("button", name="Reopen question")).to_be_focused()
    await expect(answer).to_be_hidden()
    await expect(page.get_by_text("Closed: reopen it to answer.")).to_be_visible()
    await expect(entries(page).last).to_contain_text("maria closed it")
    assert len(replies(simulator, ANA)) == 2  # notes, assignments and closing send nothing

    await page.get_by_role("link", name="Back to the inbox").click()
    await page.get_by_label("Assigned to me").check()
    await expect(page).to_have_url(re.compile(r"#/inbox\?assigned=me$"))
    await expect(page.locator("#tickets tr")).to_have_count(1)
    await page.locator("#inbox-state").select_option("open")
    await expect(page.locator("#tickets tr")).to_have_count(0)
    await expect(page.get_by_text("No questions here.")).to_be_visible()
    await page.locator("#inbox-state").select_option("closed")
    await expect(page.locator("#tickets tr")).to_contain_text("closed")
    assert console.problems == []


async def test_an_officer_sees_only_their_ministry_s_questions(
    console: Console, gateway: Gateway, simulator: Simulator
) -> None:
    await texts(simulator, "ASK HEALTH Is the water safe?", sender=ANA)
    await texts(simulator, "ASK WEATHER Will it rain Saturday?", sender=ANA)
    page = console.page
    await console.log_in(await secret(gateway, Role.OFFICER, ministry="met", person="Tom"))
    await open_inbox(page)
    rows = page.locator("#tickets tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("#2")
    await expect(rows).to_contain_text("WEATHER")
    filter_ = page.get_by_label("Questions about")
    await expect(filter_.locator("option")).to_have_text(["every service", "WEATHER"])
    await console.open("#/inbox/1")  # health's: as if there were none
    await expect(page.get_by_role("alert")).to_have_text("no ticket 1")
    await expect(entries(page)).to_have_count(0)
    assert [p for p in console.problems if "404" not in p] == []
    await console.log_out()

    await console.log_in(await secret(gateway, Role.OPERATOR), lands_on="Operator")
    await expect(page.get_by_role("link", name="Inbox")).to_be_hidden()  # not theirs
    assert [p for p in console.problems if "404" not in p] == []


async def test_no_answer_reaches_a_citizen_under_stop_and_the_officer_is_told(
    console: Console, gateway: Gateway, simulator: Simulator
) -> None:
    await texts(simulator, "ASK HEALTH Is there dengue in Belmopan?", sender=ANA)
    await texts(simulator, "STOP", sender=ANA)
    before = simulator.submit_total
    page = console.page
    await console.log_in(await secret(gateway, Role.SUPERVISOR, ministry="health"))
    await console.open("#/inbox/1")
    await expect(fact(page, "msisdn")).to_have_text(ANA)  # a supervisor sees it whole
    await expect(page.locator("#ticket-stopped")).to_contain_text("The citizen sent STOP")
    await page.get_by_label("Answer by SMS to the citizen").fill("Not this week.")
    send = page.get_by_role("button", name="Send answer")
    await send.click()
    await expect(page.get_by_role("alert")).to_have_text(
        re.compile(r"^not sent: the citizen sent STOP at .* until they send START$")
    )
    await expect(send).to_be_enabled()  # unlocked after the refusal
    await expect(page.get_by_label("Answer by SMS to the citizen")).to_have_value("Not this week.")
    await expect(entries(page)).to_have_count(1)
    await expect(page.get_by_role("alert")).to_have_attribute("data-sticky", "")  # polls keep it
    await console.shot("ticket-stopped")
    assert simulator.submit_total == before
    assert [p for p in console.problems if "409" not in p] == []


@pytest.mark.parametrize("settings", [OVERDUE_AT_ONCE], indirect=True, ids=["due-at-once"])
async def test_overdue_questions_stand_out_page_by_page_and_in_the_kpis(
    console: Console, gateway: Gateway, simulator: Simulator
) -> None:
    await texts(simulator, "ASK HEALTH first?", sender=ANA)
    await texts(simulator, "ASK HEALTH second?", sender=ROSA)
    await texts(simulator, "ASK WEATHER rain?", sender=ANA)  # another ministry's
    page = console.page
    await console.log_in(await secret(gateway, Role.OFFICER, ministry="health"))
    await console.open("#/inbox?limit=1")
    await expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    rows = page.locator("#tickets tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("#2")
    await expect(rows.get_by_text("Overdue", exact=True)).to_be_visible()  # a word, not a colour
    await expect(page.get_by_role("link", name="Newest questions")).to_be_hidden()
    await page.get_by_role("link", name="Older questions").click()
    await expect(rows).to_contain_text("#1")
    await expect(page.get_by_role("link", name="Older questions")).to_be_hidden()
    await page.get_by_role("link", name="Newest questions").click()
    await expect(rows).to_contain_text("#2")

    await rows.get_by_role("link", name="#2").click()
    await expect(fact(page, "state")).to_have_text("open Overdue")
    await page.get_by_label("Answer by SMS to the citizen").fill("Yes.")
    await page.get_by_role("button", name="Send answer").click()
    await expect(fact(page, "state")).to_have_text("answered")
    await page.get_by_role("link", name="Back to the inbox").click()
    await page.get_by_label("Overdue only").check()
    await expect(page).to_have_url(re.compile(r"#/inbox\?overdue=true&limit=1$"))
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("#1")
    await expect(page.get_by_role("link", name="Older questions")).to_be_hidden()

    await page.get_by_role("link", name="KPIs").click()
    ministries = page.locator("#questions-by-ministry tbody tr")
    await expect(ministries).to_have_count(1)  # the officer's only
    cells = ministries.locator("td")
    await expect(cells).to_have_text(["health", "2", "1", re.compile(r"^\d+ s$"), "1"])
    service = page.locator("#questions-by-service tbody tr").filter(has_text="HEALTH")
    await expect(service.locator("td")).to_have_text(
        ["HEALTH", "health", "2", "1", re.compile(r"^\d+ s$"), "1"]
    )
    await console.shot("kpis-questions")
    assert console.problems == []


async def test_the_inbox_fits_a_phone_s_screen(
    browser: Browser, console: Console, gateway: Gateway, simulator: Simulator
) -> None:
    await texts(simulator, "ASK HEALTH " + "Where is the nearest clinic open on Sunday? " * 3,
                sender=ANA)  # fmt: skip
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = Console.watching(await context.new_page(), console.url, console.artefacts)
    await phone.log_in(await secret(gateway, Role.OFFICER, ministry="health"))
    page = phone.page
    scrolls = "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    await phone.open("#/inbox")
    await expect(page.locator("#tickets tr")).to_have_count(1)
    assert not await page.evaluate(scrolls)
    await phone.shot("inbox-phone")
    await phone.open("#/inbox/1")
    await expect(entries(page)).to_have_count(1)
    await page.get_by_label("Internal note").fill("Asked the district office.")
    await page.get_by_role("button", name="Add note").click()
    await expect(entries(page)).to_have_count(2)
    assert not await page.evaluate(scrolls)
    await phone.shot("ticket-phone")
    await context.close()
    assert phone.problems == []
