"""Generator metrics (names from the contract); label `service` is the job name."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS_GENERATED = Counter("events_generated_total", "Audit events generated", ["service"])
MESSAGES_PUBLISHED = Counter(
    "messages_published_total", "Messages confirmed by the broker", ["service"]
)
PUBLISH_FAILURES = Counter(
    "messages_publish_failures_total",
    "Publish attempts that were not confirmed (the event is retried)",
    ["service", "reason"],
)
BUFFER_EVENTS = Gauge("generator_buffer_events", "Events held until confirmed", ["service"])
BUFFER_CAPACITY = Gauge("generator_buffer_capacity", "Buffer bound", ["service"])
BUFFER_FULL = Counter(
    "generator_buffer_full_total", "Ticks in which generation paused on a full buffer", ["service"]
)
BROKER_CONNECTED = Gauge(
    "generator_broker_connected", "1 while a confirm channel to the broker is open", ["service"]
)
TARGET_RATE = Gauge("generator_target_rate", "Target events per second", ["service"])
