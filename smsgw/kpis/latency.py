"""Delivery latencies kept as a histogram once a broadcast's per-recipient rows are purged:
buckets 5% wide on a log scale, so a median read from them is within 2.5% of the true one."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

_RATIO = 1.05
_FLOOR_S = 0.001  # a latency at or below it (clocks apart) falls in the first bucket


def bucket(latency_s: float) -> int:
    return math.floor(math.log(max(latency_s, _FLOOR_S)) / math.log(_RATIO))


def middle(bucket_: int) -> float:
    """The geometric middle of a bucket: what a latency in it is taken to be."""
    return float(_RATIO ** (bucket_ + 0.5))


def merged(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    total: dict[int, int] = {}
    for histogram in histograms:
        for key, count in histogram.items():
            total[key] = total.get(key, 0) + count
    return total


def median(histogram: Mapping[int, int]) -> float | None:
    """The lower median (as the exact reads take it), as the middle of its bucket."""
    count = sum(histogram.values())
    if not count:
        return None
    rank = (count - 1) // 2  # 0-based, the lower median
    for key in sorted(histogram):
        rank -= histogram[key]
        if rank < 0:
            return middle(key)
    raise AssertionError("unreachable: the ranks add up to the count")
