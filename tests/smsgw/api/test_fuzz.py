"""The HTTP API fuzzed from its own OpenAPI document (schemathesis): every operation, as an
admin, valid and invalid inputs; no answer is a 5xx and the server still answers afterwards.

The gateway is served for real over TCP on this test's event loop; the fuzzer is synchronous
(requests), so it runs in a worker thread. Derandomized: the same inputs on every run.
"""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Err

from smsgw.app import Gateway
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create
from tests.smsgw.testbed import Client

# per operation and mode: 2,102 requests (23 operations; schemathesis leaves out the document's
# own URL; /healthz and /metrics take no input: one each), ~45 s on 2 cores
EXAMPLES = 50
_LATER = "2099-01-01T00:00:00Z"
_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # no shrinking: report all
    suppress_health_check=list(HealthCheck),
)


class _Always(requests.auth.AuthBase):
    """The admin token on every request, set last: a fuzzed or dropped Authorization only
    tests the 401 path (and soon the failed-auth 429); test_auth.py covers bad tokens."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self.headers)
        return request


def fuzz(
    base_url: str, headers: dict[str, str], known: dict[str, dict[str, str]]
) -> tuple[int, list[str]]:
    """(requests sent, one line per 5xx or failed request); ``known``: path → parameters of
    a resource that exists, used besides made-up ones so handlers get past their 404."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json", timeout=10)
    session = requests.Session()
    session.auth = _Always(headers)
    sent = 0
    problems: list[str] = []

    def call(case: Case[Any]) -> None:
        nonlocal sent
        sent += 1
        try:
            response = case.call(base_url=base_url, session=session, timeout=10)
        except requests.RequestException as exc:  # the server dropped or hung the connection
            problems.append(f"{case.as_curl_command()}\n  -> {exc!r}")
            return
        if response.status_code >= 500:
            problems.append(f"{case.as_curl_command()}\n  -> {response.status_code}")

    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document itself is invalid
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            if mode is GenerationMode.POSITIVE:  # the schema's examples: past the 400s
                found = known.get(operation.path)
                existing = [operation.as_strategy(path_parameters=found)] if found else []
                examples = operation.get_strategies_from_examples()
                strategy = st.one_of(strategy, *existing, *examples)
            test = hypothesis.given(strategy)(call)
            try:
                _SETTINGS(test)()
            except hypothesis.errors.Unsatisfiable:  # nothing to get wrong: no body, no params
                assert mode is GenerationMode.NEGATIVE, operation.label
    return sent, problems


# ~45 s alone on an idle machine (2 cores), the fuzzer's CPU mostly; twice that beside the other
# tests `make test` runs at once, past the default 60 s
@pytest.mark.timeout(180)
async def test_no_input_makes_the_api_fail_or_fall_over(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)  # HEALTH: the schema's examples name it
    later = await create(client, admin, service="HEALTH", texts={"en": "x"}, send_at=_LATER)
    known = {
        "/api/v1/services/{keyword}": {"keyword": "HEALTH"},
        **{f"/api/v1/broadcasts/{{id}}{end}": {"id": str(later["id"])}
           for end in ("", "/approve", "/cancel")},
    }  # fmt: skip
    base_url = str(client.make_url("")).rstrip("/")
    sent, problems = await asyncio.to_thread(fuzz, base_url, admin, known)

    assert sent >= 20 * 2 * EXAMPLES, sent  # every operation was really exercised
    report = "\n".join(problems[:20])
    assert not problems, f"{len(problems)} of {sent} requests failed, e.g.:\n{report}"
    assert (await client.get("/healthz")).status == 200
