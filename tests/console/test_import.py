"""Import: an officer picks a CSV file, sees its first rows and its row count, imports it in
chunks (three rows each here, so the file takes three requests) and gets the report of every
row by its line in the whole file, in the page and as a CSV download."""

from __future__ import annotations

import csv

from playwright.async_api import FilePayload, expect

from smsgw.access.audit import AuditAction
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.console.browser import Console, person

LINES = [
    "msisdn,language,district",  # 1
    "+5016000001,en,",  # 2
    "12ab,,",  # 3: not a number
    "+5016000002,es,Toledo",  # 4
    "",  # 5: blank, not a row
    "+5016000001,,",  # 6: line 2's number again
    "+5016000003,fr,",  # 7: no such language
    "+5016000004,,Atlantis",  # 8: no such district
    "+5016000005,,",  # 9
    "601-0006,es,",  # 10: a local number
]
CSV = ("\r\n".join(LINES) + "\r\n").encode()  # as a spreadsheet writes it


async def test_an_officer_imports_a_file_in_chunks_and_downloads_the_report(
    console: Console, gateway: Gateway, catalogue: None
) -> None:
    page = console.page
    officer = await person(gateway, Role.OFFICER, ministry="health")
    await console.log_in(officer)
    await page.get_by_role("link", name="Import").click()
    await expect(page.get_by_role("heading", name="Import subscribers")).to_be_focused()
    await page.evaluate("document.querySelector('#import').dataset.chunkRows = '3'")
    form = page.locator("#import-form")
    await expect(form.get_by_label("Service").locator("option")).to_have_text(
        ["HEALTH · Health alerts"]  # their ministry's only
    )
    await form.get_by_label("Consent source").fill("health-fair-2026:forms")
    fair = FilePayload(name="fair.csv", mimeType="text/csv", buffer=CSV)
    await form.get_by_label("CSV file").set_input_files(files=[fair])
    await expect(page.locator("#import-count")).to_have_text("fair.csv: 8 rows.")
    preview = page.locator("#import-preview-table")
    await expect(preview.locator("thead th")).to_have_text(
        ["Line", "msisdn", "language", "district"]
    )
    await expect(preview.locator("tbody th")).to_have_text(["2", "3", "4", "6", "7"])

    await form.get_by_role("button", name="Import").click()
    await expect(page.locator("#import-done")).to_have_text("Import finished: 8 rows read.")
    await expect(page.locator("#import-progress-text")).to_have_text("8 of 8 rows imported")
    await expect(page.locator("#import-progress")).to_have_attribute(
        "aria-valuetext", "8 of 8 rows imported"
    )
    await expect(page.get_by_role("heading", name="Report")).to_be_focused()
    facts = {"#import-rows": "8", "#import-joined": "4", "#import-already": "1",
             "#import-skipped": "0", "#import-rejected": "3", "#import-repeated": "1"}  # fmt: skip
    for selector, value in facts.items():
        await expect(page.locator(selector)).to_have_text(value)
    rejected = page.locator("#import-rejected-table tbody tr")
    await expect(rejected.locator("th")).to_have_text(["3", "7", "8"])  # the whole file's
    await expect(rejected.nth(0).locator("td")).to_have_text(
        ["msisdn", "12ab", "'12ab' is not a valid phone number: it is not a phone number"]
    )
    await expect(rejected.nth(1).locator("td").first).to_have_text("language")
    await expect(rejected.nth(2).locator("td").nth(1)).to_have_text("Atlantis")
    repeated = page.locator("#import-repeated-table tbody tr")
    await expect(repeated.locator("th, td")).to_have_text(
        ["6", "+5016000001", "the same number as line 2"]
    )
    await console.accessible(include="#import")
    await console.shot("import-report")

    async with page.expect_download() as started:
        await page.get_by_role("button", name="Download the report (CSV)").click()
    download = await started.value
    assert download.suggested_filename == "import-report-health.csv"
    path = await download.path()
    with path.open(encoding="utf-8", newline="") as report:
        rows = list(csv.reader(report))
    reasons = [await cell.text_content() for cell in await rejected.locator("td:last-child").all()]
    assert rows == [
        ["line", "msisdn", "outcome", "column", "reason"],
        ["2", "+5016000001", "accepted", "", ""],
        ["3", "12ab", "rejected", "msisdn", reasons[0]],
        ["4", "+5016000002", "accepted", "", ""],
        ["6", "+5016000001", "repeated", "msisdn", "the same number as line 2"],
        ["7", "+5016000003", "rejected", "language", reasons[1]],
        ["8", "+5016000004", "rejected", "district", reasons[2]],
        ["9", "+5016000005", "accepted", "", ""],
        ["10", "601-0006", "accepted", "", ""],
    ]

    joined = {number: [s.service for s in await gateway.store.subscriptions.subscriptions(number)]
              for number in ("+5016000001", "+5016000002", "+5016000005", "+5016010006",
                             "+5016000003")}  # fmt: skip
    assert joined == {"+5016000001": ["HEALTH"], "+5016000002": ["HEALTH"],
                      "+5016000005": ["HEALTH"], "+5016010006": ["HEALTH"],
                      "+5016000003": []}  # fmt: skip
    imports = await gateway.store.audit.audit_entries(
        before=None, limit=10, action=AuditAction.SUBSCRIBERS_IMPORTED
    )
    assert [e.detail["rows"] for e in reversed(imports)] == [3, 3, 2]  # one a chunk
    assert console.problems == []

    await page.locator("#language").select_option("es")  # the report stays, in Spanish
    await expect(page.get_by_role("heading", name="Importar suscriptores")).to_be_visible()
    await expect(page.locator("#import-rejected-table thead th").first).to_have_text("Línea")
    await expect(rejected.locator("th")).to_have_text(["3", "7", "8"])
    await expect(repeated.locator("td").last).to_have_text("el mismo número que la línea 2")
    assert console.problems == []

    # each chunk's welcome SMS went as a broadcast: said so, not taken for an officer's
    await page.get_by_role("link", name="Difusiones", exact=True).click()
    services = page.locator('#broadcasts [data-field="service"]')
    stored = await gateway.store.broadcasts.broadcasts(ministry=None, before=None, limit=10)
    assert len(stored) == 2  # a chunk that signed nobody new up has nobody to welcome
    assert all(broadcast.joined_at for broadcast in stored)
    await expect(services).to_have_text(["HEALTH · confirmaciones de inscripción"] * 2)
    await page.locator("#broadcasts a").first.click()
    await expect(page.locator("#broadcast-confirmations")).to_contain_text(
        "Las confirmaciones de una importación: un SMS a cada número que inscribió"
    )

    # the report stays while the officer is logged in, and goes with them
    await page.get_by_role("link", name="Importar", exact=True).click()
    await expect(page.locator("#import-report")).to_be_visible()
    await page.locator("#language").select_option("en")
    await console.log_out()
    await console.log_in(officer)
    await page.get_by_role("link", name="Import", exact=True).click()
    await expect(page.locator("#import-report")).to_be_hidden()
    await expect(page.locator("#import-preview")).to_be_hidden()
    assert console.problems == []
