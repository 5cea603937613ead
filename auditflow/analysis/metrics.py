"""Analysis metrics (names from the contract); label `service` is the job name."""

from __future__ import annotations

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
