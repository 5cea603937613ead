"""audit-event-generator: publishes audit events to RabbitMQ at a configurable rate.

Every generated event sits in a bounded local buffer until the broker confirms it, so a broker
outage delays events but never loses them; a full buffer pauses generation instead of dropping.
"""

SERVICE = "audit-event-generator"
DEFAULT_PORT = 8080
