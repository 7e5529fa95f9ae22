"""A finished broadcast's delivery report, reached from its page: each breakdown (state,
carrier, language, district, error) as the API counts it, and the CSV downloaded, by a person
(the link and its session cookie) and by a tab logged in with a token (fetched with it)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from playwright.async_api import Page, expect

from channels.simulator import Simulator
from channels.smpp.codec import Status
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from smsgw.logging import mask_number
from subscriptions.models import Source
from tests.console.browser import Console, person, secret
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import BROADCASTS, create, numbers, seed, wait_state
from tests.smsgw.testbed import Client

STATES = {"delivered": "delivered", "rejected": "rejected"}
NAMES = {"none": "never said", "en": "English (en)", "es": "Spanish (es)"}


def expected(report: dict[str, Any], field: str) -> list[list[str]]:
    """A breakdown's table as the console should draw it from the API's answer."""
    states = list(report["by_state"])
    return [
        [NAMES.get(row["name"], row["name"]), str(row["recipients"]),
         *(str(row["by_state"].get(state, 0)) for state in states)]
        for row in report[field]
    ]  # fmt: skip


async def table(page: Page, field: str) -> list[list[str]]:
    rows = page.locator(f"#report-{field} tbody tr")
    return [await row.locator("th, td").all_text_contents() for row in await rows.all()]


async def download(page: Page) -> list[list[str]]:
    async with page.expect_download() as started:
        await page.get_by_role("link", name="Download a row per recipient (CSV)").click()
    got = await started.value
    assert got.suggested_filename.startswith("broadcast-")
    path = await got.path()
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


async def test_a_finished_broadcasts_report_shows_its_breakdowns_and_downloads(
    console: Console, client: Client, gateway: Gateway, simulator: Simulator,
    admin: dict[str, str],
) -> None:  # fmt: skip
    await add_service(gateway)
    toledo, spanish = numbers("+50160", 2), numbers("+50161", 1)
    await gateway.store.subscriptions.join_many(
        [(number, None) for number in toledo], "HEALTH", at=datetime.now(UTC),
        source=Source.IMPORT, consent="test list", districts=dict.fromkeys(toledo, "Toledo"),
    )  # fmt: skip
    await seed(gateway, "HEALTH", spanish, language="es")
    simulator.reply_next(Status.ESME_RINVDSTADR)
    created = await create(client, admin, service="HEALTH",
                           texts={"en": "Clinic hours.", "es": "Horas de clínica."})  # fmt: skip
    broadcast = created["id"]
    await wait_state(client, admin, broadcast, state="done", delivered=2, failed=1)
    report = await (await client.get(f"{BROADCASTS}/{broadcast}/report", headers=admin)).json()
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    await console.open(f"#/broadcasts/{broadcast}")
    await page.get_by_role("link", name="Delivery report").click()
    await expect(
        page.get_by_role("heading", name=f"Delivery report of broadcast {broadcast}")
    ).to_be_visible()

    await expect(page.locator("#report-summary")).to_have_text(
        "3 recipients, counted below by state, carrier, language, district and error."
    )
    await expect(page.locator("#report-by_state tbody tr")).to_have_count(2)
    assert await table(page, "by_state") == [
        [STATES[state], str(n), f"{n / 3 * 100:.1f} %"] for state, n in report["by_state"].items()
    ]
    headers = page.locator("#report-by_carrier thead th")
    await expect(headers).to_have_text(["Carrier", "Recipients", "delivered", "rejected"])
    for field in ("by_carrier", "by_language", "by_district", "by_error"):
        assert await table(page, field) == expected(report, field), field
    assert await table(page, "by_error") == [["ESME_RINVDSTADR", "1", "0", "1"]]
    assert {row[0] for row in await table(page, "by_district")} == {"Toledo", "never said"}
    await console.accessible()
    await console.shot("broadcast-report")

    rows = await download(page)  # the link, with the person's session cookie
    assert rows[0][0] == "msisdn"
    assert sorted(row[0] for row in rows[1:]) == sorted(
        mask_number(n) for n in [*toledo, *spanish]
    )  # an officer's: masked
    await page.get_by_role("link", name="Back to the broadcast").click()
    await expect(page.get_by_role("heading", name=f"Broadcast {broadcast}")).to_be_visible()

    await console.log_out()
    await console.log_in(await secret(gateway, Role.SUPERVISOR))  # a bearer token: fetched
    await console.open(f"#/broadcasts/{broadcast}/report")
    await expect(page.locator("#report-download")).to_be_visible()
    rows = await download(page)
    assert sorted(row[0] for row in rows[1:]) == sorted([*toledo, *spanish])  # whole
    await expect(page.locator("#report-csv-status")).to_have_text("Downloaded.")
    assert console.problems == []
