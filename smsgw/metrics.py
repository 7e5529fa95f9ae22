"""Prometheus metrics: what the gateway counts as things happen, and what it reads at scrape time.

Each :class:`Metrics` has its own registry, not prometheus_client's global one: tests start many
gateways in one process. The bind states and throttling counts are read from the channels at
each scrape (a collector); the outbox queue depth is a database read, so ``GET /metrics`` sets
it just before rendering (:meth:`Metrics.queue_depth`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from channels.base import Channel, LinkState
from smsgw import __version__
from smsgw.kpis.rates import Counts

# SMS receipts take from about a second to many minutes (handset off, then back in coverage)
LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 300, 1800)


class _Channels:
    """Bind up/down and throttling, read from the channels at each scrape."""

    def __init__(self, channels: Sequence[Channel]) -> None:
        self._channels = channels
        self.held: Callable[[], Collection[str]] = lambda: [c.name for c in channels]

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "smsgw_channel_up", "1 while the channel is bound, else 0", labels=["channel"]
        )
        held = GaugeMetricFamily(
            "smsgw_channel_held",
            "1 while this gateway holds the channel's lease (of those sharing the database,"
            " the one that binds it), else 0",
            labels=["channel"],
        )
        holding = set(self.held())
        throttled = CounterMetricFamily(
            "smsgw_channel_throttled",
            "Submits the carrier answered with a throttling status",
            labels=["channel"],
        )
        for channel in self._channels:
            up.add_metric([channel.name], float(channel.state is LinkState.BOUND))
            held.add_metric([channel.name], float(channel.name in holding))
            throttled.add_metric([channel.name], channel.throttled)
        return [up, held, throttled]


class Metrics:
    def __init__(self, channels: Sequence[Channel] = ()) -> None:
        self.registry = registry = CollectorRegistry()
        # the process's own: CPU, memory, open files, start time; and Python's version
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        Info("smsgw_build", "The gateway's version", registry=registry).info(
            {"version": __version__}
        )
        self._submits = Counter(
            "smsgw_submits",
            'Submits by channel: segments accepted (status "ok"), or sends that failed '
            "(status: the error code)",
            ["channel", "status"],
            registry=registry,
        )
        self._receipts = Counter(
            "smsgw_receipts", "Delivery receipts by state", ["state"], registry=registry
        )
        self._latency = Histogram(
            "smsgw_receipt_latency_seconds",
            "From a segment's acceptance by the carrier to its final receipt, by state",
            ["state"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._mos = Counter(
            "smsgw_mo",
            'Texts from citizens by command ("none": not handled, e.g. a duplicate)',
            ["command"],
            registry=registry,
        )
        self._queued = Gauge(
            "smsgw_outbox_queued",
            "Broadcast messages queued in the outbox, by priority",
            ["priority"],
            registry=registry,
        )
        self._http = Counter(
            "smsgw_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self._callbacks = Counter(
            "smsgw_callbacks",
            'Status callbacks POSTed to integrators by outcome: "delivered", "failed" (tried'
            ' again later), "abandoned" (given up after a day of tries)',
            ["outcome"],
            registry=registry,
        )
        self._storage_failing = Gauge(
            "smsgw_storage_failing",
            "1 while the database cannot be written (disk full, locked): nothing is lost, "
            "sending waits until it can be written again",
            registry=registry,
        )
        self._overdue = Gauge(
            "smsgw_tickets_overdue",
            "Citizens' questions past their first answer's target, unanswered, by service",
            ["service"],
            registry=registry,
        )
        self._overdue_services: set[str] = set()
        self._channels = _Channels(channels)
        registry.register(self._channels)

    def holding(self, held: Callable[[], Collection[str]]) -> None:
        """Where smsgw_channel_held reads which channels this gateway holds (all, by default)."""
        self._channels.held = held

    def submitted(self, channel: str) -> None:
        self._submits.labels(channel, "ok").inc()

    def send_failed(self, channel: str, status: str) -> None:
        self._submits.labels(channel, status).inc()

    def receipt(self, state: str, latency_s: float | None) -> None:
        self._receipts.labels(state).inc()
        if latency_s is not None:
            self._latency.labels(state).observe(latency_s)

    def mo(self, command: str) -> None:
        self._mos.labels(command).inc()

    def http_request(self, method: str, route: str, status: int) -> None:
        self._http.labels(method, route, str(status)).inc()

    def callback(self, outcome: str) -> None:
        """A status callback POSTed: "delivered", "failed" (to be tried again) or "abandoned"."""
        self._callbacks.labels(outcome).inc()

    def storage_failing(self, failing: bool) -> None:
        self._storage_failing.set(float(failing))

    def queue_depth(self, queued: Mapping[str, int]) -> None:
        """Queued outbox messages by priority label (every label, 0 included)."""
        for priority, count in queued.items():
            self._queued.labels(priority).set(count)

    def tickets_overdue(self, overdue: Mapping[str, int]) -> None:
        """Overdue tickets per service, now (a service with none is set back to 0)."""
        for service in self._overdue_services - overdue.keys():
            self._overdue.labels(service).set(0)
        for service, count in overdue.items():
            self._overdue.labels(service).set(count)
        self._overdue_services |= overdue.keys()

    def counts(self) -> Counts:
        """Segments accepted per channel and receipts, since the start (the KPIs' live rates)."""
        submits = {
            sample.labels["channel"]: sample.value
            for metric in self._submits.collect()
            for sample in metric.samples
            if sample.name == "smsgw_submits_total" and sample.labels["status"] == "ok"
        }
        receipts = sum(
            sample.value
            for metric in self._receipts.collect()
            for sample in metric.samples
            if sample.name == "smsgw_receipts_total"
        )
        return Counts(submits, receipts)

    def render(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.registry)
