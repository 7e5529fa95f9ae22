"""What the catalogue and subscription API tests share: example services, and the error body."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import ClientResponse

from smsgw.api.services import NewService
from smsgw.app import Gateway
from subscriptions.models import Service

SERVICES = "/api/v1/services"
SUBSCRIPTIONS = "/api/v1/subscriptions"
IMPORT = f"{SUBSCRIPTIONS}/import"

_HEALTH: dict[str, Any] = {
    "keyword": "HEALTH",
    "aliases": {"es": ["SALUD"]},
    "ministry": "health",
    "names": {"en": "Health alerts", "es": "Alertas de salud"},
    "descriptions": {"en": "Clinics, vaccination days, outbreaks", "es": "Clínicas, vacunación"},
    "welcome": {
        "en": "Welcome to Health alerts. Reply STOP HEALTH to leave.",
        "es": "Bienvenido a Alertas de salud. Responda ALTO SALUD para salir.",
    },
    "default_language": "en",
    "requires_approval": False,
    "confirm_sign_ups": True,
    "active": True,
}


def health_body(**changes: Any) -> dict[str, Any]:
    """SPEC's example body of POST /api/v1/services, with ``changes``."""
    return copy.deepcopy(_HEALTH) | changes


def service_of(body: dict[str, Any]) -> Service:
    """The service a body of POST /api/v1/services describes (aliases by language or a list)."""
    return NewService.model_validate(body).service()


async def add_service(gateway: Gateway, **changes: Any) -> Service:
    """A service stored directly (for the tests of what comes after creating one)."""
    service = service_of(health_body(**changes))
    await gateway.store.catalogue.add_service(service)
    return service


async def error_of(response: ClientResponse, status: int) -> dict[str, Any]:
    """The ``error`` object of a JSON error answer, after checking its status."""
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body: dict[str, dict[str, Any]] = await response.json()
    return body["error"]
