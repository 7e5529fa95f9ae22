"""``GET /metrics`` on the real gateway and simulator: what a scripted scenario must show."""

from __future__ import annotations

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from channels.base import DeliveryReceipt, ReceiptState, SegmentSubmitted
from channels.simulator import Simulator
from channels.smpp.codec import Status
from smsgw.app import Gateway
from smsgw.delivery import recorder as recorder_module
from smsgw.delivery.recorder import Recorder
from smsgw.metrics import Metrics
from smsgw.storage.sqlite import SqliteStore
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create, numbers, seed
from tests.smsgw.testbed import CARRIERS, Client, eventually

Key = tuple[str, frozenset[tuple[str, str]]]  # sample name, labels
Samples = dict[Key, float]


def key(name: str, **labels: str) -> Key:
    return name, frozenset(labels.items())


async def scrape(client: Client) -> Samples:
    response = await client.get("/metrics")  # no token
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(await response.text())
        for sample in family.samples
    }


async def settle(client: Client, expected: dict[Key, float]) -> Samples:
    """The scrape once every ``expected`` sample has its value (counters only grow)."""
    samples: Samples = {}

    async def reached() -> bool:
        nonlocal samples
        samples = await scrape(client)
        return all(samples.get(k) == v for k, v in expected.items())

    try:
        await eventually(reached)
    except TimeoutError:
        wrong = {k: samples.get(k) for k, v in expected.items() if samples.get(k) != v}
        raise AssertionError(f"expected {expected}, got {wrong}") from None
    return samples


async def send(client: Client, admin: dict[str, str], to: str) -> None:
    response = await client.post("/api/v1/messages", json={"to": to, "text": "Hi"}, headers=admin)
    assert response.status == 201, await response.text()


async def test_submits_receipts_and_their_latency_are_counted_per_channel(
    client: Client, admin: dict[str, str], simulator: Simulator
) -> None:
    for to in ["+5016012345", "+5016012346", "+5016112347", "+5016512345", "+5016512346"]:
        await send(client, admin, to)

    samples = await settle(
        client,
        {
            key("smsgw_submits_total", channel="btl-1", status="ok"): 3,
            key("smsgw_submits_total", channel="smart-1", status="ok"): 2,
            key("smsgw_receipts_total", state="delivered"): 5,
            key("smsgw_receipt_latency_seconds_count", state="delivered"): 5,
        },
    )
    # the simulator answers in 10 ms: every one well inside the 10 s bucket, none at 0
    assert samples[key("smsgw_receipt_latency_seconds_bucket", state="delivered", le="10.0")] == 5
    assert 0 < samples[key("smsgw_receipt_latency_seconds_sum", state="delivered")] < 5 * 10
    assert simulator.submit_total == 5


async def test_failed_sends_are_counted_by_channel_and_error(
    client: Client, admin: dict[str, str], simulator: Simulator
) -> None:
    simulator.reply_next(Status.ESME_RINVDSTADR)  # permanent: not retried
    await send(client, admin, "+5016012345")
    # no channel has its prefix: refused up front, never a send that fails
    unroutable = {"to": "+442079460000", "text": "Hi"}
    refused = await client.post("/api/v1/messages", json=unroutable, headers=admin)
    assert refused.status == 400
    assert (await refused.json())["error"]["code"] == "no_route"

    samples = await settle(
        client, {key("smsgw_submits_total", channel="btl-1", status="ESME_RINVDSTADR"): 1}
    )
    assert key("smsgw_submits_total", channel="unknown", status="no_route") not in samples
    assert key("smsgw_submits_total", channel="btl-1", status="ok") not in samples
    assert key("smsgw_receipts_total", state="delivered") not in samples


async def test_throttling_is_counted_on_its_channel_and_not_as_a_failure(
    client: Client, admin: dict[str, str], simulator: Simulator
) -> None:
    assert (await scrape(client))[key("smsgw_channel_throttled_total", channel="btl-1")] == 0
    simulator.reply_next(Status.ESME_RTHROTTLED, count=2)
    await send(client, admin, "+5016012345")

    samples = await settle(
        client,
        {
            key("smsgw_channel_throttled_total", channel="btl-1"): 2,
            key("smsgw_submits_total", channel="btl-1", status="ok"): 1,
            key("smsgw_receipts_total", state="delivered"): 1,
        },
    )
    assert samples[key("smsgw_channel_throttled_total", channel="smart-1")] == 0
    assert [k for k in samples if k[0] == "smsgw_submits_total"] == [
        key("smsgw_submits_total", channel="btl-1", status="ok")
    ]


