"""The operator's view: binds from /healthz, throughput and queue depth from /metrics."""

from __future__ import annotations

import re

from playwright.async_api import expect

from smsgw.app import Gateway
from smsgw.tokens import Role
from tests.console.browser import Console, secret
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed
from tests.smsgw.testbed import Client


async def test_the_operator_sees_the_binds_and_the_throughput(
    console: Console, client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 30))
    page = console.page
    await console.log_in(await secret(gateway, Role.OPERATOR))
    await page.get_by_role("link", name="Operator").click()

    rows = page.get_by_role("row").filter(has_text="bound")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("btl-1")
    await expect(page.locator("#health-status")).to_have_text("ok")
    await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    # a rate needs two scrapes, 2 s apart; 30 submits fall between some two of them
    await expect(page.locator("#rate")).to_have_text(re.compile(r"peak [1-9]"), timeout=10_000)
    await expect(page.locator("#queued")).to_have_text("0")
    await console.shot("operator")
    assert console.problems == []
