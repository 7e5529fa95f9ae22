"""A request id follows each HTTP request through the log, and comes back in the answer."""

from __future__ import annotations

import structlog
from structlog.testing import capture_logs

from smsgw.app import Gateway
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.testbed import Client


async def test_every_log_line_of_a_request_carries_its_id(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    body = {"service": "HEALTH", "texts": {"en": "Clinic hours."}}
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        response = await client.post(
            "/api/v1/broadcasts", json=body, headers=admin | {"X-Request-Id": "proxy-42.a_b"}
        )
    assert response.status == 201, await response.text()
    assert response.headers["X-Request-Id"] == "proxy-42.a_b"
    events = {log["event"]: log for log in logs}
    assert events["broadcast_created"]["request_id"] == "proxy-42.a_b"
    assert events["request_handled"]["request_id"] == "proxy-42.a_b"


async def test_a_request_without_a_sane_id_gets_one_of_its_own(client: Client) -> None:
    first = await client.get("/api/v1/services", headers={"X-Request-Id": "bad id\u00e9" * 10})
    second = await client.get("/api/v1/services")  # 401: errors get one too

    ids = [first.headers["X-Request-Id"], second.headers["X-Request-Id"]]
    assert all(len(i) == 16 and i.isalnum() for i in ids)
    assert ids[0] != ids[1]
