"""An admin's API tokens and audit log: issue a token (its secret shown once, copied), revoke it,
and find both in the audit log filtered by action, by who and by day."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.async_api import Dialog, expect

from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person
from tests.smsgw.testbed import Client

ME = "/api/v1/me"
BELIZE = ZoneInfo("America/Belize")  # the test config's gateway.timezone
SHORT = re.compile(r"^\d+/\d+/\d\d, \d+:\d\d\s[AP]M CST$")  # a time, short, on the gateway's clock


async def test_an_admin_issues_a_token_revokes_it_and_finds_both_in_the_audit_log(
    console: Console, gateway: Gateway, client: Client
) -> None:
    page = console.page
    await console.log_in(await person(gateway, Role.ADMIN))
    await page.get_by_role("link", name="Tokens").click()
    await expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    await expect(page.locator("#tokens-empty")).to_be_visible()

    form = page.locator("#token-issue")
    await form.get_by_label("For (a person or a system)").fill("NOC wall")
    await form.get_by_label("Role").select_option("operator")
    await expect(form.get_by_label("Ministry")).to_be_disabled()  # a national role
    await form.get_by_label("Expires after (days)").fill("30")
    await form.get_by_role("button", name="Issue token").click()
    shown = page.locator("#token-secret")
    await expect(shown.get_by_role("heading", name="Copy the secret now")).to_be_focused()
    await expect(shown).to_contain_text("You will not see it again")
    secret = await page.locator("#token-secret-text").text_content()
    assert secret
    assert secret.startswith("smsgw_")
    [token] = await gateway.store.tokens.tokens()
    done = page.locator("#tokens-done")
    await expect(done).to_have_text(f"Token {token.id} issued for NOC wall.")
    row = page.locator(f'#token-rows tr[data-id="{token.id}"]')
    me = await client.get(ME, headers={"Authorization": f"Bearer {secret}"})
    assert (await me.json())["person"] == "NOC wall"  # it works at once
    await gateway.token_usage.flush()  # the minute's uses, written now

    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await shown.get_by_role("button", name="Copy the secret").click()
    await expect(page.locator("#token-copied")).to_have_text("Copied.")
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    listed: list[str | re.Pattern[str]] = [
        "NOC wall", "operator", "—", SHORT, SHORT, "active", "not yet"  # its use: not listed yet
    ]  # fmt: skip
    await expect(row.locator("td")).to_have_text([*listed, token.id, "Revoke"])
    await console.accessible()
    await console.shot("tokens-issued")

    await page.reload()  # shown once: gone with the page
    await expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    await expect(row).to_be_visible()
    await expect(shown).to_be_hidden()
    assert secret not in await page.content()
    await expect(row.locator("td").nth(6)).to_have_text(SHORT)  # its use, since

    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        asyncio.get_running_loop().create_task(dialog.accept())

    page.once("dialog", accept)
    await row.get_by_role("button", name=f"Revoke the token of NOC wall ({token.id})").click()
    await expect(page.locator("#tokens-done")).to_have_text(
        f"The token of NOC wall ({token.id}) is revoked: it no longer works."
    )
    assert asked == [
        f"Revoke the token of NOC wall ({token.id})? Whatever uses it stops working at once."
    ]
    await expect(row.locator("td").nth(5)).to_have_text(re.compile(r"^revoked \d+/"))
    await expect(row.get_by_role("button")).to_have_count(0)
    assert (await client.get(ME, headers={"Authorization": f"Bearer {secret}"})).status == 401

    await page.get_by_role("link", name="Audit").click()
    await expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    filters = page.locator("#audit-filters")
    entries = page.locator("#audit-rows tr")
    for action, words in (("token_issued", "token issued"), ("token_revoked", "token revoked")):
        await filters.get_by_label("Action").select_option(action)
        await filters.get_by_role("button", name="Show").click()
        await expect(page).to_have_url(re.compile(f"#/audit\\?action={action}$"))
        await expect(entries).to_have_count(1)
        entry: list[str | re.Pattern[str]] = [SHORT, "Ada Admin", "admin", words, token.id]
        await expect(entries.first.locator("td")).to_have_text([*entry, re.compile(".")])
    await expect(entries.first.locator("td").last).to_have_text("—")  # a revocation: no more
    await filters.get_by_label("Action").select_option("token_issued")
    await filters.get_by_role("button", name="Show").click()
    await expect(entries.first.locator("td").last).to_contain_text("role: operator")

    # who, what and when together: both, the newest first
    today = datetime.now(BELIZE).date().isoformat()
    await filters.get_by_label("Action").select_option("")
    await filters.get_by_label("Who").fill("ada admin")
    await filters.get_by_label("Done to").fill(token.id)
    await filters.get_by_label("From", exact=True).fill(today)
    await filters.get_by_label("To", exact=True).fill(today)
    await filters.get_by_role("button", name="Show").click()
    await expect(entries.locator("td:nth-child(4)")).to_have_text(["token revoked", "token issued"])
    await expect(page.locator("#audit-days-hint")).to_have_text(
        "Days on the gateway's clock (America/Belize), both included."
    )
    await console.accessible()
    await console.shot("audit-filtered")
    assert console.problems == []
