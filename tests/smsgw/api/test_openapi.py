from __future__ import annotations

from typing import Any

from tests.smsgw.testbed import Client


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


async def test_the_openapi_document_describes_every_route(client: Client) -> None:
    response = await client.get("/api/v1/openapi.json")  # no token needed
    assert response.status == 200
    document = await response.json()
    assert document["openapi"] == "3.1.0"
    assert {(path, method) for path, ops in document["paths"].items() for method in ops} == {
        ("/healthz", "get"),
        ("/metrics", "get"),
        ("/api/v1/openapi.json", "get"),
        ("/api/v1/messages", "get"),
        ("/api/v1/messages", "post"),
        ("/api/v1/messages/batch", "post"),
        ("/api/v1/messages/{id}", "get"),
        ("/api/v1/services", "get"),
        ("/api/v1/services", "post"),
        ("/api/v1/services/{keyword}", "get"),
        ("/api/v1/services/{keyword}", "patch"),
        ("/api/v1/subscriptions", "post"),
        ("/api/v1/subscriptions", "delete"),
        ("/api/v1/subscriptions/import", "post"),
        ("/api/v1/subscribers/{msisdn}", "get"),
        ("/api/v1/broadcasts", "post"),
        ("/api/v1/broadcasts", "get"),
        ("/api/v1/broadcasts/estimate", "post"),
        ("/api/v1/broadcasts/{id}", "get"),
        ("/api/v1/broadcasts/{id}/approve", "post"),
        ("/api/v1/broadcasts/{id}/cancel", "post"),
        ("/api/v1/broadcasts/{id}/poll", "get"),
        ("/api/v1/broadcasts/{id}/report.csv", "get"),
        ("/api/v1/broadcasts/{id}/report", "get"),
        ("/api/v1/inbox", "get"),
        ("/api/v1/inbox/canned", "get"),
        ("/api/v1/inbox/kpis", "get"),
        ("/api/v1/inbox/{id}", "get"),
        ("/api/v1/inbox/{id}/answer", "post"),
        ("/api/v1/inbox/{id}/assign", "post"),
        ("/api/v1/inbox/{id}/note", "post"),
        ("/api/v1/inbox/{id}/close", "post"),
        ("/api/v1/inbox/{id}/reopen", "post"),
        ("/api/v1/tokens", "get"),
        ("/api/v1/me", "get"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/{id}", "delete"),
        ("/api/v1/session", "post"),
        ("/api/v1/session", "delete"),
        ("/api/v1/me/totp", "post"),
        ("/api/v1/me/totp/confirm", "post"),
        ("/api/v1/me/password", "post"),
        ("/api/v1/users", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users/{id}", "patch"),
        ("/api/v1/audit", "get"),
        ("/api/v1/kpis", "get"),
        ("/api/v1/operator/history", "get"),
        ("/api/v1/alerts", "post"),
        ("/api/v1/alerts", "get"),
        ("/api/v1/alerts/{identifier}", "get"),
        ("/api/v1/districts", "get"),
        ("/alerts.atom", "get"),
        ("/alerts/{id}.cap", "get"),
    }
    post = document["paths"]["/api/v1/messages"]["post"]
    assert post["security"] == [{"bearer": []}]
    assert set(post["responses"]) == {"201", "400", "401", "403", "409", "413", "429", "503"}
    assert "quota" in post["responses"]["429"]["description"]
    assert "Retry-After" in post["responses"]["503"]["description"]
    assert "Idempotency-Key" in post["responses"]["409"]["description"]
    assert [p["name"] for p in post["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
    assert document["paths"]["/healthz"]["get"]["security"] == []
    schemas = document["components"]["schemas"]
    assert set(schemas["SendMessage"]["required"]) == {"to", "text"}
    for ref in _refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


async def test_query_strings_are_documented_so_clients_and_fuzzers_can_send_them(
    client: Client,
) -> None:
    paths = (await (await client.get("/api/v1/openapi.json")).json())["paths"]

    def query(path: str, method: str) -> dict[str, Any]:
        parameters = paths[path][method].get("parameters", [])
        return {p["name"]: p for p in parameters if p["in"] == "query"}

    assert set(query("/api/v1/broadcasts", "get")) == {"before", "limit", "state"}
    audit = {"before", "limit", "action", "by", "target", "since", "until"}
    assert set(query("/api/v1/audit", "get")) == audit
    assert set(query("/api/v1/alerts", "get")) == {"before", "limit"}
    cap = paths["/api/v1/alerts"]["post"]["requestBody"]["content"]
    assert set(cap) == {"application/cap+xml", "application/xml", "text/xml"}
    imported = query("/api/v1/subscriptions/import", "post")
    assert {name for name, p in imported.items() if p["required"]} == {"service", "consent_source"}
    body = paths["/api/v1/subscriptions/import"]["post"]["requestBody"]["content"]
    assert set(body) == {"text/csv"}
    # a query string has no null: "int | None" is an optional integer
    assert query("/api/v1/broadcasts", "get")["before"]["schema"]["type"] == "integer"
