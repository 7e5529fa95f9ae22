"""[alerts] require_signature: a CAP alert is acted on only when an authority's certificate
verifies its XML signature; anything else is a 403, audited, and nothing is stored or sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from channels.simulator import Simulator
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from smsgw.config import Settings, load
from smsgw.errors import ConfigError
from tests.smsgw.alerts.cap_testbed import Authority, alert, info
from tests.smsgw.api.catalogue_testbed import add_service, error_of
from tests.smsgw.broadcast_testbed import numbers, seed
from tests.smsgw.testbed import Client, WriteConfig, bearer, on_simulator

ALERTS = "/api/v1/alerts"
CAP = {"Content-Type": "application/cap+xml"}
NMS = Authority.new()
SIGNED = """
[alerts]
require_signature = true
certificates = ["nms.pem"]

[[alerts.routes]]
event = "Hurricane Warning"
service = "HURRICANE"
"""


@pytest.fixture
def settings(simulator: Simulator, write_config: WriteConfig, tmp_path: Path) -> Settings:
    (tmp_path / "nms.pem").write_text(NMS.certificate, encoding="ascii")
    return load(write_config(on_simulator(simulator.port) + SIGNED))


@pytest.fixture
async def system(gateway: Gateway) -> dict[str, str]:
    await add_service(gateway, keyword="HURRICANE", ministry="nemo")
    await seed(gateway, "HURRICANE", numbers("+50160", 3), language="en")
    return await bearer(gateway, Role.ALERTING) | CAP


def warning(**changes: Any) -> bytes:
    return alert(info(expires="2099-01-01T00:00:00-06:00"), **changes)


async def test_an_alert_signed_by_the_authority_is_sent(
    client: Client, system: dict[str, str]
) -> None:
    response = await client.post(ALERTS, data=NMS.sign(warning()), headers=system)
    assert response.status == 201, await response.text()
    assert (await response.json())["action"] == "sent"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (warning(), "the alert is not signed"),
        (Authority.new("Not NMS").sign(warning()), "no authority's certificate verifies"),
        (NMS.sign(warning()).replace(b"Move to a shelter now", b"Stay home, all is well"),
         "no authority's certificate verifies"),
    ],
    ids=["unsigned", "another-key", "changed-after-signing"],
)  # fmt: skip
async def test_an_alert_not_signed_by_an_authority_is_refused_and_audited(
    client: Client, gateway: Gateway, simulator: Simulator, system: dict[str, str],
    document: bytes, reason: str,
) -> None:  # fmt: skip
    response = await client.post(ALERTS, data=document, headers=system)
    error = await error_of(response, 403)
    assert (error["code"], error["field"]) == ("bad_signature", "Signature")
    assert reason in error["message"]
    admin = await bearer(gateway, Role.ADMIN)
    assert (await client.get(f"{ALERTS}/NMS-2026-0042", headers=admin)).status == 404
    entries = (await (await client.get("/api/v1/audit", headers=admin)).json())["entries"]
    refused = [e for e in entries if e["action"] == "alert_refused"]
    assert [(e["target"], e["detail"]["sender"]) for e in refused] == [
        ("NMS-2026-0042", "nms@hydromet.gov.bz")
    ]
    assert reason in refused[0]["detail"]["reason"]
    assert simulator.submit_total == 0


async def test_what_is_acted_on_is_what_the_signature_covers(
    client: Client, system: dict[str, str]
) -> None:
    """A signed alert with an unsigned alert wrapped around it (signature wrapping): the
    signature, a child of the outer alert, covers the outer one, which does not match it."""
    inner = NMS.sign(warning()).decode()
    start = inner.index("<ds:Signature")
    signature = inner[start : inner.index("</ds:Signature>") + len("</ds:Signature>")]
    outer = warning(identifier="EVIL-1").decode().replace("</alert>", signature + "</alert>")
    response = await client.post(ALERTS, data=outer.encode(), headers=system)
    await error_of(response, 403)


def test_a_signature_needs_certificates_that_can_be_read(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    base = on_simulator(2775)
    with pytest.raises(ConfigError, match="require_signature needs the authorities' cert"):
        load(write_config(base + "[alerts]\nrequire_signature = true\n"))
    (tmp_path / "nms.pem").write_text("not a certificate", encoding="ascii")
    with pytest.raises(ConfigError, match=r"nms\.pem: not a readable PEM certificate"):
        load(write_config(base + SIGNED))
    (tmp_path / "nms.pem").unlink()
    with pytest.raises(ConfigError, match=r"nms\.pem: not a readable PEM certificate"):
        load(write_config(base + SIGNED))