async def test_citizens_texts_are_counted_by_command(
    gateway: Gateway, client: Client, simulator: Simulator
) -> None:
    await add_service(gateway)
    await gateway.catalogue_changed()
    for sender, text in [
        ("+5016012345", "HELP"),
        ("+5016012345", "JOIN HEALTH"),
        ("+5016512345", "SALUD"),  # an alias joins too
        ("+5016012345", "JOIN HEALTH"),  # the same again at once: a duplicate, not handled
        ("1515", "HELP"),  # a short code: not answered
    ]:
        await simulator.inject_mo(sender, text)

    samples = await settle(
        client,
        {
            key("smsgw_mo_total", command="help"): 1,
            key("smsgw_mo_total", command="join"): 2,
            key("smsgw_mo_total", command="none"): 2,
        },
    )
    assert sum(v for k, v in samples.items() if k[0] == "smsgw_mo_total") == 5


async def test_bind_state_per_channel(gateway: Gateway, client: Client) -> None:
    samples = await scrape(client)
    assert samples[key("smsgw_channel_up", channel="btl-1")] == 1
    assert samples[key("smsgw_channel_up", channel="smart-1")] == 1

    [_, smart] = gateway.channels
    await smart.stop()

    samples = await scrape(client)
    assert samples[key("smsgw_channel_up", channel="btl-1")] == 1
    assert samples[key("smsgw_channel_up", channel="smart-1")] == 0
    # held: on SQLite this gateway holds every bind (one gateway per database)
    assert samples[key("smsgw_channel_held", channel="btl-1")] == 1
    assert samples[key("smsgw_channel_held", channel="smart-1")] == 1


async def test_http_requests_are_counted_by_route_template_and_status(client: Client) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/api/v1/messages/abc123")).status == 401  # no token
    assert (await client.get("/api/v1/messages/def456")).status == 401
    assert (await client.get("/no/such/path")).status == 404
    assert (await client.get("/another/unknown/path")).status == 404

    samples = await scrape(client)  # counted once answered: this scrape is not in it yet

    assert {k: v for k, v in samples.items() if k[0] == "smsgw_http_requests_total"} == {
        key("smsgw_http_requests_total", method="GET", route="/healthz", status="200"): 1,
        key("smsgw_http_requests_total", method="GET", route="/api/v1/messages/{id}",
            status="401"): 2,
        key("smsgw_http_requests_total", method="GET", route="unmatched", status="404"): 2,
    }  # fmt: skip
    scraped = key("smsgw_http_requests_total", method="GET", route="/metrics", status="200")
    assert (await scrape(client))[scraped] == 1


async def test_queue_depth_counts_queued_broadcast_messages_by_priority(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    samples = await scrape(client)
    assert samples[key("smsgw_outbox_queued", priority="normal")] == 0
    assert samples[key("smsgw_outbox_queued", priority="emergency")] == 0
    await add_service(gateway)
    await add_service(gateway, keyword="HURRICANE", aliases=["HURACAN"])
    await seed(gateway, "HEALTH", numbers("+50160", 7) + numbers("+50165", 5))
    await seed(gateway, "HURRICANE", numbers("+50165", 3, start=100))
    [_, smart] = gateway.channels
    await smart.stop()  # its carrier's messages wait in the outbox; the other's go

    await create(client, admin, service="HEALTH", texts={"en": "Clinic hours."})
    await create(
        client, admin, service="HURRICANE", priority="emergency", texts={"en": "Shelter now."}
    )

    await settle(
        client,
        {
            key("smsgw_outbox_queued", priority="normal"): 5,
            key("smsgw_outbox_queued", priority="emergency"): 3,
            key("smsgw_submits_total", channel="btl-1", status="ok"): 7,
        },
    )


async def test_latency_is_measured_to_the_final_receipt_of_segments_still_remembered(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "LATENCY_TRACKED", 2)
    metrics = Metrics()
    recorder = Recorder(store.delivery, CARRIERS, metrics=metrics)
    await recorder.start()
    try:
        for carrier_id in ("a1", "a2", "a3"):  # a1 is forgotten when a3 comes
            recorder.segment_submitted(SegmentSubmitted("m", 1, 1, carrier_id, "btl-1"))
        for carrier_id, state in [
            ("a2", ReceiptState.ENROUTE),  # not final: a2 is still waited for
            ("a1", ReceiptState.DELIVERED),
            ("a2", ReceiptState.DELIVERED),
            ("a3", ReceiptState.UNDELIVERABLE),
            ("a3", ReceiptState.UNDELIVERABLE),  # a repeat: measured once
        ]:
            recorder.received(DeliveryReceipt(carrier_id, state, "000", "btl-1"))
        await recorder.flush()
    finally:
        await recorder.close()

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert value("smsgw_submits_total", channel="btl-1", status="ok") == 3
    assert value("smsgw_receipts_total", state="delivered") == 2
    assert value("smsgw_receipts_total", state="enroute") == 1
    assert value("smsgw_receipts_total", state="undeliverable") == 2
    assert value("smsgw_receipt_latency_seconds_count", state="delivered") == 1
    assert value("smsgw_receipt_latency_seconds_count", state="undeliverable") == 1
    assert value("smsgw_receipt_latency_seconds_count", state="enroute") is None
