"""An officer's way through the console: log in, compose, send, watch the broadcast to the end
on the simulator, find it in the list; emergency confirmation, scheduling and cancelling."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Locator, expect

from channels.simulator import Simulator
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person, secret
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import BROADCASTS, create, numbers, seed, sent_to
from tests.smsgw.testbed import Client

BELIZE = ZoneInfo("America/Belize")  # the test config's gateway.timezone

WAIT_MS = 15_000  # the page polls every 2 s


async def test_an_officer_sends_a_broadcast_and_watches_it_delivered(
    console: Console, gateway: Gateway, simulator: Simulator
) -> None:
    await add_service(gateway)
    english, spanish = numbers("+50160", 12) + numbers("+50165", 8), numbers("+50161", 5)
    await seed(gateway, "HEALTH", english)
    await seed(gateway, "HEALTH", spanish, language="es")
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER, ministry="health"))

    await page.get_by_label("English (en) text").fill("Vaccination day Saturday 9am. Bring [card]")
    await expect(page.locator("#count-en")).to_have_text(
        "44 used, 116 left · 1 SMS · GSM 7-bit"  # [ and ] take two septets each
    )
    await page.get_by_role("tab", name="Spanish (es)").click()
    await page.get_by_label("Spanish (es) text").fill("Día de vacunación el sábado.")
    await expect(page.locator("#count-es")).to_have_text(
        re.compile(r"1 SMS · Unicode \(UCS-2: í ó á\)$")
    )
    await console.shot("composer")
    await page.get_by_role("button", name="Send broadcast").click()

    await expect(page.locator("#created")).to_have_text(
        re.compile(r"Created for 25 subscribers \(queued\); SMS per message: en 1, es 1; ")
    )

    def field(name: str) -> Locator:
        return page.locator(f'#broadcast [data-field="{name}"]')

    await expect(field("state")).to_have_text("done", timeout=WAIT_MS)
    await expect(field("delivered")).to_have_text("25", timeout=WAIT_MS)
    await expect(field("audience")).to_have_text("25")
    await expect(field("delivery_rate")).to_have_text("100.0 % of 25 finished")
    await expect(field("latency_p50_s")).to_have_text(re.compile(r"^\d+\.\d\d s$"))
    await expect(page.locator("#progress-text")).to_have_text("25 of 25 ended")
    await expect(field("state").locator(".badge")).to_have_class("badge state-done")
    await expect(page.get_by_role("button", name="Cancel broadcast")).to_be_hidden()
    await console.shot("broadcast")
    assert set(sent_to(simulator)) == set(english + spanish)
    assert set(sent_to(simulator).values()) == {1}

    broadcast_url = page.url
    await page.get_by_role("link", name="Broadcasts").click()
    await expect(page.get_by_role("heading", name="Broadcasts")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="HEALTH")
    await expect(row).to_contain_text("done")
    await expect(row.locator(".badge")).to_have_class("badge state-done")
    await console.shot("broadcasts")
    await row.get_by_role("link").click()
    assert page.url == broadcast_url
    assert console.problems == []


async def test_an_emergency_needs_an_explicit_confirmation(
    console: Console, gateway: Gateway
) -> None:
    await add_service(gateway)
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    await page.get_by_label("English (en) text").fill("Boil water before drinking.")
    confirm = page.get_by_label("I confirm this is an emergency")
    await expect(confirm).to_be_hidden()
    await page.get_by_label("Emergency", exact=True).check()
    await expect(confirm).to_be_visible()

    await page.get_by_role("button", name="Send broadcast").click()  # not confirmed: refused
    assert await confirm.evaluate("box => !box.validity.valid")
    await expect(page.get_by_role("heading", name="New broadcast")).to_be_visible()

    await confirm.check()
    await page.get_by_role("button", name="Send broadcast").click()
    await expect(page.locator('#broadcast [data-field="priority"]')).to_have_text("emergency")
    await page.get_by_role("link", name="New broadcast").click()  # the form starts afresh
    await expect(page.get_by_label("Normal")).to_be_checked()
    await expect(confirm).to_be_hidden()
    assert console.problems == []


async def test_a_scheduled_broadcast_waits_and_can_be_cancelled(
    console: Console, gateway: Gateway
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    page = console.page
    # the officer's browser far from the gateway: what they type is on the gateway's clock
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Tokyo"})
    await console.log_in(await person(gateway, Role.OFFICER))
    await expect(page.locator("#send-at-hint")).to_have_text(
        "Optional, on the gateway's clock (America/Belize). Empty: now."
    )
    await page.get_by_label("English (en) text").fill("Clinic closed on Monday.")
    tomorrow = (datetime.now(BELIZE) + timedelta(days=1)).replace(second=0, microsecond=0)
    await page.get_by_label("Send at").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Send broadcast").click()

    state = page.locator('#broadcast [data-field="state"] .badge')
    await expect(state).to_have_text("scheduled")
    await expect(state).to_have_class("badge state-scheduled")
    await expect(page.locator("#created")).to_contain_text("Created for 3 subscribers (scheduled)")
    hour = f"{tomorrow:%I}".lstrip("0")
    day = f"{tomorrow.month}/{tomorrow.day}/{tomorrow.year}"
    await expect(page.locator("#progress-text")).to_have_text(
        re.compile(rf"^not started: scheduled for {day}, {hour}:{tomorrow:%M}\s{tomorrow:%p}"
                   " America/Belize$")
    )  # fmt: skip
    [scheduled] = await gateway.store.broadcasts.broadcasts(ministry=None, before=None, limit=5)
    assert scheduled.send_at == tomorrow
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Cancel broadcast").click()
    await expect(state).to_have_text("cancelled")
    await expect(state).to_have_class("badge state-cancelled")
    await expect(page.locator("#progress-text")).to_have_text(
        "nothing sent: cancelled before it started"
    )
    await expect(page.get_by_role("button", name="Cancel broadcast")).to_be_hidden()
    assert console.problems == []


async def test_the_composer_shows_what_is_missing_and_what_the_api_refuses(
    console: Console, gateway: Gateway
) -> None:
    await add_service(gateway)
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER, ministry="health"))
    await page.get_by_role("tab", name="Spanish (es)").click()
    await page.get_by_label("Spanish (es) text").fill("Escuelas cerradas.")
    send = page.get_by_role("button", name="Send broadcast")
    await send.click()  # no text in English, the service's default language
    await expect(page.get_by_role("alert")).to_have_text(
        "Write the English text: subscribers of other languages get it."
    )
    await expect(page.get_by_label("English (en) text")).to_be_focused()

    await page.get_by_label("English (en) text").fill("a" * 153 * 6 + "b")  # over 6 SMS
    await send.click()
    await expect(page.get_by_role("alert")).to_have_text("texts.en: 7 SMS, at most 6")
    assert [p for p in console.problems if "400" not in p] == []


async def test_the_composer_offers_an_officer_only_their_ministrys_services(
    console: Console, gateway: Gateway
) -> None:
    await add_service(gateway)  # the ministry "health"
    # written otherwise, the same ministry: the API compares them without case and spaces
    await add_service(gateway, keyword="CLINICS", aliases=["CLINICAS"], ministry=" Health ")
    await add_service(gateway, keyword="SCHOOLS", aliases=["ESCUELAS"], ministry="education")
    page = console.page
    options = page.locator("#service").locator("option")
    await console.log_in(await person(gateway, Role.OFFICER, ministry="health"))
    await expect(options).to_have_count(2)  # no SCHOOLS to learn about from a 403
    assert sorted(await options.evaluate_all("all => all.map(o => o.value)")) == [
        "CLINICS",
        "HEALTH",
    ]
    await console.log_out()

    await console.log_in(await person(gateway, Role.SUPERVISOR, ministry="education"))
    await expect(options).to_have_count(1)
    await expect(options).to_have_attribute("value", "SCHOOLS")
    await console.log_out()

    await console.log_in(await person(gateway, Role.ADMIN))  # every ministry's
    await expect(options).to_have_count(3)
    assert console.problems == []


@pytest.mark.parametrize(
    "settings",
    ['\n[broadcasts]\ncost_per_segment = 0.05\ncurrency = "USD"\n'],
    indirect=True,
    ids=["priced"],
)
async def test_the_officer_sees_the_audience_and_cost_before_sending(
    console: Console, client: Client, gateway: Gateway, simulator: Simulator
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 12))
    await seed(gateway, "HEALTH", numbers("+50161", 5), language="es")
    officer = await secret(gateway, Role.OFFICER, ministry="health")
    page = console.page
    await console.log_in(officer)
    await page.get_by_label("English (en) text").fill("a" * 200)  # 2 SMS
    await page.get_by_role("tab", name="Spanish (es)").click()
    await page.get_by_label("Spanish (es) text").fill("Día de vacunación.")
    await page.get_by_role("button", name="Check audience and cost").click()

    body = {"service": "HEALTH", "texts": {"en": "a" * 200, "es": "Día de vacunación."}}
    headers = {"Authorization": f"Bearer {officer}"}
    response = await client.post("/api/v1/broadcasts/estimate", json=body, headers=headers)
    expected = await response.json()
    assert (expected["audience"], expected["cost_estimate"]) == (17, pytest.approx(1.45))

    def fact(name: str) -> Locator:
        return page.locator(f'#estimate [data-estimate="{name}"]')

    await expect(fact("audience")).to_have_text(f"{expected['audience']} subscribers")
    await expect(fact("audience_by_language")).to_have_text("en 12, es 5")
    await expect(fact("segments")).to_have_text("en 2, es 1")
    await expect(fact("cost")).to_have_text(f"{expected['cost_estimate']} USD")
    await console.shot("estimate")
    assert len(simulator.submits) == 0  # estimating sends nothing and stores nothing
    assert (await (await client.get(BROADCASTS, headers=headers)).json())["broadcasts"] == []

    await page.get_by_label("Spanish (es) text").fill("Día de vacunación el sábado.")
    await expect(page.locator("#estimate")).to_be_empty()  # the figures were of other texts
    await page.get_by_role("button", name="Send broadcast").click()
    await expect(page.locator("#created")).to_contain_text("Created for 17 subscribers")
    assert console.problems == []


async def test_an_officer_writes_accents_plainly_and_says_how_long_messages_stay_valid(
    console: Console, client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 3), language="es")
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    await page.get_by_label("English (en) text").fill("Clinic open Saturday.")
    await page.get_by_role("tab", name="Spanish (es)").click()
    spanish = "Vacunación el sábado en la clínica de Punta Gorda, ¿vendrá? " * 2  # 120 chars
    await page.get_by_label("Spanish (es) text").fill(spanish)
    counter = page.locator("#count-es")
    await expect(counter).to_have_text(re.compile(r" · 2 SMS · Unicode \(UCS-2: ó á í\)$"))
    await page.get_by_label("Write accented letters plainly where that saves SMS").check()
    await expect(counter).to_have_text("120 used, 40 left · 1 SMS · GSM 7-bit")  # ¿ stays
    await page.get_by_label("Valid for, in minutes").fill("30")
    await page.get_by_role("button", name="Check audience and cost").click()
    segments = page.locator('#estimate [data-estimate="segments"]')
    await expect(segments).to_have_text("en 1, es 1")
    expires = page.locator('#estimate [data-estimate="expires_at"]')
    await expect(expires).to_have_text(re.compile(r" America/Belize$"))
    await page.get_by_role("button", name="Send broadcast").click()
    await expect(page.locator("#created")).to_contain_text("Created for 3 subscribers")

    broadcast = int(page.url.rsplit("/", 1)[1])
    stored = await (await client.get(f"{BROADCASTS}/{broadcast}", headers=admin)).json()
    assert stored["texts"]["es"] == spanish.replace("ó", "o").replace("á", "a").replace("í", "i")
    assert stored["segments"]["es"] == 1
    valid = datetime.fromisoformat(stored["expires_at"]) - datetime.fromisoformat(
        stored["created_at"]
    )
    assert timedelta(minutes=29) < valid <= timedelta(minutes=30)
    assert console.problems == []


async def test_the_estimate_shows_what_the_api_refuses(console: Console, gateway: Gateway) -> None:
    await add_service(gateway)
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER, ministry="health"))
    await page.get_by_label("English (en) text").fill("a" * 153 * 6 + "b")  # over 6 SMS
    await page.get_by_role("button", name="Check audience and cost").click()
    await expect(page.get_by_role("alert")).to_have_text("texts.en: 7 SMS, at most 6")
    await expect(page.locator("#estimate")).to_be_empty()
    assert [p for p in console.problems if "400" not in p] == []


async def test_a_supervisor_approves_a_broadcast_that_its_author_cannot(
    console: Console, client: Client, gateway: Gateway, simulator: Simulator
) -> None:
    await add_service(gateway, requires_approval=True)
    members = numbers("+50160", 6)
    await seed(gateway, "HEALTH", members)
    officer = await secret(gateway, Role.OFFICER, ministry="health")
    author = {"Authorization": f"Bearer {officer}"}
    created = await create(client, author, service="HEALTH", texts={"en": "Clinic open."})
    assert created["state"] == "awaiting_approval"
    page = console.page
    approve = page.get_by_role("button", name="Approve broadcast")

    def field(name: str) -> Locator:
        return page.locator(f'#broadcast [data-field="{name}"]')

    await console.log_in(officer)  # the author, an officer, may not approve: the API says why
    await console.open(f"#/broadcasts/{created['id']}")
    await expect(field("state")).to_have_text("awaiting approval")
    await expect(field("state").locator(".badge")).to_have_class("badge state-awaiting_approval")
    await approve.click()
    await expect(page.get_by_role("alert")).to_have_text("this needs the role admin or supervisor")
    await page.wait_for_timeout(2_500)  # a poll of the broadcast: the answer stays
    await expect(page.get_by_role("alert")).to_have_text("this needs the role admin or supervisor")
    await expect(field("state")).to_have_text("awaiting approval")
    await console.shot("approve-refused")
    await console.log_out()

    # the supervisor finds what awaits them from the list
    await console.log_in(await person(gateway, Role.SUPERVISOR, ministry="health"))
    await page.get_by_role("link", name="Broadcasts", exact=True).click()
    await page.get_by_role("link", name="1 broadcast awaits approval").click()
    await expect(page).to_have_url(re.compile(r"#/broadcasts\?state=awaiting_approval$"))
    await expect(page.locator("#list-state option:checked")).to_have_text("awaiting approval")
    await expect(page.locator("#broadcasts tr")).to_have_count(1)
    await page.locator("#broadcasts").get_by_role("link", name=str(created["id"])).click()
    await expect(page.get_by_role("alert")).to_be_hidden()
    await approve.click()
    await expect(approve).to_be_hidden()
    await expect(field("state")).not_to_have_text("awaiting approval")
    await expect(field("state")).to_have_text("done", timeout=WAIT_MS)
    await expect(field("audience")).to_have_text(str(len(members)))
    await expect(field("delivered")).to_have_text(str(len(members)), timeout=WAIT_MS)
    await console.shot("approved")
    assert set(sent_to(simulator)) == set(members)
    assert [p for p in console.problems if p.startswith("403: POST")] == [
        f"403: POST {console.url.removesuffix('/console/')}{BROADCASTS}/{created['id']}/approve"
    ]
    assert [p for p in console.problems if "403" not in p] == []


async def test_the_broadcasts_list_goes_back_a_page_at_a_time_and_filters_by_state(
    console: Console, client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    later = (datetime.now(BELIZE) + timedelta(days=3)).replace(tzinfo=None).isoformat()
    ids = [
        (await create(client, admin, service="HEALTH", texts={"en": f"Notice {n}"},
                      send_at=later))["id"]
        for n in range(53)
    ]  # fmt: skip
    await (await client.post(f"{BROADCASTS}/{ids[0]}/cancel", headers=admin)).text()
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    await page.get_by_role("link", name="Broadcasts", exact=True).click()
    rows = page.locator("#broadcasts tr td:first-child")
    await expect(rows).to_have_count(50)
    await expect(rows.first).to_have_text(str(ids[-1]))  # the newest first
    await expect(page.get_by_role("link", name="Newest broadcasts")).to_be_hidden()
    await page.get_by_role("link", name="Older broadcasts").click()
    await expect(rows).to_have_text([str(i) for i in ids[2::-1]])
    await expect(page.get_by_role("link", name="Older broadcasts")).to_be_hidden()
    await page.get_by_role("link", name="Newest broadcasts").click()
    await expect(rows).to_have_count(50)

    await page.locator("#list-state").select_option("cancelled")
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(r"#/broadcasts\?state=cancelled$"))
    await expect(rows).to_have_text([str(ids[0])])
    await page.locator("#list-state").select_option("sending")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_text("No broadcast matches.")).to_be_visible()
    await expect(page.get_by_text("awaits approval")).to_be_hidden()  # an officer approves none
    await console.accessible()
    assert console.problems == []


async def test_a_supervisor_cannot_approve_their_own_broadcast(
    console: Console, client: Client, gateway: Gateway
) -> None:
    await add_service(gateway, requires_approval=True)
    supervisor = await secret(gateway, Role.SUPERVISOR, ministry="health")
    author = {"Authorization": f"Bearer {supervisor}"}
    created = await create(client, author, service="HEALTH", texts={"en": "Clinic open."})
    page = console.page
    await console.log_in(supervisor)
    await console.open(f"#/broadcasts/{created['id']}")
    await page.get_by_role("button", name="Approve broadcast").click()
    await expect(page.get_by_role("alert")).to_have_text("a second person must approve a broadcast")
    await expect(page.locator('#broadcast [data-field="state"]')).to_have_text("awaiting approval")
    await expect(page.get_by_role("button", name="Approve broadcast")).to_be_visible()
    assert [p for p in console.problems if "403" not in p] == []


async def test_a_double_click_on_send_creates_one_broadcast(
    console: Console, gateway: Gateway, client: Client, simulator: Simulator
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 4))
    page = console.page
    keys: list[str | None] = []
    page.on(
        "request",
        lambda request: (
            keys.append(request.headers.get("idempotency-key"))
            if request.method == "POST" and request.url.endswith("/api/v1/broadcasts")
            else None
        ),
    )
    await console.log_in(await person(gateway, Role.OFFICER, ministry="health"))
    await page.get_by_label("English (en) text").fill("Clinics open Saturday.")
    await page.get_by_role("button", name="Send broadcast").dblclick()
    await expect(page.locator("#created")).to_have_text(re.compile(r"^Created for 4 subscribers"))
    admin = {"Authorization": f"Bearer {await secret(gateway, Role.ADMIN)}"}
    listed = await (await client.get(BROADCASTS, headers=admin)).json()
    assert len(listed["broadcasts"]) == 1
    assert keys
    assert all(key and len(key) == 32 for key in keys)  # each send carries the composition's key
    assert len(set(keys)) == 1
    assert console.problems == []
