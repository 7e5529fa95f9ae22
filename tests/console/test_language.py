"""The console in English or Spanish: picked in the header, remembered by the browser."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Locator, Page, expect

from channels.simulator import Simulator
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person
from tests.smsgw.broadcast_testbed import numbers, seed, view
from tests.smsgw.test_citizens import texts
from tests.smsgw.testbed import Client

WAIT_MS = 15_000  # the pages poll every 2 s
BELIZE = ZoneInfo("America/Belize")  # the test config's gateway.timezone


async def test_a_person_picks_spanish_and_the_browser_remembers_it(
    console: Console, gateway: Gateway, catalogue: None
) -> None:
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.get_by_label("Language", exact=True).select_option("es")
    await expect(page.get_by_role("link", name="Nueva difusión")).to_be_visible()
    await expect(page.locator("html")).to_have_attribute("lang", "es")
    await expect(page.get_by_role("navigation")).to_have_attribute("aria-label", "Principal")
    await page.reload()
    await expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    await expect(page.get_by_label("Idioma", exact=True)).to_have_value("es")
    await page.get_by_label("Idioma", exact=True).select_option("en")
    await expect(page.get_by_role("link", name="New broadcast")).to_be_visible()
    assert console.problems == []


async def test_a_browser_in_spanish_opens_the_console_in_spanish(
    browser: Browser, client: Client
) -> None:
    context = await browser.new_context(locale="es-BZ")
    page = await context.new_page()
    await page.goto(str(client.make_url("/console/")))
    await expect(page.get_by_label("Idioma", exact=True)).to_have_value("es")
    await expect(page.locator("html")).to_have_attribute("lang", "es")
    await expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
    await expect(page.get_by_label("Contraseña", exact=True)).to_be_visible()
    await expect(page).to_have_title("Iniciar sesión · smsgw")
    await context.close()


async def test_what_an_officer_typed_stays_when_the_language_changes(
    console: Console, gateway: Gateway, catalogue: None
) -> None:
    page = console.page
    await console.log_in(await person(gateway, Role.OFFICER))
    await page.locator("#panels textarea").first.fill("Clinic closed Friday.")
    await page.get_by_label("Language", exact=True).select_option("es")
    await expect(page.get_by_role("link", name="Nueva difusión")).to_be_visible()
    await expect(page.locator("#panels textarea").first).to_have_value("Clinic closed Friday.")
    assert console.problems == []


def spanish(at: str) -> re.Pattern[str]:
    """An API time as the console shows it in Spanish: day/month/year, a 24-hour clock, on the
    gateway's clock, its zone named."""
    local = datetime.fromisoformat(at).astimezone(BELIZE)
    return re.compile(
        rf"^{local.day}/{local.month}/{local.year}, 0?{local.hour}:{local:%M} America/Belize$"
    )


def field(page: Page, name: str) -> Locator:
    return page.locator(f'#broadcast [data-field="{name}"]')


