"""An admin's People: add a person (their password shown once), reset their password, change
their role, disable them; each as the API then holds it (the person's log-ins through the API's
test client)."""

from __future__ import annotations

import asyncio

from playwright.async_api import Dialog, expect

from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person
from tests.smsgw.api.people_testbed import log_in
from tests.smsgw.testbed import Client

ME = "/api/v1/me"


async def test_an_admin_adds_a_person_resets_their_password_and_disables_them(
    console: Console, gateway: Gateway, client: Client
) -> None:
    page = console.page
    await console.log_in(await person(gateway, Role.ADMIN))
    await page.get_by_role("link", name="People").click()
    await expect(page.get_by_role("heading", name="People")).to_be_visible()
    rows = page.locator("#people-rows tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("Ada Admin")

    add = page.locator("#person-add")
    await add.get_by_label("Name").fill("Ana Pérez")
    await add.get_by_label("Role").select_option("officer")
    await add.get_by_label("Ministry").fill("health")
    await add.get_by_role("button", name="Add person").click()
    await expect(rows).to_have_count(2)
    ana = rows.filter(has_text="Ana Pérez")
    await expect(ana.locator("td")).to_have_text(
        ["Ana Pérez", "officer", "health", "off", "active", "Change"]
    )
    shown = page.locator("#people-done code")
    await expect(page.locator("#people-done")).to_contain_text("Added Ana Pérez.")
    password = await shown.text_content()
    assert password
    await console.shot("people")
    assert (await log_in(client, "Ana Pérez", password)).status == 200  # the client's cookie

    await ana.get_by_role("button", name="Change Ana Pérez").click()
    edit = page.locator("#person-edit")
    await expect(edit.get_by_role("heading", name="Change Ana Pérez")).to_be_focused()
    accepted: list[str] = []

    def accept(dialog: Dialog) -> None:
        accepted.append(dialog.message)
        asyncio.get_running_loop().create_task(dialog.accept())

    page.once("dialog", accept)
    await edit.get_by_role("button", name="Reset password").click()
    await expect(page.locator("#people-done")).to_contain_text("New password for Ana Pérez")
    assert accepted == ["Give Ana Pérez a new password? Their sessions end."]
    renewed = await shown.text_content()
    assert renewed
    assert renewed != password
    assert (await client.get(ME)).status == 401  # her session ended with the reset
    assert (await log_in(client, "Ana Pérez", renewed)).status == 200

    await edit.get_by_label("Role").select_option("supervisor")
    await expect(edit.get_by_label("Ministry")).to_have_value("health")  # kept
    await edit.get_by_role("button", name="Save role and ministry").click()
    await expect(ana).to_contain_text("supervisor")
    await expect(ana.locator("td").nth(3)).to_have_text("to set up")  # a supervisor's must

    await edit.get_by_role("button", name="Disable").click()
    await expect(page.locator("#people-done")).to_have_text(
        "Ana Pérez is disabled: their sessions have ended."
    )
    await expect(ana).to_contain_text("disabled")
    await expect(edit.get_by_role("button", name="Enable")).to_be_visible()
    assert (await client.get(ME)).status == 401
    assert (await log_in(client, "Ana Pérez", renewed)).status == 401
    assert console.problems == []
