"""The listings' filters the console's screens use: the audit log by who, target, action and
time (a day on the gateway's clock), and broadcasts by state. On both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from smsgw.access.audit import CLI, AuditAction, AuditEntry
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.smsgw.api.catalogue_testbed import add_service, error_of
from tests.smsgw.broadcast_testbed import BROADCASTS, create
from tests.smsgw.testbed import BOTH_BACKENDS, Client, bearer

pytestmark = BOTH_BACKENDS

AUDIT = "/api/v1/audit"
NOON = datetime(2026, 3, 1, 12, tzinfo=UTC)  # 06:00 in Belize, the test gateway's zone
ANA = "Ana Pérez"


async def _get(client: Client, path: str, headers: dict[str, str]) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_the_audit_log_is_filtered_by_who_what_target_and_day(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    day = timedelta(days=1)
    for entry in (
        AuditEntry(NOON, f"user:{ANA}", "officer", "health", AuditAction.BROADCAST_CREATED, "7",
                   person=ANA),
        AuditEntry(NOON + day, "tok-ada", "admin", None, AuditAction.TOKEN_ISSUED, "tok-noc",
                   person="Ada Admin"),
        AuditEntry(NOON + 2 * day, CLI, None, None, AuditAction.PERSON_CREATED, ANA),
        AuditEntry(NOON + 3 * day, f"user:{ANA}", "officer", "health",
                   AuditAction.BROADCAST_CANCELLED, "7", person=ANA),
    ):  # fmt: skip
        await gateway.store.audit.audit(entry)

    async def found(query: str) -> list[tuple[str, str | None]]:
        entries = (await _get(client, f"{AUDIT}?{query}", admin))["entries"]
        return [(e["action"], e["target"]) for e in entries]

    assert await found(f"by={ANA}") == [("broadcast_cancelled", "7"), ("broadcast_created", "7")]
    assert await found("by=ada%20ADMIN") == [("token_issued", "tok-noc")]  # any case
    assert await found("by=tok-ada") == [("token_issued", "tok-noc")]  # the actor
    assert await found("by=cli") == [("person_created", ANA)]
    assert await found(f"target={ANA}") == [("person_created", ANA)]
    assert await found("target=7&action=broadcast_created") == [("broadcast_created", "7")]
    # days on the gateway's clock: 2 and 3 March in Belize; the 4th's 06:00 is after them
    assert await found("since=2026-03-02&until=2026-03-04") == [
        ("person_created", ANA),
        ("token_issued", "tok-noc"),
    ]
    assert await found("since=2026-03-02T12:00:00Z&until=2026-03-02T12:00:00.000001Z") == [
        ("token_issued", "tok-noc")
    ]  # since: at or after; until: before
    newest = (await _get(client, f"{AUDIT}?by={ANA}&limit=1", admin))["entries"]
    older = await found(f"by={ANA}&before={newest[0]['id']}")
    assert older == [("broadcast_created", "7")]  # paged within the filter
    for bad in ("since=x", "until=9999-12-31T23:59:59", "by=", "target=" + "x" * 201):
        await error_of(await client.get(f"{AUDIT}?{bad}", headers=admin), 400)


async def test_broadcasts_are_listed_by_state(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    later = "2099-01-01T00:00:00Z"
    kept = await create(client, officer, service="HEALTH", texts={"en": "One."}, send_at=later)
    dropped = await create(client, officer, service="HEALTH", texts={"en": "Two."}, send_at=later)
    cancelled = await client.post(f"{BROADCASTS}/{dropped['id']}/cancel", headers=officer)
    assert cancelled.status == 200, await cancelled.text()

    async def ids(query: str, headers: dict[str, str]) -> list[int]:
        found = await _get(client, f"{BROADCASTS}?{query}", headers)
        return [broadcast["id"] for broadcast in found["broadcasts"]]

    assert await ids("state=scheduled", officer) == [kept["id"]]
    assert await ids("state=scheduled,cancelled", admin) == [dropped["id"], kept["id"]]
    assert await ids("state=awaiting_approval,queued", admin) == []
    assert await ids(f"state=scheduled&before={kept['id']}", admin) == []
    education = await bearer(gateway, Role.OFFICER, ministry="education")
    assert await ids("state=scheduled", education) == []  # another ministry's stay unseen
    for bad in ("state=", "state=soon", "state=scheduled,"):
        error = await error_of(await client.get(f"{BROADCASTS}?{bad}", headers=admin), 400)
        assert error["field"] == "state"
