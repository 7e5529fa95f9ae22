"""A broadcast's delivery report as figures (GET /api/v1/broadcasts/{id}/report), end to end:
a broadcast to three subscribers in two languages and districts goes out over SMPP to the
simulator, which refuses one number; each breakdown adds up to the broadcast's own figures and
to its CSV rows, scoped to the ministry, and 410 once retention deleted the rows. On both
stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from channels.simulator import Simulator
from channels.smpp.codec import Status
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from subscriptions.models import Source
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import BROADCASTS, create, numbers, seed, wait_state
from tests.smsgw.testbed import BOTH_BACKENDS, Client, bearer

pytestmark = BOTH_BACKENDS


async def breakdown(client: Client, headers: dict[str, str], broadcast_id: object) -> Any:
    response = await client.get(f"{BROADCASTS}/{broadcast_id}/report", headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.fixture
async def sent(client: Client, gateway: Gateway, simulator: Simulator) -> int:
    """A HEALTH broadcast, done, to two subscribers of Toledo (English) and one who never said
    their district (Spanish); the first submit refused as a bad number. Its id."""
    await add_service(gateway)
    english, spanish = numbers("+50160", 2), numbers("+50161", 1)
    await gateway.store.subscriptions.join_many(
        [(number, None) for number in english], "HEALTH", at=datetime.now(UTC),
        source=Source.IMPORT, consent="test list", districts=dict.fromkeys(english, "Toledo"),
    )  # fmt: skip
    await seed(gateway, "HEALTH", spanish, language="es")
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    simulator.reply_next(Status.ESME_RINVDSTADR)
    created = await create(client, officer, service="HEALTH",
                           texts={"en": "Clinic hours.", "es": "Horas de clínica."})  # fmt: skip
    await wait_state(client, officer, created["id"], state="done", delivered=2, failed=1)
    return int(created["id"])


def _rows(breakdowns: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    assert all(row["recipients"] == sum(row["by_state"].values()) for row in breakdowns)
    return {row["name"]: row["by_state"] for row in breakdowns}


async def test_each_breakdown_adds_up_to_the_broadcast_and_its_rows(
    client: Client, gateway: Gateway, sent: int
) -> None:
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    report = await breakdown(client, officer, sent)
    view = await (await client.get(f"{BROADCASTS}/{sent}", headers=officer)).json()

    assert report["broadcast"] == sent
    assert report["recipients"] == view["audience"] == 3
    assert report["by_state"] == view["by_state"] == {"delivered": 2, "rejected": 1}
    assert list(report["by_state"]) == ["delivered", "rejected"]  # the most first
    assert _rows(report["by_carrier"]) == {"btl": {"delivered": 2, "rejected": 1}}
    languages = _rows(report["by_language"])
    assert sum(sum(states.values()) for states in languages.values()) == 3
    assert languages["es"] in ({"delivered": 1}, {"rejected": 1})  # whichever went first
    districts = _rows(report["by_district"])
    assert set(districts) == {"Toledo", "none"}
    assert sum(districts["Toledo"].values()) == 2
    assert _rows(report["by_error"]) == {"ESME_RINVDSTADR": {"rejected": 1}}  # errors only


async def test_not_yet_sent_it_has_no_rows_and_other_ministries_or_roles_are_refused(
    client: Client, gateway: Gateway, sent: int
) -> None:
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    later = await create(client, officer, service="HEALTH", texts={"en": "Clinic hours."},
                         send_at="2099-01-01T00:00:00Z")  # fmt: skip
    assert await breakdown(client, officer, later["id"]) == {
        "broadcast": later["id"], "recipients": 0, "by_state": {}, "by_carrier": [],
        "by_language": [], "by_district": [], "by_error": [],
    }  # fmt: skip
    education = await bearer(gateway, Role.OFFICER, ministry="education")
    admin = await bearer(gateway, Role.ADMIN)
    for headers, which in ((education, sent), (admin, 999), (admin, "x")):
        response = await client.get(f"{BROADCASTS}/{which}/report", headers=headers)
        assert response.status == 404, await response.text()
    for role in (Role.OPERATOR, Role.ALERTING):
        headers = await bearer(gateway, role)
        response = await client.get(f"{BROADCASTS}/{sent}/report", headers=headers)
        assert response.status == 403


async def test_once_retention_deleted_the_rows_the_breakdowns_are_gone(
    client: Client, gateway: Gateway, sent: int
) -> None:
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    retention = gateway.store.retention
    assert await retention.summarise_broadcast(datetime.now(UTC) + timedelta(days=1)) == sent
    await retention.purge_outbox(limit=100)
    response = await client.get(f"{BROADCASTS}/{sent}/report", headers=officer)
    assert response.status == 410, await response.text()
    assert (await response.json())["error"]["code"] == "gone"
