"""A broadcast's per-recipient report, end to end: a broadcast to three subscribers goes out
over SMPP to the simulator, which refuses one number; the CSV the HTTP API streams has one row
per recipient as the simulator and the broadcast's figures tell it, numbers masked for
officers, scoped to the ministry, and 410 once retention deleted the rows. On both stores."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from channels.simulator import Simulator
from channels.smpp.codec import Status
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from smsgw.logging import mask_number
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import BROADCASTS, create, numbers, seed, wait_state
from tests.smsgw.testbed import BOTH_BACKENDS, Client, bearer

pytestmark = BOTH_BACKENDS

HEADER = ["msisdn", "language", "carrier", "state", "error", "submitted_at", "done_at"]


async def report(client: Client, headers: dict[str, str], broadcast_id: object) -> list[list[str]]:
    response = await client.get(f"{BROADCASTS}/{broadcast_id}/report.csv", headers=headers)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="broadcast-{broadcast_id}.csv"'
    return list(csv.reader(io.StringIO(await response.text(), newline="")))


def iso_utc(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


@pytest.fixture
async def sent(client: Client, gateway: Gateway, simulator: Simulator) -> tuple[int, str]:
    """A HEALTH broadcast to three subscribers (one in Spanish), done: the first submit
    refused as a bad number. (its id, the refused number)"""
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 2))
    await seed(gateway, "HEALTH", numbers("+50161", 1), language="es")
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    simulator.reply_next(Status.ESME_RINVDSTADR)
    created = await create(client, officer, service="HEALTH",
                           texts={"en": "Clinic hours.", "es": "Horas de clínica."})  # fmt: skip
    await wait_state(client, officer, created["id"], state="done", delivered=2, failed=1)
    [refused] = [s for s in simulator.submits if s.status == Status.ESME_RINVDSTADR]
    return created["id"], "+" + refused.destination_addr


async def test_the_report_has_one_row_per_recipient_as_it_went(
    client: Client, gateway: Gateway, sent: tuple[int, str]
) -> None:
    broadcast_id, refused = sent
    admin = await bearer(gateway, Role.ADMIN)
    header, *rows = await report(client, admin, broadcast_id)
    assert header == HEADER
    by_number = {row[0]: dict(zip(HEADER, row, strict=True)) for row in rows}
    assert len(by_number) == len(rows) == 3
    assert set(by_number) == {*numbers("+50160", 2), *numbers("+50161", 1)}
    view = await (await client.get(f"{BROADCASTS}/{broadcast_id}", headers=admin)).json()
    assert Counter(row["state"] for row in by_number.values()) == view["by_state"]
    assert by_number[numbers("+50161", 1)[0]]["language"] == "es"
    assert {row["carrier"] for row in by_number.values()} == {"btl"}

    failed = by_number[refused]
    # refused at the submit: never accepted, no receipt (the outbox keeps no time for it)
    assert (failed["state"], failed["error"], failed["submitted_at"], failed["done_at"]) == (
        "rejected",
        "ESME_RINVDSTADR",
        "",
        "",
    )
    for number, row in by_number.items():
        if number != refused:
            assert (row["state"], row["error"]) == ("delivered", "")
            submitted, done = iso_utc(row["submitted_at"]), iso_utc(row["done_at"])
            assert timedelta(0) <= done - submitted < timedelta(seconds=10)
            assert abs(datetime.now(UTC) - done) < timedelta(minutes=1)


async def test_officers_get_numbers_masked_and_supervisors_whole(
    client: Client, gateway: Gateway, sent: tuple[int, str]
) -> None:
    broadcast_id, _ = sent
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    masked = [row[0] for row in (await report(client, officer, broadcast_id))[1:]]
    everyone = [*numbers("+50160", 2), *numbers("+50161", 1)]
    assert sorted(masked) == sorted(mask_number(n) for n in everyone)
    assert not set(masked) & set(everyone)
    supervisor = await bearer(gateway, Role.SUPERVISOR, ministry="health")
    whole = [row[0] for row in (await report(client, supervisor, broadcast_id))[1:]]
    assert sorted(whole) == sorted(everyone)


async def test_another_ministry_and_unknown_ids_are_404_and_other_roles_403(
    client: Client, gateway: Gateway, sent: tuple[int, str]
) -> None:
    broadcast_id, _ = sent
    education = await bearer(gateway, Role.OFFICER, ministry="education")
    admin = await bearer(gateway, Role.ADMIN)
    for headers, which in ((education, broadcast_id), (admin, 999), (admin, "x")):
        response = await client.get(f"{BROADCASTS}/{which}/report.csv", headers=headers)
        assert response.status == 404, await response.text()
        assert "+5016" not in await response.text()
    for role in (Role.OPERATOR, Role.ALERTING):
        response = await client.get(
            f"{BROADCASTS}/{broadcast_id}/report.csv", headers=await bearer(gateway, role)
        )
        assert response.status == 403


async def test_a_broadcast_not_yet_sent_has_the_header_alone(
    client: Client, gateway: Gateway
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 2))
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    later = await create(client, officer, service="HEALTH", texts={"en": "Clinic hours."},
                         send_at="2099-01-01T00:00:00Z")  # fmt: skip
    assert await report(client, officer, later["id"]) == [HEADER]


async def test_once_retention_deleted_the_rows_the_report_is_gone(
    client: Client, gateway: Gateway, sent: tuple[int, str]
) -> None:
    broadcast_id, _ = sent
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    retention = gateway.store.retention
    assert await retention.summarise_broadcast(datetime.now(UTC) + timedelta(days=1)) == (
        broadcast_id
    )
    await retention.purge_outbox(limit=100)
    response = await client.get(f"{BROADCASTS}/{broadcast_id}/report.csv", headers=officer)
    assert response.status == 410, await response.text()
    error = (await response.json())["error"]
    assert error["code"] == "gone"
    assert "outbox_days" in error["message"]
    view = await client.get(f"{BROADCASTS}/{broadcast_id}", headers=officer)
    assert (await view.json())["delivered"] == 2  # its figures are kept
