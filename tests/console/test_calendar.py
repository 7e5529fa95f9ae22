"""The calendar of broadcasts still to go: a scheduled one on its day at its time, with its
audience estimated, and one quiet hours hold back on the day they end, the hold explained; the
broadcasts list's "Send at"; an officer's navigation; a phone's width."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed, view
from tests.smsgw.testbed import Client

BELIZE = ZoneInfo("America/Belize")  # the test config's gateway.timezone
ES_DAYS = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]
ES_MONTHS = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
             "septiembre", "octubre", "noviembre", "diciembre"]  # fmt: skip
SIDEWAYS = "document.documentElement.scrollWidth > document.documentElement.clientWidth"


def _quiet_now() -> str:
    """A [broadcasts] table whose quiet hours are on now, on the gateway's clock."""
    now = datetime.now(BELIZE)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    return f'\n[broadcasts]\nquiet_hours = ["{start:%H:%M}", "{end:%H:%M}"]\n'


def _day(at: datetime) -> str:
    """A day as the console heads it (en-US): "Saturday, December 5, 2026"."""
    return f"{at:%A}, {at:%B} {at.day}, {at.year}"


@pytest.mark.parametrize("settings", [_quiet_now()], indirect=True, ids=["quiet-now"])
async def test_the_calendar_shows_what_is_scheduled_and_what_quiet_hours_hold(
    console: Console, client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    held = await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    send_at = (datetime.now(BELIZE) + timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    scheduled = await create(client, admin, service="HEALTH", texts={"en": "Vaccination day."},
                             send_at=send_at.isoformat())  # fmt: skip
    until = (await view(client, admin, held["id"]))["held_until"]
    assert until is not None
    ends = datetime.fromisoformat(until).astimezone(BELIZE)
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Messages", "Tokens", "Audit"):  # an admin's
        await expect(nav.get_by_role("link", name=name, exact=True)).to_be_hidden()
    await nav.get_by_role("link", name="Calendar").click()
    await expect(page.get_by_role("heading", name="Calendar", exact=True)).to_be_visible()

    days = page.locator("#calendar-days .day")
    await expect(days.locator("h2")).to_have_text([_day(ends), _day(send_at)])
    hold = days.first.locator(f'tr[data-id="{held["id"]}"] td')
    await expect(hold).to_have_text([
        f"{ends:%H:%M}", f"No. {held['id']}", "HEALTH", "normal", "queued", "about 3",
        f"Held until {ends:%H:%M} (America/Belize) by quiet hours: routine broadcasts wait"
        " them out.",
    ])  # fmt: skip
    later = days.last.locator(f'tr[data-id="{scheduled["id"]}"] td')
    await expect(later).to_have_text(
        ["10:00", f"No. {scheduled['id']}", "HEALTH", "normal", "scheduled", "about 3", ""]
    )
    await expect(page.locator("#calendar-hint")).to_contain_text("(America/Belize)")
    await console.accessible()
    await console.shot("calendar")
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(days).to_have_count(2)
    assert not await page.evaluate(SIDEWAYS)  # only a table's own box scrolls
    await console.shot("calendar-phone")
    await page.set_viewport_size({"width": 1100, "height": 900})

    await page.get_by_label("Language", exact=True).select_option("es")  # drawn again in it
    await expect(page.get_by_role("heading", name="Calendario", exact=True)).to_be_visible()
    await expect(hold.last).to_have_text(
        f"Retenida hasta las {ends:%H:%M} (America/Belize) por las horas de silencio: las"
        " difusiones ordinarias esperan a que terminen."
    )
    await expect(later.nth(4)).to_have_text("programada")
    await expect(days.last.locator("h2")).to_have_text(
        f"{ES_DAYS[send_at.weekday()]}, {send_at.day}"
        f" de {ES_MONTHS[send_at.month - 1]} de {send_at.year}"
    )
    await page.get_by_label("Idioma", exact=True).select_option("en")

    await later.get_by_role("link", name=f"No. {scheduled['id']}").click()
    await expect(page.get_by_role("heading", name=f"Broadcast {scheduled['id']}")).to_be_visible()
    await nav.get_by_role("link", name="Broadcasts").click()
    sends = page.locator('#broadcasts [data-field="send_at"]')
    await expect(sends).to_have_text([f"{send_at:%-m/%-d/%y}, 10:00 AM CST", "—"])
    assert console.problems == []
