"""What the store counts for the KPIs, as plain values (the API puts targets beside them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end): a day, a month or a programme year, as instants (time zone aware)."""

    label: str  # "2026-11-27", "2026-11", "1"
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ServiceCount:
    keyword: str
    ministry: str
    active: bool  # the service's flag
    subscribers: int  # numbers subscribed to it now (global STOPs excluded)


@dataclass(frozen=True, slots=True)
class SubscriberCounts:
    active: int  # numbers with an active subscription and no global STOP
    seen: int  # numbers ever recorded (subscribers rows)
    opted_out: int  # numbers under a global STOP now


@dataclass(frozen=True, slots=True)
class ConsentFlow:
    """One period's consent events."""

    joined: int  # subscriptions begun: JOINs, and services an UNSTOP gave back
    left: int  # subscriptions ended: LEAVEs, and services a STOP left
    stops: int  # global STOPs received


@dataclass(frozen=True, slots=True)
class DeliveryTotals:
    """The outbox of the broadcasts created in one period."""

    audience: int  # outbox rows (recipients)
    delivered: int
    cancelled: int  # never sent: their broadcast was cancelled
    finished: int  # with an outcome: delivered, or final without delivery (not cancelled)
    segments: int  # SMS the carriers accepted (each message × its language's segments)
    median_delivery_s: float | None  # submit → delivery receipt, over delivered messages
    # the median is approximate: over a sample (too many messages to sort them all), or read
    # from the latency histograms of broadcasts whose outbox rows retention deleted (±2.5%)
    sampled: bool