async def test_an_officer_in_spanish_logs_in_sends_a_broadcast_and_answers_a_question(
    console: Console,
    gateway: Gateway,
    client: Client,
    simulator: Simulator,
    admin: dict[str, str],
    catalogue: None,
) -> None:
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    await texts(simulator, "ASK HEALTH Where is the clinic?", sender="+5016012345")
    officer = await person(gateway, Role.OFFICER)
    page = console.page
    await console.open()  # signed out: the log-in, in Spanish once picked
    await page.get_by_label("Language", exact=True).select_option("es")
    await expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
    await expect(page.get_by_text("Iniciar sesión con un token de API")).to_be_visible()
    form = page.locator("#login-form")
    await form.get_by_label("Nombre").fill(officer.name)
    await form.get_by_label("Contraseña").fill("not the password")
    await form.get_by_role("button", name="Iniciar sesión").click()
    await expect(page.get_by_role("alert")).to_have_text("nombre, contraseña o código incorrectos")
    await form.get_by_label("Contraseña").fill(officer.password)
    await form.get_by_role("button", name="Iniciar sesión").click()

    await expect(page.get_by_role("heading", name="Nueva difusión")).to_be_visible()
    await expect(page).to_have_title("Nueva difusión · smsgw")
    # a service by its name in the reader's language
    health = page.locator('#service option[value="HEALTH"]')
    await expect(health).to_have_text("HEALTH · Alertas de salud")
    english = page.get_by_label("Texto en inglés (en), obligatorio")
    await english.fill("Clinic open Saturday.")
    await expect(page.locator("#count-en")).to_have_text(
        "21 usados, quedan 139 · 1 SMS · GSM de 7 bits"
    )
    await page.get_by_role("tab", name="Español (es)").click()
    await page.get_by_label("Texto en español (es)").fill("Clínica abierta el sábado.")
    await expect(page.locator("#count-es")).to_have_text(re.compile(r"· Unicode \(UCS-2: í á\)$"))
    await expect(page.get_by_label("Normal")).to_be_checked()
    await page.get_by_role("button", name="Calcular destinatarios y costo").click()
    await expect(page.locator('#estimate [data-estimate="audience"]')).to_have_text(
        "3 suscriptores"
    )
    await console.accessible()
    await console.shot("composer-es")
    # a refusal the catalogue has no words for: the API's own, said to be in English
    await page.get_by_label("Enviar el").fill("2020-01-01T09:00")
    await page.get_by_role("button", name="Enviar difusión").click()
    await expect(page.locator("#compose-error")).to_have_text(
        "La pasarela respondió (en inglés): send_at is in the past"
    )
    await page.get_by_label("Enviar el").fill("")
    await page.get_by_role("button", name="Enviar difusión").click()

    await expect(page.get_by_role("heading", name="Difusión 1")).to_be_visible()
    await expect(page.locator("#created")).to_have_text(
        re.compile(r"^Creada para 3 suscriptores \(en cola\); SMS por mensaje: en 1, es 1; ")
    )
    await expect(field(page, "state")).to_have_text("terminada", timeout=WAIT_MS)
    await expect(field(page, "delivery_rate")).to_have_text(
        "100.0 % de 3 terminados", timeout=WAIT_MS
    )
    await expect(page.locator("#progress-text")).to_have_text("3 de 3 terminados")
    legend = page.get_by_role("list", name="Mensajes por resultado").get_by_role("listitem")
    await expect(legend).to_have_text(["3 entregados"])
    await expect(page.get_by_role("img", name="Avance de 3 mensajes: 3 entregados")).to_be_visible()
    await expect(field(page, "priority")).to_have_text("normal")
    stored = await view(client, admin, 1)
    await expect(field(page, "created_at")).to_have_text(spanish(stored["created_at"]))
    await expect(page.locator("#texts")).to_contain_text("Español · 1 SMS")
    await console.accessible()
    await console.shot("broadcast-es")

    await page.get_by_role("link", name="Difusiones").click()
    await expect(page.get_by_role("heading", name="Difusiones")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text="HEALTH")).to_contain_text("terminada")

    await page.get_by_role("link", name="Buzón").click()
    await expect(page.get_by_role("heading", name="Buzón")).to_be_visible()
    row = page.locator("#tickets tr")
    await expect(row).to_contain_text("abierta")
    await expect(page.get_by_label("Preguntas sobre").locator("option").first).to_have_text(
        "todos los servicios"
    )
    await console.accessible()
    await row.get_by_role("link", name="#1").click()
    await expect(page.get_by_role("heading", name="Pregunta #1")).to_be_focused()
    await expect(page.locator("#thread > li").first).to_contain_text("Ciudadano")
    await expect(page.locator('#ticket [data-ticket="language"]')).to_have_text("Inglés (en)")
    await expect(page.locator('#ticket [data-ticket="first_answer_at"]')).to_have_text("aún no")
    await page.get_by_label("Respuesta por SMS al ciudadano").fill("Saturday 8am to noon.")
    await page.get_by_role("button", name="Enviar respuesta").click()
    await expect(page.get_by_role("status").filter(has_text="Respuesta enviada")).to_be_visible()
    await expect(page.locator('#ticket [data-ticket="state"]')).to_have_text("respondida")
    answer = page.locator("#thread > li").nth(1)
    await expect(answer).to_contain_text(re.compile(r"Respuesta de .+ \(SMS\)"))
    await expect(answer).to_contain_text("envío: entregado", timeout=WAIT_MS)
    await console.accessible()
    await console.shot("ticket-es")
    # the wrong password's 401, the past send time's 400
    assert [p for p in console.problems if not any(s in p for s in ("401", "400"))] == []
