"""Browser tests: the console in Debian's headless Chromium, driven by Playwright, against the
whole gateway on the SMSC simulator (the fixtures of tests/smsgw, imported here)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
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
def _function_scoped_runner(_module_scoped_runner: asyncio.Runner) -> asyncio.Runner:
    """Here a test, and each of its async fixtures, runs on its module's event loop instead of
    a new one: pytest-asyncio takes a test's loop from this fixture (its own makes a loop a
    test). Playwright's objects belong to the loop that made them, so one Chromium a module
    needs one loop a module; a launch costs ~0.8 s on an idle machine, 2-3 s on a busy one.
    Overriding pytest-asyncio's (private) fixture keeps the fixtures of tests/smsgw, shared with
    tests on loops of their own, as they are; a pytest-asyncio without it fails every test here
    (the browser on another loop), never passes them on a weaker footing."""
    return _module_scoped_runner


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, launched once a module (through Playwright)."""
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
async def browser(chromium: Browser) -> AsyncIterator[Browser]:
    """The module's Chromium, as if the test's own: every context (a browser profile: cookies,
    storage, cache) the test opened is closed after it, and each test opens its own."""
    yield chromium
    for context in chromium.contexts:
        await context.close()


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
