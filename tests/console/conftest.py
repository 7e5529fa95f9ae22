"""Browser tests: the console in Debian's headless Chromium, driven by Playwright, against the
whole gateway on the SMSC simulator (the fixtures of tests/smsgw, imported here)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from smsgw.app import Gateway
from smsgw.demo_catalogue import DEMO_SERVICES
from tests.console.browser import CHROMIUM, Console
from tests.smsgw.conftest import (  # noqa: F401  # fixtures, found by name
    admin,
    backend,
    client,
    gateway,
    settings,
    simulator,
    write_config,
)
from tests.smsgw.testbed import Client


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():  # never skipped: `make test` installs it
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it, or run "
            "`apt-get update && apt-get install -y --no-install-recommends chromium`"
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        await browser.close()


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    """Where screenshots go: $SMSGW_ARTEFACTS when set (to keep them), else tmp_path."""
    folder = Path(os.environ.get("SMSGW_ARTEFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def console(
    browser: Browser,
    client: Client,  # noqa: F811  # the fixture imported above, asked for by name
    artefacts: Path,
) -> AsyncIterator[Console]:
    """A desktop-sized tab on the console, watching for errors."""
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    yield Console.watching(await context.new_page(), str(client.make_url("/console/")), artefacts)
    await context.close()


@pytest.fixture
async def catalogue(gateway: Gateway) -> None:  # noqa: F811  # the fixture imported above
    """The demo's services (HEALTH of the ministry health, WEATHER of met, ...)."""
    for service in DEMO_SERVICES:
        await gateway.store.catalogue.add_service(service)
    await gateway.catalogue_changed()
