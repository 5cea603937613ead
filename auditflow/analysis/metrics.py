"""Analysis metrics (names from the contract); label `service` is the job name."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PROCESSED = Counter(
    "events_processed_total",
    "Messages processed, by result (stored, duplicate, dead_lettered)",
    ["service", "result"],
)
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Messages dead-lettered, by reason", ["service", "reason"]
)
# 0.5 s is the SLO threshold (99% of events stored within 500 ms of publication).
PROCESSING_DURATION = Histogram(
    "event_processing_duration_seconds",
    "Time from publication by the generator to commit in PostgreSQL",
    ["service"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
BATCH_SIZE = Histogram(
    "analysis_batch_size",
    "Events per committed batch",
    ["service"],
    buckets=(1, 5, 10, 25, 50, 100, 200, 500, 1000, 2000),
)
CONSUMER_CONNECTED = Gauge(
    "analysis_consumer_connected", "1 while consuming from the broker", ["service"]
)


def observe_many(child: Any, amounts: Sequence[float]) -> None:
    """`child.observe(a)` for each of `amounts`, with one locked increment per bucket touched and
    one for the sum, instead of two per observation.

    `child` is a labelled Histogram. Each amount lands in the first bucket whose upper bound is
    >= it — exactly `Histogram.observe`'s rule (`amount <= bound`), so the 0.5 s bucket keeps its
    meaning — and the exposition (cumulative `le` buckets, `_count`, `_sum`) is the same as
    observing them one by one. Uses prometheus_client's per-bucket values (`_upper_bounds`,
    `_buckets`, `_sum`); falls back to `observe` per amount if those change.
    """
    if not amounts:
        return
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    check = getattr(child, "_raise_if_not_observable", None)
    if (
        bounds is None
        or buckets is None
        or total is None
        or check is None
        or len(bounds) != len(buckets)
    ):
        for amount in amounts:
            child.observe(amount)
        return
    check()  # a parent Histogram with labels is refused, as observe() refuses it
    counts = [0] * len(bounds)
    for amount in amounts:
        counts[bisect_left(bounds, amount)] += 1
    total.inc(sum(amounts))
    for index, count in enumerate(counts):
        if count:
            buckets[index].inc(count)
